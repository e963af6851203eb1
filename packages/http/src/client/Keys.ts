/**
 * Key material for the client: Ed25519 signing keys from 32-byte seeds (what the apps derive from
 * the account seed / generate per rotating key) or 64-byte libsodium secret keys (seed ‖ public).
 */
import { Ed25519, fromHex, hex } from "@session-pro/core"
import { ed25519 } from "@noble/curves/ed25519.js"

export type SigningKey = Ed25519.SigningKey

/** A key as the caller has it: a signing key, seed/secret-key bytes, or their hex (optional `0x`). */
export type KeyInput = SigningKey | Uint8Array | string

const isSigningKey = (k: KeyInput): k is SigningKey => typeof k === "object" && !(k instanceof Uint8Array) && "sign" in k

/** 32-byte seed or 64-byte libsodium secret key → signing key. Throws on anything else. */
export const signingKey = (k: KeyInput): SigningKey => {
  if (isSigningKey(k)) return k
  const raw = typeof k === "string" ? fromHex(k.trim().replace(/^0x/i, "")) : k
  if (raw.length !== 32 && raw.length !== 64) {
    throw new RangeError(`a key must be a 32-byte seed or a 64-byte secret key, got ${raw.length} bytes`)
  }
  const key = Ed25519.signingKeyFromSeed(raw.subarray(0, 32))
  if (raw.length === 64 && hex(raw.subarray(32)) !== hex(key.publicKey)) {
    throw new RangeError("the last 32 bytes of the secret key are not the public key of its seed")
  }
  return key
}

/** A fresh random key (a new rotating key, a throwaway test account). */
export const randomKey = (): SigningKey => Ed25519.signingKeyFromSeed(Ed25519.randomSeed())

/** 32 bytes or 64 hex → bytes; for public keys given as hex. */
export const publicKeyBytes = (k: Uint8Array | string, label = "public key"): Uint8Array => {
  const raw = typeof k === "string" ? fromHex(k.trim().replace(/^0x/i, "")) : k
  if (raw.length !== 32) throw new RangeError(`${label} must be 32 bytes, got ${raw.length}`)
  return raw
}

/**
 * The server's onion (X25519) public key from its backend Ed25519 public key: the Montgomery form,
 * what libsodium's `crypto_sign_ed25519_pk_to_curve25519` gives (protocol.md §3.7).
 */
export const onionKeyFromBackendKey = (backendPublicKey: Uint8Array | string): Uint8Array =>
  ed25519.utils.toMontgomery(publicKeyBytes(backendPublicKey, "backend public key"))

/** The dev-mode backend key (seed 0xCD×32, protocol.md §3.7). */
export const DEV_BACKEND_PUBLIC_KEY = "fc947730f49eb01427a66e050733294d9e520e545c7a27125a780634e0860a27"
