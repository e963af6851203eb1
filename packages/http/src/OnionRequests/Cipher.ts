/**
 * Onion hop encryption (protocol.md §4.2): key agreement and the two AEADs.
 *
 * Both directions use the same symmetric key; only the nonce differs. Every function here is
 * total: failures come back as `Either.left`, never as exceptions, because the onion route must
 * turn any failure into a plain HTTP 400 (§4.5).
 */
import { gcm } from "@noble/ciphers/aes.js"
import { hchacha, xchacha20poly1305 } from "@noble/ciphers/chacha.js"
import { randomBytes } from "@noble/ciphers/utils.js"
import { x25519 } from "@noble/curves/ed25519.js"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { blake2b256, concat, x25519SharedSecret } from "./Core.js"
import * as Data from "effect/Data"
import { createCipheriv, createDecipheriv, getCiphers } from "node:crypto"
import { endianness } from "node:os"
import * as Either from "effect/Either"

/** The two ciphers; the wire has aliases for each (see `parseEncType`). */
export type EncType = "xchacha20" | "aes-gcm"

/** Nonce sizes: XChaCha20-Poly1305-IETF 24 bytes, AES-256-GCM 12 bytes; both have a 16-byte tag. */
export const NONCE_BYTES: Readonly<Record<EncType, number>> = { xchacha20: 24, "aes-gcm": 12 }
export const TAG_BYTES = 16

/** libsession `parse_enc_type`: exact, case-sensitive spellings. */
export const parseEncType = (s: string): EncType | undefined => {
  switch (s) {
    case "xchacha20":
    case "xchacha20-poly1305":
      return "xchacha20"
    case "aes-gcm":
    case "gcm":
      return "aes-gcm"
    default:
      return undefined
  }
}

export class CipherError extends Data.TaggedError("OnionCipherError")<{
  readonly reason: "BadKey" | "ZeroSharedSecret" | "CiphertextTooShort" | "AuthenticationFailed"
}> {}

/** A 32-byte X25519 key pair (the server's long-term one, or a client's ephemeral one). */
export interface X25519KeyPair {
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
}

export const x25519PublicKey = (privateKey: Uint8Array): Uint8Array => x25519.getPublicKey(privateKey)

/** Fresh ephemeral key pair for a client request. */
export const randomX25519KeyPair = (): X25519KeyPair => {
  const privateKey = randomBytes(32)
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) }
}

const LOKI = new TextEncoder().encode("LOKI")

/**
 * Symmetric key from the X25519 shared secret `s`.
 * xchacha20: plain BLAKE2b-256(s ‖ A ‖ B) with A = client pub, B = server pub — the same order on
 * both sides (the core's `blake2b256` with no personalisation/salt is plain BLAKE2b).
 * aes-gcm: HMAC-SHA256(key = "LOKI", msg = s).
 */
export const keyFromSharedSecret = (
  encType: EncType,
  sharedSecret: Uint8Array,
  clientPublicKey: Uint8Array,
  serverPublicKey: Uint8Array
): Uint8Array =>
  encType === "xchacha20"
    ? blake2b256(concat(sharedSecret, clientPublicKey, serverPublicKey))
    : hmac(sha256, LOKI, sharedSecret)

const sharedSecret = (privateKey: Uint8Array, publicKey: Uint8Array): Either.Either<Uint8Array, CipherError> => {
  if (privateKey.length !== 32 || publicKey.length !== 32) return Either.left(new CipherError({ reason: "BadKey" }))
  try {
    return Either.right(x25519SharedSecret(privateKey, publicKey))
  } catch {
    // Small-order peer keys (incl. the all-zero key an unparsable ephemeral_key turns into).
    return Either.left(new CipherError({ reason: "ZeroSharedSecret" }))
  }
}

/** Server side: key for a request from `clientPublicKey` (= the reply key as well). */
export const deriveServerKey = (
  encType: EncType,
  server: X25519KeyPair,
  clientPublicKey: Uint8Array
): Either.Either<Uint8Array, CipherError> =>
  Either.map(sharedSecret(server.privateKey, clientPublicKey), (s) =>
    keyFromSharedSecret(encType, s, clientPublicKey, server.publicKey)
  )

/** Client side: key for a request to `serverPublicKey` with the client's ephemeral key pair. */
export const deriveClientKey = (
  encType: EncType,
  client: X25519KeyPair,
  serverPublicKey: Uint8Array
): Either.Either<Uint8Array, CipherError> =>
  Either.map(sharedSecret(client.privateKey, serverPublicKey), (s) =>
    keyFromSharedSecret(encType, s, client.publicKey, serverPublicKey)
  )

/** Pure-JS AEADs (@noble/ciphers): the reference implementation, and the fallback. */
export const nobleAead = (encType: EncType, key: Uint8Array, nonce: Uint8Array) =>
  encType === "xchacha20" ? xchacha20poly1305(key, nonce) : gcm(key, nonce)

// Node's OpenSSL AEADs are ~50× faster than noble's AES-GCM (≈1 s for a 10 MiB body otherwise,
// on the event loop). XChaCha20-Poly1305 = ChaCha20-Poly1305-IETF under the HChaCha20 subkey
// with nonce 0⁴ ‖ nonce[16..24]; noble's `hchacha` takes native-endian words, hence LE only.
const SIGMA = new Uint32Array(new TextEncoder().encode("expand 32-byte k").buffer)
/** OpenSSL algorithm, key and 12-byte nonce for one message. */
type NativeParams = [string, Uint8Array, Uint8Array]
// A copy into a fresh buffer (also for a Buffer argument, whose `slice()` is only a view).
const words = (b: Uint8Array) => new Uint32Array(Uint8Array.prototype.slice.call(b).buffer)
const nativeParams = (encType: EncType, key: Uint8Array, nonce: Uint8Array): NativeParams => {
  if (encType === "aes-gcm") return ["aes-256-gcm", key, nonce]
  const sub = new Uint32Array(8)
  hchacha(SIGMA, words(key), words(nonce.subarray(0, 16)), sub)
  const n = new Uint8Array(12)
  n.set(nonce.subarray(16, 24), 4)
  return ["chacha20-poly1305", new Uint8Array(sub.buffer), n]
}
const useNative = endianness() === "LE" && getCiphers().includes("chacha20-poly1305") && getCiphers().includes("aes-256-gcm")

