import { x25519 } from "@noble/curves/ed25519.js"
import { sha512 } from "@noble/hashes/sha2.js"

/**
 * libsodium `crypto_sign_ed25519_sk_to_curve25519`: the onion-request key pair derived from the
 * backend's Ed25519 seed. Private = clamp(SHA-512(seed)[0..32]); public = its X25519 base point
 * multiple, which equals the Montgomery form of the Ed25519 public key.
 */
export const x25519KeyPairFromEd25519Seed = (seed: Uint8Array): { readonly privateKey: Uint8Array; readonly publicKey: Uint8Array } => {
  const h = sha512(seed).slice(0, 32)
  h[0] &= 248
  h[31] &= 127
  h[31] |= 64
  return { privateKey: h, publicKey: x25519.getPublicKey(h) }
}

/** X25519 shared secret; throws when the result is all zeros (a small-order peer key). */
export const x25519SharedSecret = (privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array => {
  const s = x25519.getSharedSecret(privateKey, peerPublicKey)
  if (s.every((b) => b === 0)) throw new Error("X25519 shared secret is zero")
  return s
}
