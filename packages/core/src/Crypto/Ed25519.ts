import * as ed from "@noble/ed25519"
import { sha512 } from "@noble/hashes/sha2.js"
import * as nodeCrypto from "node:crypto"

// noble's sync API needs a SHA-512 implementation wired in once.
ed.hashes.sha512 = sha512

/**
 * Ed25519 with libsodium's strictness (decision D6).
 *
 * Verification runs natively through `node:crypto` (≈20× faster than pure JS) after the checks that
 * libsodium's `crypto_sign_verify_detached` makes and OpenSSL does not: canonical S, canonical public
 * key, public key and R not of small order. OpenSSL then performs the cofactorless check with a
 * byte-wise R comparison, as libsodium does. `verifyPortable` is the pure-JS path with the same rules.
 */

const L = 0x1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3edn

/** libsodium's blocklist of small-order encodings (compared ignoring the sign bit). */
const SMALL_ORDER: ReadonlyArray<Uint8Array> = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
].map((h) => new Uint8Array(Buffer.from(h, "hex")))

export const hasSmallOrder = (p: Uint8Array): boolean =>
  SMALL_ORDER.some((bad) => {
    let c = 0
    for (let j = 0; j < 31; j++) c |= p[j] ^ bad[j]
    c |= (p[31] & 0x7f) ^ bad[31]
    return c === 0
  })

/** y ≥ p (2^255 − 19) is a non-canonical point encoding. */
export const isCanonicalPoint = (p: Uint8Array): boolean => {
  if ((p[31] & 0x7f) !== 0x7f) return true
  for (let i = 30; i > 0; i--) if (p[i] !== 0xff) return true
  return p[0] < 0xed
}

/** L little-endian, for a byte-wise S < L comparison (no BigInt on the hot path). */
const L_BYTES = (() => {
  const b = new Uint8Array(32)
  let v = L
  for (let i = 0; i < 32; i++, v >>= 8n) b[i] = Number(v & 0xffn)
  return b
})()

/** S < L (libsodium `sc25519_is_canonical`), most significant byte first. */
export const scalarIsCanonical = (s: Uint8Array): boolean => {
  for (let i = 31; i >= 0; i--) {
    if (s[i] !== L_BYTES[i]) return s[i] < L_BYTES[i]
  }
  return false // S == L
}

/** The checks libsodium applies before the curve equation. */
export const passesLibsodiumPrechecks = (sig: Uint8Array, publicKey: Uint8Array): boolean =>
  sig.length === 64 &&
  publicKey.length === 32 &&
  scalarIsCanonical(sig.subarray(32)) &&
  !hasSmallOrder(sig.subarray(0, 32)) &&
  isCanonicalPoint(publicKey) &&
  !hasSmallOrder(publicKey)

const b64url = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url")

export const publicKeyObject = (publicKey: Uint8Array): nodeCrypto.KeyObject =>
  nodeCrypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: b64url(publicKey) }, format: "jwk" })

export const verify = (sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean => {
  if (!passesLibsodiumPrechecks(sig, publicKey)) return false
  try {
    return nodeCrypto.verify(null, message, publicKeyObject(publicKey), sig)
  } catch {
    return false // OpenSSL refuses to decode some off-curve points
  }
}

/** Pure-JS verification with the same strictness, for hosts without `node:crypto` Ed25519. */
export const verifyPortable = (sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean => {
  if (!passesLibsodiumPrechecks(sig, publicKey)) return false
  try {
    return ed.verify(sig, message, publicKey, { zip215: false })
  } catch {
    return false
  }
}

const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex")

/** A signing key derived from a 32-byte seed (PyNaCl `SigningKey` bytes). */
export interface SigningKey {
  readonly seed: Uint8Array
  readonly publicKey: Uint8Array
  readonly sign: (message: Uint8Array) => Uint8Array
}

export const signingKeyFromSeed = (seed: Uint8Array): SigningKey => {
  if (seed.length !== 32) throw new RangeError("Ed25519 seed must be 32 bytes")
  const privateKey = nodeCrypto.createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: "der",
    type: "pkcs8"
  })
  const jwk = nodeCrypto.createPublicKey(privateKey).export({ format: "jwk" })
  const publicKey = new Uint8Array(Buffer.from(jwk.x as string, "base64url"))
  return {
    seed: new Uint8Array(seed),
    publicKey,
    sign: (message) => new Uint8Array(nodeCrypto.sign(null, message, privateKey))
  }
}

export const publicKeyFromSeed = (seed: Uint8Array): Uint8Array => signingKeyFromSeed(seed).publicKey

export const randomSeed = (): Uint8Array => new Uint8Array(nodeCrypto.randomBytes(32))
