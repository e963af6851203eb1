/**
 * The `OnionRequests` service: the handler bound to the server's X25519 key pair, in the shape
 * of Effect's platform adapters (`make` / `layer` / `layerConfig`).
 */
import { BackendKeys, x25519KeyPairFromEd25519Seed } from "./Core.js"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { type CipherError, x25519PublicKey, type X25519KeyPair } from "./Cipher.js"
import { type Dispatch, handler, type HandlerOptions } from "./Handler.js"
import type { InnerResponse } from "./Inner.js"
import { type DecryptedRequest, decryptRequest, MAX_BODY_BYTES, type OuterFrameError } from "./Outer.js"

export interface Service {
  /** The server's X25519 public key (what clients encrypt to). */
  readonly publicKey: Uint8Array
  readonly maxBodyBytes: number
  /** Outer parse + decryption only (for tooling/tests). Never throws. */
  readonly decryptRequest: (body: Uint8Array) => Either.Either<DecryptedRequest, OuterFrameError | CipherError>
  /** The whole §4.5 behaviour; mount as the body of `POST /oxen/v4/lsrpc`. Never fails. */
  readonly handle: <E, R>(body: Uint8Array, dispatch: Dispatch<E, R>) => Effect.Effect<InnerResponse, never, R>
}

export class OnionRequests extends Context.Tag("@session-pro/http/OnionRequests")<OnionRequests, Service>() {}

export interface MakeOptions extends HandlerOptions {
  /** The server's X25519 private key (32 bytes), e.g. `BackendKeys.x25519.privateKey`. */
  readonly privateKey: Uint8Array
  /** Derived from `privateKey` when absent; checked against it when present. */
  readonly publicKey?: Uint8Array
}

export const make = (options: MakeOptions): Effect.Effect<Service> =>
  Effect.suspend(() => {
    if (options.privateKey.length !== 32) return Effect.dieMessage("OnionRequests: X25519 private key must be 32 bytes")
    const derived = x25519PublicKey(options.privateKey)
    if (options.publicKey !== undefined && Buffer.compare(Buffer.from(derived), Buffer.from(options.publicKey)) !== 0) {
      return Effect.dieMessage("OnionRequests: X25519 public key does not match the private key")
    }
    const keys: X25519KeyPair = { privateKey: options.privateKey, publicKey: derived }
    const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES
    return Effect.succeed<Service>({
      publicKey: derived,
      maxBodyBytes,
      decryptRequest: (body) => decryptRequest(keys, body, maxBodyBytes),
      handle: handler(keys, { ...options, maxBodyBytes })
    })
  })

/**
 * `layer()` / `layer(handlerOptions)`: production wiring, the key pair of the core's
 * `BackendKeys` (libsodium conversion of the backend Ed25519 seed).
 * `layer({ privateKey, ... })`: explicit keys (tests, embedding hosts), no requirements.
 */
export function layer(options: MakeOptions): Layer.Layer<OnionRequests>
export function layer(options?: HandlerOptions): Layer.Layer<OnionRequests, never, BackendKeys>
export function layer(options: HandlerOptions | MakeOptions = {}): Layer.Layer<OnionRequests, never, BackendKeys> {
  return "privateKey" in options && options.privateKey !== undefined
    ? Layer.effect(OnionRequests, make(options))
    : layerEffect(Effect.map(BackendKeys, (k) => ({ ...options, privateKey: k.x25519.privateKey, publicKey: k.x25519.publicKey })))
}

/** From an effect producing the keys, e.g. `Effect.map(BackendKeys, (k) => k.x25519)`. */
export const layerEffect = <E, R>(options: Effect.Effect<MakeOptions, E, R>): Layer.Layer<OnionRequests, E, R> =>
  Layer.effect(OnionRequests, Effect.flatMap(options, make))

/** From configuration; see `keyConfig` for ready-made sources. */
export const layerConfig = (config: Config.Config<MakeOptions>): Layer.Layer<OnionRequests, ConfigError.ConfigError> =>
  Layer.effect(OnionRequests, Effect.flatMap(config, make))

const hex32 = (name: string) =>
  Config.mapOrFail(Config.redacted(name), (r) => {
    const s = Redacted.value(r).trim()
    return /^[0-9a-fA-F]{64}$/.test(s)
      ? Either.right(new Uint8Array(Buffer.from(s, "hex")))
      : Either.left(ConfigError.InvalidData([name], "expected 64 hex characters (32 bytes)"))
  })

/** Config sources for the key: an X25519 private key, or the backend Ed25519 seed (libsodium conversion). */
export const keyConfig = {
  x25519PrivateKeyHex: (name: string): Config.Config<MakeOptions> => Config.map(hex32(name), (privateKey) => ({ privateKey })),
  ed25519SeedHex: (name: string): Config.Config<MakeOptions> =>
    Config.map(hex32(name), (seed) => ({ privateKey: x25519KeyPairFromEd25519Seed(seed).privateKey }))
}

/** Accessor: `OnionRequests.handle(body, dispatch)` with the service from the context. */
export const handle = <E, R>(body: Uint8Array, dispatch: Dispatch<E, R>): Effect.Effect<InnerResponse, never, OnionRequests | R> =>
  Effect.flatMap(OnionRequests, (s) => s.handle(body, dispatch))
