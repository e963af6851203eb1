/**
 * Catch-up of notifications Apple failed to deliver (stores.md §2.9, domain.md §6.14), fixed per quirk 7:
 * a scoped background fiber (never blocks start-up), each notification processed in isolation through
 * the same path as the webhook (its own transaction and UUID dedupe), API failures retried with a
 * Schedule, and the checkpoint advanced only as far as is safe:
 *
 *  - end = now − 10 s; skip when the checkpoint C is less than 30 min behind (dedupes processes);
 *  - request onlyFailures in [max(end − lookback, C), end], paging with paginationToken while hasMore;
 *  - every page fetched and every notification applied (or a duplicate) → checkpoint = end;
 *  - some notification failed → checkpoint = max(C, earliest failed signedDate), so it is retried next
 *    time while the ones after it (already applied, UUID-deduped) do not hold anything up;
 *  - but only while the failure is younger than the UUID retention (`retryWindowMs`): re-listing an
 *    older range would re-apply notifications whose UUID rows are gone, possibly out of order. An
 *    older failure is given up on (logged as an error; its subscription already carries a user error);
 *  - an API error → checkpoint unchanged, the run is retried.
 */
import { AppStoreServerAPIClient, Environment, type NotificationHistoryResponse } from "@apple/app-store-server-library"
import { Clock, Config, Context, Duration, Effect, Layer, Option, Schedule, Schema } from "effect"
import * as fs from "node:fs/promises"
import type { AppleEnvironment } from "./Config.js"
import { AppleNotifications } from "./AppleNotifications.js"
import { AppleLedger, layerCore } from "./Ledger.js"

export interface AppleCatchUpConfig {
  /** Contents of the App Store Connect API key (.p8, PKCS#8 PEM). */
  readonly signingKey: string
  readonly keyId: string
  readonly issuerId: string
  readonly bundleId: string
  readonly environment: AppleEnvironment
  /** Override Apple's API host (a proxy, or a fake server in tests). */
  readonly baseUrl?: string | undefined
  /** How often to look again after the start-up run (default 1 h). */
  readonly interval?: Duration.DurationInput | undefined
  /** History window (default 30 days sandbox, 180 days production). */
  readonly lookbackMs?: number | undefined
}

export const MIN_GAP_MS = 30 * 60_000
export const END_LAG_MS = 10_000
export const lookbackFor = (env: AppleEnvironment) => (env === "Sandbox" ? 30 : 180) * 86_400_000

export class AppleCatchUpError extends Schema.TaggedError<AppleCatchUpError>()("AppleCatchUpError", {
  message: Schema.String
}) {}

export interface CatchUpReport {
  readonly skipped: boolean
  readonly startDate: number
  readonly endDate: number
  readonly pages: number
  readonly seen: number
  readonly applied: number
  readonly failed: number
  /** Failures older than the UUID retention: not retried by catch-up (flagged as user errors). */
  readonly givenUp: number
  readonly checkpointBefore: number
  readonly checkpointAfter: number
}

export interface AppleCatchUpShape {
  /** One catch-up pass at the current Clock time. */
  readonly runOnce: Effect.Effect<CatchUpReport, AppleCatchUpError>
}

export class AppleCatchUp extends Context.Tag("@session-pro/stores/AppleCatchUp")<AppleCatchUp, AppleCatchUpShape>() {}

/** The library's client with a configurable base URL (it otherwise picks Apple's host from the environment). */
export class ConfigurableAppStoreServerAPIClient extends AppStoreServerAPIClient {
  private readonly baseUrlOverride: string | undefined
  constructor(signingKey: string, keyId: string, issuerId: string, bundleId: string, environment: Environment, baseUrl?: string) {
    super(signingKey, keyId, issuerId, bundleId, environment)
    this.baseUrlOverride = baseUrl?.replace(/\/+$/, "")
  }
  protected override async makeFetchRequest(
    path: string,
    parsedQueryParameters: URLSearchParams,
    method: string,
    requestBody: string | Buffer | undefined,
    headers: { [key: string]: string }
  ): Promise<any> {
    if (this.baseUrlOverride === undefined) return super.makeFetchRequest(path, parsedQueryParameters, method, requestBody, headers)
    // makeRequest only reads ok/status/json() of the response, which the global fetch provides.
    return fetch(`${this.baseUrlOverride}${path}?${parsedQueryParameters}`, { method, body: requestBody as any, headers })
  }
}

