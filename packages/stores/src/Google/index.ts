export * as AndroidPublisher from "./AndroidPublisher.js"
export * as GoogleAckOutboxWorker from "./GoogleAckOutboxWorker.js"
export * as GooglePlay from "./GooglePlay.js"
export * as GooglePlayRtdn from "./GooglePlayRtdn.js"
export * as GooglePubSubConsumer from "./GooglePubSubConsumer.js"
export * as GoogleSchemas from "./Schemas.js"
/** Test support: a loopback fake of the Android Publisher endpoints (tests, fixture replay). */
export * as AndroidPublisherFake from "./testing/AndroidPublisherFake.js"
