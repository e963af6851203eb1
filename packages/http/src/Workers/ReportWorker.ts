/**
 * Reports to the Session webhooks after each day boundary (domain.md §7 step 3.4), only when
 * webhooks are configured and only in the process that ran the day's maintenance: the daily report
 * (7 rows); the weekly (4) when the new day is a Monday; the monthly (3) on the 1st — in UTC.
 */
import { Cause, Effect, Layer, PubSub, Queue } from "effect"
import * as Metrics from "../Observability/Metrics.js"
import { WebhookSink } from "../Observability/Webhooks.js"
import { supervise, WorkerHealth } from "./Health.js"
import { Maintenance, MaintenanceEvents, type ReportPeriod } from "./Maintenance.js"

export const NAME = "reports"

export const reportsFor = (boundaryMs: number): ReadonlyArray<readonly [ReportPeriod, number]> => {
  const d = new Date(boundaryMs)
  const out: Array<readonly [ReportPeriod, number]> = [["daily", 7]]
  if (d.getUTCDay() === 1) out.push(["weekly", 4])
  if (d.getUTCDate() === 1) out.push(["monthly", 3])
  return out
}

export const ReportWorker = Layer.scopedDiscard(
  Effect.gen(function*() {
    const sink = yield* WebhookSink
    if (!sink.configured) return
    const events = yield* MaintenanceEvents
    const sub = yield* PubSub.subscribe(events)
    const maintenance = yield* Maintenance
    const health = yield* WorkerHealth
    yield* supervise(
      NAME,
      Effect.forever(
        Effect.gen(function*() {
          const ev = yield* Queue.take(sub)
          if (ev.outcome === "already_done") return
          for (const [period, count] of reportsFor(ev.boundaryMs)) {
            yield* maintenance.report(period, count).pipe(
              Effect.flatMap((text) => sink.push(text)),
              Effect.catchAllCause((cause) =>
                Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.gen(function*() {
                  Metrics.workerFailures.inc({ worker: NAME })
                  yield* health.failed(NAME, Cause.pretty(cause))
                  yield* Effect.logError(`The ${period} report failed`, cause)
                })
              )
            )
          }
          yield* health.beat(NAME)
        })
      ).pipe(Effect.annotateLogs("logger", "PRO"))
    )
  })
)
