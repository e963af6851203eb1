/**
 * How close to the crypto floor can a `/get_pro_details` server on Node get? Runs `ideal-server.ts` (bare
 * node:http + the route's crypto + two SQLite reads, nothing else) under the bench's load generator and
 * reports its server CPU per request beside the route's crypto floor, to read the ≤ 2× floor target against.
 * Usage: npx tsx bench/tools/ideal.ts [users=10000] [seconds=5] [connections=16]
 */
import { spawn } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { detailsBody, plainOk } from "../lib/bodies.js"
import { measureOps } from "../lib/floor.js"
import { benchUser } from "../lib/keys.js"
import { runCase } from "../lib/load.js"
import { removeDb, seedRoutes } from "../lib/seed.js"
import { ROOT } from "../lib/server.js"

const [users = 10000, seconds = 5, connections = 16] = process.argv.slice(2).map(Number)
const file = NodePath.join(ROOT, `bench/tmp/ideal-${process.pid}.db`)
const driven = Array.from({ length: 256 }, (_, k) => benchUser(k * Math.max(1, Math.floor(users / 256))))
await seedRoutes(file, { users, driven, addPool: 0, revocations: 100, now: Date.now() })
const port = 18900 + (process.pid % 50)
const child = spawn(process.execPath, ["--import", "tsx", NodePath.join(ROOT, "bench/tools/ideal-server.ts"), file, String(port)], { stdio: ["ignore", "pipe", "inherit"] })
await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()))
const cpuMs = () => {
  const stat = NodeFs.readFileSync(`/proc/${child.pid}/stat`, "utf8")
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(f[11]) + Number(f[12])) * 10
}
let i = 0
const opts = {
  url: `http://127.0.0.1:${port}`,
  path: "/get_pro_details",
  connections,
  contentType: "application/json",
  next: () => ({ body: detailsBody(driven[i++ % driven.length]!, Date.now()) }),
  check: (status: number, body: Buffer) => plainOk(status, body),
  describe: (status: number, body: Buffer) => `${status} ${body.toString().slice(0, 200)}`
}
await runCase({ ...opts, seconds: 2 }) // warm-up (JIT)
await sleep(200)
const c0 = cpuMs()
const r = await runCase({ ...opts, seconds })
const c1 = cpuMs()
child.kill()
removeDb(file)
const ops = measureOps()
const floor = ops.verifyMs + ops.blake2bMs
const total = r.requests
console.log(JSON.stringify({ users, connections, seconds, result: Object.fromEntries(Object.entries(r).filter(([, v]) => typeof v !== "object")) }))
console.log(`ideal /get_pro_details: server CPU ${((c1 - c0) / total).toFixed(3)} ms/req over ${total} requests (CPU includes the ramp-up), floor ${floor.toFixed(3)} ms (verify ${ops.verifyMs.toFixed(3)} + BLAKE2b ${ops.blake2bMs.toFixed(3)}), ratio ${((c1 - c0) / total / floor).toFixed(2)}`)
