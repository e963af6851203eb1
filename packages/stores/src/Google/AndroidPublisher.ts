/**
 * Android Publisher REST client (stores.md §3.2, §5.3): the three calls the backend makes.
 *
 * - `getSubscriptionV2`   purchases.subscriptionsv2.get — the state of record behind every RTDN
 * - `acknowledge`         purchases.subscriptions.acknowledge — D4c outbox worker only
 * - `getBasePlan`         monetization.subscriptions.get — base-plan grace (IN_GRACE_PERIOD), cached
 *
 * Authenticated with google-auth-library from the service-account file (`cloud_app_credentials_path`);
 * `apiRoot` is configurable so tests (and the fixture replay) point it at a loopback fake, in which
 * case credentials may be omitted and no Authorization header is sent.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Cache, Config, Context, Duration, Effect, Exit, Layer, Option, Schedule, Schema } from "effect"
import { parseGoogleDurationMs } from "./Durations.js"
import { MonetizationSubscription, SubscriptionPurchaseV2 } from "./Schemas.js"

export const DEFAULT_API_ROOT = "https://androidpublisher.googleapis.com"
export const ANDROID_PUBLISHER_SCOPE = "https://www.googleapis.com/auth/androidpublisher"

export class AndroidPublisherError extends Schema.TaggedError<AndroidPublisherError>()("AndroidPublisherError", {
  operation: Schema.String,
  /** HTTP status when Google answered; absent for transport / decoding failures. */
  status: Schema.optional(Schema.Number),
  message: Schema.String
}) {}

export interface AndroidPublisherOptions {
  readonly packageName: string
  /** `[google] subscription_product_id`: the product whose base plans we sell (monetization lookup, ack path). */
  readonly subscriptionProductId: string
  /** Service-account JSON. Omit only for loopback fakes (or when `authClient` is given). */
  readonly credentialsPath?: string | undefined
  /**
   * Any google-auth-library client (workload identity, impersonation, a test stub); takes
   * precedence over `credentialsPath`.
   */
  readonly authClient?: { readonly getRequestHeaders: (url?: string) => Promise<Headers> } | undefined
  /** Default `https://androidpublisher.googleapis.com`. */
  readonly apiRoot?: string | undefined
  /** How long a successful base-plan lookup is reused (default 1 hour; failures are never cached). */
  readonly basePlanCacheTtl?: Duration.DurationInput | undefined
  /**
   * Immediate retries of a read that failed transiently (transport error, 429, 5xx), with a short
   * exponential back-off (default 2). Longer outages are the caller's back-off (redelivery, outbox).
   */
  readonly transientRetries?: number | undefined
  /** Per-request timeout (default 30 s). */
  readonly requestTimeout?: Duration.DurationInput | undefined
}

export interface BasePlanDetails {
  readonly basePlanId: string
  readonly gracePeriodIso8601: string | undefined
  /** 0 when the base plan has no grace period configured. */
  readonly gracePeriodMs: number
  readonly billingPeriodIso8601: string | undefined
  readonly billingPeriodMs: number | undefined
}

export interface AndroidPublisherShape {
  readonly options: AndroidPublisherOptions
  readonly getSubscriptionV2: (purchaseToken: string) => Effect.Effect<SubscriptionPurchaseV2, AndroidPublisherError>
  /** Empty 2xx = success. `subscriptionId` defaults to the configured product id (quirk 11 fixed). */
  readonly acknowledge: (input: {
    readonly purchaseToken: string
    readonly subscriptionId?: string | undefined
  }) => Effect.Effect<void, AndroidPublisherError>
  /** Base-plan details of the configured product; error if the base plan does not exist. */
  readonly getBasePlan: (basePlanId: string) => Effect.Effect<BasePlanDetails, AndroidPublisherError>
}

export class AndroidPublisher extends Context.Tag("@session-pro/stores/Google/AndroidPublisher")<
  AndroidPublisher,
  AndroidPublisherShape
>() {}

const enc = encodeURIComponent

