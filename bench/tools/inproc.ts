/**
 * In-process cost of `ClientRoutes.dispatch` per route (no HTTP, no autocannon), for quick
 * before/after checks of hot-path edits. Usage: npx tsx bench/tools/inproc.ts [iterations]
 * INPROC_ROUTES / INPROC_MODES filter; profile with `node --cpu-prof --import tsx bench/tools/inproc.ts`.
 */
import * as NodePath from "node:path"
import { Effect, ManagedRuntime } from "effect"
import { x25519KeyPairFromEd25519Seed } from "../../packages/core/src/Crypto/X25519.js"
import { DEV_BACKEND_SEED } from "../../packages/core/src/Domain/Constants.js"
import { dispatch } from "../../packages/http/src/Routes/ClientRoutes.js"
import * as Server from "../../packages/http/src/Server.js"
import { addBody, detailsBody, generateBody, onionOk, onionWrapper, plainOk, refundBody, revocationsBody } from "../lib/bodies.js"
import { benchUser, keyOf } from "../lib/keys.js"
import { removeDb, seedRoutes } from "../lib/seed.js"
import { ROOT } from "../lib/server.js"

const iterations = Number(process.argv[2] ?? 2000)
const users = 1000
const file = NodePath.join(ROOT, `bench/tmp/inproc-${process.pid}.db`)
const driven = Array.from({ length: 64 }, (_, k) => benchUser(k * 10))
await seedRoutes(file, { users, driven, addPool: iterations * 2 + 200, revocations: 100, now: Date.now() })
const runtime = ManagedRuntime.make(Server.servicesLayer({ url: `sqlite:///${file}`, settings: { dev: true } }))
const wrap = onionWrapper(x25519KeyPairFromEd25519Seed(DEV_BACKEND_SEED).publicKey)
const addKeys = Array.from({ length: 64 }, (_, i) => ({ m: keyOf(`ip-add-m-${i}`), r: keyOf(`ip-add-r-${i}`) }))
let addNext = 0
let userNext = 0
const only = process.env.INPROC_ROUTES?.split(",")
const onlyModes = process.env.INPROC_MODES?.split(",")

const call = (path: string, body: Uint8Array) =>
  runtime.runPromise(dispatch({ method: "POST", path, headers: { "content-type": "application/json" }, body }))

const cases: Record<string, () => string> = {
  generate_pro_proof: () => generateBody(driven[userNext++ % driven.length]!, Date.now()),
  add_pro_payment: () => {
    const j = addNext++
    const k = addKeys[j % addKeys.length]!
    return addBody(k.m, k.r, `bench-add-${j}`)
  },
  get_pro_details: () => detailsBody(driven[userNext++ % driven.length]!, Date.now()),
  set_payment_refund_requested: () => refundBody(driven[userNext++ % driven.length]!, Date.now(), Date.now()),
  get_pro_revocations: () => revocationsBody()
}

for (const [route, make] of Object.entries(cases)) {
  if (only && !only.includes(route)) continue
  for (const onion of [false, true]) {
    if (onlyModes && !onlyModes.includes(onion ? "onion" : "plain")) continue
    const bodies = Array.from({ length: iterations }, () => {
      const json = make()
      return onion ? wrap(`/${route}`, json) : { body: Buffer.from(json), session: undefined }
    })
    const path = onion ? "/oxen/v4/lsrpc" : `/${route}`
    const warm = Math.floor(iterations / 10)
    let bad = 0
    // Replies are checked (JSON.parse, and for onion the client's decryption: the client's work,
    // not the server's) in batches between timed stretches; only one batch is kept at a time
    // (holding thousands of 12 KiB revocation lists would make the run measure page faults and GC).
    const BATCH = 256
    const replies: Array<{ readonly status: number; readonly body: Uint8Array }> = []
    let serverUs = 0
    for (let from = 0; from < iterations; from += BATCH) {
      const to = Math.min(iterations, from + BATCH)
      const c0 = process.cpuUsage()
      for (let i = from; i < to; i++) replies.push(await call(path, bodies[i]!.body))
      const c = process.cpuUsage(c0)
      // warm-up on the first 10%, measure the rest
      if (from >= warm) serverUs += c.user + c.system
      for (let i = from; i < to; i++) {
        const r = replies[i - from]!
        const body = Buffer.from(r.body)
        if (!(onion ? onionOk(r.status, body, bodies[i]!.session!) : plainOk(r.status, body))) {
          if (bad++ === 0) console.log(`  ${route}: ${body.toString("utf8").slice(0, 200)}`)
        }
      }
      replies.length = 0
    }
    const measured = iterations - Math.ceil(warm / BATCH) * BATCH
    console.log(`${route.padEnd(30)} ${onion ? "onion" : "plain"}  ${(serverUs / 1000 / measured).toFixed(3)} CPU ms/call  failed ${bad}`)
  }
}
await runtime.dispose()
removeDb(file)
void Effect.void
