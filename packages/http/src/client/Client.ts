/**
 * The typed Session Pro client (Effect API). One `ProClient` talks to one server:
 * - builds and signs every request from key material (Requests.ts, protocol.md §3.2);
 * - sends it as a plain JSON POST, or wrapped in a v4 onion request to the server's X25519 key
 *   (the same `/oxen/v4/lsrpc` entry point the apps use through service nodes, §4);
 * - decodes the reply with the Protocol schemas the server is described by (an error envelope
 *   becomes `ServerRejected` with its status and messages);
 * - verifies every returned proof against the backend key when one is configured (§5).
 *
 * Timestamps come from Effect's `Clock` plus an offset, so TestClock drives it, and a client
 * that moves a dev server's fake clock (`devClock`) follows it automatically.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { DevClockResult } from "../DevClock.js"
import type { EncType } from "../OnionRequests/Cipher.js"
import * as OnionClient from "../OnionRequests/Client.js"
import * as Schemas from "../Protocol/Schemas.js"
import { InvalidProof, type ProClientError, ServerRejected, TransportError, UnexpectedResponse } from "./Errors.js"
import { type KeyInput, onionKeyFromBackendKey, publicKeyBytes, signingKey } from "./Keys.js"
import * as Requests from "./Requests.js"
import * as Transport from "./Transport.js"
import { type ProofJson, type VerifyOptions, verifyProof } from "./Verify.js"

export type GetProRevocationsResult = typeof Schemas.GetProRevocationsResult.Type
export type GetProDetailsResult = typeof Schemas.GetProDetailsResult.Type
export type SetPaymentRefundRequestedResult = typeof Schemas.SetPaymentRefundRequestedResult.Type
export type { DevClockResult, ProofJson }

export const ONION_PATH = "/oxen/v4/lsrpc"

export interface OnionOptions {
  /** The server's X25519 key; default: derived from `backendPublicKey` (§3.7). */
  readonly serverPublicKey?: Uint8Array | string | undefined
  /** Default `xchacha20` (libsession's default). */
  readonly encType?: EncType | undefined
}

/** One request/response pair, for logging (the walkthrough example prints these). */
export interface Exchange {
  readonly path: string
  readonly request: unknown
  readonly httpStatus: number
  /** The response body as text (the decrypted inner body for onion requests). */
  readonly response: string
  readonly onion: boolean
}

export interface ClientOptions {
  /** The backend Ed25519 public key: proofs are verified against it, the onion key derived from it. */
  readonly backendPublicKey?: Uint8Array | string | undefined
  /** Wrap every client route in an onion request (`true` = key derived from `backendPublicKey`). */
  readonly onion?: boolean | OnionOptions | undefined
  /** Verify returned proofs (default: when `backendPublicKey` is set). */
  readonly verifyProofs?: boolean | undefined
  /** Called after every exchange. */
  readonly onExchange?: ((exchange: Exchange) => void) | undefined
  /** Start with this offset added to the clock (ms). `devClock` replies update it. */
  readonly clockOffsetMs?: number | undefined
  /** Adopt the server's fake time after each `devClock` call (default true). */
  readonly followDevClock?: boolean | undefined
}

export interface AddProPaymentInput {
  readonly master: KeyInput
  readonly rotating: KeyInput
  readonly payment: Requests.Payment
  /** Honoured only by a dev-mode server, for `DEV.` payment ids. */
  readonly dev?: Requests.DevPaymentOptions | undefined
}

