/**
 * The real server binary in its own process, plus its CPU time and RSS read from /proc and the
 * in-process samples of `probe.mjs` (event-loop delay, GC, heap) when a probe file is given.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { setTimeout as sleep } from "node:timers/promises"

export const ROOT = NodePath.resolve(import.meta.dirname, "../..")
const SRC_BIN = NodePath.join(ROOT, "packages/http/src/bin/server.ts")
const DIST_BIN = NodePath.join(ROOT, "packages/http/dist/bin/server.js")
/**
 * Which server the bench runs: `dist` (default) is the built binary a deployment runs (`npm run serve`, after
 * `npm run build`); `src` is `npm start`'s TypeScript source under tsx, whose transform costs per request (e.g.
 * it names every named closure as it is created).
 */
export const serverKind = (): "dist" | "src" => (process.env.BENCH_SERVER === "src" ? "src" : "dist")

const newestMtime = (dir: string): number => {
  let newest = 0
  for (const e of NodeFs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, NodeFs.statSync(NodePath.join(e.parentPath ?? (e as any).path, e.name)).mtimeMs)
  }
  return newest
}

/**
 * For the `dist` server: runs `npm run build` when a package's build output is missing or older than its
 * sources (a fresh clone has none), so the bench never measures stale code. Returns what it did.
 */
