/**
 * `POST /apple_notifications_v2`: App Store Server Notifications V2 (stores.md §2.2, README D4f).
 *
 * Answers:
 *  - 200, empty body: applied, recorded without action (TEST, EXPIRED, …) or a duplicate delivery;
 *  - 400: the body is not `{"signedPayload": "<string>"}`;
 *  - 403: the payload does not verify as Apple's for this app and environment (forged, tampered,
 *    untrusted chain, wrong bundle/app id/environment); nothing is stored;
 *  - 503: genuine, but not applied now (a handler or the database failed, or OCSP was unreachable);
 *    the transaction was rolled back and Apple redelivers (+1 h, +12 h, +24 h, +48 h, +72 h).
 * Never a crash: any defect below is logged and answered 503 so Apple retries.
 *
 * Mount `router` (an `HttpRouter`) through `Server.makeApp({ extraRoutes })` when `with_platform_apple`
 * is on, with `AppleNotifications` provided (`layerFromServerConfig` builds it from `[apple]`), and
 * register `extraRoute` in `ClientRoutes.ExtraRoutes` so onion requests reach it too (the
 * server binary gets both from `Workers/Platforms.ts`).
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { AppleCatchUp, AppleConfig, AppleNotifications, AppleSchemas } from "@session-pro/stores"
import { Effect, Layer, Option, Schema } from "effect"
import * as fs from "node:fs/promises"
import type { AppleConfig as ServerAppleConfig } from "./Config/ServerConfig.js"
import type { ExtraRoute } from "./Routes/ClientRoutes.js"
import type { RouteResponse } from "./Routes/Pages.js"

export const PATH = "/apple_notifications_v2"
/** Apple's payloads are a few KiB; anything near this is not a notification. */
export const MAX_BODY_BYTES = 1024 * 1024

const text = (status: number, body: string) =>
  body === "" ? HttpServerResponse.empty({ status }) : HttpServerResponse.text(body, { status })

const decodeBody = Schema.decodeUnknownOption(Schema.parseJson(AppleSchemas.WebhookBody))

/** The webhook's answer, whichever way the request arrived. */
export interface WebhookAnswer {
  readonly status: number
  /** Plain text; "" = no body. */
  readonly body: string
}

/** Body text (None: unreadable or too large) → answer. Never fails; a defect is answered 503. */
const answer = (raw: Option.Option<string>): Effect.Effect<WebhookAnswer, never, AppleNotifications.AppleNotifications> =>
  Effect.gen(function*() {
    const body = Option.flatMap(raw, decodeBody)
    if (Option.isNone(body)) {
      yield* Effect.logWarning("Apple webhook: body is not {\"signedPayload\": <string>}")
      return { status: 400, body: "Bad Request: expected {\"signedPayload\": \"<JWS>\"}" }
    }
    const svc = yield* AppleNotifications.AppleNotifications
    return yield* svc.process(body.value.signedPayload).pipe(
      Effect.as<WebhookAnswer>({ status: 200, body: "" }),
      Effect.catchTags({
        AppleVerificationError: (e) => Effect.succeed({ status: 403, body: `Forbidden: ${e.reason}` }),
        AppleVerificationUnavailable: () => Effect.succeed({ status: 503, body: "Verification unavailable, retry later" }),
        AppleProcessingError: () => Effect.succeed({ status: 503, body: "Not processed, retry later" })
      })
    )
  }).pipe(
    Effect.catchAllDefect((defect) =>
      Effect.as(
        Effect.logError("Apple webhook: unexpected defect; answering 503 so Apple redelivers", defect),
        { status: 503, body: "Not processed, retry later" }
      )
    )
  )

/** The route handler; needs `AppleNotifications` and the request. */
export const handler: Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  AppleNotifications.AppleNotifications | HttpServerRequest.HttpServerRequest
> = Effect.gen(function*() {
  const req = yield* HttpServerRequest.HttpServerRequest
  const raw = yield* req.text.pipe(
    HttpIncomingMessage.withMaxBodySize(Option.some(MAX_BODY_BYTES)),
    Effect.option
  )
  const a = yield* answer(raw)
  return text(a.status, a.body)
}).pipe(
  Effect.catchAllDefect((defect) =>
    Effect.as(Effect.logError("Apple webhook: unexpected defect; answering 503 so Apple redelivers", defect), text(503, "Not processed, retry later"))
  )
)

/** `HttpServerResponse.text`'s content type, so both ways answer with the same headers. */
const TEXT_CONTENT_TYPE = "text/plain"

/** An answer as an in-process route response (the bytes `handler` writes over HTTP). */
export const toRouteResponse = (a: WebhookAnswer): RouteResponse => ({
  status: a.status,
  headers: a.body === "" ? {} : { "content-type": TEXT_CONTENT_TYPE },
  body: new TextEncoder().encode(a.body)
})

