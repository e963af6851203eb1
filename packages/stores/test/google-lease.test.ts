/**
 * One Pub/Sub consumer per deployment: the PostgreSQL advisory-lock lease (runs when
 * PRO_TEST_PG_URL is set) and the process-local lease.
 */
import { PgClient } from "@effect/sql-pg"
import { Deferred, Effect, Exit, Fiber, Layer, Redacted, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { GoogleConsumerLease } from "../src/Google/GooglePubSubConsumer.js"

const PG_URL = process.env.PRO_TEST_PG_URL

/** Acquire in a fresh scope; resolves a Deferred when held; returns a release function. */
const holder = (lease: Layer.Layer<GoogleConsumerLease, unknown>) =>
  Effect.gen(function*() {
    const held = yield* Deferred.make<void>()
    const scope = yield* Scope.make()
    const fiber = yield* Effect.forkDaemon(
      Effect.gen(function*() {
        const l = yield* GoogleConsumerLease
        yield* l.acquire
        yield* Deferred.succeed(held, undefined)
        return yield* Effect.never
      }).pipe(Effect.provide(lease), Scope.extend(scope))
    )
    return {
      held,
      release: Fiber.interrupt(fiber).pipe(Effect.zipRight(Scope.close(scope, Exit.void)))
    }
  })

const isDoneWithin = (d: Deferred.Deferred<void>, ms: number) =>
  Deferred.await(d).pipe(Effect.timeout(ms), Effect.option, Effect.map((o) => o._tag === "Some"))

describe("GoogleConsumerLease", () => {
  it("inProcess: a second holder waits until the first lets go", async () => {
    await Effect.runPromise(
      Effect.gen(function*() {
        // One semaphore shared by both holders, as in one process.
        const lease = yield* Layer.memoize(GoogleConsumerLease.inProcess)
        yield* Effect.scoped(Effect.gen(function*() {
          const a = yield* holder(lease)
          expect(yield* isDoneWithin(a.held, 1_000)).toBe(true)
          const b = yield* holder(lease)
          expect(yield* isDoneWithin(b.held, 200)).toBe(false)
          yield* a.release
          expect(yield* isDoneWithin(b.held, 1_000)).toBe(true)
          yield* b.release
        }))
      }).pipe(Effect.scoped)
    )
  })

  it.skipIf(!PG_URL)("pgAdvisoryLock: exclusive across separate connections (processes)", async () => {
    const pg = () => PgClient.layer({ url: Redacted.make(PG_URL!) })
    const lease = () =>
      GoogleConsumerLease.pgAdvisoryLock({ key: 4242, pollInterval: "100 millis" }).pipe(Layer.provide(pg()))
    await Effect.runPromise(
      Effect.gen(function*() {
        const a = yield* holder(lease())
        expect(yield* isDoneWithin(a.held, 5_000)).toBe(true)
        const b = yield* holder(lease())
        expect(yield* isDoneWithin(b.held, 500)).toBe(false)
        yield* a.release
        expect(yield* isDoneWithin(b.held, 5_000)).toBe(true)
        yield* b.release
      })
    )
  })
})
