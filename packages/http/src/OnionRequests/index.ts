/**
 * Onion requests v4 (protocol.md §4): the `/oxen/v4/lsrpc` codec and handler, server and client.
 *
 *   import { OnionRequests } from "@session-pro/http"
 *
 *   // server: mount as the body of POST /oxen/v4/lsrpc, returning {status, headers, body} as is
 *   OnionRequests.handle(bodyBytes, dispatch)   // Effect<InnerResponse, never, OnionRequests | R>
 *   OnionRequests.layer()                       // keys from BackendKeys (requires it)
 *   OnionRequests.layer({ privateKey })         // explicit keys; also layerEffect / layerConfig
 *
 *   // client (SDK, tests, benchmarks)
 *   const req = Either.getOrThrow(OnionRequests.Client.buildRequest({ serverPublicKey, request:
 *     OnionRequests.Client.jsonRequest("/get_pro_revocations", { version: 0, ticket: 0 }) }))
 *   // POST req.body, then:
 *   OnionRequests.Client.decryptReply(req, responseBytes)   // Either<{ code, headers, body, meta }, …>
 *
 * `dispatch(req: InnerRequest) => Effect<InnerResponse, E, R>` runs the inner request against the
 * same route table in-process; it should answer 404/405 itself and never fail (D4b), but if it
 * does the client still gets an encrypted status-2 envelope.
 */
export * from "./Cipher.js"
export * from "./Handler.js"
export * from "./Inner.js"
export * from "./OnionRequests.js"
export * from "./Outer.js"
export * as Bencode from "./Bencode.js"
export * as Client from "./Client.js"
