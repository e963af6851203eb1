/**
 * Reports to the Session webhooks after each day boundary (domain.md §7 step 3.4), only when
 * webhooks are configured and only in the process that ran the day's maintenance: the daily report
 * (7 rows); the weekly (4) when the new day is a Monday; the monthly (3) on the 1st — in UTC.
 */
import { Effect, Layer } from "effect"
import { WebhookSink } from "../Observability/Webhooks.js"
import { onEachNewDay, recordFailure } from "./DayLoop.js"
import { Maintenance, type ReportPeriod } from "./Maintenance.js"

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
    const maintenance = yield* Maintenance
    yield* onEachNewDay(NAME, (ev) =>
      Effect.gen(function*() {
        for (const [period, count] of reportsFor(ev.boundaryMs)) {
          yield* maintenance.report(period, count).pipe(
            Effect.flatMap((text) => sink.push(text)),
            Effect.catchAllCause(recordFailure(NAME, `The ${period} report failed`))
          )
        }
      }))
  })
)
