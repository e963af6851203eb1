/**
 * Per-second timeline of one load case against the real server: client-side p50/p99/max by completion
 * second (autocannon), and from inside the server (bench/lib/probe.mjs) event-loop delay, GC pauses,
 * CPU, RSS and heap, plus the size of the SQLite WAL file. For finding where tail latency comes from.
 *
 *   npx tsx bench/tools/timeline.ts
 *
 * Environment: TL_USERS (default 100000), TL_ROUTE (add_pro_payment), TL_MODE (plain|onion, plain),
 * TL_CONNECTIONS (16,64), TL_SECONDS (10), TL_SETTLE (seconds between healthy and the first case, 1),
 * TL_WARMUP (seconds, 1), TL_PREPARE (none|checkpoint|vacuum: what is done to the seeded DB before
 * the server starts, default none), TL_PORT (18750), TL_STRACE=1 (strace the server during each case:
 * fsync/fdatasync/pwrite/pread with durations, summarised per thread — JS thread vs checkpointer/pool).
 */
import { execSync, spawn } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { x25519KeyPairFromEd25519Seed } from "../../packages/core/src/Crypto/X25519.js"
import { DEV_BACKEND_SEED } from "../../packages/core/src/Domain/Constants.js"
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
  type RouteName
} from "../lib/bodies.js"
import { benchUser, keyOf } from "../lib/keys.js"
import { runCase } from "../lib/load.js"
import { type DbPreparation, prepareDb, removeDb, seedRoutes } from "../lib/seed.js"
import { ROOT, startServer } from "../lib/server.js"

const env = process.env
const users = Number(env.TL_USERS ?? 100000)
const route = (env.TL_ROUTE ?? "add_pro_payment") as RouteName
const mode = env.TL_MODE === "onion" ? "onion" : "plain"
const connections = (env.TL_CONNECTIONS ?? "16,64").split(",").map(Number)
const seconds = Number(env.TL_SECONDS ?? 10)
const settle = Number(env.TL_SETTLE ?? 1)
const warmup = Number(env.TL_WARMUP ?? 1)
const prepare = (env.TL_PREPARE ?? "none") as DbPreparation
const TMP = NodePath.join(ROOT, "bench/tmp")
const dbFile = NodePath.join(TMP, `timeline-${users}.db`)
const probeFile = NodePath.join(TMP, `timeline-${users}.probe`)
const log = (s: string) => process.stderr.write(`[timeline ${new Date().toISOString().slice(11, 23)}] ${s}\n`)
const MiB = (f: string) => (NodeFs.existsSync(f) ? NodeFs.statSync(f).size / 1048576 : 0)
const f1 = (x: number) => x.toFixed(1)

/**
 * Per thread of the server (the JS thread is the one whose id is the pid; the others are libuv's pool and
 * the WAL checkpointer): fsync/fdatasync count, total and longest, and pwrite/pread counts.
 */
