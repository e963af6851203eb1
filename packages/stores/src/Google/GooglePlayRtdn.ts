/**
 * Google Play Real-Time Developer Notifications → core operations (stores.md §3.5, §4; domain.md §8.2–8.3).
 *
 * Per notification: read the Android Publisher state of record (outside any DB transaction, so a
 * slow Google never holds the SQLite write lock), then apply the change in ONE `Database.transaction`.
 * `processMessage` adds the Pub/Sub frame: dedupe by message id in `google_notification_history`
 * (row marked handled, payload cleared, in the same transaction as the effects), user error for the
 * token cleared on success; on failure the transaction rolls back and, in a separate transaction
 * (quirk 9 / D4f), the message is recorded unhandled with its payload and a user error is written.
 * The caller (the Pub/Sub consumer) acks only `handled` / `duplicate` outcomes.
 */
import {
  BackendSettings,
  Database,
  DEFAULT_GOOGLE_GRACE_PERIOD_MS,
  GOOGLE_NOTIFICATION_RETENTION_MS,
  GOOGLE_REFUND_WINDOW_MS,
  GoogleNotificationHistory,
  maybeObfuscate,
  PaymentProvider,
  Payments,
  PaymentStatus,
  ProPlan,
  roundNextDayWithPlatformTesting,
  TESTING_GOOGLE_GRACE_PERIOD_MS,
  UserErrors
} from "@session-pro/core"
import { Cause, Clock, Config, Context, Effect, Either, Layer, Option, ParseResult, Schema } from "effect"
import { AndroidPublisher, type AndroidPublisherError } from "./AndroidPublisher.js"
import {
  AcknowledgementState,
  isKnownNotificationType,
  NotificationType,
  notificationTypeName,
  RtdnMessage,
  type SubscriptionPurchaseV2,
  SubscriptionState,
  type VoidedPurchaseNotification
} from "./Schemas.js"

// ---------------------------------------------------------------------------------------------
// Errors and results

/** The message cannot be understood (bad JSON, wrong package, unknown type): never stored, never acked. */
export class RtdnParseError extends Schema.TaggedError<RtdnParseError>()("RtdnParseError", {
  message: Schema.String
}) {}

/** Handling failed: the transaction rolled back; the message must be redelivered / retried. */
export class RtdnHandlingError extends Schema.TaggedError<RtdnHandlingError>()("RtdnHandlingError", {
  message: Schema.String,
  purchaseToken: Schema.optional(Schema.String)
}) {}

export type ParsedRtdn =
  | {
    readonly kind: "subscription"
    readonly eventTimeMs: number
    readonly notificationType: NotificationType
    readonly purchaseToken: string
    readonly subscriptionId: string | undefined
  }
  | { readonly kind: "voided"; readonly eventTimeMs: number; readonly voided: VoidedPurchaseNotification }
  | { readonly kind: "test"; readonly eventTimeMs: number }
  | { readonly kind: "oneTimeProduct"; readonly eventTimeMs: number }

export const purchaseTokenOf = (n: ParsedRtdn): string | undefined =>
  n.kind === "subscription" ? n.purchaseToken : n.kind === "voided" ? n.voided.purchaseToken : undefined

/** What a handled notification did (for logs and tests). */
export interface HandleResult {
  readonly action: string
}

export type MessageOutcome =
  | { readonly _tag: "Handled"; readonly action: string }
  | { readonly _tag: "Duplicate" }
  | { readonly _tag: "Discarded"; readonly reason: string }
  | { readonly _tag: "Failed"; readonly reason: string }

export interface PubSubMessageInput {
  readonly messageId: string
  readonly data: Uint8Array | string
  readonly publishTimeMs?: number | undefined
  readonly attributes?: Readonly<Record<string, string>> | undefined
}

// ---------------------------------------------------------------------------------------------
// Options

export const DEFAULT_BASE_PLANS: Readonly<Record<string, ProPlan>> = {
  "session-pro-1-month": ProPlan.OneMonth,
  "session-pro-3-months": ProPlan.ThreeMonth,
  "session-pro-12-months": ProPlan.TwelveMonth
}

