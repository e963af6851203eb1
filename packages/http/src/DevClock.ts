/**
 * The fake clock for app testers: a mutable `Clock` for the server's runtime plus `POST /dev/clock`
 * to read, set or advance it over HTTP.
 *
 * Only when dev mode AND the `fake_clock` option are both on (the config refuses `fake_clock`
 * without dev) does the server binary provide `DevClock.layer(start)`. Without the service the
 * route is not part of the route table: `/dev/clock` answers 404 with an envelope that says why,
 * it is not reachable through onion requests and not listed in `/openapi.json`.
 *
 * The clock starts at `fake_clock` and runs on in real time; `set`/`advance` move it. Everything
 * time-dependent in the core reads Effect's `Clock` (timestamp windows, proof expiry, grace,
 * revocation effectiveness), so it all follows. `sleep` wakes when the *fake* time reaches the
 * target, so a worker sleeping until midnight wakes when the clock is moved past it; and when a
 * move crosses a UTC midnight the handler runs the daily sweep for the latest midnight itself
 * before answering, so a tester sees its effects immediately (the core's guard makes the
 * worker's own run for that day a no-op).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ExpirySweep } from "@session-pro/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import NodeCluster from "node:cluster"
import * as Pages from "./Routes/Pages.js"

export const PATH = "/dev/clock"
export const DAY_MS = 86_400_000

export interface DevClockService {
  readonly clock: Clock.Clock
  /** Fake now, integer ms. */
  readonly now: () => number
  /** Jump to `ms`; returns the new time. */
  readonly set: (ms: number) => number
  /** Move by `ms` (may be negative); returns the new time. */
  readonly advance: (ms: number) => number
}

export class DevClock extends Context.Tag("@session-pro/http/DevClock")<DevClock, DevClockService>() {}

interface Waiter {
  readonly target: number
  timer: ReturnType<typeof setTimeout> | undefined
  readonly wake: () => void
}

/** A wall clock at `startMs` that keeps running in real time and can be moved. */
export const make = (startMs: number): DevClockService => {
  const real = Clock.make()
  let offset = startMs - real.unsafeCurrentTimeMillis()
  const now = () => real.unsafeCurrentTimeMillis() + offset
  const waiters = new Set<Waiter>()

  // Re-arms a real timer for what is left of the fake wait; due waiters wake at once.
  const check = (w: Waiter) => {
    if (w.timer !== undefined) clearTimeout(w.timer)
    const left = w.target - now()
    if (left <= 0) {
      waiters.delete(w)
      w.timer = undefined
      w.wake()
    } else {
      w.timer = setTimeout(() => check(w), Math.min(left, 2_147_483_647))
    }
  }
  const moved = () => {
    for (const w of Array.from(waiters)) check(w)
  }

  const sleep = (duration: Duration.Duration): Effect.Effect<void> => {
    const ms = Duration.toMillis(duration)
    if (!Number.isFinite(ms)) return Effect.never
    if (ms <= 0) return Effect.void
    return Effect.async<void>((resume) => {
      const w: Waiter = { target: now() + ms, timer: undefined, wake: () => resume(Effect.void) }
      waiters.add(w)
      check(w)
      return Effect.sync(() => {
        waiters.delete(w)
        if (w.timer !== undefined) clearTimeout(w.timer)
      })
    })
  }

  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: now,
    currentTimeMillis: Effect.sync(now),
    unsafeCurrentTimeNanos: () => BigInt(Math.floor(now())) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(Math.floor(now())) * 1_000_000n),
    sleep
  }
  return {
    clock,
    now,
    set: (ms) => {
      offset = ms - real.unsafeCurrentTimeMillis()
      moved()
      return now()
    },
    advance: (ms) => {
      offset += ms
      moved()
      return now()
    }
  }
}

/** The service and the runtime's `Clock`, for the server binary (dev + fake_clock only). */
export const layerFrom = (service: DevClockService): Layer.Layer<DevClock> =>
  Layer.merge(Layer.succeed(DevClock, service), Layer.setClock(service.clock))

export const layer = (startMs: number): Layer.Layer<DevClock> => layerFrom(make(startMs))

// ---------------------------------------------------------------------------------------------
// POST /dev/clock

const SafeInt = Schema.Number.pipe(Schema.int(), Schema.between(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))

export const DevClockRequest = Schema.Union(
  Schema.Struct({ set_unix_ts_ms: SafeInt.pipe(Schema.nonNegative()).annotations({ description: "Jump to this Unix time (ms)" }) }),
  Schema.Struct({ advance_ms: SafeInt.annotations({ description: "Move the clock by this many ms (negative moves it back)" }) }),
  Schema.Struct({}).annotations({ description: "Only read the time" })
).annotations({ identifier: "DevClockRequest" })

