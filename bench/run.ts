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
 *   BENCH_SWEEP_SEED   realistic, scattered or both (default both; quick: realistic), see README
 *   BENCH_ROUTES       subset of routes (default all five)
 *   BENCH_MODES        plain,onion (default both)
 *   BENCH_QUICK=1      smoke run: 2 s, 1000 users, 16 connections, sweep at 10000
 *   BENCH_SOAK_SECONDS mixed-load soak at the largest user count (default 60; quick 6; 0 skips it)
 *   BENCH_SOAK_CONNECTIONS  connections for the soak (default 16)
 *   BENCH_CPU_PROF=1   run the server under `node --cpu-prof` (profiles in bench/tmp/prof)
 *   BENCH_PORT         first port to use (default 18650)
 *
 * Each case measures a window of BENCH_SECONDS that starts once every connection has had its first
 * reply (see lib/load.ts: the server accepts one connection per event-loop iteration, so the ramp-up
 * is reported apart). Before a server starts its seeded DB is checkpointed, and the measurements
 * start only after its start-up backup finished.
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
import { type CaseResult, runCase, type SecondStats } from "./lib/load.js"
import { prepareDb, removeDb, seedRoutes } from "./lib/seed.js"
import { ensureBuilt, type ProbeSample, ROOT, serverKind, type ServerHandle, startServer } from "./lib/server.js"
import { type SweepTiming, sweepSeedKinds, timeSweep } from "./lib/sweep.js"

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
  soakSeconds: Math.max(0, Number(env.BENCH_SOAK_SECONDS ?? (quick ? 6 : 60))),
  soakConnections: Math.max(1, Number(env.BENCH_SOAK_CONNECTIONS ?? 16)),
  /** Longest wait for the server's start-up backup before measuring. */
  startupWaitSeconds: 120,
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
  /** From inside the server over the whole case (probe.mjs): worst event-loop delay, GC pauses. */
  readonly loopMaxMs: number
  readonly gcMs: number
  readonly gcMaxMs: number
  /** Share of the case's wall time the server's JS thread was runnable but had no CPU (other load). */
  readonly runQueueShare: number
}

/** The server's side of a stretch of time: probe samples plus the JS thread's scheduler counters. */
const serverSide = (probe: ReadonlyArray<ProbeSample>, sched0: { cpuMs: number; runWaitMs: number }, sched1: { cpuMs: number; runWaitMs: number }, wallMs: number) => ({
  loopMaxMs: r2(Math.max(0, ...probe.map((p) => p.lagMaxMs))),
  gcMs: r2(probe.reduce((n, p) => n + p.gcMs, 0)),
  gcMaxMs: r2(Math.max(0, ...probe.map((p) => p.gcMaxMs))),
  runQueueShare: r3((sched1.runWaitMs - sched0.runWaitMs) / wallMs)
})

interface StartupRecord {
  readonly users: number
  readonly seedSeconds: number
  /** DB and WAL sizes after seeding + checkpoint, when the server opened it. */
  readonly dbMiB: number
  readonly walMiB: number
  /** From healthy until the start-up backup was logged (null: not seen within the wait). */
  readonly backupWaitMs: number | null
}

interface SoakSecond extends SecondStats {
  readonly rssMiB: number
  readonly heapUsedMiB: number | null
  readonly loopMaxMs: number | null
}

interface SoakRecord {
  readonly users: number
  readonly connections: number
  readonly seconds: number
  readonly routes: ReadonlyArray<RouteName>
  readonly requests: number
  readonly windowRequests: number
  readonly rps: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly errors: number
  readonly firstFailure?: string | undefined
  readonly rampMs: number
  readonly cpuMsPerRequest: number
  readonly loopMaxMs: number
  readonly gcMs: number
  readonly gcMaxMs: number
  readonly runQueueShare: number
  readonly rss: { readonly startMiB: number; readonly endMiB: number; readonly peakMiB: number; readonly slopeMiBPerMin: number }
  readonly heapUsed: { readonly startMiB: number; readonly endMiB: number; readonly peakMiB: number; readonly slopeMiBPerMin: number } | null
  /**
   * Heap used right after each mark-compact in the window (the live heap; heap used between them
   * is mostly garbage waiting for the next one): first, last and how many.
   */
  readonly liveHeap: { readonly firstMiB: number; readonly lastMiB: number; readonly majorGcs: number } | null
  /** Seconds the slopes were fitted over (the last 40 s, or the last two thirds of a shorter soak). */
  readonly slopeSeconds: number
  readonly perSecond: ReadonlyArray<SoakSecond>
}