export interface ProClientApi {
  readonly target: string
  /** Client time used for request timestamps: Clock + offset. */
  readonly now: Effect.Effect<number>
  readonly addProPayment: (input: AddProPaymentInput) => Effect.Effect<ProofJson, ProClientError>
  readonly generateProProof: (input: {
    readonly master: KeyInput
    readonly rotating: KeyInput
    readonly unixTsMs?: number | undefined
  }) => Effect.Effect<ProofJson, ProClientError>
  readonly getProRevocations: (input?: { readonly ticket?: number | undefined }) => Effect.Effect<GetProRevocationsResult, ProClientError>
  readonly getProDetails: (input: {
    readonly master: KeyInput
    readonly count?: number | undefined
    readonly unixTsMs?: number | undefined
  }) => Effect.Effect<GetProDetailsResult, ProClientError>
  readonly setPaymentRefundRequested: (input: {
    readonly master: KeyInput
    readonly appleTransactionId: string
    /** Default: now; `0` clears the flag. */
    readonly refundRequestedUnixTsMs?: number | undefined
    readonly unixTsMs?: number | undefined
  }) => Effect.Effect<SetPaymentRefundRequestedResult, ProClientError>
  /** Dev servers with `fake_clock` only: read (`{}`), set or advance the server's time. Never onion. */
  readonly devClock: (input?: { readonly setUnixTsMs?: number; readonly advanceMs?: number }) => Effect.Effect<DevClockResult, ProClientError>
  /** §5 with the client's clock and configured backend key (fetch `revocations` yourself). */
  readonly verifyProof: (proof: unknown, options?: Partial<VerifyOptions>) => Effect.Effect<ReturnType<typeof verifyProof>>
  /** Any body to any route, decoded only as far as the envelope (tests, odd requests). */
  readonly raw: (path: string, body: unknown) => Effect.Effect<{ readonly httpStatus: number; readonly json: unknown }, TransportError | UnexpectedResponse>
}

const utf8 = new TextEncoder()
const text = new TextDecoder()

const decodeJson = (path: string, httpStatus: number, bodyText: string): Either.Either<unknown, UnexpectedResponse> => {
  try {
    return Either.right(JSON.parse(bodyText))
  } catch {
    return Either.left(new UnexpectedResponse({ path, httpStatus, message: "the answer is not JSON", body: bodyText.slice(0, 500) }))
  }
}

const EnvelopeShape = Schema.Struct({ status: Schema.Int })

/** Decodes `{result,status:0}` with `result` or turns `{errors,status}` into `ServerRejected`. */
const decodeEnvelope = <A, I>(path: string, httpStatus: number, bodyText: string, result: Schema.Schema<A, I, never>) =>
  Effect.gen(function*() {
    if (httpStatus !== 200) {
      const title = /<title>([^<]*)<\/title>/i.exec(bodyText)?.[1]
      return yield* new UnexpectedResponse({ path, httpStatus, message: `HTTP ${httpStatus}${title ? ` (${title})` : ""}`, body: bodyText.slice(0, 500) })
    }
    const json = yield* decodeJson(path, httpStatus, bodyText)
    const shape = Schema.decodeUnknownEither(EnvelopeShape)(json)
    if (Either.isLeft(shape)) {
      return yield* new UnexpectedResponse({ path, httpStatus, message: "the answer is not a {status, result|errors} envelope", body: bodyText.slice(0, 500) })
    }
    if (shape.right.status !== 0) {
      const err = Schema.decodeUnknownEither(Schemas.ErrorEnvelope)(json)
      if (Either.isLeft(err)) {
        return yield* new UnexpectedResponse({ path, httpStatus, message: ParseResult.TreeFormatter.formatErrorSync(err.left), body: bodyText.slice(0, 500) })
      }
      return yield* new ServerRejected({ path, status: err.right.status, errors: err.right.errors })
    }
    const ok = Schema.decodeUnknownEither(Schemas.SuccessEnvelope(result))(json)
    if (Either.isLeft(ok)) {
      return yield* new UnexpectedResponse({
        path,
        httpStatus,
        message: `the result does not match the protocol: ${ParseResult.TreeFormatter.formatErrorSync(ok.left)}`,
        body: bodyText.slice(0, 500)
      })
    }
    return ok.right.result
  })

