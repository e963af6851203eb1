/**
 * The real server binary as a child process, shared by the test files that start it:
 * `tsx packages/http/src/bin/server.ts` on a free loopback port, in its own process group
 * (tsx wrapper + node + cluster workers) so `killAllServers` (call it from afterAll) leaves no
 * server behind, with its output captured and polled for a line.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("../../../..", import.meta.url))
export const TSX = NodePath.join(ROOT, "node_modules/.bin/tsx")
export const SERVER_BIN = "packages/http/src/bin/server.ts"

/** A port free on 127.0.0.1 right now (the OS picks it, the probe closes it again). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = Net.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as Net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

const children: Array<ChildProcess> = []

/** Kills the process group of every server started by this module. Call from afterAll. */
export const killAllServers = () => {
  for (const c of children) {
    try {
      if (c.pid !== undefined) process.kill(-c.pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}

export interface ServerProcess {
  readonly proc: ChildProcess
  readonly port: number
  readonly output: () => string
  readonly exited: Promise<number | null>
  /** Resolves once `re` occurs `count` times (default 1) in the output; throws if the process exits first or on timeout. */
  readonly waitFor: (re: RegExp, options?: { readonly count?: number; readonly timeoutMs?: number }) => Promise<void>
}

/**
 * Spawns the binary with the parent environment minus every SESH_PRO_* variable, listening on
 * 127.0.0.1:`port` (a free port when not given), then `env` on top.
 */
export const spawnServer = async (
  env: Record<string, string>,
  options?: { readonly port?: number; readonly pollMs?: number }
): Promise<ServerProcess> => {
  const port = options?.port ?? (await freePort())
  const pollMs = options?.pollMs ?? 100
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SESH_PRO_")))
  const proc = spawn(TSX, [SERVER_BIN], {
    cwd: ROOT,
    env: { ...clean, SESH_PRO_BACKEND_HOST: "127.0.0.1", SESH_PRO_BACKEND_PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  children.push(proc)
  let out = ""
  proc.stdout!.on("data", (d) => (out += d))
  proc.stderr!.on("data", (d) => (out += d))
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)))
  const waitFor = async (re: RegExp, opts?: { readonly count?: number; readonly timeoutMs?: number }) => {
    const count = opts?.count ?? 1
    const deadline = Date.now() + (opts?.timeoutMs ?? 90_000)
    const g = new RegExp(re.source, re.flags.includes("g") ? re.flags : re.flags + "g")
    while ((out.match(g)?.length ?? 0) < count) {
      if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}) before ${re}:\n${out}`)
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${out}`)
      await new Promise((r) => setTimeout(r, pollMs))
    }
  }
  return { proc, port, output: () => out, exited, waitFor }
}
