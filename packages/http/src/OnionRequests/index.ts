/**
 * Onion requests v4 (protocol.md §4): the `/oxen/v4/lsrpc` codec and handler, server and client.
 *
 *   import { OnionRequests } from "@session-pro/http"
 *   OnionRequests.handle(body, dispatch)            // Effect<{status, headers, body}, never, OnionRequests | R>
 *   OnionRequests.layer({ privateKey })              // or layerEffect / layerConfig
 *   OnionRequests.Client.buildRequest({ serverPublicKey, request })
 */
export * from "./Cipher.js"
export * from "./Handler.js"
export * from "./Inner.js"
export * from "./OnionRequests.js"
export * from "./Outer.js"
export * as Bencode from "./Bencode.js"
export * as Client from "./Client.js"
