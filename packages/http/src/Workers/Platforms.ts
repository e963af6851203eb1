/**
 * The store platforms in the server binary (domain.md §13 steps 12-13), composed from the Apple
 * webhook module and the stores package:
 * - every HTTP process: `POST /apple_notifications_v2` with `AppleNotifications` (when Apple is on),
 *   also registered in `ClientRoutes.ExtraRoutes` so onion requests reach it (protocol.md §2.6);
 * - the background process only: the Apple catch-up (at start, then hourly), the Google Pub/Sub
 *   consumer and the acknowledgement outbox worker (when Google is on). One Google consumer per
 *   deployment (FLAG-39): the background process is elected per host, and on PostgreSQL the
 *   consumer also holds an advisory-lock lease so several hosts cannot both consume.
 * The Google consumer's outcome counts are sampled into the store notification metrics. Each of
 * these fibers (catch-up, consumer, outbox) is listed in `/healthz`'s worker liveness.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import {
  AndroidPublisher,
  AppleNotifications,
  GoogleAckOutboxWorker,
  GooglePlayRtdn,
  GooglePubSubConsumer
} from "@session-pro/stores"
import { Effect, Layer, Schedule } from "effect"
import * as AppleWebhook from "../AppleWebhook.js"
import type { ServerConfigShape } from "../Config/ServerConfig.js"
import * as Metrics from "../Observability/Metrics.js"
import { ExtraRoutes } from "../Routes/ClientRoutes.js"
import { track } from "./Health.js"

/** Routes for the app's `extraRoutes` seam (empty when Apple is off). */
export const appleRouter = (config: ServerConfigShape): HttpRouter.HttpRouter<never, AppleNotifications.AppleNotifications> => (config.apple ? AppleWebhook.router : HttpRouter.empty)

/** A webhook answer that arrived through an onion request counts in the store metrics like a plain one. */
const countAppleAnswer = (a: AppleWebhook.WebhookAnswer) =>
  Effect.sync(() => {
    if (a.status === 200) Metrics.storeProcessed.inc({ store: "apple" })
    else Metrics.storeFailed.inc({ store: "apple" })
  })

/**
 * Adds the Apple webhook to `ClientRoutes.ExtraRoutes` (keeping any already registered), so
 * `/oxen/v4/lsrpc` inner requests reach it as in the reference (protocol.md §2.6).
 */
const appleExtraRoutes = Layer.effect(
  ExtraRoutes,
  Effect.gen(function*() {
    const existing = yield* ExtraRoutes
    const route = yield* AppleWebhook.extraRoute(countAppleAnswer)
    return [...existing.filter((r) => r.path !== route.path), route]
  })
)

/**
 * `AppleNotifications` for the webhook route, plus the webhook registered in `ExtraRoutes` (onion
 * requests). When Apple is off the route is mounted neither way, so the service is a placeholder
 * that is never called (it keeps the app's type uniform) and `ExtraRoutes` is left as it was.
 */
type AppleLayer = ReturnType<typeof AppleWebhook.layerFromServerConfig>
export const appleHttpLayer = (
  config: ServerConfigShape
): Layer.Layer<AppleNotifications.AppleNotifications | ExtraRoutes, Layer.Layer.Error<AppleLayer>, Layer.Layer.Context<AppleLayer>> =>
  config.apple
    ? appleExtraRoutes.pipe(Layer.provideMerge(AppleWebhook.layerFromServerConfig(config.apple)))
    : Layer.merge(
      Layer.sync(AppleNotifications.AppleNotifications, () => {
        const off = Effect.dieMessage("Apple is not enabled in this deployment")
        return { config: undefined as never, process: () => off, verify: () => off }
      }),
      Layer.effect(ExtraRoutes, ExtraRoutes)
    )