/** signedDate of a JWS without verifying it (only to bound the checkpoint of a failed notification). */
const unverifiedSignedDate = (jws: string): number | undefined => {
  try {
    const claims = JSON.parse(Buffer.from(jws.split(".")[1] ?? "", "base64url").toString("utf8"))
    return typeof claims?.signedDate === "number" ? claims.signedDate : undefined
  } catch {
    return undefined
  }
}

export const make = (config: AppleCatchUpConfig) =>
  Effect.gen(function*() {
    const notifications = yield* AppleNotifications
    const ledger = yield* AppleLedger
    const client = new ConfigurableAppStoreServerAPIClient(
      config.signingKey,
      config.keyId,
      config.issuerId,
      config.bundleId,
      config.environment === "Production" ? Environment.PRODUCTION : Environment.SANDBOX,
      config.baseUrl
    )
    const lookback = config.lookbackMs ?? lookbackFor(config.environment)
    const apiError = (e: unknown) =>
      new AppleCatchUpError({
        message: `App Store Server API getNotificationHistory failed: ${
          (e as any)?.httpStatusCode !== undefined ? `HTTP ${(e as any).httpStatusCode} ${(e as any).apiError ?? ""} ` : ""
        }${e instanceof Error ? e.message : String(e)}`
      })

    const runOnce: Effect.Effect<CatchUpReport, AppleCatchUpError> = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const end = now - END_LAG_MS
      const checkpoint = yield* ledger.checkpoint.pipe(Effect.mapError((e) => new AppleCatchUpError({ message: e.message })))
      const base = { startDate: 0, endDate: end, pages: 0, seen: 0, applied: 0, failed: 0, givenUp: 0, checkpointBefore: checkpoint }
      if (end - checkpoint < MIN_GAP_MS) {
        return { ...base, skipped: true, checkpointAfter: checkpoint }
      }
      const start = Math.max(end - lookback, checkpoint)
      if (checkpoint < end - lookback) {
        yield* Effect.logWarning(`Apple catch-up: checkpoint ${checkpoint} is older than the ${lookback} ms history window; earlier notifications cannot be recovered`)
      }
      let token: string | null = null
      let pages = 0, seen = 0, applied = 0, failed = 0
      // Failures younger than this can be retried safely (the UUIDs after them are still remembered).
      const horizon = end - notifications.config.retryWindowMs
      let earliestFailure = Number.POSITIVE_INFINITY
      let givenUp = 0
      do {
        const page: NotificationHistoryResponse = yield* Effect.tryPromise({
          try: () => client.getNotificationHistory(token, { startDate: start, endDate: end, onlyFailures: true }),
          catch: apiError
        })
        pages++
        for (const item of page.notificationHistory ?? []) {
          if (!item.signedPayload) continue
          seen++
          // Isolation: one bad notification neither stops the page nor the ones after it.
          const r = yield* Effect.either(notifications.process(item.signedPayload))
          if (r._tag === "Right") {
            applied++
          } else {
            failed++
            const signed = unverifiedSignedDate(item.signedPayload) ?? start
            if (signed >= horizon) {
              earliestFailure = Math.min(earliestFailure, signed)
              yield* Effect.logWarning(`Apple catch-up: a notification signed at ${signed} was not applied (${r.left._tag}); it will be retried`)
            } else {
              givenUp++
              yield* Effect.logError(
                `Apple catch-up: giving up on a notification signed at ${signed} (${r.left._tag}): older than the UUID retention window, so retrying could re-apply later notifications out of order`
              )
            }
          }
        }
        token = page.hasMore && page.paginationToken ? page.paginationToken : null
      } while (token !== null)
      const next = earliestFailure === Number.POSITIVE_INFINITY ? end : Math.max(checkpoint, Math.min(earliestFailure, end))
      if (next !== checkpoint) {
        yield* ledger.transaction(ledger.setCheckpoint(next)).pipe(
          Effect.mapError((e) => new AppleCatchUpError({ message: `saving the checkpoint failed: ${e.message}` }))
        )
      }
      yield* Effect.logInfo(
        `Apple catch-up [${start}, ${end}]: ${pages} page(s), ${seen} notification(s), ${applied} applied, ${failed} failed (${givenUp} given up); checkpoint ${checkpoint} → ${next}`
      )
      return { ...base, startDate: start, skipped: false, pages, seen, applied, failed, givenUp, checkpointAfter: next }
    })
    return { runOnce } satisfies AppleCatchUpShape
  })

