/**
 * Proof verification for third parties (protocol.md §5) — what a message recipient does with a
 * proof it received, given the published backend public key:
 *   1. the backend signature over BLAKE2b-256("ProProof________", version ‖ gen_index_hash ‖
 *      rotating_pkey ‖ u64le(expiry)) verifies (libsodium-strict Ed25519);
 *   2. `now ≤ expiry_unix_ts_ms` (inclusive, as libsession's `pro_proof_is_active`);
 *   3. `gen_index_hash` is not revoked: listed with `effective_unix_ts_ms ≤ now`.
 * (Step 4, the message signature by `rotating_pkey`, belongs to the messaging layer; pass
 * `rotatingPublicKey` to at least pin the proof to the key you expect.)
 *
 * The reference's `examples/verify_pro_proof.py` hashes with the pre-2025-11 personalisation
 * `SeshProBackend__` and rejects every current proof; this uses `ProProof________` (core `proofHash`).
 */
import { Ed25519, equalBytes, fromHex, hex, proofHash } from "@session-pro/core"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Schemas from "../Protocol/Schemas.js"
import { publicKeyBytes } from "./Keys.js"

/** A proof as it travels in JSON (the `result` of add/generate). */
export type ProofJson = typeof Schemas.ProProof.Type
export type RevocationItem = typeof Schemas.RevocationItem.Type

export type VerdictStatus = "valid" | "malformed" | "bad_signature" | "wrong_rotating_key" | "expired" | "revoked"

export interface Verdict {
  readonly valid: boolean
  readonly status: VerdictStatus
  /** One readable sentence. */
  readonly reason: string
  /** The decoded proof (absent when malformed). */
  readonly proof?: ProofJson
}

export interface VerifyOptions {
  /** The backend's Ed25519 public key (32 bytes or 64 hex). */
  readonly backendPublicKey: Uint8Array | string
  /** Verifier's clock, Unix ms. */
  readonly nowMs: number
  /** The current revocation list (`items` of `/get_pro_revocations`), if the verifier has one. */
  readonly revocations?: ReadonlyArray<RevocationItem> | undefined
  /** The key that signed the carrying message; the proof must be for it. */
  readonly rotatingPublicKey?: Uint8Array | string | undefined
}

const decodeProof = Schema.decodeUnknownEither(Schemas.ProProof)

/** Step 1 only: does the backend signature verify? */
export const signatureValid = (proof: ProofJson, backendPublicKey: Uint8Array | string): boolean => {
  const h = proofHash(proof.version, fromHex(proof.gen_index_hash), fromHex(proof.rotating_pkey), proof.expiry_unix_ts_ms)
  return Ed25519.verify(fromHex(proof.sig), h, publicKeyBytes(backendPublicKey, "backend public key"))
}

/** Is `genIndexHash` revoked at `nowMs` by this list? */
export const isRevoked = (genIndexHash: string, revocations: ReadonlyArray<RevocationItem>, nowMs: number): RevocationItem | undefined =>
  revocations.find((r) => r.gen_index_hash.toLowerCase() === genIndexHash.toLowerCase() && r.effective_unix_ts_ms <= nowMs)

/** The full §5 check. Never throws: a malformed proof is a verdict too. */
export const verifyProof = (proof: unknown, options: VerifyOptions): Verdict => {
  const decoded = decodeProof(proof)
  if (Either.isLeft(decoded)) {
    return { valid: false, status: "malformed", reason: `not a v0 proof: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}` }
  }
  const p = decoded.right
  if (!signatureValid(p, options.backendPublicKey)) {
    return { valid: false, status: "bad_signature", reason: "the backend signature does not verify under the given key", proof: p }
  }
  if (options.rotatingPublicKey !== undefined) {
    const expected = publicKeyBytes(options.rotatingPublicKey, "rotating public key")
    if (!equalBytes(expected, fromHex(p.rotating_pkey))) {
      return { valid: false, status: "wrong_rotating_key", reason: `the proof is for rotating key ${p.rotating_pkey}, not ${hex(expected)}`, proof: p }
    }
  }
  if (options.nowMs > p.expiry_unix_ts_ms) {
    return {
      valid: false,
      status: "expired",
      reason: `expired at ${p.expiry_unix_ts_ms} (${new Date(p.expiry_unix_ts_ms).toISOString()}), now is ${options.nowMs}`,
      proof: p
    }
  }
  const revoked = options.revocations && isRevoked(p.gen_index_hash, options.revocations, options.nowMs)
  if (revoked) {
    return { valid: false, status: "revoked", reason: `gen_index_hash revoked since ${revoked.effective_unix_ts_ms}`, proof: p }
  }
  return {
    valid: true,
    status: "valid",
    reason: `valid until ${p.expiry_unix_ts_ms} (${new Date(p.expiry_unix_ts_ms).toISOString()})`,
    proof: p
  }
}
