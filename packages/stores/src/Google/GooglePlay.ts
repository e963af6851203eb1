/**
 * Everything Google Play needs in a server, wired from one options object (the `[google]` config
 * section): Android Publisher client, RTDN handler, Pub/Sub consumer (needs a
 * {@link GoogleConsumerLease}; the process-local one is used when none is provided) and the
 * acknowledgement outbox worker. Requires the core services (e.g. `Backend.layer`).
 */
import { Config, Effect, Layer } from "effect"
import * as AndroidPublisher from "./AndroidPublisher.js"
import * as GoogleAckOutboxWorker from "./GoogleAckOutboxWorker.js"
import * as GooglePlayRtdn from "./GooglePlayRtdn.js"
import * as GooglePubSubConsumer from "./GooglePubSubConsumer.js"

export interface GooglePlayOptions {
  /** `[google] package_name`. */
  readonly packageName: string
  /** `[google] subscription_product_id`. */
  readonly subscriptionProductId: string
  /** `[google] cloud_project_id`. */
  readonly projectId: string
  /** `[google] cloud_subscription_name`. */
  readonly subscriptionName: string
  /** `[google] cloud_app_credentials_path` (Pub/Sub and Android Publisher). */
  readonly credentialsPath?: string | undefined
  readonly basePlans?: GooglePlayRtdn.GooglePlayRtdnOptions["basePlans"]
  /** Tests / emulators. */
  readonly androidPublisherApiRoot?: string | undefined
  readonly pubsubApiEndpoint?: string | undefined
  readonly consumer?: Partial<GooglePubSubConsumer.GooglePubSubConsumerOptions> | undefined
  readonly ackWorker?: GoogleAckOutboxWorker.GoogleAckOutboxWorkerOptions | undefined
}

export const layer = (o: GooglePlayOptions) => {
  const publisher = AndroidPublisher.layer({
    packageName: o.packageName,
    subscriptionProductId: o.subscriptionProductId,
    credentialsPath: o.credentialsPath,
    apiRoot: o.androidPublisherApiRoot
  })
  const rtdn = GooglePlayRtdn.layer({ packageName: o.packageName, basePlans: o.basePlans })
  const consumer = GooglePubSubConsumer.layer({
    ...o.consumer,
    projectId: o.projectId,
    subscriptionName: o.subscriptionName,
    credentialsPath: o.credentialsPath,
    apiEndpoint: o.pubsubApiEndpoint
  })
  return Layer.mergeAll(consumer.pipe(Layer.provideMerge(rtdn)), GoogleAckOutboxWorker.layer(o.ackWorker)).pipe(
    Layer.provideMerge(publisher)
  )
}

export const layerConfig = (options: Config.Config.Wrap<GooglePlayOptions>) =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(options), layer))
