/**
 * D4c: the Google acknowledgement outbox worker.
 *
 * `/add_pro_payment` commits the redemption and, in the same transaction, enqueues the purchase
 * token in the core's `GoogleAckOutbox` table. This worker drains it: it re-reads
 * `subscriptionsv2.get` (Google may already show the purchase as acknowledged, e.g. after a retry
 * whose answer was lost) and calls `purchases.subscriptions.acknowledge` otherwise. Failures are
 * logged, the row is rescheduled with exponential back-off (well inside Google's 3-day window), and
 * a user error is recorded so the client's `error_report` prompts support until it succeeds.
 */
import { BackendSettings, Database, GoogleAckOutbox, type GoogleAckEntry, maybeObfuscate, PaymentProvider, UserErrors } from "@session-pro/core"
import { Clock, Config, Context, Duration, Effect, Layer, Schedule } from "effect"
import { AndroidPublisher } from "./AndroidPublisher.js"
import { AcknowledgementState } from "./Schemas.js"

export interface GoogleAckOutboxWorkerOptions {
  /** How often due rows are looked for (default 5 s). `wake` processes immediately. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** First retry delay and cap (default 10 s doubling up to 1 h: ~20 attempts inside 3 days). */
  readonly backoffInitial?: Duration.DurationInput | undefined
  readonly backoffMax?: Duration.DurationInput | undefined
  /** Failed attempts after which a user error flags the chain (default 1: every failure, D4c). */
  readonly userErrorAfterAttempts?: number | undefined
}

export interface AckRunResult {
  readonly acknowledged: number
  readonly alreadyAcknowledged: number
  readonly failed: number
}

export interface GoogleAckOutboxWorkerShape {
  /** One pass over the due rows (the loop calls this; tests and the fixture replay call it directly). */
  readonly runOnce: Effect.Effect<AckRunResult>
}

export class GoogleAckOutboxWorker extends Context.Tag("@session-pro/stores/Google/GoogleAckOutboxWorker")<
  GoogleAckOutboxWorker,
  GoogleAckOutboxWorkerShape
>() {}

/** Exponential back-off after `attempts` failures (1 → initial). */
export const backoffAfter = (attempts: number, initial: Duration.Duration, max: Duration.Duration): Duration.Duration =>
  Duration.min(Duration.times(initial, 2 ** Math.max(0, Math.min(attempts - 1, 30))), max)

export const make = (options: GoogleAckOutboxWorkerOptions = {}) =>
  Effect.gen(function*() {
    const publisher = yield* AndroidPublisher
    const outbox = yield* GoogleAckOutbox
    const db = yield* Database
    const userErrors = yield* UserErrors
    const settings = yield* BackendSettings
    const mask = (id: string) => maybeObfuscate(id, settings.unsafeLogging)
    const initial = Duration.decode(options.backoffInitial ?? "10 seconds")
    const max = Duration.decode(options.backoffMax ?? "1 hour")
    const userErrorAfter = Math.max(1, options.userErrorAfterAttempts ?? 1)

    const ackOne = (row: GoogleAckEntry) =>
      Effect.gen(function*() {
        const sub = yield* publisher.getSubscriptionV2(row.purchaseToken)
        if (sub.acknowledgementState === AcknowledgementState.ACKNOWLEDGED) return "already" as const
        yield* publisher.acknowledge({ purchaseToken: row.purchaseToken, subscriptionId: row.subscriptionId ?? undefined })
        return "acked" as const
      })

    const runOnce: Effect.Effect<AckRunResult> = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const due = yield* outbox.due(now)
      let acknowledged = 0
      let alreadyAcknowledged = 0
      let failed = 0
      for (const row of due) {
        const r = yield* Effect.either(ackOne(row))
        if (r._tag === "Right") {
          if (r.right === "acked") acknowledged++
          else alreadyAcknowledged++
          yield* db.transaction(
            Effect.gen(function*() {
              yield* outbox.markDone(row.id)
              // Earlier failures flagged the chain; the purchase is safe now.
              if (row.attempts >= userErrorAfter) {
                yield* userErrors.delete({ provider: PaymentProvider.GooglePlayStore, paymentId: row.purchaseToken })
              }
            })
          )
          yield* Effect.logInfo(`Google purchase acknowledged${r.right === "already" ? " (already acknowledged)" : ""}`).pipe(
            Effect.annotateLogs({ orderId: mask(row.orderId) })
          )
          continue
        }
        failed++
        const attempts = row.attempts + 1
        const delay = backoffAfter(attempts, initial, max)
        yield* Effect.logError(
          `Google acknowledgement failed (attempt ${attempts}, retry in ${Duration.format(delay)}): ${r.left.message}`
        ).pipe(Effect.annotateLogs({ orderId: mask(row.orderId) }))
        yield* outbox.markFailed(row.id, {
          error: r.left.message,
          backoffMs: Duration.toMillis(delay),
          recordUserError: attempts >= userErrorAfter
        })
      }
      return { acknowledged, alreadyAcknowledged, failed }
    }).pipe(
      Effect.catchAllCause((cause) =>
        Effect.logError("Google acknowledgement outbox pass failed", cause).pipe(
          Effect.as({ acknowledged: 0, alreadyAcknowledged: 0, failed: 0 })
        )
      )
    )

    return GoogleAckOutboxWorker.of({ runOnce })
  })

/** The service only (no background loop): for hosts that drive `runOnce` themselves. */
export const layerService = (options: GoogleAckOutboxWorkerOptions = {}) => Layer.effect(GoogleAckOutboxWorker, make(options))

/** The service plus a scoped fiber polling the outbox for the lifetime of the layer. */
export const layer = (options: GoogleAckOutboxWorkerOptions = {}) =>
  Layer.scoped(
    GoogleAckOutboxWorker,
    Effect.gen(function*() {
      const worker = yield* make(options)
      yield* worker.runOnce.pipe(
        Effect.repeat(Schedule.spaced(options.pollInterval ?? "5 seconds")),
        Effect.forkScoped
      )
      return worker
    })
  )

export const layerConfig = (options: Config.Config.Wrap<GoogleAckOutboxWorkerOptions>) =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(options), layer))
