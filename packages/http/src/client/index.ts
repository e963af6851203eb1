/**
 * `@session-pro/http/client` — the typed Session Pro client SDK.
 *
 *   import { ProClient, Keys, FetchHttpClient } from "@session-pro/http/client"
 *
 *   const program = Effect.gen(function*() {
 *     const client = yield* ProClient.make("http://127.0.0.1:8000", { backendPublicKey, onion: true })
 *     const master = Keys.signingKey(masterSeed), rotating = Keys.randomKey()
 *     const proof = yield* client.addProPayment({ master, rotating,
 *       payment: { provider: "google", purchaseToken, orderId } })   // signed, sent, decoded, verified
 *     const details = yield* client.getProDetails({ master, count: 10 })
 *   }).pipe(Effect.provide(FetchHttpClient.layer))
 *
 *   // async/await
 *   const c = await createProClient("http://127.0.0.1:8000", { backendPublicKey })
 *   await c.getProRevocations({ ticket: 0 })
 *
 *   // third parties: protocol.md §5
 *   Verify.verifyProof(proofJson, { backendPublicKey, nowMs: Date.now(), revocations })
 */
export * as FetchHttpClient from "@effect/platform/FetchHttpClient"
export * as ProClient from "./Client.js"
export type { ClientOptions, Exchange, OnionOptions, ProClientApi } from "./Client.js"
export * from "./Errors.js"
export * as Keys from "./Keys.js"
export { createProClient, type ProClientPromise } from "./Promise.js"
export * as Requests from "./Requests.js"
export * as Transport from "./Transport.js"
export * as Verify from "./Verify.js"
export { verifyProof } from "./Verify.js"