export const DevClockResult = Schema.Struct({
  unix_ts_ms: Schema.Int.annotations({ description: "The server's (fake) time after the change, Unix ms" }),
  iso: Schema.String.annotations({ description: "The same time as ISO-8601 UTC" }),
  swept_boundary_unix_ts_ms: Schema.NullOr(Schema.Int).annotations({
    description: "The UTC midnight the daily sweep ran for because the change crossed one, or null"
  })
}).annotations({ identifier: "DevClockResult" })
export type DevClockResult = typeof DevClockResult.Type

export const DISABLED_MESSAGE =
  "POST /dev/clock is not available: the fake clock needs dev mode and the fake_clock option " +
  "(dev = true and fake_clock = <Unix ms or ISO date>, or SESH_PRO_BACKEND_DEV=1 and SESH_PRO_BACKEND_FAKE_CLOCK)"

const respond = (r: Pages.RouteResponse) => {
  const { "content-type": contentType, ...rest } = r.headers
  return HttpServerResponse.uint8Array(r.body, { status: r.status, headers: rest, contentType })
}

/**
 * Checked by hand: a Schema union with an empty struct member accepts any object, and the error
 * wanted here is one sentence, not a parse tree.
 */
export const decodeRequest = (json: unknown): Either.Either<typeof DevClockRequest.Type, string> => {
  const usage = 'Expected {"set_unix_ts_ms": <non-negative integer ms>} or {"advance_ms": <integer ms>} (or {} to read the time)'
  if (typeof json !== "object" || json === null || Array.isArray(json)) return Either.left(usage)
  const keys = Object.keys(json)
  const v = (json as Record<string, unknown>)[keys[0]]
  if (keys.length === 0) return Either.right({})
  if (keys.length > 1 || !Number.isSafeInteger(v)) return Either.left(usage)
  if (keys[0] === "set_unix_ts_ms" && (v as number) >= 0) return Either.right({ set_unix_ts_ms: v as number })
  if (keys[0] === "advance_ms") return Either.right({ advance_ms: v as number })
  return Either.left(usage)
}

/** Applies a decoded request; runs the sweep when the fake day rolled over. */
export const apply = (service: DevClockService, request: typeof DevClockRequest.Type) =>
  Effect.gen(function*() {
    const before = service.now()
    const after = "set_unix_ts_ms" in request
      ? service.set(request.set_unix_ts_ms)
      : "advance_ms" in request
      ? service.advance(request.advance_ms)
      : before
    let swept: number | null = null
    if (Math.floor(after / DAY_MS) > Math.floor(before / DAY_MS)) {
      const boundary = Math.floor(after / DAY_MS) * DAY_MS
      const sweeper = yield* Effect.serviceOption(ExpirySweep)
      if (Option.isSome(sweeper)) {
        const r = yield* sweeper.value.run(boundary)
        yield* Effect.logInfo(
          `Fake clock crossed midnight: daily sweep for ${new Date(boundary).toISOString()} ` +
            (r.alreadyDone ? "was already done" : `expired ${r.paymentRows} payment(s), ${r.revocations} revocation(s), ${r.users} user(s)`)
        )
        swept = boundary
      }
    }
    if (after !== before) yield* Effect.logInfo(`Fake clock moved to ${new Date(after).toISOString()} (${after})`)
    return { unix_ts_ms: after, iso: new Date(after).toISOString(), swept_boundary_unix_ts_ms: swept } satisfies DevClockResult
  })

/**
 * The `/dev/clock` route for the HTTP adapter: a clear 404 envelope when the fake clock is off,
 * POST (set/advance/read) and GET (read) when it is on.
 */
export const serve: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> = Effect
  .gen(function*() {
    const service = yield* Effect.serviceOption(DevClock)
    if (Option.isNone(service)) return respond(Pages.json({ errors: [DISABLED_MESSAGE], status: 2 }, 404))
    const req = yield* HttpServerRequest.HttpServerRequest
    const method = req.method.toUpperCase()
    if (method === "GET") return respond(Pages.success(yield* apply(service.value, {})))
    if (method !== "POST") {
      const p = Pages.methodNotAllowed()
      return respond({ ...p, headers: { ...p.headers, allow: "GET, POST" } })
    }
    const text = yield* Effect.orElseSucceed(req.text, () => "")
    let json: unknown = {}
    if (text.trim() !== "") {
      try {
        json = JSON.parse(text)
      } catch (e) {
        return respond(Pages.failure(2, [`JSON failed to be parsed: ${(e as Error).message}`]))
      }
    }
    const decoded = decodeRequest(json)
    if (Either.isLeft(decoded)) return respond(Pages.failure(2, [decoded.left]))
    // Each worker process has its own clock: moving one would split the deployment's time.
    if (NodeCluster.isWorker && Object.keys(decoded.right).length > 0) {
      return respond(Pages.failure(2, ["The fake clock can only be moved when the server runs with workers = 1"]))
    }
    return respond(Pages.success(yield* apply(service.value, decoded.right)))
  })
  .pipe(
    Effect.catchAllCause((cause) =>
      Effect.as(Effect.logError("/dev/clock failed", cause), respond(Pages.failure(1, ["The fake clock could not be changed"])))
    )
  )
