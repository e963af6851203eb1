/**
 * The `/oxen/v4/lsrpc` handler (protocol.md §4.5) as an Effect over a dispatcher that runs the
 * inner request against the same route table in-process.
 *
 *   outer parse / key agreement / decryption fails → HTTP 400, Werkzeug's plain HTML page
 *   inner plaintext malformed                       → HTTP 200, encrypted 400 "Invalid v4 onion request"
 *   otherwise                                       → HTTP 200, encrypted [RMETA, DATA] of the sub-response
 *
 * The handler never fails and never returns 500: a dispatcher that fails or dies (it should
 * not — D4b makes the routes answer status 2 themselves) is answered with a status-2 envelope
 * inside the encrypted reply (D4b), not with the reference's "Invalid v4 onion request".
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { encryptParts, type X25519KeyPair } from "./Cipher.js"
import {
  encodeInnerReplyParts,
  type InnerRequest,
  type InnerResponse,
  INVALID_REQUEST_REPLY,
  parseInnerRequest
} from "./Inner.js"
import { withRequestSpan } from "../Observability/Spans.js"
import { type DecryptedRequest, decryptRequest, MAX_BODY_BYTES } from "./Outer.js"

/** Runs one inner request in-process (the route engineer's in-process dispatch). */
export type Dispatch<E = never, R = never> = (request: InnerRequest) => Effect.Effect<InnerResponse, E, R>

const utf8 = (s: string) => new TextEncoder().encode(s)

/** Werkzeug's 400 page, byte for byte (exchange `onion_garbage`). */
export const BAD_REQUEST_HTML =
  "<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n<p>The browser (or proxy) sent a request that this server could not understand.</p>\n"

/** Outer failure: unencrypted HTTP 400. */
export const badRequestResponse = (): InnerResponse => ({
  status: 400,
  headers: { "content-type": "text/html; charset=utf-8" },
  body: utf8(BAD_REQUEST_HTML)
})

/** Flask's default content type for the raw encrypted reply (reference parity; clients ignore it). */
export const REPLY_CONTENT_TYPE = "text/html; charset=utf-8"

/** Default D4b answer when the dispatcher itself fails or dies. */
export const DISPATCH_FAILURE_MESSAGE = "Internal error: the request could not be processed"
export const dispatchFailureResponse = (): InnerResponse => ({
  status: 200,
  headers: { "content-type": "application/json" },
  body: utf8(`${JSON.stringify({ errors: [DISPATCH_FAILURE_MESSAGE], status: 2 })}\n`)
})

/** Encrypts an inner response for the client of `request`; `nonce` only for deterministic tests. */
export const encryptReply = (
  request: Pick<DecryptedRequest, "encType" | "key">,
  response: InnerResponse,
  nonce?: Uint8Array
): Uint8Array => encryptParts(request.encType, request.key, encodeInnerReplyParts(response), nonce)

/** The outer HTTP 200 carrying an encrypted reply. */
export const encryptedReplyResponse = (
  request: Pick<DecryptedRequest, "encType" | "key">,
  response: InnerResponse,
  nonce?: Uint8Array
): InnerResponse => ({
  status: 200,
  headers: { "content-type": REPLY_CONTENT_TYPE },
  body: encryptReply(request, response, nonce)
})

export interface HandlerOptions {
  /** Default 10 MiB (libsession's limit). */
  readonly maxBodyBytes?: number
  /** What to put in the encrypted reply when `dispatch` fails or dies; default status-2 envelope. */
  readonly onDispatchFailure?: (cause: Cause.Cause<unknown>) => InnerResponse
}

/**
 * The handler over a fixed server key pair. Never fails; interruption propagates. The pure steps
 * (outer frame, key agreement, decryption, inner parse) run in one `suspend`; only the inner
 * dispatch is a nested Effect.
 */
export const handler = (server: X25519KeyPair, options: HandlerOptions = {}) => {
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES
  const onDispatchFailure = options.onDispatchFailure ?? dispatchFailureResponse
  const traced = withRequestSpan("OnionRequests.handle")
  const onDispatchCause = (cause: Cause.Cause<unknown>): Effect.Effect<InnerResponse> =>
    Cause.isInterruptedOnly(cause)
      ? Effect.interrupt
      : Effect.as(Effect.logError("onion sub-request failed", cause), onDispatchFailure(cause))
  // Belt and braces: the pure steps are total, but a bug there must still not become a 500.
  const onDefect = (defect: unknown) => Effect.as(Effect.logError("onion handler defect", defect), badRequestResponse())
  return <E, R>(body: Uint8Array, dispatch: Dispatch<E, R>): Effect.Effect<InnerResponse, never, R> =>
    traced(Effect.catchAllDefect(
      Effect.suspend((): Effect.Effect<InnerResponse, never, R> => {
        const decrypted = decryptRequest(server, body, maxBodyBytes)
        if (Either.isLeft(decrypted)) {
          return Effect.as(
            Effect.logDebug("onion request rejected", decrypted.left._tag, decrypted.left.reason),
            badRequestResponse()
          )
        }
        const req = decrypted.right
        const inner = parseInnerRequest(req.plaintext)
        if (Either.isLeft(inner)) {
          return Effect.as(
            Effect.logWarning("Invalid v4 onion request", inner.left.reason),
            encryptedReplyResponse(req, INVALID_REQUEST_REPLY)
          )
        }
        return Effect.map(
          Effect.catchAllCause(Effect.suspend(() => dispatch(inner.right)), onDispatchCause),
          (response) => encryptedReplyResponse(req, response)
        )
      }),
      onDefect
    ))
}
