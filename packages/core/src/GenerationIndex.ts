import { Effect } from "effect"
import { accountIdForMaster } from "./Crypto/Hashes.js"
import type { EntitlementResult } from "./Entitlement.js"
import { Database, type DatabaseShape, num } from "./Storage/Database.js"

/** Upsert-max of the per-gen-index proof expiry watermark (migration 10 table). */
export const recordProofExpiryWith = (db: DatabaseShape, genIndex: number, expiryUnixTsMs: number) =>
  Effect.asVoid(db.q`INSERT INTO gen_index_proof_expiry (gen_index, max_expiry_unix_ts_ms) VALUES (${genIndex}, ${expiryUnixTsMs})
    ON CONFLICT (gen_index) DO UPDATE SET max_expiry_unix_ts_ms = CASE
      WHEN excluded.max_expiry_unix_ts_ms > gen_index_proof_expiry.max_expiry_unix_ts_ms
      THEN excluded.max_expiry_unix_ts_ms ELSE gen_index_proof_expiry.max_expiry_unix_ts_ms END`)

/** §5.11: the global generation-index counter and the user upsert that goes with an allocation. */
export class GenerationIndex extends Effect.Service<GenerationIndex>()("@session-pro/core/GenerationIndex", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    /** Hand out the pre-increment value (a single atomic UPDATE, safe under concurrency). */
    const next = Effect.map(db.q`UPDATE runtime SET gen_index = gen_index + 1 RETURNING gen_index - 1 AS allocated`, (rows) => num(rows[0].allocated))
    /** Allocate a fresh index for `master` and upsert its user row with the best payment's values. */
    const allocate = (master: Uint8Array, ent: EntitlementResult) =>
      Effect.gen(function*() {
        const g = yield* next
        const b = ent.best
        yield* db.q`INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms,
            auto_renewing, refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
          VALUES (${master}, ${g}, ${b.expiry}, ${b.grace}, ${b.auto}, ${b.refund},
            ${accountIdForMaster(master)}, '')
          ON CONFLICT (master_pkey) DO UPDATE SET gen_index = excluded.gen_index,
            expiry_unix_ts_ms = excluded.expiry_unix_ts_ms, grace_period_duration_ms = excluded.grace_period_duration_ms,
            auto_renewing = excluded.auto_renewing, refund_requested_unix_ts_ms = excluded.refund_requested_unix_ts_ms,
            google_obfuscated_account_id = excluded.google_obfuscated_account_id,
            apple_app_account_token = excluded.apple_app_account_token`
        return g
      })
    /**
     * D4e: remember the latest proof expiry issued under a gen index, so a later revocation of that index
     * is listed until every proof under it has expired.
     */
    const recordProofExpiry = (genIndex: number, expiryUnixTsMs: number) => recordProofExpiryWith(db, genIndex, expiryUnixTsMs)
    const maxProofExpiry = (genIndex: number) =>
      Effect.map(
        db.q`SELECT max_expiry_unix_ts_ms FROM gen_index_proof_expiry WHERE gen_index = ${genIndex}`,
        (rows) => (rows.length === 0 ? 0 : num(rows[0].max_expiry_unix_ts_ms))
      )
    return { next, allocate, recordProofExpiry, maxProofExpiry } as const
  })
}) {}
