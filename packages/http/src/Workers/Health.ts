/**
 * Liveness of the background workers for `GET /healthz`. A worker is alive while its loop fiber
 * runs; failed iterations are recorded but do not make it dead (the loop carries on, FLAG-11).
 */
import { Clock, Context, Effect, Layer, Ref } from "effect"

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
