/** The real server binary in its own process, plus its CPU time and RSS read from /proc. */
import { type ChildProcess, spawn } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { setTimeout as sleep } from "node:timers/promises"

export const ROOT = NodePath.resolve(import.meta.dirname, "../..")
const BIN = NodePath.join(ROOT, "packages/http/src/bin/server.ts")
const TICK_MS = 1000 / 100 // CLK_TCK is 100 on Linux

export interface ServerHandle {
  readonly pid: number
  readonly url: string
  /** utime + stime of the server process, ms. */
  readonly cpuMs: () => number
  /** Peak and current resident set size, MiB. */
  readonly rss: () => { readonly peakMiB: number; readonly currentMiB: number }
  readonly stop: () => Promise<void>
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

export interface StartOptions {
  readonly dbFile: string
  readonly port: number
  readonly logFile: string
  /** Directory for `node --cpu-prof` output (profile written on exit). */
  readonly cpuProfDir?: string | undefined
}

/** Starts `node --import tsx packages/http/src/bin/server.ts` (dev mode, SQLite WAL file DB) and waits for /healthz. */
export const startServer = async (o: StartOptions): Promise<ServerHandle> => {
  const log = NodeFs.openSync(o.logFile, "a")
  const args = [
    ...(o.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`] : []),
    "--import",
    "tsx",
    BIN
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
      SESH_PRO_BACKEND_WORKERS: "1"
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
  return {
    pid,
    url,
    cpuMs: () => readCpuMs(pid),
    rss: () => readRss(pid),
    stop: async () => {
      child.kill("SIGTERM")
      const t = setTimeout(() => child.kill("SIGKILL"), 20_000)
      await exitedP
      clearTimeout(t)
      NodeFs.closeSync(log)
    }
  }
}
