/**
 * The outer onion frame (protocol.md §4.1): `u32le N ‖ ciphertext[N] ‖ metadata JSON`, parsed
 * the way libsession's `OnionReqParser` does, plus the builder the client side uses.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { type CipherError, decrypt, deriveServerKey, type EncType, parseEncType, type X25519KeyPair } from "./Cipher.js"

/** libsession's default `max_size` (10 MiB); larger bodies are refused before any parsing. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024

export type OuterErrorReason =
  | "TooLarge"
  | "TooShort"
  | "CiphertextLengthExceedsBody"
  | "MetadataNotJson"
  | "MissingEphemeralKey"
  | "EphemeralKeyNotString"
  | "BadEncType"

export class OuterFrameError extends Data.TaggedError("OnionOuterFrameError")<{
  readonly reason: OuterErrorReason
}> {}

export interface OuterFrame {
  readonly ciphertext: Uint8Array
  /** The client's X25519 key; all zeros when `ephemeral_key` was in no recognised encoding. */
  readonly ephemeralKey: Uint8Array
  readonly encType: EncType
  readonly metadata: Readonly<Record<string, unknown>>
}

// ---------------------------------------------------------------------------------------------
// ephemeral_key encodings (oxen `parse_x25519_pubkey`)

const HEX_RE = /^[0-9a-fA-F]{64}$/
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
const B32Z = "ybndrfg8ejkmcpqxot1uwisza345h769"

/** Decodes MSB-first `bitsPerChar` groups into `out`, dropping the trailing partial byte like oxenc. */
const decodeRadix2 = (chars: string, alphabet: (c: string) => number, bitsPerChar: number): Uint8Array => {
  const out = new Uint8Array(32)
  let acc = 0
  let bits = 0
  let o = 0
  for (const ch of chars) {
    acc = ((acc << bitsPerChar) | alphabet(ch)) & 0xffff
    bits += bitsPerChar
    if (bits >= 8) {
      bits -= 8
      if (o < 32) out[o++] = (acc >> bits) & 0xff
    }
  }
  return out
}

const isBase64Key = (s: string): boolean => {
  // 43 unpadded chars, or 44 ending in '=' (oxenc also tolerates "==", which decodes to 31 bytes).
  if (!(s.length === 43 || (s.length === 44 && s.endsWith("=")))) return false
  let body = s
  if (s.length % 4 === 0) {
    if (body.endsWith("=")) body = body.slice(0, -1)
    if (body.endsWith("=")) body = body.slice(0, -1)
  }
  if (body.length % 4 === 1) return false
  for (const c of body) if (!B64.includes(c)) return false
  return true
}

const isBase32zKey = (s: string): boolean => {
  if (s.length !== 52) return false
  for (const c of s.toLowerCase()) if (!B32Z.includes(c)) return false
  return true
}

/**
 * `ephemeral_key` → 32 bytes. Accepts 32 raw bytes (UTF-8 length), 64 hex, 43/44 base64
 * (standard alphabet) and 52 base32z (case-insensitive); anything else silently becomes the
 * all-zero key, which later fails the shared-secret check — exactly libsession's behaviour.
 */
export const parseEphemeralKey = (s: string): Uint8Array => {
  // UTF-8 never has fewer bytes than the string has UTF-16 units: longer strings cannot be raw.
  if (s.length <= 32) {
    const utf8 = new TextEncoder().encode(s)
    if (utf8.length === 32) return utf8
  }
  if (s.length === 64 && HEX_RE.test(s)) return new Uint8Array(Buffer.from(s, "hex"))
  if (isBase64Key(s)) return decodeRadix2(s.replace(/=+$/, ""), (c) => B64.indexOf(c), 6)
  if (isBase32zKey(s)) return decodeRadix2(s.toLowerCase(), (c) => B32Z.indexOf(c), 5)
  return new Uint8Array(32)
}

