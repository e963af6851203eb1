/**
 * The client half of onion requests v4, as libsession / the apps do it: for the typed client
 * SDK, tests and benchmarks. Pure and synchronous; pass `ephemeralKey`/`nonce` to make the
 * output deterministic (the recorded vectors use client key 0x42×32 and nonce 00 01 02 …).
 */
import * as Either from "effect/Either"
import {
  type CipherError,
  decrypt,
  deriveClientKey,
  type EncType,
  encrypt,
  randomX25519KeyPair,
  x25519PublicKey,
  type X25519KeyPair
} from "./Cipher.js"
import { type ClientInnerRequest, encodeInnerRequest, type InnerReply, type InvalidInnerReply, parseInnerReply } from "./Inner.js"
import { encodeOuterFrame } from "./Outer.js"

export interface BuildRequestOptions {
  /** The server's X25519 public key (the Montgomery form of the backend Ed25519 key). */
  readonly serverPublicKey: Uint8Array
  readonly request: ClientInnerRequest
  /** Default `xchacha20` (libsession's default). */
  readonly encType?: EncType
  /**
   * The `enc_type` string written into the metadata. Default: the canonical name. `null` omits
   * the field, which the server reads as AES-GCM (what desktop does).
   */
  readonly encTypeLabel?: string | null
  /** How `ephemeral_key` is written; default lower-case hex (what every client sends). */
  readonly ephemeralKeyEncoding?: "hex" | "base64" | "base32z"
  /** Ephemeral secret key (32 bytes) or key pair; random when absent. */
  readonly ephemeralKey?: Uint8Array | X25519KeyPair
  /** Fixed request nonce, for vectors only. */
  readonly nonce?: Uint8Array
  /** Extra metadata keys (real traffic carries the last hop's `host`, `target`, …). */
  readonly extraMetadata?: Readonly<Record<string, unknown>>
}

/** Everything needed to read the reply to a request. */
export interface ClientSession {
  readonly encType: EncType
  readonly key: Uint8Array
  readonly ephemeralPublicKey: Uint8Array
}

export interface BuiltRequest extends ClientSession {
  /** The HTTP body to POST to `/oxen/v4/lsrpc`. */
  readonly body: Uint8Array
  readonly innerPlaintext: Uint8Array
}

const B32Z = "ybndrfg8ejkmcpqxot1uwisza345h769"
const toBase32z = (b: Uint8Array): string => {
  let out = ""
  let acc = 0
  let bits = 0
  for (const byte of b) {
    acc = ((acc << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += B32Z[(acc >> bits) & 31]
    }
  }
  if (bits > 0) out += B32Z[(acc << (5 - bits)) & 31]
  return out
}

const encodeKey = (pk: Uint8Array, encoding: BuildRequestOptions["ephemeralKeyEncoding"]): string => {
  const buf = Buffer.from(pk)
  switch (encoding) {
    case "base64":
      return buf.toString("base64")
    case "base32z":
      return toBase32z(pk)
    default:
      return buf.toString("hex")
  }
}

/**
 * Builds the outer body for a request. Fails only when the server key is unusable
 * (wrong length / small order).
 */
export const buildRequest = (options: BuildRequestOptions): Either.Either<BuiltRequest, CipherError> => {
  const encType = options.encType ?? "xchacha20"
  const ek = options.ephemeralKey
  const pair: X25519KeyPair =
    ek === undefined ? randomX25519KeyPair() : ek instanceof Uint8Array ? { privateKey: ek, publicKey: x25519PublicKey(ek) } : ek
  return Either.map(deriveClientKey(encType, pair, options.serverPublicKey), (key) => {
    const innerPlaintext = encodeInnerRequest(options.request)
    const ciphertext = encrypt(encType, key, innerPlaintext, options.nonce)
    const label = options.encTypeLabel === undefined ? encType : options.encTypeLabel
    const metadata: Record<string, unknown> = {
      ...options.extraMetadata,
      ephemeral_key: encodeKey(pair.publicKey, options.ephemeralKeyEncoding),
      ...(label === null ? {} : { enc_type: label })
    }
    return { body: encodeOuterFrame(ciphertext, metadata), innerPlaintext, encType, key, ephemeralPublicKey: pair.publicKey }
  })
}

/** Decrypts a 200 reply body and parses `[RMETA, DATA]`. */
export const decryptReply = (
  session: Pick<ClientSession, "encType" | "key">,
  body: Uint8Array
): Either.Either<InnerReply, CipherError | InvalidInnerReply> =>
  Either.flatMap(decrypt(session.encType, session.key, body), parseInnerReply)

/** Convenience for JSON routes: POST `json` (a string is sent verbatim) to `endpoint`. */
export const jsonRequest = (endpoint: string, json: unknown, headers: Readonly<Record<string, string>> = { "Content-Type": "application/json" }): ClientInnerRequest => ({
  method: "POST",
  endpoint,
  headers,
  body: typeof json === "string" ? json : JSON.stringify(json)
})
