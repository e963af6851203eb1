/**
 * `npm run bench`: load-tests every client route of the real server binary, plain and through v4
 * onion requests, and compares the server's CPU time per request with the route's pure crypto floor;
 * then times the daily expiry sweep. Results: bench/results/<commit>[-quick].{json,md}.
 *
 * Environment (all optional):
 *   BENCH_SECONDS      seconds per load case (default 5, capped at 15)
 *   BENCH_USERS        user counts, comma-separated (default 1,10000,100000)
 *   BENCH_CONNECTIONS  connection counts (default 16,64)
 *   BENCH_SWEEP        payment counts for the sweep (default 10000,100000,1000000; "0" skips it)
 *   BENCH_ROUTES       subset of routes (default all five)
 *   BENCH_MODES        plain,onion (default both)
 *   BENCH_QUICK=1      smoke run: 2 s, 1000 users, 16 connections, sweep at 10000
 *   BENCH_CPU_PROF=1   run the server under `node --cpu-prof` (profiles in bench/tmp/prof)
 *   BENCH_PORT         first port to use (default 18650)
 */
import { execSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { x25519KeyPairFromEd25519Seed } from "../packages/core/src/Crypto/X25519.js"
import { DEV_BACKEND_SEED } from "../packages/core/src/Domain/Constants.js"
import {
  addBody,
  describe,
  detailsBody,
  generateBody,
  onionOk,
  type OnionSession,
  onionWrapper,
  plainOk,
  refundBody,
  revocationsBody,
  ROUTES,
  type RouteName
} from "./lib/bodies.js"
import { measureOps, routeFloors } from "./lib/floor.js"
import { benchUser, keyOf } from "./lib/keys.js"
import { type CaseResult, runCase } from "./lib/load.js"
import { removeDb, seedRoutes } from "./lib/seed.js"
import { ROOT, startServer } from "./lib/server.js"
import { type SweepTiming, timeSweep } from "./lib/sweep.js"

const env = process.env
const quick = env.BENCH_QUICK === "1"
const list = (v: string | undefined, dflt: string) => (v ?? dflt).split(",").map((s) => s.trim()).filter((s) => s !== "")
const nums = (v: string | undefined, dflt: string) => list(v, dflt).map(Number).filter((n) => Number.isFinite(n) && n >= 0)

const config = {
  seconds: Math.min(15, Math.max(1, Number(env.BENCH_SECONDS ?? (quick ? 2 : 5)))),
  users: nums(env.BENCH_USERS, quick ? "1000" : "1,10000,100000").filter((n) => n >= 1),
  connections: nums(env.BENCH_CONNECTIONS, quick ? "16" : "16,64").filter((n) => n >= 1),
  sweep: nums(env.BENCH_SWEEP, quick ? "10000" : "10000,100000,1000000").filter((n) => n > 0),
  routes: list(env.BENCH_ROUTES, ROUTES.join(",")).filter((r): r is RouteName => (ROUTES as ReadonlyArray<string>).includes(r)),
  modes: list(env.BENCH_MODES, "plain,onion").filter((m): m is "plain" | "onion" => m === "plain" || m === "onion"),
  warmupSeconds: 1,
  driven: 256,
  revocations: 100,
  cpuProf: env.BENCH_CPU_PROF === "1",
  port: Number(env.BENCH_PORT ?? 18650)
}

const TMP = NodePath.join(ROOT, "bench/tmp")
const RESULTS = NodePath.join(ROOT, "bench/results")
NodeFs.mkdirSync(TMP, { recursive: true })
NodeFs.mkdirSync(RESULTS, { recursive: true })

const git = (cmd: string) => {
  try {
    return execSync(`git ${cmd}`, { cwd: ROOT, encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}
const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`)
const r2 = (x: number) => Math.round(x * 100) / 100
const r3 = (x: number) => Math.round(x * 1000) / 1000

interface Baseline {
  readonly users: number
  readonly connections: number
  readonly rps: number
  readonly p99: number
  readonly cpuMsPerRequest: number
  readonly failed: number
}

interface CaseRecord extends CaseResult {
  readonly users: number
  readonly route: RouteName
  readonly mode: "plain" | "onion"
  readonly connections: number
  readonly serverCpuMs: number
  readonly cpuMsPerRequest: number
  readonly floorMs: number
  /** CPU / floor; null when the route has no crypto floor (plain /get_pro_revocations). */
  readonly ratio: number | null
}

const main = async () => {
  // The commit under test is the one checked out when the run starts (others may commit meanwhile).
  const commit = git("rev-parse --short HEAD")
  const dirty = git("status --porcelain --untracked-files=no") !== ""
  log(`config ${JSON.stringify(config)}`)
  const ops = measureOps()
  log(`crypto ops (ms): ${JSON.stringify(Object.fromEntries(Object.entries(ops).map(([k, v]) => [k, r3(v)])))}`)
  const serverX25519 = x25519KeyPairFromEd25519Seed(DEV_BACKEND_SEED).publicKey
  const wrap = onionWrapper(serverX25519)
  const cases: Array<CaseRecord> = []
  const rssByUsers: Array<{ users: number; peakMiB: number; currentMiB: number }> = []
  const floorsByUsers: Record<string, ReturnType<typeof routeFloors>> = {}
  const baselines: Array<Baseline> = []
  // Distinct (master, rotating) pairs that redeem the unredeemed pool through /add_pro_payment.
  const addKeys = Array.from({ length: 256 }, (_, i) => ({ master: keyOf(`bench-add-master-${i}`), rotating: keyOf(`bench-add-rotating-${i}`) }))
  const casesPerAdd = config.connections.length * config.modes.length
  // Enough fresh payments for ~3000 redemptions/s over every add case plus warm-ups.
  const addPool = config.routes.includes("add_pro_payment")
    ? Math.ceil(3000 * (config.seconds * casesPerAdd + config.warmupSeconds * config.modes.length)) + 1000
    : 0
  let port = config.port

  for (const users of config.users) {
    const driven = Array.from({ length: Math.min(users, config.driven) }, (_, k) => benchUser(Math.floor((k * users) / Math.min(users, config.driven))))
    const revocations = Math.min(config.revocations, users - driven.length)
    floorsByUsers[users] = routeFloors(ops, revocations)
    const dbFile = NodePath.join(TMP, `routes-${users}.db`)
    const t0 = performance.now()
    await seedRoutes(dbFile, { users, driven, addPool, revocations, now: Date.now() })
    log(`N=${users}: seeded ${users} users, ${addPool} unredeemed payments, ${revocations} revocations in ${r2((performance.now() - t0) / 1000)} s`)
    const profDir = NodePath.join(TMP, "prof", `users-${users}`)
    if (config.cpuProf) NodeFs.mkdirSync(profDir, { recursive: true })
    const server = await startServer({ dbFile, port: port++, logFile: NodePath.join(TMP, `server-${users}.log`), cpuProfDir: config.cpuProf ? profDir : undefined })
    await sleep(1000) // let the start-up sweep and other background work settle
    let addNext = 0
    try {
      for (const route of config.routes) {
        const path = `/${route}`
        /** A fresh batch of bodies, signed just now so the ±70 s window holds for the whole case. */
        const batch = (): () => string => {
          if (route === "add_pro_payment") {
            return () => {
              const j = addNext++
              const k = addKeys[j % addKeys.length]!
              return addBody(k.master, k.rotating, `bench-add-${j}`)
            }
          }
          const ts = Date.now()
          const bodies = route === "get_pro_revocations"
            ? [revocationsBody()]
            : Array.from({ length: 512 }, (_, i) => {
              const u = driven[i % driven.length]!
              switch (route) {
                case "generate_pro_proof":
                  return generateBody(u, ts)
                case "get_pro_details":
                  return detailsBody(u, ts)
                case "set_payment_refund_requested":
                  return refundBody(u, ts, i % 2 === 0 ? ts : 0)
              }
            })
          let i = 0
          return () => bodies[i++ % bodies.length]!
        }
        for (const mode of config.modes) {
          const run = (seconds: number, connections: number) => {
            const nextBody = batch()
            // Onion bodies are wrapped per request for add (fresh payments), else once per batch.
            const wrapped = mode === "onion" && route !== "add_pro_payment"
              ? Array.from({ length: 512 }, () => wrap(path, nextBody()))
              : []
            let w = 0
            return runCase<OnionSession>({
              url: server.url,
              path: mode === "plain" ? path : "/oxen/v4/lsrpc",
              seconds,
              connections,
              contentType: mode === "plain" ? "application/json" : "application/octet-stream",
              next: mode === "plain"
                ? () => ({ body: nextBody() })
                : route === "add_pro_payment"
                ? () => wrap(path, nextBody())
                : () => wrapped[w++ % wrapped.length]!,
              check: (status, body, session) => (mode === "plain" ? plainOk(status, body) : session !== undefined && onionOk(status, body, session)),
              describe
            })
          }
          await run(config.warmupSeconds, config.connections[0]!)
          for (const connections of config.connections) {
            const cpu0 = server.cpuMs()
            const res = await run(config.seconds, connections)
            const serverCpuMs = server.cpuMs() - cpu0
            const floor = floorsByUsers[users]![route]
            const floorMs = mode === "plain" ? floor.plainMs : floor.onionMs
            const cpuMsPerRequest = res.requests > 0 ? serverCpuMs / res.requests : Number.NaN
            const rec: CaseRecord = {
              ...res,
              users,
              route,
              mode,
              connections,
              serverCpuMs,
              cpuMsPerRequest,
              floorMs,
              ratio: floorMs > 0 ? cpuMsPerRequest / floorMs : null
            }
            cases.push(rec)
            log(`N=${users} ${route} ${mode} c=${connections}: ${Math.round(res.rps)} req/s, p99 ${res.p99} ms, ` +
              `${r3(cpuMsPerRequest)} CPU ms/req (floor ${r3(floorMs)}, ×${rec.ratio === null ? "—" : r2(rec.ratio)}), failed ${res.failed}, transport errors ${res.transportErrors}` +
              (res.firstFailure ? `\n    first failure: ${res.firstFailure}` : ""))
          }
        }
      }
      // Baseline: GET /healthz (one SELECT 1, no crypto) = the HTTP + Effect stack cost per request
      // on this machine right now, to read the route rows against.
      for (const connections of config.connections) {
        const cpu0 = server.cpuMs()
        const res = await runCase<undefined>({
          url: server.url,
          path: "/healthz",
          method: "GET",
          seconds: Math.min(config.seconds, 3),
          connections,
          contentType: "",
          next: () => ({ body: "" }),
          check: (status) => status === 200,
          describe: (status, body) => `${status}: ${body.toString("utf8").slice(0, 200)}`
        })
        const serverCpuMs = server.cpuMs() - cpu0
        baselines.push({ users, connections, rps: res.rps, p99: res.p99, cpuMsPerRequest: serverCpuMs / res.requests, failed: res.failed + res.transportErrors })
        log(`N=${users} GET /healthz baseline c=${connections}: ${Math.round(res.rps)} req/s, p99 ${res.p99} ms, ${r3(serverCpuMs / res.requests)} CPU ms/req`)
      }
      const rss = server.rss()
      rssByUsers.push({ users, ...rss })
      log(`N=${users}: server peak RSS ${r2(rss.peakMiB)} MiB`)
    } finally {
      await server.stop()
      removeDb(dbFile)
    }
  }

  const sweeps: Array<SweepTiming> = []
  for (const payments of config.sweep) {
    const s = await timeSweep(NodePath.join(TMP, `sweep-${payments}.db`), payments)
    sweeps.push(s)
    log(`sweep at ${payments} payments: ${r2(s.wallMs)} ms wall, ${r2(s.cpuMs)} ms CPU (seeded in ${r2(s.seedSeconds)} s): ${JSON.stringify(s.result)}`)
  }

  const meta = {
    commit,
    dirty,
    date: new Date().toISOString(),
    node: process.version,
    cpus: NodeOs.cpus().length,
    cpuModel: NodeOs.cpus()[0]?.model ?? "unknown",
    config: { ...config, addPool }
  }
  const json = { meta, cryptoOpsMs: ops, floors: floorsByUsers, cases, baselines, rss: rssByUsers, sweeps }
  const md = markdown(json)
  const base = NodePath.join(RESULTS, `${commit}${quick ? "-quick" : ""}`)
  NodeFs.writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + "\n")
  NodeFs.writeFileSync(`${base}.md`, md)
  process.stdout.write(md)
  log(`wrote ${NodePath.relative(ROOT, base)}.{json,md}`)
  const failures = cases.reduce((n, c) => n + c.failed + c.transportErrors, 0) + baselines.reduce((n, b) => n + b.failed, 0)
  if (failures > 0) {
    log(`${failures} failed requests`)
    process.exitCode = 1
  }
}

const markdown = (j: {
  meta: { commit: string; dirty: boolean; date: string; node: string; cpus: number; cpuModel: string; config: typeof config & { addPool: number } }
  cryptoOpsMs: ReturnType<typeof measureOps>
  cases: ReadonlyArray<CaseRecord>
  baselines: ReadonlyArray<Baseline>
  rss: ReadonlyArray<{ users: number; peakMiB: number }>
  sweeps: ReadonlyArray<SweepTiming>
  floors: Record<string, ReturnType<typeof routeFloors>>
}): string => {
  const L: Array<string> = []
  L.push(`# Benchmark ${j.meta.commit}${j.meta.dirty ? " (+ uncommitted changes)" : ""}`, "")
  L.push(`${j.meta.date}, node ${j.meta.node}, ${j.meta.cpus} × ${j.meta.cpuModel} (shared machine). ` +
    `${j.meta.config.seconds} s per case, SQLite WAL file DB, dev mode, single server process. ` +
    `CPU = server process utime+stime per request (/proc, 10 ms ticks); floor = pure crypto of the route measured in the bench process.`, "")
  const o = j.cryptoOpsMs
  L.push(`Crypto ops (ms/call): verify ${r3(o.verifyMs)}, sign ${r3(o.signMs)}, BLAKE2b ${r3(o.blake2bMs)}, SHA-256 ${r3(o.sha256Ms)}, ` +
    `X25519 ${r3(o.x25519Ms)}, AEAD open+seal ${r3(o.aeadMs)}`, "")
  L.push("| users | route | mode | conns | req/s | p50 ms | p90 ms | p99 ms | errors | CPU ms/req | floor ms | ratio |")
  L.push("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for (const c of j.cases) {
    L.push(`| ${c.users} | ${c.route} | ${c.mode} | ${c.connections} | ${Math.round(c.rps)} | ${c.p50} | ${c.p90} | ${c.p99} | ` +
      `${c.failed + c.transportErrors} | ${r3(c.cpuMsPerRequest)} | ${r3(c.floorMs)} | ${c.ratio === null ? "—" : r2(c.ratio)} |`)
  }
  L.push("", "Floors (largest user count): " + Object.entries(Object.values(j.floors).at(-1) ?? {}).map(([r, f]) => `${r} = ${f.formula}`).join("; ") +
    "; onion adds X25519 + BLAKE2b + AEAD open/seal.", "")
  if (j.baselines.length > 0) {
    L.push("Baseline `GET /healthz` (HTTP + Effect stack + `SELECT 1`, no crypto) on the same server, same machine state:", "")
    L.push("| users | conns | req/s | p99 ms | CPU ms/req |", "|---:|---:|---:|---:|---:|")
    for (const b of j.baselines) L.push(`| ${b.users} | ${b.connections} | ${Math.round(b.rps)} | ${b.p99} | ${r3(b.cpuMsPerRequest)} |`)
    L.push("")
  }
  if (j.rss.length > 0) {
    L.push("| users | server peak RSS (MiB) |", "|---:|---:|")
    for (const r of j.rss) L.push(`| ${r.users} | ${r2(r.peakMiB)} |`)
    L.push("")
  }
  if (j.sweeps.length > 0) {
    L.push("| sweep: payments | wall ms | CPU ms | expired rows | users pruned | revocations deleted |", "|---:|---:|---:|---:|---:|---:|")
    for (const s of j.sweeps) {
      L.push(`| ${s.payments} | ${r2(s.wallMs)} | ${r2(s.cpuMs)} | ${s.result.paymentRows} | ${s.result.users} | ${s.result.revocations} |`)
    }
    L.push("")
  }
  return L.join("\n")
}

main().catch((e) => {
  log(`failed: ${e instanceof Error ? e.stack : String(e)}`)
  process.exitCode = 1
})