/** Retries of one pass: 5 s, 10 s, 20 s … up to 5 min apart, for at most 30 min. */
export const retrySchedule = Schedule.exponential("5 seconds").pipe(
  Schedule.either(Schedule.spaced("5 minutes")),
  Schedule.upTo("30 minutes")
)

/**
 * The service plus its background fiber: a pass at start-up and every `interval` after, each retried
 * with `retrySchedule`; a pass that still fails is logged and the loop carries on.
 * Needs AppleNotifications and the core services.
 */
export const layer = (config: AppleCatchUpConfig) =>
  Layer.scoped(
    AppleCatchUp,
    Effect.gen(function*() {
      const svc = yield* make(config)
      const pass = svc.runOnce.pipe(
        Effect.retry(retrySchedule),
        Effect.catchAllCause((c) => Effect.logError("Apple catch-up pass failed; will try again at the next interval", c))
      )
      yield* Effect.forkScoped(Effect.repeat(pass, Schedule.spaced(config.interval ?? Duration.hours(1))))
      return svc
    })
  ).pipe(Layer.provide(layerCore))

/** The service without the background fiber (tests, CLI). */
export const layerManual = (config: AppleCatchUpConfig) => Layer.effect(AppleCatchUp, make(config)).pipe(Layer.provide(layerCore))

/**
 * Reads the `apple` namespace: key_id, issuer_id, key_path (.p8), bundle_id, sandbox_env, and the
 * optional api_base_url, catchup_interval_s, catchup_lookback_days.
 */
export const fromConfig = Effect.gen(function*() {
  const c = yield* Config.all({
    keyId: Config.string("key_id"),
    issuerId: Config.string("issuer_id"),
    keyPath: Config.string("key_path"),
    bundleId: Config.string("bundle_id"),
    sandbox: Config.withDefault(Config.boolean("sandbox_env"), false),
    baseUrl: Config.option(Config.string("api_base_url")),
    intervalS: Config.withDefault(Config.integer("catchup_interval_s"), 3600),
    lookbackDays: Config.option(Config.integer("catchup_lookback_days"))
  }).pipe(Config.nested("apple"))
  const signingKey = yield* Effect.tryPromise({
    try: () => fs.readFile(c.keyPath, "utf8"),
    catch: (e) => new AppleCatchUpError({ message: `Failed to read the App Store Connect API key ${c.keyPath}: ${String(e)}` })
  })
  const config: AppleCatchUpConfig = {
    signingKey,
    keyId: c.keyId,
    issuerId: c.issuerId,
    bundleId: c.bundleId,
    environment: c.sandbox ? "Sandbox" : "Production",
    baseUrl: Option.getOrUndefined(c.baseUrl),
    interval: Duration.seconds(c.intervalS),
    lookbackMs: Option.getOrUndefined(Option.map(c.lookbackDays, (d) => d * 86_400_000))
  }
  return config
})

/** `layer` configured from the `apple` config namespace. */
export const layerConfig = Layer.unwrapEffect(Effect.map(fromConfig, layer))