/** Least-squares slope of y over x (x in seconds) × 60: MiB per minute. */
const slopePerMinute = (pts: ReadonlyArray<readonly [number, number]>): number => {
  if (pts.length < 2) return 0
  const n = pts.length
  const mx = pts.reduce((a, [x]) => a + x, 0) / n
  const my = pts.reduce((a, [, y]) => a + y, 0) / n
  const sxx = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  return sxx === 0 ? 0 : (pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx) * 60
}

const main = async () => {
  // The commit under test is the one checked out when the run starts (others may commit meanwhile).
  const commit = git("rev-parse --short HEAD")
  const dirty = git("status --porcelain --untracked-files=no") !== ""
  log(`config ${JSON.stringify(config)}`)
  log(`server: ${serverKind()} (build ${ensureBuilt(log)})`)
  const ops = measureOps()
  log(`crypto ops (ms): ${JSON.stringify(Object.fromEntries(Object.entries(ops).map(([k, v]) => [k, r3(v)])))}`)
  const serverX25519 = x25519KeyPairFromEd25519Seed(DEV_BACKEND_SEED).publicKey
  const wrap = onionWrapper(serverX25519)
  const cases: Array<CaseRecord> = []
  const rssByUsers: Array<{ users: number; peakMiB: number; currentMiB: number }> = []
  const floorsByUsers: Record<string, ReturnType<typeof routeFloors>> = {}
  const baselines: Array<Baseline> = []
  const startups: Array<StartupRecord> = []
  let soak: SoakRecord | undefined
  // Rotating keys for /add_pro_payment (each add gets its own master key, see addBodyNext).
  const addKeys = Array.from({ length: 256 }, (_, i) => ({ rotating: keyOf(`bench-add-rotating-${i}`) }))
  const casesPerAdd = config.connections.length * config.modes.length
  const soakAdds = config.routes.includes("add_pro_payment") && config.soakSeconds > 0
    ? Math.ceil((3000 / config.routes.length) * (config.soakSeconds + 5)) // a fifth of ≤ 3000 req/s, ramp-up included
    : 0
  // Enough fresh payments for ~3000 redemptions/s over every add case plus warm-ups (and the soak's share).
  const addPool = config.routes.includes("add_pro_payment")
    ? Math.ceil(3000 * (config.seconds * casesPerAdd + config.warmupSeconds * config.modes.length)) + 1000 + soakAdds
    : 0
  let port = config.port

  for (const users of config.users) {
    const isLast = users === config.users.at(-1)
    const driven = Array.from({ length: Math.min(users, config.driven) }, (_, k) => benchUser(Math.floor((k * users) / Math.min(users, config.driven))))
    const revocations = Math.min(config.revocations, users - driven.length)
    floorsByUsers[users] = routeFloors(ops, revocations)
    const dbFile = NodePath.join(TMP, `routes-${users}.db`)
    const t0 = performance.now()
    await seedRoutes(dbFile, { users, driven, addPool, revocations, now: Date.now() })
    // The seeding connection checkpoints on close; make sure (the server must not start by copying
    // a WAL full of seed rows into the DB), and record what the server opens.
    const sizes = prepareDb(dbFile, "checkpoint")
    const seedSeconds = (performance.now() - t0) / 1000
    log(`N=${users}: seeded ${users} users, ${addPool} unredeemed payments, ${revocations} revocations in ${r2(seedSeconds)} s ` +
      `(db ${r2(sizes.dbMiB)} MiB, wal ${r2(sizes.walMiB)} MiB)`)
    const profDir = NodePath.join(TMP, "prof", `users-${users}`)
    if (config.cpuProf) NodeFs.mkdirSync(profDir, { recursive: true })
    const server = await startServer({
      dbFile,
      port: port++,
      logFile: NodePath.join(TMP, `server-${users}.log`),
      cpuProfDir: config.cpuProf ? profDir : undefined,
      probeFile: NodePath.join(TMP, `probe-${users}.jsonl`)
    })
    // Start-up work: the daily pruning runs before the server listens; the backup worker then copies
    // the whole DB (1.5 s at 100k users on this machine) while requests are served. Measure after it.
    const h0 = performance.now()
    const backedUp = await server.waitForLog(/Backed up DB successfully|Backup of .* failed/, config.startupWaitSeconds * 1000)
    const backupWaitMs = backedUp ? Math.round(performance.now() - h0) : null
    startups.push({ users, seedSeconds: r2(seedSeconds), dbMiB: r2(sizes.dbMiB), walMiB: r2(sizes.walMiB), backupWaitMs })
    log(backedUp ? `N=${users}: start-up backup done ${backupWaitMs} ms after healthy` : `N=${users}: no start-up backup logged within ${config.startupWaitSeconds} s; measuring anyway`)
    await sleep(500) // let the copy's garbage and page cache settle
    let addNext = 0
    const addBodyNext = () => {
      const j = addNext++
      // Each add is a new subscriber's first redemption (a fresh master key), as in production, where
      // renewals are redeemed by store notifications; reusing a few masters would pile dozens of payments
      // onto each and measure an unrealistically long entitlement window.
      const k = addKeys[j % addKeys.length]!
      return addBody(keyOf(`bench-add-master-${j}`), k.rotating, `bench-add-${j}`)
    }
    /** Bodies for a signed read/refund route, re-signed every 30 s (the server accepts ±70 s). */
    const signedBodies = (route: Exclude<RouteName, "add_pro_payment">): () => string => {
      if (route === "get_pro_revocations") {
        const b = revocationsBody()
        return () => b
      }
      let ts = 0
      let bodies: Array<string> = []
      let i = 0
      return () => {
        if (Date.now() - ts > 30_000) {
          ts = Date.now()
          bodies = Array.from({ length: 512 }, (_, k) => {
            const u = driven[k % driven.length]!
            switch (route) {
              case "generate_pro_proof":
                return generateBody(u, ts)
              case "get_pro_details":
                return detailsBody(u, ts)
              case "set_payment_refund_requested":
                return refundBody(u, ts, k % 2 === 0 ? ts : 0)
            }
          })
        }
        return bodies[i++ % bodies.length]!
      }
    }
    /** The server's CPU, scheduler counters and probe samples around `f`. */
    const measured = async <A>(f: () => Promise<A>) => {
      server.probe() // drop what came before
      const cpu0 = server.cpuMs()
      const sched0 = server.sched()
      const w0 = performance.now()
      const a = await f()
      const wallMs = performance.now() - w0
      const cpuMs = server.cpuMs() - cpu0
      const sched1 = server.sched()
      const probe = server.probe()
      return { a, cpuMs, probe, side: serverSide(probe, sched0, sched1, wallMs) }
    }
    try {
      for (const route of config.routes) {
        const path = `/${route}`
        /** A fresh body source for one case. */
        const batch = (): () => string => (route === "add_pro_payment" ? addBodyNext : signedBodies(route))
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
            const { a: res, cpuMs: serverCpuMs, side } = await measured(() => run(config.seconds, connections))
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
              ratio: floorMs > 0 ? cpuMsPerRequest / floorMs : null,
              ...side
            }
            cases.push(rec)
            log(`N=${users} ${route} ${mode} c=${connections}: ${Math.round(res.rps)} req/s, p50 ${res.p50} p99 ${res.p99} ms (ramp-up ${res.rampMs} ms, ` +
              `slowest first reply ${res.firstReplyMaxMs} ms), ${r3(cpuMsPerRequest)} CPU ms/req (floor ${r3(floorMs)}, ×${rec.ratio === null ? "—" : r2(rec.ratio)}), ` +
              `loop max ${side.loopMaxMs} ms, GC max ${side.gcMaxMs} ms, run-queue ${Math.round(side.runQueueShare * 100)}%, ` +
              `failed ${res.failed}, transport errors ${res.transportErrors}` +
              (res.firstFailure ? `\n    first failure: ${res.firstFailure}` : ""))
          }
        }
      }
      // Baseline: GET /healthz (one SELECT 1, no crypto) = the HTTP + Effect stack cost per request
      // on this machine right now, to read the route rows against.
      for (const connections of config.connections) {
        const { a: res, cpuMs: serverCpuMs } = await measured(() =>
          runCase<undefined>({
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
        )
        baselines.push({ users, connections, rps: res.rps, p99: res.p99, cpuMsPerRequest: serverCpuMs / res.requests, failed: res.failed + res.transportErrors })
        log(`N=${users} GET /healthz baseline c=${connections}: ${Math.round(res.rps)} req/s, p99 ${res.p99} ms, ${r3(serverCpuMs / res.requests)} CPU ms/req`)
      }
      if (isLast && config.soakSeconds > 0 && config.routes.length > 0) {
        soak = await runSoak(server, users, config.routes, (route) => (route === "add_pro_payment" ? addBodyNext : signedBodies(route)), measured)
      }
      const now = server.rss()
      // VmHWM can lag the per-second VmRSS samples by a fraction of a MiB (split RSS counters)
      const rss = { ...now, peakMiB: Math.max(now.peakMiB, isLast && soak ? soak.rss.peakMiB : 0) }
      rssByUsers.push({ users, ...rss })
      log(`N=${users}: server peak RSS ${r2(rss.peakMiB)} MiB`)
    } finally {
      await server.stop()
      removeDb(dbFile)
      // the start-up backup (named <date>_routes-<users>.db.bak)
      for (const f of NodeFs.readdirSync(TMP)) if (f.endsWith(`_routes-${users}.db.bak`)) NodeFs.rmSync(NodePath.join(TMP, f), { force: true })
    }
  }

  const sweeps: Array<SweepTiming> = []
  for (const seed of sweepSeedKinds()) {
    for (const payments of config.sweep) {
      const s = await timeSweep(NodePath.join(TMP, `sweep-${payments}.db`), payments, seed)
      sweeps.push(s)
      log(`sweep at ${payments} payments, ${seed} seed: ${r2(s.wallMs)} ms wall, ${r2(s.cpuMs)} ms CPU (seeded in ${r2(s.seedSeconds)} s): ${JSON.stringify(s.result)}`)
    }
  }

  const meta = {
    commit,
    dirty,
    date: new Date().toISOString(),
    node: process.version,
    cpus: NodeOs.cpus().length,
    cpuModel: NodeOs.cpus()[0]?.model ?? "unknown",
    loadAverage: NodeOs.loadavg().map(r2),
    config: { ...config, addPool },
    server: serverKind()
  }
  const json = { meta, cryptoOpsMs: ops, floors: floorsByUsers, startups, cases, baselines, rss: rssByUsers, soak: soak ?? null, sweeps }
  const md = markdown(json)
  const base = NodePath.join(RESULTS, `${commit}${quick ? "-quick" : ""}`)
  NodeFs.writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + "\n")
  NodeFs.writeFileSync(`${base}.md`, md)
  process.stdout.write(md)
  log(`wrote ${NodePath.relative(ROOT, base)}.{json,md}`)
  const failures = cases.reduce((n, c) => n + c.failed + c.transportErrors, 0) + baselines.reduce((n, b) => n + b.failed, 0) + (soak?.errors ?? 0)
  if (failures > 0) {
    log(`${failures} failed requests`)
    process.exitCode = 1
  }
}

