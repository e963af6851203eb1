/** One load case: autocannon against the server, every reply checked for a status-0 envelope. */
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)

interface AutocannonRequest {
  readonly method?: string
  readonly path?: string
  readonly setupRequest?: (req: Record<string, unknown>, context: Record<string, unknown>) => Record<string, unknown>
  readonly onResponse?: (status: number, body: string, context: Record<string, unknown>) => void
}
interface AutocannonResult {
  readonly latency: { readonly p50: number; readonly p90: number; readonly p99: number; readonly average: number; readonly max: number }
  readonly errors: number
  readonly timeouts: number
  readonly non2xx: number
  readonly duration: number
}
const autocannon = require("autocannon") as (opts: Record<string, unknown>) => Promise<AutocannonResult>

// autocannon accumulates bodies as UTF-8 strings, which mangles the binary onion replies. Keep
// them byte-exact by decoding each chunk as latin1 (one char per byte; identical for ASCII JSON).
const Queue = require("autocannon/lib/pipelinedRequestsQueue.js") as { prototype: { peek(): { body: string } | undefined; addBody(d: Buffer): void } }
Queue.prototype.addBody = function(data: Buffer) {
  const req = this.peek()
  if (req) req.body += data.toString("latin1")
}

export interface NextRequest<S> {
  readonly body: string | Buffer
  readonly session?: S
}

export interface CaseOptions<S> {
  readonly url: string
  readonly path: string
  /** Default POST. */
  readonly method?: "GET" | "POST"
  readonly seconds: number
  readonly connections: number
  readonly contentType: string
  readonly next: () => NextRequest<S>
  /** Whether a reply is a success; `session` is what `next` returned with the request (if any). */
  readonly check: (status: number, body: Buffer, session: S | undefined) => boolean
  readonly describe: (status: number, body: Buffer, session: S | undefined) => string
}

export interface CaseResult {
  readonly requests: number
  readonly ok: number
  readonly failed: number
  readonly transportErrors: number
  readonly wallSeconds: number
  readonly rps: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly firstFailure?: string | undefined
}

export const runCase = async <S>(o: CaseOptions<S>): Promise<CaseResult> => {
  let ok = 0
  let failed = 0
  let firstFailure: string | undefined
  const method = o.method ?? "POST"
  const request: AutocannonRequest = {
    method,
    path: o.path,
    setupRequest: (req, context) => {
      if (method === "GET") return { ...req, method, path: o.path }
      const n = o.next()
      context.session = n.session
      return { ...req, method, path: o.path, body: n.body, headers: { "content-type": o.contentType } }
    },
    onResponse: (status, body, context) => {
      const b = Buffer.from(body, "latin1")
      const s = context.session as S | undefined
      if (o.check(status, b, s)) ok++
      else {
        failed++
        firstFailure ??= o.describe(status, b, s)
      }
    }
  }
  const started = performance.now()
  const r = await autocannon({
    url: o.url,
    connections: o.connections,
    pipelining: 1,
    duration: o.seconds,
    timeout: 10,
    requests: [request]
  })
  const wallSeconds = (performance.now() - started) / 1000
  const requests = ok + failed
  return {
    requests,
    ok,
    failed,
    transportErrors: r.errors + r.timeouts,
    wallSeconds,
    rps: requests / wallSeconds,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    firstFailure
  }
}