/** Builds a client over a transport. */
export const makeWith = (transport: Transport.Transport, options: ClientOptions = {}): ProClientApi => {
  const backendKey = options.backendPublicKey === undefined ? undefined : publicKeyBytes(options.backendPublicKey, "backend public key")
  const verifying = options.verifyProofs ?? backendKey !== undefined
  if (verifying && backendKey === undefined) throw new Error("verifyProofs needs backendPublicKey")
  const onion: { serverPublicKey: Uint8Array; encType: EncType } | undefined = (() => {
    if (!options.onion) return undefined
    const o: OnionOptions = options.onion === true ? {} : options.onion
    const serverPublicKey = o.serverPublicKey !== undefined
      ? publicKeyBytes(o.serverPublicKey, "onion server key")
      : backendKey !== undefined
      ? onionKeyFromBackendKey(backendKey)
      : undefined
    if (serverPublicKey === undefined) throw new Error("onion requests need onion.serverPublicKey or backendPublicKey")
    return { serverPublicKey, encType: o.encType ?? "xchacha20" }
  })()
  let offset = options.clockOffsetMs ?? 0
  const now = Effect.map(Clock.currentTimeMillis, (t) => t + offset)
  const report = (e: Exchange) => options.onExchange?.(e)

  /** POST JSON (possibly through the onion); returns the (inner) HTTP status and body text. */
  const exchange = (path: string, body: unknown, viaOnion: boolean) =>
    Effect.gen(function*() {
      const json = JSON.stringify(body)
      if (!viaOnion || onion === undefined) {
        const r = yield* transport.send("POST", path, utf8.encode(json), "application/json")
        const bodyText = text.decode(r.body)
        report({ path, request: body, httpStatus: r.status, response: bodyText, onion: false })
        return { status: r.status, text: bodyText }
      }
      const built = OnionClient.buildRequest({
        serverPublicKey: onion.serverPublicKey,
        encType: onion.encType,
        request: OnionClient.jsonRequest(path, json)
      })
      if (Either.isLeft(built)) return yield* new TransportError({ path, message: `cannot encrypt to the server key: ${built.left.reason}` })
      const r = yield* transport.send("POST", ONION_PATH, built.right.body, "application/octet-stream")
      if (r.status !== 200) {
        const bodyText = text.decode(r.body)
        report({ path, request: body, httpStatus: r.status, response: bodyText, onion: true })
        return yield* new UnexpectedResponse({ path, httpStatus: r.status, message: `onion entry point answered HTTP ${r.status}`, body: bodyText.slice(0, 500) })
      }
      const inner = OnionClient.decryptReply(built.right, r.body)
      if (Either.isLeft(inner)) {
        return yield* new TransportError({ path, message: `cannot decrypt the onion reply: ${inner.left._tag}`, cause: inner.left })
      }
      const bodyText = text.decode(inner.right.body)
      report({ path, request: body, httpStatus: inner.right.code, response: bodyText, onion: true })
      return { status: inner.right.code, text: bodyText }
    })

  const call = <A, I>(path: string, body: unknown, result: Schema.Schema<A, I, never>) =>
    Effect.flatMap(exchange(path, body, true), (r) => decodeEnvelope(path, r.status, r.text, result))

  const checkProof = (path: string, proof: ProofJson, rotating: Uint8Array) =>
    Effect.gen(function*() {
      if (!verifying || backendKey === undefined) return proof
      const verdict = verifyProof(proof, { backendPublicKey: backendKey, nowMs: yield* now, rotatingPublicKey: rotating })
      if (!verdict.valid) return yield* new InvalidProof({ path, verdict })
      return proof
    })

  const api: ProClientApi = {
    target: transport.target + (onion ? ` (onion, ${onion.encType})` : ""),
    now,
    addProPayment: (input) =>
      Effect.gen(function*() {
        const rotating = signingKey(input.rotating)
        const body = Requests.addProPayment({ ...input, rotating })
        const proof = yield* call("/add_pro_payment", body, Schemas.ProProof)
        return yield* checkProof("/add_pro_payment", proof, rotating.publicKey)
      }),
    generateProProof: (input) =>
      Effect.gen(function*() {
        const rotating = signingKey(input.rotating)
        const body = Requests.generateProProof({ master: input.master, rotating, unixTsMs: input.unixTsMs ?? (yield* now) })
        const proof = yield* call("/generate_pro_proof", body, Schemas.ProProof)
        return yield* checkProof("/generate_pro_proof", proof, rotating.publicKey)
      }),
    getProRevocations: (input) =>
      call("/get_pro_revocations", Requests.getProRevocations({ ticket: input?.ticket ?? 0 }), Schemas.GetProRevocationsResult),
    getProDetails: (input) =>
      Effect.gen(function*() {
        const body = Requests.getProDetails({ master: input.master, count: input.count ?? 10, unixTsMs: input.unixTsMs ?? (yield* now) })
        return yield* call("/get_pro_details", body, Schemas.GetProDetailsResult)
      }),
    setPaymentRefundRequested: (input) =>
      Effect.gen(function*() {
        const ts = input.unixTsMs ?? (yield* now)
        const body = Requests.setPaymentRefundRequested({
          master: input.master,
          appleTransactionId: input.appleTransactionId,
          refundRequestedUnixTsMs: input.refundRequestedUnixTsMs ?? ts,
          unixTsMs: ts
        })
        return yield* call("/set_payment_refund_requested", body, Schemas.SetPaymentRefundRequestedResult)
      }),
    devClock: (input = {}) =>
      Effect.gen(function*() {
        const body = input.setUnixTsMs !== undefined
          ? { set_unix_ts_ms: input.setUnixTsMs }
          : input.advanceMs !== undefined
          ? { advance_ms: input.advanceMs }
          : {}
        // Not routed through the onion: /dev/clock is an adapter route, not in the route table.
        const r = yield* exchange("/dev/clock", body, false)
        const result = yield* decodeEnvelope("/dev/clock", r.status, r.text, DevClockResult)
        if (options.followDevClock ?? true) {
          const local = yield* Clock.currentTimeMillis
          offset = result.unix_ts_ms - local
        }
        return result
      }),
    verifyProof: (proof, overrides = {}) =>
      Effect.gen(function*() {
        const key = overrides.backendPublicKey ?? backendKey
        if (key === undefined) throw new Error("verifyProof needs a backend public key")
        return verifyProof(proof, { ...overrides, backendPublicKey: key, nowMs: overrides.nowMs ?? (yield* now) })
      }),
    raw: (path, body) =>
      Effect.gen(function*() {
        const r = yield* exchange(path, body, path !== "/dev/clock")
        const json = yield* decodeJson(path, r.status, r.text)
        return { httpStatus: r.status, json }
      })
  }
  return api
}

/** A client for a server at `baseUrl` over HTTP (needs an `HttpClient`, e.g. `FetchHttpClient.layer`). */
export const make = (baseUrl: string, options: ClientOptions = {}): Effect.Effect<ProClientApi, never, HttpClient.HttpClient> =>
  Effect.map(Transport.http(baseUrl), (t) => makeWith(t, options))

/** A client over the route table of this process (needs the server's route services). */
export const makeInProcess = (options: ClientOptions = {}) => Effect.map(Transport.inProcess, (t) => makeWith(t, options))

/** The client as a service, for programs that take it from context. */
export class ProClient extends Context.Tag("@session-pro/http/client/ProClient")<ProClient, ProClientApi>() {
  static readonly layer = (baseUrl: string, options: ClientOptions = {}): Layer.Layer<ProClient, never, HttpClient.HttpClient> =>
    Layer.effect(ProClient, make(baseUrl, options))
}
