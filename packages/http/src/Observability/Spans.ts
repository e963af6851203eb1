/**
 * Request spans are opt-in: with Effect's built-in tracer (nothing configured) a span per request
 * is pure cost (the native tracer records nothing anyone reads, and `withSpan` captures a stack
 * trace by default), so request spans are only opened when another tracer (e.g. OpenTelemetry's)
 * has been provided.
 */
import * as Effect from "effect/Effect"

const defaultTracer = Effect.runSync(Effect.tracer)

/** `Effect.withSpan(name)` when a tracer other than Effect's default one is installed. */
export const withRequestSpan = (name: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.tracerWith((tracer) => tracer === defaultTracer ? self : Effect.withSpan(self, name, { captureStackTrace: false }))