export interface GooglePlayRtdnOptions {
  /** RTDNs for any other package are rejected as parse errors. */
  readonly packageName: string
  /** Base plan id → plan. Defaults to {@link DEFAULT_BASE_PLANS}. */
  readonly basePlans?: Readonly<Record<string, ProPlan>> | undefined
}

export interface GooglePlayRtdnShape {
  readonly parse: (data: Uint8Array | string) => Either.Either<ParsedRtdn, RtdnParseError>
  /** API reads, then the effects in one transaction (no history bookkeeping). The fixture replay uses this. */
  readonly handle: (n: ParsedRtdn) => Effect.Effect<HandleResult, RtdnHandlingError>
  /** The full Pub/Sub frame: parse, dedupe by message id, handle, record. Never fails. */
  readonly processMessage: (m: PubSubMessageInput) => Effect.Effect<MessageOutcome>
  /** Retries every unhandled history row from its stored payload (start-up catch-up, CLI). */
  readonly retryUnhandled: Effect.Effect<{ readonly handled: number; readonly failed: number }>
}

export class GooglePlayRtdn extends Context.Tag("@session-pro/stores/Google/GooglePlayRtdn")<
  GooglePlayRtdn,
  GooglePlayRtdnShape
>() {}

// ---------------------------------------------------------------------------------------------
// Parsing (§3.3)

const decodeRtdn = Schema.decodeUnknownEither(Schema.parseJson(RtdnMessage))

export const parseRtdn = (
  data: Uint8Array | string,
  packageName: string
): Either.Either<ParsedRtdn, RtdnParseError> => {
  const text = typeof data === "string" ? data : new TextDecoder().decode(data)
  const fail = (message: string) => Either.left(new RtdnParseError({ message }))
  const decoded = decodeRtdn(text)
  if (Either.isLeft(decoded)) {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
    return fail(`invalid RTDN: ${issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`)
  }
  const m = decoded.right
  if (m.packageName !== packageName) {
    return fail(`RTDN for package ${m.packageName}, expected ${packageName}`)
  }
  const present = [
    m.subscriptionNotification,
    m.oneTimeProductNotification,
    m.voidedPurchaseNotification,
    m.testNotification
  ].filter((x) => x !== undefined).length
  if (present !== 1) return fail(`RTDN must carry exactly one notification object, found ${present}`)
  const eventTimeMs = m.eventTimeMillis
  if (m.subscriptionNotification) {
    const s = m.subscriptionNotification
    if (!isKnownNotificationType(s.notificationType)) {
      return fail(`unknown subscription notificationType ${s.notificationType}`)
    }
    return Either.right({
      kind: "subscription",
      eventTimeMs,
      notificationType: s.notificationType,
      purchaseToken: s.purchaseToken,
      subscriptionId: s.subscriptionId
    })
  }
  // Quirk 8 fixed: a voided purchase is its own kind, not a test notification.
  if (m.voidedPurchaseNotification) return Either.right({ kind: "voided", eventTimeMs, voided: m.voidedPurchaseNotification })
  if (m.oneTimeProductNotification) return Either.right({ kind: "oneTimeProduct", eventTimeMs })
  return Either.right({ kind: "test", eventTimeMs })
}

// ---------------------------------------------------------------------------------------------
// Helpers

const hexToBytes = (hex: string): Uint8Array | undefined => {
  const h = hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex
  if (!/^[0-9a-fA-F]{64}$/.test(h)) return undefined
  return Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)))
}

const describeCause = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof (e as { message: unknown }).message === "string"
    ? `${(e as { _tag?: string })._tag ?? "Error"}: ${(e as { message: string }).message}`
    : String(e)

// ---------------------------------------------------------------------------------------------
// The handler

