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
interface AutocannonRun extends Promise<AutocannonResult> {
  stop(): void
  on(event: "response", f: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): void
}
const autocannon = require("autocannon") as (opts: Record<string, unknown>) => AutocannonRun

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
  /** Overrides the case's `path` for this request (mixed loads). */
  readonly path?: string
}

export interface CaseOptions<S> {
  readonly url: string
  readonly path: string
  /** Default POST. */
  readonly method?: "GET" | "POST"
  /** Length of the measurement window (after the ramp-up, see `CaseResult`). */
  readonly seconds: number
  readonly connections: number
  readonly contentType: string
  readonly next: () => NextRequest<S>
  /** Whether a reply is a success; `session` is what `next` returned with the request (if any). */
  readonly check: (status: number, body: Buffer, session: S | undefined) => boolean
  readonly describe: (status: number, body: Buffer, session: S | undefined) => string
  /** Also return a per-second timeline (by completion time) and the slowest replies. */
  readonly timeline?: boolean
  /**
   * Longest wait for every connection's first reply before the window starts anyway (default 30 s);
   * also the per-request timeout.
   */
  readonly rampTimeoutSeconds?: number
}

/** One second of a case, by the time replies completed. */
export interface SecondStats {
  /** Seconds since the case started (0 = the first second, ramp-up included). */
  readonly second: number
  readonly requests: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/** One of the slowest replies of a case (with `timeline`). */
export interface SlowReply {
  /** ms after the case started that the request was sent. */
  readonly sentAt: number
  readonly latency: number
  /** Which connection (0-based, in order of first reply) and the request's index on it. */
  readonly connection: number
  readonly indexOnConnection: number
}

/**
 * A case's numbers. autocannon opens all connections at once; the server (Node 20, libuv 1.46)
 * accepts one connection per event-loop iteration, so under load the last connections wait in the
 * accept queue for seconds and their first request's latency includes that wait. That ramp-up is
 * not the steady state the case is about: the measurement window starts once every connection has
 * had its first reply, and lasts `seconds`. `rps` and the percentiles are of the replies completed
 * in the window; every reply (ramp-up included) is checked and counted in `requests`, which is
 * what the server's CPU time is divided by. The ramp-up itself is reported (`rampMs`,
 * `firstReplyMaxMs`).
 */
export interface CaseResult {
  /** Every reply of the run (ramp-up, window and the tail until autocannon stopped). */
  readonly requests: number
  readonly ok: number
  readonly failed: number
  readonly transportErrors: number
  readonly wallSeconds: number
  /** Replies completed in the measurement window. */
  readonly windowRequests: number
  readonly windowSeconds: number
  readonly rps: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  /** ms from the start until every connection had its first reply (the window's start). */
  readonly rampMs: number
  /** false: some connection had no reply within `rampTimeoutSeconds`; the window started anyway. */
  readonly rampComplete: boolean
  /** Slowest first reply on a connection, ms (connect + accept-queue wait + the request). */
  readonly firstReplyMaxMs: number
  readonly firstFailure?: string | undefined
  /** With `timeline`: one entry per second of the run. */
  readonly timeline?: ReadonlyArray<SecondStats> | undefined
  /** With `timeline`: the 10 slowest replies. */
  readonly slowest?: ReadonlyArray<SlowReply> | undefined
}

const pct = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
const r2 = (x: number) => Math.round(x * 100) / 100

const bucketSeconds = (samples: ReadonlyArray<readonly [number, number]>): Array<SecondStats> => {
  const buckets: Array<Array<number>> = []
  for (const [at, latency] of samples) (buckets[Math.floor(at / 1000)] ??= []).push(latency)
  return Array.from(buckets, (b, second) => {
    const sorted = (b ?? []).slice().sort((x, y) => x - y)
    return { second, requests: sorted.length, p50: r2(pct(sorted, 50)), p99: r2(pct(sorted, 99)), max: r2(sorted.at(-1) ?? 0) }
  })
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
      return { ...req, method, path: n.path ?? o.path, body: n.body, headers: { "content-type": o.contentType } }
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
  const rampTimeoutMs = (o.rampTimeoutSeconds ?? 30) * 1000
  const windowMs = o.seconds * 1000
  const started = performance.now()
  /** [completed at (ms since start), latency ms] of every reply. */
  const samples: Array<readonly [number, number]> = []
  const perClient = new Map<unknown, { readonly id: number; n: number }>()
  let slowest: Array<SlowReply> = []
  let firstReplyMaxMs = 0
  let readyAt: number | undefined
  const run = autocannon({
    url: o.url,
    connections: o.connections,
    pipelining: 1,
    // autocannon is stopped when the window ends; this only bounds a ramp-up that never completes
    duration: Math.ceil((rampTimeoutMs + windowMs) / 1000) + 1,
    // A request times out (and its connection is reconnected, i.e. queued for accept again) only
    // after the whole ramp-up allowance: with the old 10 s, connections still waiting in the accept
    // queue at 64 connections under load timed out and went to the back of the queue.
    timeout: Math.max(10, rampTimeoutMs / 1000),
    requests: [request]
  })
  const startWindow = (at: number) => {
    if (readyAt !== undefined) return
    readyAt = at
    setTimeout(() => run.stop(), windowMs)
  }
  const rampTimer = setTimeout(() => startWindow(performance.now() - started), rampTimeoutMs)
  run.on("response", (client, _status, _bytes, responseTime) => {
    const at = performance.now() - started
    samples.push([at, responseTime])
    let c = perClient.get(client)
    if (c === undefined) {
      perClient.set(client, c = { id: perClient.size, n: 0 })
      firstReplyMaxMs = Math.max(firstReplyMaxMs, responseTime)
      if (perClient.size === o.connections) startWindow(at)
    }
    const index = c.n++
    if (o.timeline && (slowest.length < 10 || responseTime > slowest.at(-1)!.latency)) {
      slowest.push({ sentAt: r2(at - responseTime), latency: r2(responseTime), connection: c.id, indexOnConnection: index })
      slowest = slowest.sort((a, b) => b.latency - a.latency).slice(0, 10)
    }
  })
  const r = await run
  clearTimeout(rampTimer)
  const wallSeconds = (performance.now() - started) / 1000
  const from = readyAt ?? wallSeconds * 1000
  const to = Math.min(from + windowMs, wallSeconds * 1000)
  const inWindow = samples.filter(([at]) => at > from && at <= to).map(([, l]) => l).sort((a, b) => a - b)
  const windowSeconds = Math.max(0.001, (to - from) / 1000)
  return {
    requests: ok + failed,
    ok,
    failed,
    transportErrors: r.errors + r.timeouts,
    wallSeconds,
    windowRequests: inWindow.length,
    windowSeconds,
    rps: inWindow.length / windowSeconds,
    p50: r2(pct(inWindow, 50)),
    p90: r2(pct(inWindow, 90)),
    p99: r2(pct(inWindow, 99)),
    max: r2(inWindow.at(-1) ?? 0),
    rampMs: Math.round(from),
    rampComplete: perClient.size >= o.connections,
    firstReplyMaxMs: r2(firstReplyMaxMs),
    firstFailure,
    timeline: o.timeline ? bucketSeconds(samples) : undefined,
    slowest: o.timeline ? slowest : undefined
  }
}