/**
 * The soak: every route mixed in equal shares (round-robin per request), plain, on the server that
 * just ran the cases (largest user count), for BENCH_SOAK_SECONDS after the ramp-up. Every second:
 * the server's RSS (/proc), its V8 heap used (probe), the replies and latencies of that second.
 */
const runSoak = async (
  server: ServerHandle,
  users: number,
  routes: ReadonlyArray<RouteName>,
  source: (route: Exclude<RouteName, "add_pro_payment"> | "add_pro_payment") => () => string,
  measured: <A>(f: () => Promise<A>) => Promise<{ a: A; cpuMs: number; probe: ReadonlyArray<ProbeSample>; side: ReturnType<typeof serverSide> }>
): Promise<SoakRecord> => {
  const sources = routes.map((r) => [r, source(r)] as const)
  let n = 0
  const rssSamples: Array<readonly [number, number]> = [] // [ms since start, MiB]
  log(`N=${users} soak: ${routes.length} routes mixed, plain, c=${config.soakConnections}, ${config.soakSeconds} s (after the ramp-up)`)
  const t0 = Date.now()
  const rssTimer = setInterval(() => rssSamples.push([Date.now() - t0, server.rss().currentMiB]), 1000)
  rssSamples.push([0, server.rss().currentMiB])
  const { a: res, cpuMs, probe: probes, side } = await measured(() =>
    runCase<RouteName>({
      url: server.url,
      path: "/",
      seconds: config.soakSeconds,
      connections: config.soakConnections,
      contentType: "application/json",
      next: () => {
        const [route, next] = sources[n++ % sources.length]!
        return { body: next(), path: `/${route}`, session: route }
      },
      check: (status, body) => plainOk(status, body),
      describe: (status, body, route) => `${route}: ${describe(status, body, undefined)}`,
      timeline: true
    })
  )
  clearInterval(rssTimer)
  rssSamples.push([Date.now() - t0, server.rss().currentMiB])
  // Only the measurement window (after the ramp-up) counts for start/end/peak/slope.
  const from = res.rampMs
  const to = res.rampMs + res.windowSeconds * 1000
  const inWin = <T>(pts: ReadonlyArray<T>, at: (p: T) => number) => pts.filter((p) => at(p) >= from - 1000 && at(p) <= to + 1000)
  const rssWin = inWin(rssSamples, ([t]) => t)
  const heapWin = inWin(probes.map((p) => [p.t - t0, p.heapUsedMiB] as const), ([t]) => t)
  const slopeSeconds = Math.min(40, Math.round((res.windowSeconds * 2) / 3))
  const lastOf = (pts: ReadonlyArray<readonly [number, number]>) => pts.filter(([t]) => t >= to - slopeSeconds * 1000).map(([t, y]) => [t / 1000, y] as const)
  const summary = (pts: ReadonlyArray<readonly [number, number]>) => ({
    startMiB: r2(pts[0]?.[1] ?? 0),
    endMiB: r2(pts.at(-1)?.[1] ?? 0),
    peakMiB: r2(Math.max(...pts.map(([, y]) => y))),
    slopeMiBPerMin: r2(slopePerMinute(lastOf(pts)))
  })
  const perSecond: Array<SoakSecond> = (res.timeline ?? []).map((s) => {
    const at = (s.second + 1) * 1000
    const nearest = <T>(pts: ReadonlyArray<T>, t: (p: T) => number) =>
      pts.reduce<T | undefined>((b, p) => (b === undefined || Math.abs(t(p) - at) < Math.abs(t(b) - at) ? p : b), undefined)
    const rss = nearest(rssSamples, ([t]) => t)
    const probe = nearest(probes, (p) => p.t - t0)
    return { ...s, rssMiB: r2(rss?.[1] ?? 0), heapUsedMiB: probe ? r2(probe.heapUsedMiB) : null, loopMaxMs: probe ? r2(probe.lagMaxMs) : null }
  })
  const rec: SoakRecord = {
    users,
    connections: config.soakConnections,
    seconds: r2(res.windowSeconds),
    routes,
    requests: res.requests,
    windowRequests: res.windowRequests,
    rps: res.rps,
    p50: res.p50,
    p90: res.p90,
    p99: res.p99,
    max: res.max,
    errors: res.failed + res.transportErrors,
    firstFailure: res.firstFailure,
    rampMs: res.rampMs,
    cpuMsPerRequest: res.requests > 0 ? cpuMs / res.requests : Number.NaN,
    ...side,
    rss: summary(rssWin),
    heapUsed: heapWin.length > 0 ? summary(heapWin) : null,
    liveHeap: (() => {
      // a sample whose interval had a mark-compact carries the heap right after the latest one
      const after = inWin(probes.filter((p) => p.majorGcs > 0 && p.liveHeapMiB !== null), (p) => p.t - t0)
      return after.length === 0
        ? null
        : { firstMiB: r2(after[0]!.liveHeapMiB!), lastMiB: r2(after.at(-1)!.liveHeapMiB!), majorGcs: after.reduce((n, p) => n + p.majorGcs, 0) }
    })(),
    slopeSeconds,
    perSecond
  }
  log(`N=${users} soak: ${Math.round(rec.rps)} req/s, p50 ${rec.p50} p99 ${rec.p99} max ${rec.max} ms, errors ${rec.errors}; ` +
    `RSS start ${rec.rss.startMiB} end ${rec.rss.endMiB} peak ${rec.rss.peakMiB} MiB, slope ${rec.rss.slopeMiBPerMin} MiB/min (last ${slopeSeconds} s)` +
    (rec.heapUsed ? `; heap used start ${rec.heapUsed.startMiB} end ${rec.heapUsed.endMiB} peak ${rec.heapUsed.peakMiB} MiB, slope ${rec.heapUsed.slopeMiBPerMin} MiB/min` : "") +
    (rec.liveHeap ? `; heap after mark-compact ${rec.liveHeap.firstMiB} → ${rec.liveHeap.lastMiB} MiB (${rec.liveHeap.majorGcs} GCs)` : "; no mark-compact in the window") +
    (rec.firstFailure ? `\n    first failure: ${rec.firstFailure}` : ""))
  return rec
}