const googleStatsSampler = Layer.scopedDiscard(
  Effect.gen(function*() {
    const consumer = yield* GooglePubSubConsumer.GooglePubSubConsumer
    let seen = { processed: 0, failed: 0 }
    yield* consumer.stats.pipe(
      Effect.tap((s) =>
        Effect.sync(() => {
          const now = { processed: s.handled + s.duplicates, failed: s.failed + s.discarded }
          if (now.processed > seen.processed) Metrics.storeProcessed.inc({ store: "google" }, now.processed - seen.processed)
          if (now.failed > seen.failed) Metrics.storeFailed.inc({ store: "google" }, now.failed - seen.failed)
          seen = now
        })
      ),
      Effect.repeat(Schedule.spaced("10 seconds")),
      Effect.forkScoped
    )
  })
)

/** `/healthz` worker names of the platforms' background fibers (see `platformWorkerNames`). */
export const APPLE_CATCH_UP = "apple-catch-up"
export const GOOGLE_CONSUMER = "google-consumer"
export const GOOGLE_ACK_OUTBOX = "google-ack-outbox"

/** The platform workers the background process runs (and `/healthz` expects) for this config. */
export const platformWorkerNames = (config: ServerConfigShape): ReadonlyArray<string> => [
  ...(config.apple ? [APPLE_CATCH_UP] : []),
  ...(config.google ? [GOOGLE_CONSUMER, GOOGLE_ACK_OUTBOX] : [])
]

/** Test / emulator endpoints (the server binary uses none). */
export interface PlatformOverrides {
  readonly pubsubApiEndpoint?: string | undefined
  readonly androidPublisherApiRoot?: string | undefined
}

/**
 * Google Play as `GooglePlay.layer` wires it (Android Publisher, RTDN handler, Pub/Sub consumer,
 * acknowledgement outbox worker), with the consumer's and the outbox's fibers reported to
 * `WorkerHealth` separately.
 */
const googleLayer = (google: NonNullable<ServerConfigShape["google"]>, overrides: PlatformOverrides) => {
  const publisher = AndroidPublisher.layer({
    packageName: google.packageName,
    subscriptionProductId: google.subscriptionProductId,
    credentialsPath: google.credentialsPath,
    apiRoot: overrides.androidPublisherApiRoot
  })
  const rtdn = GooglePlayRtdn.layer({ packageName: google.packageName })
  const consumer = track(
    GOOGLE_CONSUMER,
    GooglePubSubConsumer.layer({
      projectId: google.projectId,
      subscriptionName: google.subscriptionName,
      credentialsPath: google.credentialsPath,
      apiEndpoint: overrides.pubsubApiEndpoint
    })
  )
  const ack = track(GOOGLE_ACK_OUTBOX, GoogleAckOutboxWorker.layer())
  return Layer.mergeAll(consumer.pipe(Layer.provideMerge(rtdn)), ack).pipe(Layer.provideMerge(publisher))
}

/**
 * Background platform work; needs the core services (and SqlClient for the PostgreSQL lease) and
 * `WorkerHealth`, where each platform fiber is reported alive while it runs (`platformWorkerNames`).
 */
export const platformWorkers = (config: ServerConfigShape, overrides: PlatformOverrides = {}) => {
  // The catch-up applies missed notifications through the same AppleNotifications service.
  const apple = config.apple
    ? track(APPLE_CATCH_UP, AppleWebhook.layerCatchUpFromServerConfig(config.apple)).pipe(Layer.provide(appleHttpLayer(config)))
    : Layer.empty
  const google = config.google
    ? googleStatsSampler.pipe(
      Layer.provideMerge(googleLayer(config.google, overrides)),
      Layer.provide(
        config.database._tag === "Postgres"
          ? GooglePubSubConsumer.GoogleConsumerLease.pgAdvisoryLock()
          : GooglePubSubConsumer.GoogleConsumerLease.inProcess
      )
    )
    : Layer.empty
  return Layer.mergeAll(apple, google)
}