const straceSummary = (file: string, pid: number): string => {
  if (!NodeFs.existsSync(file)) return "strace: no output\n"
  const by = new Map<string, { syncs: number; syncMs: number; syncMaxMs: number; pwrites: number; preads: number }>()
  for (const line of NodeFs.readFileSync(file, "utf8").split("\n")) {
    const m = /^(\d+)\s+\S+\s+(?:<\.\.\. )?(\w+)(?:\(| resumed>).*<([\d.]+)>$/.exec(line)
    if (!m) continue
    const tid = m[1] === String(pid) ? `${m[1]} (JS thread)` : m[1]!
    const t = by.get(tid) ?? { syncs: 0, syncMs: 0, syncMaxMs: 0, pwrites: 0, preads: 0 }
    const ms = Number(m[3]) * 1000
    if (m[2] === "fsync" || m[2] === "fdatasync") {
      t.syncs++
      t.syncMs += ms
      t.syncMaxMs = Math.max(t.syncMaxMs, ms)
    } else if (m[2] === "pwrite64") t.pwrites++
    else if (m[2] === "pread64") t.preads++
    by.set(tid, t)
  }
  return [...by].map(([tid, t]) =>
    `strace thread ${tid}: ${t.syncs} fsync (${f1(t.syncMs)} ms in total, longest ${f1(t.syncMaxMs)} ms), ${t.pwrites} pwrite, ${t.preads} pread\n`
  ).join("")
}

const driven = Array.from({ length: Math.min(users, 256) }, (_, k) => benchUser(Math.floor((k * users) / Math.min(users, 256))))
const addKeys = Array.from({ length: 256 }, (_, i) => ({ master: keyOf(`bench-add-master-${i}`), rotating: keyOf(`bench-add-rotating-${i}`) }))
const addPool = route === "add_pro_payment" ? 3000 * (seconds * connections.length + warmup) + 1000 : 0
const wrap = onionWrapper(x25519KeyPairFromEd25519Seed(DEV_BACKEND_SEED).publicKey)

const t0 = performance.now()
await seedRoutes(dbFile, { users, driven, addPool, revocations: Math.min(100, users - driven.length), now: Date.now() })
log(`seeded ${users} users + ${addPool} unredeemed in ${f1((performance.now() - t0) / 1000)} s: db ${f1(MiB(dbFile))} MiB, wal ${f1(MiB(`${dbFile}-wal`))} MiB`)
const p0 = performance.now()
await prepareDb(dbFile, prepare)
log(`prepare=${prepare} in ${f1((performance.now() - p0) / 1000)} s: db ${f1(MiB(dbFile))} MiB, wal ${f1(MiB(`${dbFile}-wal`))} MiB`)

const server = await startServer({ dbFile, port: Number(env.TL_PORT ?? 18750), logFile: NodePath.join(TMP, `timeline-${users}.log`), probeFile })
log(`healthy; settling ${settle} s`)
await sleep(settle * 1000)
let addNext = 0
const nextBody = (): (() => string) => {
  if (route === "add_pro_payment") {
    return () => {
      const j = addNext++
      const k = addKeys[j % addKeys.length]!
      return addBody(k.master, k.rotating, `bench-add-${j}`)
    }
  }
  const ts = Date.now()
  const bodies = route === "get_pro_revocations" ? [revocationsBody()] : Array.from({ length: 512 }, (_, i) => {
    const u = driven[i % driven.length]!
    return route === "generate_pro_proof"
      ? generateBody(u, ts)
      : route === "get_pro_details"
      ? detailsBody(u, ts)
      : refundBody(u, ts, i % 2 === 0 ? ts : 0)
  })
  let i = 0
  return () => bodies[i++ % bodies.length]!
}
const run = (secs: number, conns: number) => {
  const next = nextBody()
  return runCase<OnionSession>({
    url: server.url,
    path: mode === "plain" ? `/${route}` : "/oxen/v4/lsrpc",
    seconds: secs,
    connections: conns,
    contentType: mode === "plain" ? "application/json" : "application/octet-stream",
    next: mode === "plain" ? () => ({ body: next() }) : () => wrap(`/${route}`, next()),
    check: (status, body, session) => (mode === "plain" ? plainOk(status, body) : session !== undefined && onionOk(status, body, session)),
    describe,
    timeline: true
  })
}

try {
  server.probe() // drop start-up samples from the table (they are logged below)
  if (warmup > 0) {
    const w = await run(warmup, connections[0]!)
    log(`warm-up ${warmup} s c=${connections[0]}: ${Math.round(w.rps)} req/s, p99 ${w.p99} ms`)
  }
  for (const c of connections) {
    server.probe()
    const start = Date.now()
    const wal: Array<number> = []
    const sched: Array<{ cpuMs: number; runWaitMs: number }> = [server.sched()]
    const walTimer = setInterval(() => {
      wal.push(MiB(`${dbFile}-wal`))
      sched.push(server.sched())
    }, 1000)
    const strace = env.TL_STRACE === "1"
      ? spawn("strace", ["-f", "-tt", "-T", "-e", "trace=fsync,fdatasync,pwrite64,pread64", "-o", NodePath.join(TMP, `timeline-${users}-c${c}.strace`), "-p", String(server.pid)], { stdio: "ignore" })
      : undefined
    if (strace) await sleep(300)
    // TL_SS=1: socket states at 1.5 s and 3 s into the case (accept queue, unread request bytes)
    const port = new URL(server.url).port
    const ssTimers = env.TL_SS === "1"
      ? [1500, 3000].map((ms) =>
        setTimeout(() => {
          const listen = execSync(`ss -tlnH "( sport = :${port} )"`, { encoding: "utf8" }).trim()
          const conns = execSync(`ss -tnH state established "( sport = :${port} )"`, { encoding: "utf8" }).trim().split("\n").filter((l) => l !== "")
          const unread = conns.filter((l) => Number(l.trim().split(/\s+/)[0]) > 0).length
          log(`at ${ms} ms: listen [${listen.replace(/\s+/g, " ")}], ${conns.length} established server sockets, ${unread} with unread request bytes`)
        }, ms)
      )
      : []
    const res = await run(seconds, c)
    for (const t of ssTimers) clearTimeout(t)
    clearInterval(walTimer)
    strace?.kill("SIGINT")
    await sleep(1100) // the probe's last line for this case
    if (strace) process.stdout.write(straceSummary(NodePath.join(TMP, `timeline-${users}-c${c}.strace`), server.pid))
    const probe = server.probe()
    log(`${route} ${mode} c=${c}: window ${res.windowSeconds} s after a ${res.rampMs} ms ramp-up (slowest first reply ${res.firstReplyMaxMs} ms): ` +
      `${Math.round(res.rps)} req/s, p50 ${res.p50} p90 ${res.p90} p99 ${res.p99} max ${res.max} ms, failed ${res.failed + res.transportErrors}`)
    process.stdout.write(`\n${route} ${mode} c=${c} users=${users} prepare=${prepare}\n`)
    // GC over the whole case (ramp-up included) per 1000 replies: counts do not depend on machine load, pauses do
    const replies = (res.timeline ?? []).reduce((n, s) => n + s.requests, 0)
    const gc = probe.reduce((a, p) => ({ n: a.n + p.gcCount, major: a.major + p.majorGcs, ms: a.ms + p.gcMs, max: Math.max(a.max, p.gcMaxMs) }), { n: 0, major: 0, ms: 0, max: 0 })
    const per1k = (x: number) => (replies > 0 ? f1((x * 1000) / replies) : "—")
    process.stdout.write(`gc: ${gc.n} pauses (${gc.major} mark-compact), ${f1(gc.ms)} ms, longest ${f1(gc.max)} ms; per 1000 replies: ${per1k(gc.n)} pauses, ${per1k(gc.major)} mark-compact, ${per1k(gc.ms)} ms\n`)
    process.stdout.write("sec | req | p50 | p99 | max (client ms) | loop p99 | loop max | gc ms | gc max | cpu ms | JS thread cpu | run-queue wait | rss MiB | heap MiB | wal MiB\n")
    process.stdout.write(`slowest: ${(res.slowest ?? []).map((r) => `${Math.round(r.latency)} ms (sent at ${Math.round(r.sentAt)} ms, conn ${r.connection} #${r.indexOnConnection})`).join(", ")}\n`)
    for (const s of res.timeline ?? []) {
      // the probe line closest to the end of this second covers (about) this second
      const end = start + (s.second + 1) * 1000
      const p = probe.reduce<(typeof probe)[number] | undefined>((b, x) => (b === undefined || Math.abs(x.t - end) < Math.abs(b.t - end) ? x : b), undefined)
      process.stdout.write(`${s.second} | ${s.requests} | ${Math.round(s.p50)} | ${Math.round(s.p99)} | ${Math.round(s.max)} | ` +
        (p ? `${f1(p.lagP99Ms)} | ${f1(p.lagMaxMs)} | ${f1(p.gcMs)} | ${f1(p.gcMaxMs)} | ${Math.round(p.cpuMs)}` : "— | — | — | — | —") +
        (sched[s.second + 1] ? ` | ${Math.round(sched[s.second + 1]!.cpuMs - sched[s.second]!.cpuMs)} | ${Math.round(sched[s.second + 1]!.runWaitMs - sched[s.second]!.runWaitMs)}` : " | — | —") +
        (p ? ` | ${f1(p.rssMiB)} | ${f1(p.heapUsedMiB)}` : " | — | —") +
        ` | ${f1(wal[s.second] ?? Number.NaN)}\n`)
    }
  }
} finally {
  await server.stop()
  removeDb(dbFile)
  for (const f of NodeFs.readdirSync(TMP)) if (f.endsWith(`_timeline-${users}.db.bak`)) NodeFs.rmSync(NodePath.join(TMP, f), { force: true })
}