const markdown = (j: {
  meta: { commit: string; dirty: boolean; date: string; node: string; cpus: number; cpuModel: string; loadAverage: ReadonlyArray<number>; config: typeof config & { addPool: number }; server?: "dist" | "src" }
  cryptoOpsMs: ReturnType<typeof measureOps>
  startups: ReadonlyArray<StartupRecord>
  cases: ReadonlyArray<CaseRecord>
  baselines: ReadonlyArray<Baseline>
  rss: ReadonlyArray<{ users: number; peakMiB: number }>
  soak: SoakRecord | null
  sweeps: ReadonlyArray<SweepTiming>
  floors: Record<string, ReturnType<typeof routeFloors>>
}): string => {
  const L: Array<string> = []
  L.push(`# Benchmark ${j.meta.commit}${j.meta.dirty ? " (+ uncommitted changes)" : ""}`, "")
  L.push(`${j.meta.date}, node ${j.meta.node}, ${j.meta.cpus} × ${j.meta.cpuModel} (shared machine, load average at the end ${j.meta.loadAverage.join(" / ")}). ` +
    `${j.meta.config.seconds} s measured per case after the ramp-up (every connection answered once), SQLite WAL file DB (checkpointed before start, measured after the start-up backup), dev mode, single server process${j.meta.server === "dist" ? " (the built binary, packages/http/dist/bin/server.js)" : j.meta.server === "src" ? " (the TypeScript source under tsx)" : ""}. ` +
    `CPU = server process utime+stime per request (/proc, 10 ms ticks; ramp-up included); floor = pure crypto of the route measured in the bench process. ` +
    `Ramp = ms until every connection had its first reply (the server accepts one connection per event-loop iteration); loop max = worst event-loop delay inside the server; ` +
    `run-queue = share of the case the server's JS thread waited for a CPU (other load on the machine).`, "")
  const o = j.cryptoOpsMs
  L.push(`Crypto ops (ms/call): verify ${r3(o.verifyMs)}, sign ${r3(o.signMs)}, BLAKE2b ${r3(o.blake2bMs)}, SHA-256 ${r3(o.sha256Ms)}, ` +
    `X25519 ${r3(o.x25519Ms)}, AEAD open+seal ${r3(o.aeadMs)}`, "")
  L.push("| users | route | mode | conns | req/s | p50 ms | p90 ms | p99 ms | errors | CPU ms/req | floor ms | ratio | ramp ms | loop max ms | GC max ms | run-queue |")
  L.push("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for (const c of j.cases) {
    L.push(`| ${c.users} | ${c.route} | ${c.mode} | ${c.connections} | ${Math.round(c.rps)} | ${c.p50} | ${c.p90} | ${c.p99} | ` +
      `${c.failed + c.transportErrors} | ${r3(c.cpuMsPerRequest)} | ${r3(c.floorMs)} | ${c.ratio === null ? "—" : r2(c.ratio)} | ` +
      `${c.rampMs} | ${c.loopMaxMs} | ${c.gcMaxMs} | ${Math.round(c.runQueueShare * 100)}% |`)
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
    L.push("| users | DB MiB (WAL) at start | start-up backup done after | server peak RSS (MiB) |", "|---:|---:|---:|---:|")
    for (const r of j.rss) {
      const s = j.startups.find((x) => x.users === r.users)
      L.push(`| ${r.users} | ${s ? `${s.dbMiB} (${s.walMiB})` : "—"} | ${s?.backupWaitMs == null ? "—" : `${s.backupWaitMs} ms`} | ${r2(r.peakMiB)} |`)
    }
    L.push("")
  }
  if (j.soak !== null) {
    const s = j.soak
    L.push(`Soak: ${s.routes.length} routes mixed (round-robin), plain, ${s.connections} connections, ${s.users} users, ${s.seconds} s after a ${s.rampMs} ms ramp-up. ` +
      `RSS from /proc every second, heap used from inside the server; slope = least-squares MiB/min over the last ${s.slopeSeconds} s.`, "")
    L.push("| req/s | p50 ms | p90 ms | p99 ms | max ms | errors | CPU ms/req | loop max ms | GC max ms | run-queue |")
    L.push("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    L.push(`| ${Math.round(s.rps)} | ${s.p50} | ${s.p90} | ${s.p99} | ${s.max} | ${s.errors} | ${r3(s.cpuMsPerRequest)} | ${s.loopMaxMs} | ${s.gcMaxMs} | ${Math.round(s.runQueueShare * 100)}% |`, "")
    L.push(`| server memory (MiB) | start | end | peak | slope MiB/min (last ${s.slopeSeconds} s) |`, "|---|---:|---:|---:|---:|")
    L.push(`| RSS | ${s.rss.startMiB} | ${s.rss.endMiB} | ${s.rss.peakMiB} | ${s.rss.slopeMiBPerMin} |`)
    if (s.heapUsed) L.push(`| V8 heap used | ${s.heapUsed.startMiB} | ${s.heapUsed.endMiB} | ${s.heapUsed.peakMiB} | ${s.heapUsed.slopeMiBPerMin} |`)
    L.push("", s.liveHeap
      ? `Heap used right after a mark-compact (the live heap): ${s.liveHeap.firstMiB} MiB after the first, ${s.liveHeap.lastMiB} MiB after the last of ${s.liveHeap.majorGcs} in the window.`
      : "No mark-compact GC in the window (heap used then includes garbage not yet collected).", "")
  }
  if (j.sweeps.length > 0) {
    L.push("| sweep: payments | seed | wall ms | CPU ms | expired rows | users pruned | revocations deleted | seeded in s |", "|---:|---|---:|---:|---:|---:|---:|---:|")
    for (const s of j.sweeps) {
      L.push(`| ${s.payments} | ${s.seed} | ${r2(s.wallMs)} | ${r2(s.cpuMs)} | ${s.result.paymentRows} | ${s.result.users} | ${s.result.revocations} | ${r2(s.seedSeconds)} |`)
    }
    L.push("")
  }
  return L.join("\n")
}

main().catch((e) => {
  log(`failed: ${e instanceof Error ? e.stack : String(e)}`)
  process.exitCode = 1
})