// Plain functions rather than an object of closures per call: the server runs under tsx, whose
// keepNames transform gives every named closure a `name` property at creation (≈0.3 µs each).
const nativeEncrypt = ([alg, k, n]: NativeParams, plaintext: Uint8Array, prefix?: Uint8Array): Uint8Array => {
  const c = createCipheriv(alg as "aes-256-gcm", k, n, { authTagLength: TAG_BYTES })
  const body = c.update(plaintext)
  const final = c.final()
  const tag = c.getAuthTag()
  const out = prefix === undefined ? Buffer.concat([body, final, tag]) : Buffer.concat([prefix, body, final, tag])
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** `prefix ‖ E(parts[0] ‖ parts[1] ‖ …) ‖ tag`: a stream cipher, so one update per part. */
const nativeEncryptParts = ([alg, k, n]: NativeParams, parts: ReadonlyArray<Uint8Array>, prefix: Uint8Array): Uint8Array => {
  const c = createCipheriv(alg as "aes-256-gcm", k, n, { authTagLength: TAG_BYTES })
  const out: Array<Uint8Array> = [prefix]
  for (const p of parts) if (p.length > 0) out.push(c.update(p))
  const final = c.final()
  if (final.length > 0) out.push(final)
  out.push(c.getAuthTag())
  const b = Buffer.concat(out)
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/** Throws on authentication failure (callers map that to a `CipherError`). */
const nativeDecrypt = ([alg, k, n]: NativeParams, data: Uint8Array): Uint8Array => {
  if (data.length < TAG_BYTES) throw new Error("ciphertext shorter than the tag")
  const d = createDecipheriv(alg as "aes-256-gcm", k, n, { authTagLength: TAG_BYTES })
  d.setAuthTag(data.subarray(data.length - TAG_BYTES))
  const body = d.update(data.subarray(0, data.length - TAG_BYTES))
  const final = d.final() // empty for both AEADs; checks the tag
  const out = final.length === 0 ? body : Buffer.concat([body, final])
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/**
 * `nonce ‖ ciphertext ‖ tag`. Pass `nonce` only for deterministic tests/vectors; otherwise a
 * fresh CSPRNG nonce is drawn (the reference does the same for every reply).
 */
export const encrypt = (encType: EncType, key: Uint8Array, plaintext: Uint8Array, nonce?: Uint8Array): Uint8Array => {
  const n = nonce ?? freshNonce(NONCE_BYTES[encType])
  if (n.length !== NONCE_BYTES[encType]) throw new RangeError(`${encType} nonce must be ${NONCE_BYTES[encType]} bytes`)
  if (useNative) return nativeEncrypt(nativeParams(encType, key, n), plaintext, n)
  return concat(n, nobleAead(encType, key, n).encrypt(plaintext))
}

/**
 * `encrypt` of the concatenation of `parts`, without building the plaintext first: the reply's
 * bencode frame around a large body is encrypted piece by piece (same bytes as `encrypt`).
 */
export const encryptParts = (
  encType: EncType,
  key: Uint8Array,
  parts: ReadonlyArray<Uint8Array>,
  nonce?: Uint8Array
): Uint8Array => {
  if (!useNative) return encrypt(encType, key, concat(...parts), nonce)
  const n = nonce ?? freshNonce(NONCE_BYTES[encType])
  if (n.length !== NONCE_BYTES[encType]) throw new RangeError(`${encType} nonce must be ${NONCE_BYTES[encType]} bytes`)
  return nativeEncryptParts(nativeParams(encType, key, n), parts, n)
}

/**
 * Fresh CSPRNG nonces cut from a refilled random block: one OpenSSL call per ~170 replies instead
 * of one per reply. Every byte is handed out once.
 */
const NONCE_POOL_BYTES = 4096
let noncePool = new Uint8Array(0)
let noncePoolAt = 0
const freshNonce = (n: number): Uint8Array => {
  if (noncePoolAt + n > noncePool.length) {
    noncePool = randomBytes(NONCE_POOL_BYTES)
    noncePoolAt = 0
  }
  const out = noncePool.slice(noncePoolAt, noncePoolAt + n)
  noncePoolAt += n
  return out
}

/** Inverse of `encrypt`; a wrong key, a tampered byte or a short input is a `CipherError`. */
export const decrypt = (encType: EncType, key: Uint8Array, data: Uint8Array): Either.Either<Uint8Array, CipherError> => {
  const nb = NONCE_BYTES[encType]
  if (key.length !== 32) return Either.left(new CipherError({ reason: "BadKey" }))
  if (data.length < nb + TAG_BYTES) return Either.left(new CipherError({ reason: "CiphertextTooShort" }))
  try {
    const nonce = data.subarray(0, nb)
    const body = data.subarray(nb)
    return Either.right(useNative ? nativeDecrypt(nativeParams(encType, key, nonce), body) : nobleAead(encType, key, nonce).decrypt(body))
  } catch {
    return Either.left(new CipherError({ reason: "AuthenticationFailed" }))
  }
}