export const make = (options: GooglePlayRtdnOptions) =>
  Effect.gen(function*() {
    const publisher = yield* AndroidPublisher
    const settings = yield* BackendSettings
    const db = yield* Database
    const payments = yield* Payments
    const userErrors = yield* UserErrors
    const history = yield* GoogleNotificationHistory
    const basePlans = options.basePlans ?? DEFAULT_BASE_PLANS
    const defaultGraceMs = settings.platformTestingEnv ? TESTING_GOOGLE_GRACE_PERIOD_MS : DEFAULT_GOOGLE_GRACE_PERIOD_MS

    const parse = (data: Uint8Array | string) => parseRtdn(data, options.packageName)
    /** Identifiers in logs and outcome texts are masked unless `unsafeLogging` (domain.md §11.2). */
    const mask = (id: string) => maybeObfuscate(id, settings.unsafeLogging)

    const apiError = (token: string) => (e: AndroidPublisherError) =>
      new RtdnHandlingError({ message: `${e.operation} failed: ${e.message}`, purchaseToken: token })

    /** Subscription RTDN (§3.5): returns the transactional part after all Google reads are done. */
    const prepareSubscription = (n: Extract<ParsedRtdn, { kind: "subscription" }>) =>
      Effect.gen(function*() {
        const token = n.purchaseToken
        const type = n.notificationType
        const name = notificationTypeName(type)
        const fail = (message: string) =>
          Effect.fail(new RtdnHandlingError({ message: `${name}: ${message}`, purchaseToken: token }))

        // Unsupported features must stay disabled in Play Console; fail loudly so an operator notices.
        if (type === NotificationType.DEFERRED || type === NotificationType.PAUSED || type === NotificationType.PAUSE_SCHEDULE_CHANGED) {
          return yield* fail("not supported (deferral / pause must stay disabled in Play Console)")
        }

        const sub: SubscriptionPurchaseV2 = yield* publisher.getSubscriptionV2(token).pipe(Effect.mapError(apiError(token)))
        const item = sub.lineItems[0]
        if (item.autoRenewingPlan === undefined) {
          return yield* fail(item.prepaidPlan !== undefined ? "prepaid plans are not supported" : "line item has no plan")
        }
        const orderId = item.latestSuccessfulOrderId
        if (orderId === undefined || orderId === "") return yield* fail("subscription has no latestSuccessfulOrderId")
        const plan = basePlans[item.offerDetails.basePlanId]
        if (plan === undefined) return yield* fail(`unknown base plan ${item.offerDetails.basePlanId}`)
        const tx = { provider: PaymentProvider.GooglePlayStore, googlePaymentToken: token, googleOrderId: orderId } as const
        const state = sub.subscriptionState
        const event = n.eventTimeMs
        const noop = (why: string) => Effect.succeed(Effect.succeed<HandleResult>({ action: `${name}: no-op (${why})` }))

        const accountId = () => {
          const hex = sub.externalAccountIdentifiers?.obfuscatedExternalAccountId
          const bytes = hex === undefined ? undefined : hexToBytes(hex)
          return bytes === undefined
            ? Effect.fail(
              new RtdnHandlingError({
                message: `${name}: obfuscatedExternalAccountId must be 64 hex characters (sha256 of the master key)`,
                purchaseToken: token
              })
            )
            : Effect.succeed(bytes)
        }

        const addPayment = (account: Uint8Array) =>
          Effect.gen(function*() {
            const r = yield* payments.addUnredeemed({
              tx,
              plan,
              unredeemedUnixTsMs: event,
              expiryUnixTsMs: item.expiryTime,
              platformRefundExpiryUnixTsMs: event + GOOGLE_REFUND_WINDOW_MS,
              googleObfuscatedAccountId: account
            })
            yield* payments.updateRenewalInfo(tx, { gracePeriodDurationMs: defaultGraceMs })
            return r
          })

        const revokeToken = (chainId: string) =>
          payments.revokeChain({ provider: PaymentProvider.GooglePlayStore, chainId, revokedAtMs: event })

        switch (type) {
          case NotificationType.PURCHASED: {
            if (state !== SubscriptionState.ACTIVE) return yield* noop(`state ${state}`)
            const account = yield* accountId()
            const acknowledged = sub.acknowledgementState === AcknowledgementState.ACKNOWLEDGED
            const linked = sub.linkedPurchaseToken
            return Effect.gen(function*() {
              if (acknowledged) {
                // Quirk 12 kept, narrowed: an acknowledged purchase we already booked is a replay
                // (e.g. after the 7-day history prune); one we never saw is an error to look at.
                const existing = yield* payments.get(tx)
                if (Option.isSome(existing)) return { action: "PURCHASED: already acknowledged and booked, no-op" }
                return yield* Effect.fail(
                  new RtdnHandlingError({ message: "PURCHASED: purchase already acknowledged", purchaseToken: token })
                )
              }
              let action = "PURCHASED: "
              if (linked !== undefined && linked !== "") {
                // Plan change / re-signup: the new token replaces the old one from the event on.
                const r = yield* revokeToken(linked)
                action += `revoked linked token (${r.revokedPayments} payments), `
              }
              const added = yield* addPayment(account)
              return { action: action + (added.inserted ? "payment added" : "payment already present") }
            })
          }
          case NotificationType.RENEWED:
          case NotificationType.RECOVERED: {
            if (state !== SubscriptionState.ACTIVE) return yield* noop(`state ${state}`)
            const account = yield* accountId()
            return addPayment(account).pipe(
              Effect.map((r) => ({
                action: `${name}: ${r.inserted ? "payment added" : "payment already present"}${r.autoRedeemedFor ? " (auto-redeemed)" : ""}`
              }))
            )
          }
          case NotificationType.IN_GRACE_PERIOD: {
            if (state !== SubscriptionState.IN_GRACE_PERIOD) return yield* noop(`state ${state}`)
            const basePlan = yield* publisher.getBasePlan(item.offerDetails.basePlanId).pipe(Effect.mapError(apiError(token)))
            return payments.updateRenewalInfo(tx, { gracePeriodDurationMs: basePlan.gracePeriodMs }).pipe(
              Effect.as({ action: `IN_GRACE_PERIOD: grace ${basePlan.gracePeriodMs} ms on ${mask(orderId)}` })
            )
          }
          case NotificationType.CANCELED: {
            if (state !== SubscriptionState.CANCELED && state !== SubscriptionState.EXPIRED) return yield* noop(`state ${state}`)
            // Grace is kept so a RESTARTED restores the full entitlement.
            return payments.updateRenewalInfo(tx, { autoRenewing: false }).pipe(Effect.as({ action: "CANCELED: auto-renew off" }))
          }
          case NotificationType.RESTARTED: {
            if (state !== SubscriptionState.ACTIVE) return yield* noop(`state ${state}`)
            return payments.updateRenewalInfo(tx, { autoRenewing: true }).pipe(Effect.as({ action: "RESTARTED: auto-renew on" }))
          }
          case NotificationType.REVOKED: {
            if (state !== SubscriptionState.EXPIRED) return yield* noop(`state ${state}`)
            return revokeToken(token).pipe(Effect.map((r) => ({ action: `REVOKED: ${r.revokedPayments} payments revoked` })))
          }
          case NotificationType.EXPIRED:
          case NotificationType.ON_HOLD: {
            if (state !== SubscriptionState.EXPIRED && state !== SubscriptionState.ON_HOLD) return yield* noop(`state ${state}`)
            return Effect.gen(function*() {
              const row = yield* payments.get(tx)
              if (Option.isNone(row)) {
                return yield* Effect.fail(
                  new RtdnHandlingError({ message: `${name}: no payment for order ${mask(orderId)}`, purchaseToken: token })
                )
              }
              // Only over-entitlement is revoked: a payment that lapses by the event's "day" self-expires.
              const bucket = (t: number) =>
                roundNextDayWithPlatformTesting(PaymentProvider.GooglePlayStore, t, settings.platformTestingEnv)
              if (bucket(row.value.expiry_unix_ts_ms) > bucket(event)) {
                const r = yield* revokeToken(token)
                return { action: `${name}: expiry after the event's day, ${r.revokedPayments} payments revoked` }
              }
              return { action: `${name}: already lapsed, no-op` }
            })
          }
          default:
            // 8, 19, 20, 22: price changes / pending purchase cancelled — the fetch above still had to succeed.
            return yield* noop("informational")
        }
      })

    /** D4f: a voided subscription order is revoked. */
    const prepareVoided = (n: Extract<ParsedRtdn, { kind: "voided" }>) =>
      Effect.succeed(
        Effect.gen(function*() {
          const v = n.voided
          if (v.productType !== 1) return { action: "voided one-time product: no-op (unsupported product type)" }
          const rows = yield* payments.findByGoogleToken(v.purchaseToken)
          const target = rows.find((r) => r.google_order_id === v.orderId)
          if (target === undefined) {
            // Nothing booked for that order (e.g. voided before we ever saw it): nothing to take away.
            return { action: `voided order ${mask(v.orderId)}: unknown, no-op` }
          }
          const newest = rows.reduce((a, b) => (b.id > a.id ? b : a))
          const active = target.status === PaymentStatus.Unredeemed || target.status === PaymentStatus.Redeemed
          if (newest.id === target.id && active) {
            const r = yield* payments.revokeChain({
              provider: PaymentProvider.GooglePlayStore,
              chainId: v.purchaseToken,
              revokedAtMs: n.eventTimeMs
            })
            return { action: `voided order ${mask(v.orderId)}: ${r.revokedPayments} payments revoked` }
          }
          // An older period of the chain: a later paid period already covers its entitlement, and a
          // per-order revoke would not change the user's expiry.
          return { action: `voided order ${mask(v.orderId)}: not the current period (status ${target.status}), no-op` }
        })
      )

    const prepare = (n: ParsedRtdn) => {
      switch (n.kind) {
        case "subscription":
          return prepareSubscription(n)
        case "voided":
          return prepareVoided(n)
        case "test":
          return Effect.succeed(Effect.succeed<HandleResult>({ action: "test notification: no-op" }))
        case "oneTimeProduct":
          return Effect.succeed(Effect.succeed<HandleResult>({ action: "one-time product notification: no-op" }))
      }
    }

    const toHandlingError = (token: string | undefined) => (e: unknown) =>
      e instanceof RtdnHandlingError ? e : new RtdnHandlingError({ message: describeCause(e), purchaseToken: token })

    /** Clears the token's user error on success (same transaction as the effects). */
    const clearUserError = (token: string | undefined) =>
      token === undefined
        ? Effect.void
        : userErrors.delete({ provider: PaymentProvider.GooglePlayStore, paymentId: token })

    const handle = (n: ParsedRtdn): Effect.Effect<HandleResult, RtdnHandlingError> => {
      const token = purchaseTokenOf(n)
      return prepare(n).pipe(
        Effect.flatMap((apply) => db.transaction(Effect.tap(apply, () => clearUserError(token)))),
        Effect.mapError(toHandlingError(token))
      )
    }

    const payloadOf = (m: PubSubMessageInput) =>
      JSON.stringify({
        ackId: "",
        message: {
          messageId: m.messageId,
          data: typeof m.data === "string" ? Buffer.from(m.data, "utf8").toString("base64") : Buffer.from(m.data).toString("base64"),
          publishTime: m.publishTimeMs === undefined ? undefined : new Date(m.publishTimeMs).toISOString(),
          attributes: m.attributes ?? {}
        }
      })

    /** Written after a rollback, in its own transaction (quirk 9 fixed): the message and the user error stick. */
    const recordFailure = (m: PubSubMessageInput, n: ParsedRtdn, err: RtdnHandlingError) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const token = err.purchaseToken ?? purchaseTokenOf(n)
        yield* db.transaction(
          Effect.gen(function*() {
            const existing = yield* history.get(m.messageId)
            if (existing === undefined) {
              yield* history.add(m.messageId, n.eventTimeMs + GOOGLE_NOTIFICATION_RETENTION_MS, payloadOf(m))
            }
            if (token !== undefined) {
              yield* userErrors.add({ provider: PaymentProvider.GooglePlayStore, paymentId: token, unixTsMs: now })
            }
          })
        )
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logError("Google RTDN: could not record the failure of message", m.messageId, cause)
        )
      )

    const processMessage = (m: PubSubMessageInput): Effect.Effect<MessageOutcome> =>
      Effect.gen(function*() {
        const parsed = parse(m.data)
        if (Either.isLeft(parsed)) {
          yield* Effect.logWarning(`Google RTDN ${m.messageId} discarded: ${parsed.left.message}`)
          return { _tag: "Discarded", reason: parsed.left.message } as const
        }
        const n = parsed.right
        const token = purchaseTokenOf(n)
        const seen = yield* history.get(m.messageId)
        if (seen !== undefined && seen.handled) return { _tag: "Duplicate" } as const

        const result = yield* prepare(n).pipe(
          Effect.flatMap((apply) =>
            db.transaction(
              Effect.gen(function*() {
                // Re-checked inside the write transaction: another process may have just handled it.
                const row = yield* history.get(m.messageId)
                if (row !== undefined && row.handled) return Option.none<HandleResult>()
                const r = yield* apply
                if (row === undefined) {
                  yield* history.add(m.messageId, n.eventTimeMs + GOOGLE_NOTIFICATION_RETENTION_MS, payloadOf(m))
                }
                yield* history.setHandled(m.messageId, { delete: false })
                yield* clearUserError(token)
                return Option.some(r)
              })
            )
          ),
          // A defect (a bug, a driver crash) is a failed message too: recorded and retried, never acked.
          Effect.catchAllDefect((d) => Effect.fail(new RtdnHandlingError({ message: `defect: ${String(d)}`, purchaseToken: token }))),
          Effect.mapError(toHandlingError(token)),
          Effect.either
        )
        if (Either.isLeft(result)) {
          yield* Effect.logError(`Google RTDN ${m.messageId} failed: ${result.left.message}`)
          yield* recordFailure(m, n, result.left)
          return { _tag: "Failed", reason: result.left.message } as const
        }
        return Option.match(result.right, {
          onNone: () => ({ _tag: "Duplicate" }) as const,
          onSome: (r) => ({ _tag: "Handled", action: r.action }) as const
        })
      }).pipe(
        Effect.catchAllCause((cause) =>
          // A stopped consumer is not a failed message: leave it unrecorded and unacked for redelivery.
          Cause.isInterruptedOnly(cause)
            ? Effect.interrupt
            : Effect.logError(`Google RTDN ${m.messageId} failed`, cause).pipe(
              Effect.as({ _tag: "Failed", reason: String(Cause.squash(cause)) } as const)
            )
        ),
        Effect.annotateLogs({ googleMessageId: m.messageId })
      )

    const retryUnhandled = Effect.gen(function*() {
      const rows = yield* history.unhandled()
      const decoded = rows.flatMap((row: { messageId: string | number | bigint; payload: string | null | undefined }) => {
        try {
          const p = JSON.parse(row.payload ?? "null") as { message?: { data?: string; publishTime?: string } } | null
          if (!p?.message?.data) return []
          const data = Buffer.from(p.message.data, "base64")
          const parsed = parse(data)
          return Either.isRight(parsed)
            ? [{ input: { messageId: String(row.messageId), data, publishTimeMs: p.message.publishTime ? Date.parse(p.message.publishTime) : undefined }, at: parsed.right.eventTimeMs }]
            : []
        } catch {
          return []
        }
      })
      // Oldest event first: the best ordering we have (Google uses no ordering keys).
      decoded.sort((a, b) => a.at - b.at)
      let handled = 0
      let failed = 0
      for (const d of decoded) {
        const o = yield* processMessage(d.input)
        if (o._tag === "Handled" || o._tag === "Duplicate") handled++
        else failed++
      }
      return { handled, failed }
    }).pipe(
      Effect.catchAllCause((cause) =>
        Effect.logError("Google RTDN: retrying unhandled notifications failed", cause).pipe(Effect.as({ handled: 0, failed: 0 }))
      )
    )

    return GooglePlayRtdn.of({ parse, handle, processMessage, retryUnhandled })
  })

export const layer = (options: GooglePlayRtdnOptions) => Layer.effect(GooglePlayRtdn, make(options))

export const layerConfig = (options: Config.Config.Wrap<GooglePlayRtdnOptions>) =>
  Layer.effect(GooglePlayRtdn, Effect.flatMap(Config.unwrap(options), make))
