/**
 * The daily expiry sweep (domain.md §7 step 3.1, §6.11).
 *
 * Sleeps on Effect's Clock until the next UTC midnight (so TestClock drives it), then runs the
 * core sweep for that boundary (and once at start-up for the latest boundary, in case it was missed). The core's guard is atomic (`UPDATE runtime SET last_expire=…
 * WHERE last_expire < …`), so however many processes or hosts run this, one of them does the work
 * and the others get `alreadyDone` (D4g). A failing attempt is retried with back-off; a day that
 * still fails is logged and the loop carries on to the next day (FLAG-11 fixed).
 */
import { Cause, Clock, Duration, Effect, Layer, PubSub, Schedule } from "effect"
import * as Metrics from "../Observability/Metrics.js"
import { WebhookSink } from "../Observability/Webhooks.js"
import { supervise, WorkerHealth } from "./Health.js"
import { Maintenance, MaintenanceEvents, type SweepSummary } from "./Maintenance.js"

export const DAY_MS = 86_400_000
export const NAME = "expiry-sweep"

/** The next UTC midnight strictly after `lastRun`, not before `now` (a boundary start runs at once). */
export const nextBoundary = (now: number, lastRun: number | undefined): number => {
  const from = lastRun === undefined ? now : Math.max(now, lastRun + 1)
  return Math.ceil(from / DAY_MS) * DAY_MS
}

const ymd = (t: number) => new Date(t).toISOString().slice(0, 10)

/** "Daily pruning for <yesterday Y-m-d> completed on <m-d>. Expired payments/revocations/users/apple notifs=a/b/c/d" */
export const summaryLine = (boundaryMs: number, s: SweepSummary): string =>
  `Daily pruning for ${ymd(boundaryMs - DAY_MS)} completed on ${ymd(boundaryMs).slice(5)}. ` +
  `Expired payments/revocations/users/apple notifs=${s.payments}/${s.revocations}/${s.users}/${s.appleNotifications}` +
  (s.googleNotifications ? ` (google notifs=${s.googleNotifications})` : "")

/** Retries inside one day: 1 s, 2 s, 4 s … capped at 5 min between tries, for at most 1 hour. */
export const retrySchedule = Schedule.exponential("1 second").pipe(
  Schedule.either(Schedule.spaced("5 minutes")),
  Schedule.upTo("1 hour")
)

export const runDay = (boundaryMs: number) =>
  Effect.gen(function*() {
    const maintenance = yield* Maintenance
    const sink = yield* WebhookSink
    const health = yield* WorkerHealth
    const events = yield* MaintenanceEvents
    const outcome = yield* maintenance.sweep(boundaryMs).pipe(
      // Defects (a driver throwing "database is locked") are retried like failures.
      Effect.sandbox,
      Effect.tapError((cause) => Effect.logWarning(`Daily pruning for ${ymd(boundaryMs - DAY_MS)} failed, retrying`, cause)),
      Effect.retry({ schedule: retrySchedule, while: (cause) => !Cause.isInterruptedOnly(cause) }),
      Effect.unsandbox,
      Effect.matchCauseEffect({
        onFailure: (cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.gen(function*() {
                Metrics.sweepRuns.inc({ outcome: "failed" })
                Metrics.workerFailures.inc({ worker: NAME })
                yield* health.failed(NAME, Cause.pretty(cause))
                yield* Effect.logError(`Daily pruning for ${ymd(boundaryMs - DAY_MS)} failed`, cause)
                return "failed" as const
              }),
        onSuccess: (summary) =>
          Effect.gen(function*() {
            Metrics.sweepLast.set(boundaryMs / 1000)
            if (summary.alreadyDone) {
              Metrics.sweepRuns.inc({ outcome: "already_done" })
              yield* Effect.logDebug(`Daily pruning for ${ymd(boundaryMs - DAY_MS)} was already done`)
              return "already_done" as const
            }
            Metrics.sweepRuns.inc({ outcome: "done" })
            Metrics.sweepExpired.inc({ kind: "payments" }, summary.payments)
            Metrics.sweepExpired.inc({ kind: "revocations" }, summary.revocations)
            Metrics.sweepExpired.inc({ kind: "users" }, summary.users)
            Metrics.sweepExpired.inc({ kind: "apple_notifications" }, summary.appleNotifications)
            Metrics.sweepExpired.inc({ kind: "google_notifications" }, summary.googleNotifications)
            const line = summaryLine(boundaryMs, summary)
            yield* Effect.logInfo(line)
            // Pushed directly, whatever the webhook level filter (§7).
            yield* sink.push(line)
            return "done" as const
          })
      })
    )
    yield* health.beat(NAME)
    yield* PubSub.publish(events, { boundaryMs, outcome })
    return outcome
  })

const guarded = (boundaryMs: number) =>
  // A defect anywhere in the day must not end the loop.
  runDay(boundaryMs).pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("expiry sweep iteration crashed", cause)
    )
  )

export const loop = Effect.gen(function*() {
  // Catch-up: the most recent boundary at or before start-up. If the deployment was down at that
  // midnight (a restart across it), its sweep runs now instead of a day late; otherwise the atomic
  // guard answers "already done" and nothing happens. (The reference only waits for the next one.)
  const start = yield* Clock.currentTimeMillis
  const previous = Math.floor(start / DAY_MS) * DAY_MS
  let lastRun: number | undefined
  if (previous > 0) {
    yield* guarded(previous)
    lastRun = previous
  }
  while (true) {
    const now = yield* Clock.currentTimeMillis
    const next = nextBoundary(now, lastRun)
    if (next > now) {
      yield* Effect.logDebug(`Sleeping for ${Duration.format(Duration.millis(next - now))} until ${new Date(next).toISOString()}`)
      yield* Effect.sleep(Duration.millis(next - now))
    }
    yield* guarded(next)
    lastRun = next
  }
}).pipe(Effect.annotateLogs("logger", "PRO"))

/** Forks the sweep loop for the lifetime of the layer. */
export const ExpirySweepWorker = Layer.scopedDiscard(supervise(NAME, loop as Effect.Effect<never, never, Maintenance | WebhookSink | WorkerHealth | MaintenanceEvents>))
