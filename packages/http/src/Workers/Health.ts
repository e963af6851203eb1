/**
 * Liveness of the background workers for `GET /healthz`. A worker is alive while its loop fiber
 * runs; failed iterations are recorded but do not make it dead (the loop carries on, FLAG-11).
 */
import { Cause, Clock, Context, Effect, Exit, Fiber, Layer, Option, Ref, Supervisor } from "effect"

export interface WorkerStatus {
  readonly alive: boolean
  readonly lastBeatMs: number | undefined
  readonly lastError: string | undefined
  readonly failures: number
}

export interface WorkerHealthShape {
  readonly register: (name: string) => Effect.Effect<void>
  readonly beat: (name: string) => Effect.Effect<void>
  readonly failed: (name: string, error: string) => Effect.Effect<void>
  readonly stopped: (name: string) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<Readonly<Record<string, WorkerStatus>>>
}

export class WorkerHealth extends Context.Tag("@session-pro/http/WorkerHealth")<WorkerHealth, WorkerHealthShape>() {
  static readonly layer: Layer.Layer<WorkerHealth> = Layer.effect(
    WorkerHealth,
    Effect.gen(function*() {
      const state = yield* Ref.make<Record<string, WorkerStatus>>({})
      const patch = (name: string, f: (s: WorkerStatus) => WorkerStatus) =>
        Ref.update(state, (m) => ({
          ...m,
          [name]: f(m[name] ?? { alive: false, lastBeatMs: undefined, lastError: undefined, failures: 0 })
        }))
      return {
        register: (name) => patch(name, (s) => ({ ...s, alive: true })),
        beat: (name) => Effect.flatMap(Clock.currentTimeMillis, (now) => patch(name, (s) => ({ ...s, lastBeatMs: now }))),
        failed: (name, error) => patch(name, (s) => ({ ...s, lastError: error, failures: s.failures + 1 })),
        stopped: (name) => patch(name, (s) => ({ ...s, alive: false })),
        snapshot: Ref.get(state)
      }
    })
  )
}

/** Runs `loop` as a scoped fiber that keeps the worker registered while it lives. */
export const supervise = <E, R>(name: string, loop: Effect.Effect<never, E, R>) =>
  Effect.gen(function*() {
    const health = yield* WorkerHealth
    yield* health.register(name)
    yield* loop.pipe(
      Effect.onExit(() => health.stopped(name)),
      Effect.forkScoped
    )
  })

/**
 * Reports the background fibers a layer forks while it is built (a loop owned by another package,
 * e.g. the Apple catch-up, the Google Pub/Sub consumer or the acknowledgement outbox) as worker
 * `name`: registered once the layer is built, stopped as soon as one of those fibers ends (they are
 * meant to run for the layer's lifetime; a failure is recorded too). A layer that forks nothing is
 * logged and left unregistered, so `/healthz` reports it down if it is expected.
 */
export const track = <ROut, E, RIn>(name: string, layer: Layer.Layer<ROut, E, RIn>): Layer.Layer<ROut, E, RIn | WorkerHealth> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const health = yield* WorkerHealth
      const supervisor = yield* Supervisor.track
      const context = yield* Effect.supervised(Layer.build(layer), supervisor)
      // The fibers still running once built (a helper fiber of the build itself has ended by now).
      const fibers = yield* Effect.filter(yield* supervisor.value, (f) => Effect.map(Fiber.poll(f), Option.isNone))
      if (fibers.length === 0) {
        yield* Effect.logWarning(`Background worker ${name}: no fiber to watch; not reported alive`)
        return context
      }
      yield* health.register(name)
      yield* health.beat(name)
      yield* Effect.raceAll(fibers.map((f) => Fiber.await(f))).pipe(
        Effect.flatMap((exit) =>
          Effect.gen(function*() {
            if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
              yield* health.failed(name, Cause.pretty(exit.cause).split("\n")[0] ?? "failed")
            }
            yield* health.stopped(name)
            yield* Effect.logWarning(`Background worker ${name} stopped`)
          })
        ),
        Effect.forkScoped
      )
      return context
    })
  )