/**
 * The webhook as a `ClientRoutes.ExtraRoutes` entry (over the `AppleNotifications` in context), so
 * it is also reachable through onion requests (`/oxen/v4/lsrpc`), as in the reference (protocol.md
 * §2.6). Same answers as `handler`; `onAnswer` sees each one (e.g. the store metrics).
 */
export const extraRoute = (
  onAnswer: (a: WebhookAnswer) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<ExtraRoute, never, AppleNotifications.AppleNotifications> =>
  Effect.map(Effect.context<AppleNotifications.AppleNotifications>(), (ctx) => ({
    path: PATH,
    handle: (request) =>
      answer(
        request.body.length > MAX_BODY_BYTES ? Option.none() : Option.some(new TextDecoder().decode(request.body))
      ).pipe(
        Effect.tap(onAnswer),
        Effect.map(toRouteResponse),
        Effect.provide(ctx)
      )
  }))

/** `POST /apple_notifications_v2` as an `HttpRouter` (for `Server.makeApp({ extraRoutes })`). */
export const router: HttpRouter.HttpRouter<never, AppleNotifications.AppleNotifications> = HttpRouter.empty.pipe(HttpRouter.post(PATH, handler))

export interface FromServerConfigOptions {
  /** Extra productId → plan mappings (e.g. `AppleConfig.FIXTURE_TEST_PRODUCT_PLANS` in a sandbox test deployment). */
  readonly extraProductPlans?: Readonly<Record<string, number>> | undefined
  /** Default true (OCSP, current-time validity), as the reference. */
  readonly enableOnlineChecks?: boolean | undefined
}

/** `[apple]` of the server config → the notifications config (reads the root certificates). */
export const notificationsConfigFrom = (
  apple: ServerAppleConfig,
  options: FromServerConfigOptions = {}
): Effect.Effect<AppleConfig.AppleNotificationsConfig, Error> =>
  Effect.gen(function*() {
    const environment: AppleConfig.AppleEnvironment = apple.sandbox ? "Sandbox" : "Production"
    const paths = [apple.rootCertPath, apple.rootCertCaG2Path, apple.rootCertCaG3Path].filter((p) => p !== "")
    const rootCertificates = yield* AppleConfig.readRootCertificates(paths)
    const config: AppleConfig.AppleNotificationsConfig = {
      bundleId: apple.bundleId,
      appAppleId: apple.appId,
      environment,
      rootCertificates,
      enableOnlineChecks: options.enableOnlineChecks ?? true,
      productPlans: { ...AppleConfig.DEFAULT_PRODUCT_PLANS, ...(options.extraProductPlans as any) },
      retryWindowMs: AppleConfig.defaultRetryWindowMs(environment)
    }
    return config
  })

/** `[apple]` → the catch-up config (reads the .p8 API key). */
export const catchUpConfigFrom = (apple: ServerAppleConfig): Effect.Effect<AppleCatchUp.AppleCatchUpConfig, Error> =>
  Effect.tryPromise({
    try: () => fs.readFile(apple.keyPath, "utf8"),
    catch: (e) => new Error(`Failed to read the App Store Connect API key ${apple.keyPath}: ${String(e)}`)
  }).pipe(
    Effect.map((signingKey): AppleCatchUp.AppleCatchUpConfig => ({
      signingKey,
      keyId: apple.keyId,
      issuerId: apple.issuerId,
      bundleId: apple.bundleId,
      environment: apple.sandbox ? "Sandbox" : "Production"
    }))
  )

/**
 * `AppleNotifications` from `[apple]`; needs the core services (Backend.layer). Add
 * `layerCatchUpFromServerConfig` in the process that runs background work (one per deployment is
 * enough; several are safe, the checkpoint gap check and UUID dedupe make them idempotent).
 */
export const layerFromServerConfig = (
  apple: ServerAppleConfig,
  options: FromServerConfigOptions = {}
): Layer.Layer<AppleNotifications.AppleNotifications, Error, Layer.Layer.Context<ReturnType<typeof AppleNotifications.layer>>> =>
  Layer.unwrapEffect(Effect.map(notificationsConfigFrom(apple, options), AppleNotifications.layer))

export const layerCatchUpFromServerConfig = (
  apple: ServerAppleConfig
): Layer.Layer<AppleCatchUp.AppleCatchUp, Error, Layer.Layer.Context<ReturnType<typeof AppleCatchUp.layer>>> =>
  Layer.unwrapEffect(Effect.map(catchUpConfigFrom(apple), AppleCatchUp.layer))