// ---------------------------------------------------------------------------------------------
// frame

const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

/** nlohmann::json::parse of the metadata: strict JSON, valid UTF-8 (a leading BOM is skipped). */
const parseMetadataJson = (bytes: Uint8Array): unknown => JSON.parse(utf8Fatal.decode(bytes))

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k)

// Module-level, not a closure per call (tsx's keepNames names each closure as it is created).
const fail = (reason: OuterErrorReason) => Either.left(new OuterFrameError({ reason }))

/** Parses the outer body. Never throws. */
export const parseOuterFrame = (
  body: Uint8Array,
  maxBodyBytes: number = MAX_BODY_BYTES
): Either.Either<OuterFrame, OuterFrameError> => {
  if (body.length < 4) return fail("TooShort")
  if (body.length > maxBodyBytes) return fail("TooLarge")
  const n = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, true)
  if (body.length - 4 < n) return fail("CiphertextLengthExceedsBody")
  const ciphertext = body.subarray(4, 4 + n)
  let metadata: unknown
  try {
    metadata = parseMetadataJson(body.subarray(4 + n))
  } catch {
    return fail("MetadataNotJson")
  }
  // nlohmann's find() on a non-object finds nothing, so arrays/strings end up "missing key".
  const obj = typeof metadata === "object" && metadata !== null && !Array.isArray(metadata) ? (metadata as Record<string, unknown>) : {}
  let encType: EncType = "aes-gcm" // absent → legacy AES-GCM default
  if (hasOwn(obj, "enc_type")) {
    const e = obj.enc_type
    const parsed = typeof e === "string" ? parseEncType(e) : undefined
    if (parsed === undefined) return fail("BadEncType")
    encType = parsed
  }
  if (!hasOwn(obj, "ephemeral_key")) return fail("MissingEphemeralKey")
  const k = obj.ephemeral_key
  if (typeof k !== "string") return fail("EphemeralKeyNotString")
  return Either.right({ ciphertext, ephemeralKey: parseEphemeralKey(k), encType, metadata: obj })
}

/** What a successfully decrypted request carries: enough to encrypt the reply. */
export interface DecryptedRequest {
  readonly encType: EncType
  /** Symmetric key for this exchange (request and reply). */
  readonly key: Uint8Array
  readonly clientPublicKey: Uint8Array
  readonly plaintext: Uint8Array
  readonly metadata: Readonly<Record<string, unknown>>
}

/** Outer parse + key agreement + decryption; any failure is an outer HTTP 400. Never throws. */
export const decryptRequest = (
  server: X25519KeyPair,
  body: Uint8Array,
  maxBodyBytes: number = MAX_BODY_BYTES
): Either.Either<DecryptedRequest, OuterFrameError | CipherError> =>
{
  const frame = parseOuterFrame(body, maxBodyBytes)
  if (Either.isLeft(frame)) return Either.left(frame.left)
  const { encType, ephemeralKey, ciphertext, metadata } = frame.right
  const key = deriveServerKey(encType, server, ephemeralKey)
  if (Either.isLeft(key)) return Either.left(key.left)
  const plaintext = decrypt(encType, key.right, ciphertext)
  if (Either.isLeft(plaintext)) return Either.left(plaintext.left)
  return Either.right({ encType, key: key.right, clientPublicKey: ephemeralKey, plaintext: plaintext.right, metadata })
}

/** Client side: `u32le(len) ‖ ciphertext ‖ JSON(metadata)`. */
export const encodeOuterFrame = (ciphertext: Uint8Array, metadata: Readonly<Record<string, unknown>>): Uint8Array => {
  const meta = new TextEncoder().encode(JSON.stringify(metadata))
  const out = new Uint8Array(4 + ciphertext.length + meta.length)
  new DataView(out.buffer).setUint32(0, ciphertext.length, true)
  out.set(ciphertext, 4)
  out.set(meta, 4 + ciphertext.length)
  return out
}
