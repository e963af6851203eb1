import { Effect } from "effect"
import * as Ed25519 from "./Crypto/Ed25519.js"
import { genIndexHash, proofHash } from "./Crypto/Hashes.js"
import { x25519KeyPairFromEd25519Seed } from "./Crypto/X25519.js"
import { hex } from "./Crypto/Bytes.js"
import { Database, storage } from "./Storage/Database.js"
import { decodeRuntime } from "./Storage/Rows.js"

/** A signed proof (protocol.md §3.5). */
export interface ProProof {
  readonly version: 0
  readonly genIndexHash: Uint8Array
  readonly rotatingPkey: Uint8Array
  readonly expiryUnixTsMs: number
  readonly sig: Uint8Array
}

export interface ProProofJson {
  readonly version: 0
  readonly gen_index_hash: string
  readonly rotating_pkey: string
  readonly expiry_unix_ts_ms: number
  readonly sig: string
}

export const proofToJson = (p: ProProof): ProProofJson => ({
  version: p.version,
  gen_index_hash: hex(p.genIndexHash),
  rotating_pkey: hex(p.rotatingPkey),
  expiry_unix_ts_ms: p.expiryUnixTsMs,
  sig: hex(p.sig)
})

/**
 * The backend's key material, loaded once from the runtime row (the Database layer has already
 * bootstrapped it) and cached for the life of the layer.
 */
export class BackendKeys extends Effect.Service<BackendKeys>()("@session-pro/core/BackendKeys", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const rows = yield* storage(db.sql`SELECT gen_index, gen_index_salt, backend_key, last_expire_unix_ts_ms,
      apple_notification_checkpoint_unix_ts_ms, revocation_ticket FROM runtime LIMIT 1`)
    const runtime = decodeRuntime(rows[0])
    const signingKey = Ed25519.signingKeyFromSeed(runtime.backend_key)
    const salt = runtime.gen_index_salt
    const x25519 = x25519KeyPairFromEd25519Seed(runtime.backend_key)
    const hashGenIndex = (genIndex: number) => genIndexHash(genIndex, salt)
    /** Build and sign a version-0 proof for `genIndex`. */
    const signProof = (genIndex: number, rotatingPkey: Uint8Array, expiryUnixTsMs: number): ProProof => {
      const gih = hashGenIndex(genIndex)
      return {
        version: 0,
        genIndexHash: gih,
        rotatingPkey: new Uint8Array(rotatingPkey),
        expiryUnixTsMs,
        sig: signingKey.sign(proofHash(0, gih, rotatingPkey, expiryUnixTsMs))
      }
    }
    return { signingKey, salt, x25519, publicKey: signingKey.publicKey, genIndexHash: hashGenIndex, signProof } as const
  })
}) {}
