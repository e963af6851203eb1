/**
 * The loop shared by the workers that act after each day boundary (backups, reports): subscribed to
 * the maintenance events when built, each fresh boundary (not `already_done`) handled in turn,
 * then a heartbeat; a failure (not an interruption) counted, recorded in the worker's health and
 * logged, and the loop goes on.
 */
import { Cause, Effect, PubSub, Queue } from "effect"
import * as Metrics from "../Observability/Metrics.js"
import { supervise, WorkerHealth } from "./Health.js"
import { type DayEvent, MaintenanceEvents } from "./Maintenance.js"

/** Recovers from a failure of `name`'s work (interruptions pass): counted, recorded, logged as `message`. */
export const recordFailure = (name: string, message: string) =>
<E>(cause: Cause.Cause<E>): Effect.Effect<void, E, WorkerHealth> =>
  Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.gen(function*() {
    const health = yield* WorkerHealth
    Metrics.workerFailures.inc({ worker: name })
    yield* health.failed(name, Cause.pretty(cause))
    yield* Effect.logError(message, cause)
  })

/** Runs `handle` for each new day boundary under worker `name` (supervised, logger `PRO`). */
export const onEachNewDay = <E, R>(name: string, handle: (ev: DayEvent) => Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    const events = yield* MaintenanceEvents
    const sub = yield* PubSub.subscribe(events)
    const health = yield* WorkerHealth
    yield* supervise(
      name,
      Effect.forever(
        Effect.gen(function*() {
          const ev = yield* Queue.take(sub)
          if (ev.outcome === "already_done") return
          yield* handle(ev)
          yield* health.beat(name)
        })
      ).pipe(Effect.annotateLogs("logger", "PRO"))
    )
  })