export const ensureBuilt = (log: (line: string) => void): "built" | "up to date" | "not needed" => {
  if (serverKind() === "src") return "not needed"
  const stale = ["core", "stores", "http"].some((pkg) => {
    const out = NodePath.join(ROOT, "packages", pkg, "dist/index.js")
    return !NodeFs.existsSync(out) || NodeFs.statSync(out).mtimeMs < newestMtime(NodePath.join(ROOT, "packages", pkg, "src"))
  }) || !NodeFs.existsSync(DIST_BIN)
  if (!stale) return "up to date"
  log("building the packages (npm run build) for the dist server")
  const r = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] })
  if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status}); BENCH_SERVER=src runs the TypeScript source instead`)
  return "built"
}
const PROBE = NodePath.join(ROOT, "bench/lib/probe.mjs")
const TICK_MS = 1000 / 100 // CLK_TCK is 100 on Linux

export interface ServerHandle {
  readonly pid: number
  readonly url: string
  /** utime + stime of the server process, ms. */
  readonly cpuMs: () => number
  /** Peak and current resident set size, MiB. */
  readonly rss: () => { readonly peakMiB: number; readonly currentMiB: number }
  /**
   * The JS thread's CPU and run-queue wait (runnable, no CPU free: other load on the machine), ms
   * since start; wall − both = sleeping (idle in epoll, or blocked in a system call such as fsync).
   */
  readonly sched: () => { readonly cpuMs: number; readonly runWaitMs: number }
  /** Probe samples written since the previous call (empty without a probe file). */
  readonly probe: () => ReadonlyArray<ProbeSample>
  /** Waits until the server's log has a line matching `pattern` (true) or `timeoutMs` passed (false). */
  readonly waitForLog: (pattern: RegExp, timeoutMs: number) => Promise<boolean>
  readonly stop: () => Promise<void>
}

/** One line of `probe.mjs`: the interval since the previous line, as the server process saw it. */
export interface ProbeSample {
  readonly t: number
  readonly lagMeanMs: number
  readonly lagP99Ms: number
  readonly lagMaxMs: number
  readonly gcMs: number
  readonly gcCount: number
  readonly gcMaxMs: number
  /** Mark-compact GCs in the interval. */
  readonly majorGcs: number
  /** Heap used right after the latest mark-compact so far (null before the first one). */
  readonly liveHeapMiB: number | null
  readonly rssMiB: number
  readonly heapUsedMiB: number
  readonly heapTotalMiB: number
  readonly externalMiB: number
  readonly arrayBuffersMiB: number
  readonly cpuMs: number
}

const readCpuMs = (pid: number): number => {
  const stat = NodeFs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // fields after "(comm) ": state is index 0, utime 11, stime 12
  return (Number(f[11]) + Number(f[12])) * TICK_MS
}

const readRss = (pid: number) => {
  const status = NodeFs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (k: string) => Number(/\d+/.exec(status.split("\n").find((l) => l.startsWith(k)) ?? "0")![0])
  return { peakMiB: kb("VmHWM:") / 1024, currentMiB: kb("VmRSS:") / 1024 }
}

/** The main (JS) thread's scheduler counters, ms: on CPU, and runnable but waiting for a CPU. */
const readSched = (pid: number) => {
  const [onCpu, waiting] = NodeFs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").trim().split(" ").map(Number)
  return { cpuMs: onCpu! / 1e6, runWaitMs: waiting! / 1e6 }
}

export interface StartOptions {
  readonly dbFile: string
  readonly port: number
  readonly logFile: string
  /** Directory for `node --cpu-prof` output (profile written on exit). */
  readonly cpuProfDir?: string | undefined
  /** JSON-lines file for `probe.mjs` samples (preloaded only when given). */
  readonly probeFile?: string | undefined
  /** Probe interval, ms (default 1000). */
  readonly probeMs?: number | undefined
}

/** Starts the server binary (see `serverKind`; dev mode, SQLite WAL file DB) and waits for /healthz. */
export const startServer = async (o: StartOptions): Promise<ServerHandle> => {
  const logStart = NodeFs.existsSync(o.logFile) ? NodeFs.statSync(o.logFile).size : 0 // the log is appended to
  const log = NodeFs.openSync(o.logFile, "a")
  if (o.probeFile) NodeFs.rmSync(o.probeFile, { force: true })
  const args = [
    ...(o.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`] : []),
    ...(o.probeFile ? ["--import", PROBE] : []),
    ...(serverKind() === "src" ? ["--import", "tsx", SRC_BIN] : [DIST_BIN])
  ]
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ["ignore", log, log],
    env: {
      ...process.env,
      SESH_PRO_BACKEND_DEV: "1",
      SESH_PRO_BACKEND_DB_URL: `sqlite:///${o.dbFile}`,
      SESH_PRO_BACKEND_HOST: "127.0.0.1",
      SESH_PRO_BACKEND_PORT: String(o.port),
      SESH_PRO_BACKEND_WORKERS: "1",
      ...(o.probeFile ? { BENCH_PROBE_FILE: o.probeFile, BENCH_PROBE_MS: String(o.probeMs ?? 1000) } : {})
    }
  })
  let exited = false
  const exitedP = new Promise<void>((resolve) => child.once("exit", () => { exited = true; resolve() }))
  const url = `http://127.0.0.1:${o.port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (exited) throw new Error(`server exited during start-up; see ${o.logFile}`)
    try {
      const r = await fetch(`${url}/healthz`)
      if (r.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server did not become healthy; see ${o.logFile}`)
    await sleep(100)
  }
  const pid = child.pid!
  let probeOffset = 0
  const probe = (): ReadonlyArray<ProbeSample> => {
    if (!o.probeFile || !NodeFs.existsSync(o.probeFile)) return []
    const text = NodeFs.readFileSync(o.probeFile, "utf8")
    const end = text.lastIndexOf("\n") + 1 // a line being written is read next time
    const fresh = text.slice(probeOffset, end)
    probeOffset = end
    return fresh.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as ProbeSample)
  }
  return {
    pid,
    url,
    cpuMs: () => readCpuMs(pid),
    rss: () => readRss(pid),
    sched: () => readSched(pid),
    probe,
    waitForLog: async (pattern, timeoutMs) => {
      const until = Date.now() + timeoutMs
      for (;;) {
        if (pattern.test(NodeFs.readFileSync(o.logFile).subarray(logStart).toString("utf8"))) return true
        if (exited || Date.now() > until) return false
        await sleep(100)
      }
    },
    stop: async () => {
      child.kill("SIGTERM")
      const t = setTimeout(() => child.kill("SIGKILL"), 20_000)
      await exitedP
      clearTimeout(t)
      NodeFs.closeSync(log)
    }
  }
}