export const make = (options: AndroidPublisherOptions): Effect.Effect<AndroidPublisherShape, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const root = (options.apiRoot ?? DEFAULT_API_ROOT).replace(/\/+$/, "")
    const app = `${root}/androidpublisher/v3/applications/${enc(options.packageName)}`
    const timeout = Duration.decode(options.requestTimeout ?? "30 seconds")
    // google-auth-library is loaded only when a service-account file is configured (it is heavy).
    const auth = options.authClient ??
      (options.credentialsPath
        ? new (yield* Effect.promise(() => import("google-auth-library"))).GoogleAuth({
          keyFile: options.credentialsPath,
          scopes: [ANDROID_PUBLISHER_SCOPE]
        })
        : undefined)
    const http = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk)

    const authorize = (operation: string, req: HttpClientRequest.HttpClientRequest) =>
      auth === undefined
        ? Effect.succeed(req)
        : Effect.tryPromise({
          try: () => auth.getRequestHeaders(req.url),
          catch: (e) => new AndroidPublisherError({ operation, message: `credentials: ${String(e)}` })
        }).pipe(
          Effect.map((headers) => {
            const h: Record<string, string> = {}
            headers.forEach((v, k) => (h[k] = v))
            return HttpClientRequest.setHeaders(req, h)
          })
        )

    const send = (operation: string, req: HttpClientRequest.HttpClientRequest) =>
      authorize(operation, req).pipe(
        Effect.flatMap(http.execute),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new AndroidPublisherError({ operation, message: `timed out after ${Duration.format(timeout)}` })
        }),
        Effect.catchTags({
          ResponseError: (e) =>
            e.response.text.pipe(
              Effect.orElseSucceed(() => ""),
              Effect.flatMap((body) =>
                Effect.fail(
                  new AndroidPublisherError({
                    operation,
                    status: e.response.status,
                    message: `HTTP ${e.response.status}: ${body.slice(0, 500)}`
                  })
                )
              )
            ),
          RequestError: (e) => Effect.fail(new AndroidPublisherError({ operation, message: e.message }))
        }),
        Effect.scoped,
        // Transport-level only (decoding failures are not retried).
        Effect.retry({
          schedule: Schedule.exponential("250 millis"),
          times: options.transientRetries ?? 2,
          while: (e) => e.status === undefined || e.status === 429 || e.status >= 500
        })
      )

    const getJson = <A, I>(operation: string, url: string, schema: Schema.Schema<A, I>) =>
      send(operation, HttpClientRequest.get(url)).pipe(
        Effect.flatMap((res) => res.json),
        Effect.flatMap(Schema.decodeUnknown(schema)),
        Effect.catchTags({
          ResponseError: (e) => Effect.fail(new AndroidPublisherError({ operation, message: e.message })),
          ParseError: (e) => Effect.fail(new AndroidPublisherError({ operation, message: `unexpected answer: ${e.message}` }))
        }),
        Effect.scoped,
        Effect.withSpan(`AndroidPublisher.${operation}`)
      )

    const getSubscriptionV2 = (purchaseToken: string) =>
      getJson(
        "purchases.subscriptionsv2.get",
        `${app}/purchases/subscriptionsv2/tokens/${enc(purchaseToken)}`,
        SubscriptionPurchaseV2
      )

    const acknowledge = (input: { readonly purchaseToken: string; readonly subscriptionId?: string | undefined }) => {
      const sub = input.subscriptionId || options.subscriptionProductId
      return send(
        "purchases.subscriptions.acknowledge",
        HttpClientRequest.post(`${app}/purchases/subscriptions/${enc(sub)}/tokens/${enc(input.purchaseToken)}:acknowledge`)
          .pipe(HttpClientRequest.bodyUnsafeJson({}))
      ).pipe(Effect.asVoid, Effect.withSpan("AndroidPublisher.acknowledge"))
    }

    // The product's base plans change only when someone edits Play Console; cache successes only.
    const productCache = yield* Cache.makeWith({
      capacity: 16,
      lookup: (productId: string) =>
        getJson("monetization.subscriptions.get", `${app}/subscriptions/${enc(productId)}`, MonetizationSubscription),
      timeToLive: Exit.match({
        onFailure: () => Duration.zero,
        onSuccess: () => Duration.decode(options.basePlanCacheTtl ?? "1 hour")
      })
    })

    const getBasePlan = (basePlanId: string) =>
      productCache.get(options.subscriptionProductId).pipe(
        Effect.flatMap((product) => {
          const plan = product.basePlans.find((p) => p.basePlanId === basePlanId)
          const operation = "monetization.subscriptions.get"
          if (plan === undefined) {
            return Effect.fail(
              new AndroidPublisherError({
                operation,
                message: `base plan ${basePlanId} not found in product ${options.subscriptionProductId}`
              })
            )
          }
          const grace = plan.autoRenewingBasePlanType?.gracePeriodDuration
          const billing = plan.autoRenewingBasePlanType?.billingPeriodDuration
          const parse = (what: string, iso: string | undefined) =>
            iso === undefined
              ? Effect.succeed(Option.none<number>())
              : parseGoogleDurationMs(iso).pipe(
                Effect.map(Option.some),
                Effect.mapError((message) =>
                  new AndroidPublisherError({ operation, message: `${what} of base plan ${basePlanId}: ${message}` })
                )
              )
          return Effect.all([parse("gracePeriodDuration", grace), parse("billingPeriodDuration", billing)]).pipe(
            Effect.map(([g, b]): BasePlanDetails => ({
              basePlanId,
              gracePeriodIso8601: grace,
              gracePeriodMs: Option.getOrElse(g, () => 0),
              billingPeriodIso8601: billing,
              billingPeriodMs: Option.getOrUndefined(b)
            }))
          )
        })
      )

    return AndroidPublisher.of({ options, getSubscriptionV2, acknowledge, getBasePlan })
  })

/** Uses the platform's fetch. */
export const layer = (options: AndroidPublisherOptions): Layer.Layer<AndroidPublisher> =>
  Layer.effect(AndroidPublisher, make(options)).pipe(Layer.provide(FetchHttpClient.layer))

export const layerConfig = (
  options: Config.Config.Wrap<AndroidPublisherOptions>
): Layer.Layer<AndroidPublisher, ConfigErrorLike> =>
  Layer.unwrapEffect(Config.unwrap(options).pipe(Effect.map(layer)))

type ConfigErrorLike = import("effect/ConfigError").ConfigError
