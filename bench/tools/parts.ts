/**
 * Splits one route's in-process cost into parts (parse, core call, full dispatch, the crypto alone)
 * to see where non-crypto time goes. Usage: npx tsx bench/tools/parts.ts [iterations]
 */
import * as NodePath from "node:path"
import { Effect, ManagedRuntime } from "effect"
import { Proofs } from "../../packages/core/src/Proofs.js"
import * as Ed25519 from "../../packages/core/src/Crypto/Ed25519.js"
import { generateProProofHash } from "../../packages/core/src/Crypto/Hashes.js"
import { parseGenerateProProof } from "../../packages/http/src/Protocol/Requests.js"
import { dispatch } from "../../packages/http/src/Routes/ClientRoutes.js"
import * as Server from "../../packages/http/src/Server.js"
import { generateBody } from "../lib/bodies.js"
import { benchUser } from "../lib/keys.js"
import { removeDb, seedRoutes } from "../lib/seed.js"
import { ROOT } from "../lib/server.js"

const n = Number(process.argv[2] ?? 2000)
const file = NodePath.join(ROOT, `bench/tmp/parts-${process.pid}.db`)
const driven = Array.from({ length: 64 }, (_, k) => benchUser(k * 10))
await seedRoutes(file, { users: 1000, driven, addPool: 0, revocations: 100, now: Date.now() })
const runtime = ManagedRuntime.make(Server.servicesLayer({ url: `sqlite:///${file}`, settings: { dev: true } }))
const proofs = await runtime.runPromise(Proofs)
const bodies = Array.from({ length: n }, (_, i) => Buffer.from(generateBody(driven[i % 64]!, Date.now())))
const ctx = { nowMs: Date.now(), dev: true, unsafeLogging: false }
const parsed = bodies.map((b) => {
  const r = parseGenerateProProof(b, ctx)
  if (r._tag === "Left") throw new Error(JSON.stringify(r.left))
  return r.right
})

const cpu = async (label: string, f: (i: number) => unknown) => {
  for (let i = 0; i < Math.min(200, n); i++) await f(i)
  const c0 = process.cpuUsage()
  for (let i = 0; i < n; i++) await f(i)
  const c = process.cpuUsage(c0)
  console.log(`${label.padEnd(40)} ${((c.user + c.system) / 1000 / n).toFixed(4)} ms`)
}
await cpu("crypto: hash + 2 verify", (i) => {
  const r = parsed[i]!
  const h = generateProProofHash(0, r.masterPkey, r.rotatingPkey, r.unixTsMs)
  return Ed25519.verify(r.masterSig, h, r.masterPkey) && Ed25519.verify(r.rotatingSig, h, r.rotatingPkey)
})
await cpu("parse", (i) => parseGenerateProProof(bodies[i]!, ctx))
await cpu("runPromise(Effect.void)", () => runtime.runPromise(Effect.void))
await cpu("core generateProProof", (i) => runtime.runPromise(proofs.generateProProof(parsed[i]!)))
await cpu("dispatch", (i) => runtime.runPromise(dispatch({ method: "POST", path: "/generate_pro_proof", headers: {}, body: bodies[i]! })))
await cpu("dispatch, tracer disabled", (i) =>
  runtime.runPromise(Effect.withTracerEnabled(dispatch({ method: "POST", path: "/generate_pro_proof", headers: {}, body: bodies[i]! }), false)))
await runtime.dispose()
removeDb(file)
