/**
 * Shared helpers of the reliability suites: in-process services with captured logs, cheap
 * "was anything written" checks, DB snapshots, a secrets scanner for log lines, and the real
 * server binary as a child process (own process group, killed after the run).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Ed25519, hex as toHex } from "@session-pro/core"
import { type ChildProcess } from "node:child_process"
import * as NodeFs from "node:fs"
import * as http from "node:http"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Exchange, type VectorsFile } from "../../src/Conformance/Runner.js"
import * as Logging from "../../src/Observability/Logging.js"
import { WebhookSink } from "../../src/Observability/Webhooks.js"
import * as Server from "../../src/Server.js"
import { freePort, killAllServers, ROOT, spawnServer } from "../support/serverProcess.js"

export { ROOT }
export const vectors: VectorsFile = JSON.parse(NodeFs.readFileSync(NodePath.join(ROOT, "test-vectors/vectors.json"), "utf8"))
export const ctx = vectors.http_exchanges.context
export const allExchanges: ReadonlyArray<Exchange> = [
  ...(vectors.http_exchanges.prod as ReadonlyArray<Exchange>),
  ...(vectors.http_exchanges.dev as ReadonlyArray<Exchange>)
]
export const exchange = (id: string) => allExchanges.find((e) => e.id === id)!

export const hexBytes = (h: string) => new Uint8Array(Buffer.from(h, "hex"))
export const utf8 = (s: string) => new TextEncoder().encode(s)
export const text = (b: Uint8Array) => Buffer.from(b).toString("utf8")

export const BACKEND_SEED = hexBytes(ctx.backend_ed25519_seed)
export const BACKEND_PUBLIC = Ed25519.signingKeyFromSeed(BACKEND_SEED).publicKey

export const CLIENT_PATHS = [
  "/add_pro_payment",
  "/generate_pro_proof",
  "/get_pro_revocations",
  "/get_pro_details",
  "/set_payment_refund_requested"
] as const

/** Route services on a fresh database with the vectors' backend key and salt. */
export const services = (options: { dev?: boolean; url?: string } = {}) =>
  Server.servicesLayer({
    url: options.url ?? "sqlite://:memory:",
    settings: { dev: options.dev ?? false, unsafeLogging: false },
    bootstrap: { backendSeed: BACKEND_SEED, salt: hexBytes(ctx.gen_index_salt) }
  })

/** The server's own logger (masking on, unsafe_logging off) writing into `lines`. */
export const capturedLogger = (lines: Array<string>) =>
  Logging.layer({ unsafeLogging: false, stdout: (l) => void lines.push(l) }).pipe(Layer.provide(WebhookSink.none))

/**
 * Rows changed on this connection so far. The in-memory SQLite client is a single connection, so
 * an unchanged counter proves a request wrote nothing (not even a rolled-back attempt).
 */
export const totalChanges = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`SELECT total_changes() AS n`).pipe(
  Effect.map((r) => Number(r[0]!.n)),
  Effect.orDie
)

/** Every row of every table, as one comparable string. */
export const snapshot = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const tables = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
  const out: Record<string, Array<string>> = {}
  for (const { name } of tables) {
    const rows = yield* sql.unsafe<Record<string, unknown>>(`SELECT * FROM "${name}"`)
    out[name] = rows.map((r) => JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? toHex(v) : typeof v === "bigint" ? String(v) : v))).sort()
  }
  return out
}).pipe(Effect.orDie)

// ---------------------------------------------------------------------------------------------
// secrets in logs

/** Secrets a suite used; a log line must contain none of them (unsafe_logging off). */
export class Secrets {
  readonly values = new Set<string>()
  add(...vs: ReadonlyArray<string | Uint8Array>) {
    for (const v of vs) {
      const s = typeof v === "string" ? v : toHex(v)
      // short ids are not secrets worth scanning for (and would match by chance)
      if (s.length >= 12) this.values.add(s)
    }
    return this
  }
  /** Lines that leak a known secret or any full 64-hex value (a public key, seed or hash). */
  leaks(lines: ReadonlyArray<string>): Array<string> {
    const bad: Array<string> = []
    for (const line of lines) {
      const lower = line.toLowerCase()
      if (/(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/.test(lower)) bad.push(line)
      else for (const s of this.values) if (lower.includes(s.toLowerCase())) {
        bad.push(line)
        break
      }
    }
    return bad
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export const agent = new http.Agent({ keepAlive: true, maxSockets: 128 })

export interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
}

export const post = (port: number, path: string, body: Uint8Array | string, headers: Record<string, string> = {}) =>
  new Promise<Reply>((resolve, reject) => {
    const data = typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
    // An explicit Content-Length: node's default chunked encoding splits the write and runs into
    // Nagle / delayed-ACK stalls (≈40 ms per request on loopback).
    const all = headers["transfer-encoding"] ? headers : { "content-length": String(data.length), ...headers }
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path, headers: all, agent }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.setNoDelay(true)
    req.end(data)
  })

export const tmpDir = (prefix = "pro-rel-") => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), prefix))

// ---------------------------------------------------------------------------------------------
// the real binary

export { freePort }

export interface Running {
  readonly proc: ChildProcess
  readonly port: number
  readonly output: () => string
  readonly exited: Promise<number | null>
  readonly waitFor: (re: RegExp, timeoutMs?: number) => Promise<void>
  /** Kills the whole process group (tsx wrapper + node). */
  readonly kill: (signal: NodeJS.Signals) => Promise<void>
}

/** Call from afterAll: no server outlives the run. */
export const killAllChildren = killAllServers

export const startServer = async (env: Record<string, string>, port?: number): Promise<Running> => {
  const s = await spawnServer(env, { port, pollMs: 50 })
  return {
    proc: s.proc,
    port: s.port,
    output: s.output,
    exited: s.exited,
    waitFor: (re, timeoutMs) => s.waitFor(re, { timeoutMs }),
    kill: async (signal) => {
      try {
        process.kill(-s.proc.pid!, signal)
      } catch {
        // already gone
      }
      await s.exited
    }
  }
}
