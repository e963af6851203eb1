/**
 * Operations endpoints, mounted next to the client routes by the server binary:
 * - `GET /healthz`: 200 when the database answers and every background worker of this process is
 *   alive, else 503; the body says which part failed.
 * - `GET /metrics`: Prometheus text (prom-client). With `workers > 1` the answering process asks the
 *   cluster primary for the aggregate of every process (prom-client's AggregatorRegistry).
 * Plus the middleware that counts requests by route/status and times them.
 */
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Cause, Clock, Effect } from "effect"
import * as Metrics from "./Metrics.js"
import { WorkerHealth } from "../Workers/Health.js"
import { Maintenance } from "../Workers/Maintenance.js"

export interface HealthOptions {
  /** The background workers this process must be running (empty in non-background processes). */
  readonly expectedWorkers: ReadonlyArray<string>
  /** Shown in the body, e.g. "worker 1 of 4". */
  readonly role: string
}

export const health = (options: HealthOptions) =>
  Effect.gen(function*() {
    const maintenance = yield* Maintenance
    const workers = yield* WorkerHealth
    const db = yield* maintenance.ping.pipe(
      Effect.timeout("2 seconds"),
      Effect.as({ ok: true as boolean, error: undefined as string | undefined }),
      Effect.catchAllCause((c) => Effect.succeed({ ok: false, error: Cause.pretty(c).split("\n")[0] }))
    )
    const snap = yield* workers.snapshot
    const missing = options.expectedWorkers.filter((w) => !snap[w]?.alive)
    const ok = db.ok && missing.length === 0
    return {
      status: ok ? 200 : 503,
      body: {
        status: ok ? "ok" : "unavailable",
        role: options.role,
        pid: process.pid,
        database: db.ok ? "ok" : `unreachable: ${db.error}`,
        workers: Object.fromEntries(
          Object.entries(snap).map(([name, s]) => [name, {
            alive: s.alive,
            failures: s.failures,
            last_run_unix_ts_ms: s.lastBeatMs ?? null
          }])
        ),
        ...(missing.length > 0 ? { workers_down: missing } : {})
      }
    }
  })

export type MetricsSource = () => Promise<{ contentType: string; body: string }>

export const opsRouter = (options: HealthOptions & { readonly metrics?: MetricsSource }) =>
  HttpRouter.empty.pipe(
    HttpRouter.get(
      "/healthz",
      Effect.flatMap(health(options), (h) => HttpServerResponse.json(h.body, { status: h.status }))
    ),
    HttpRouter.get(
      "/metrics",
      Effect.flatMap(
        options.metrics ? Effect.promise(options.metrics) : Metrics.render,
        ({ body, contentType }) => Effect.succeed(HttpServerResponse.text(body, { contentType }))
      )
    )
  )

/** Counts and times every request (route label = known path or "other"). */
export const metricsMiddleware = HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const req = yield* HttpServerRequest.HttpServerRequest
    const start = yield* Clock.currentTimeNanos
    const route = Metrics.routeLabel(req.url)
    return yield* app.pipe(
      Effect.onExit((exit) =>
        Effect.gen(function*() {
          const end = yield* Clock.currentTimeNanos
          // A failure is turned into a response later (404 for RouteNotFound, …); use the same mapping.
          const status = exit._tag === "Success" ? exit.value.status : HttpServerError.causeResponseStripped(exit.cause)[0].status
          Metrics.observeHttp(route, req.method, status, Number(end - start) / 1e9)
        })
      )
    )
  })
)
