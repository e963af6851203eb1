import { Effect } from "effect"
import { bytes, Database, storage } from "./Storage/Database.js"

export interface ExpirySweepResult {
  /** Another process (or an earlier call) already swept for a `ts` at or after this one. */
  readonly alreadyDone: boolean
  /** FLAG-34 replicated: distinct master keys whose payments expired, not the number of rows. */
  readonly payments: number
  readonly paymentRows: number
  readonly revocations: number
  readonly users: number
  readonly appleNotifications: number
  readonly googleNotifications: number
  readonly googleAcks: number
}

/**
 * §6.11 daily expire/prune job. D4g: the once-per-`ts` guard is one atomic conditional UPDATE (safe with
 * several processes on either engine), and users are pruned with NOT EXISTS (FLAG-6 fixed), checking only
 * the prune candidates migration 11 records instead of every user (issue #7).
 */
export class ExpirySweep extends Effect.Service<ExpirySweep>()("@session-pro/core/ExpirySweep", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const sql = db.sql
    const run = (ts: number) =>
      db.transaction(Effect.gen(function*() {
        const claimed = yield* storage(sql`UPDATE runtime SET last_expire_unix_ts_ms = ${ts} WHERE last_expire_unix_ts_ms < ${ts}
          RETURNING last_expire_unix_ts_ms`)
        if (claimed.length === 0) {
          return { alreadyDone: true, payments: 0, paymentRows: 0, revocations: 0, users: 0, appleNotifications: 0, googleNotifications: 0, googleAcks: 0 } as ExpirySweepResult
        }
        // Statement order (the statements touch disjoint rows, so any order leaves the same end state) and
        // UPDATE OR FAIL keep SQLite's WAL writes down when the sweep dirties more pages than the page cache
        // holds (better-sqlite3's default 16 MB, ~3.9k pages; 1M payments, scattered seed: ~34k pages): such
        // a transaction writes ("spills") pages to the WAL before COMMIT, and rewriting a page already
        // spilled makes COMMIT re-read every WAL frame written after it to redo their checksums. So the revocation deletes, whose trigger rewrites the
        // runtime row the guard above just wrote, come before the big payment update (that page is still
        // cached then); the user prune, which updates its tables' pages in random order (and so rewrites
        // spilled ones), comes after it. Measured at 1M scattered: COMMIT read 34k frames back, now 17.6k.
        const revs = yield* storage(sql`DELETE FROM revocations WHERE ${ts} >= expiry_unix_ts_ms RETURNING gen_index`)
        // OR FAIL (SQLite only): a multi-row UPDATE OR ABORT of a NOT NULL column copies every page it
        // changes into a statement journal (a temp file) so that a constraint error can undo just this
        // statement; setting status to the constant 3 cannot violate a constraint, and any other error
        // fails the whole transaction anyway, so the journal (16.7k pages written twice more at 1M) is waste.
        const expired = yield* storage(db.dialect === "sqlite"
          ? sql`UPDATE OR FAIL payments SET status = 3 WHERE ${ts} >= expiry_unix_ts_ms AND status IN (1, 2) RETURNING master_pkey`
          : sql`UPDATE payments SET status = 3 WHERE ${ts} >= expiry_unix_ts_ms AND status IN (1, 2) RETURNING master_pkey`)
        const masters = new Set<string>()
        for (const r of expired) {
          const m = bytes((r as any).master_pkey)
          if (m !== null) masters.add(Buffer.from(m).toString("hex"))
        }
        // D4g prune (`NOT EXISTS`), over the keys that may have lost their last payment since the last sweep
        // (migration 11's triggers record them: payment deleted or re-owned, user row written), not over
        // every user: only a candidate can lack payments. The candidates are consumed in the same statement
        // snapshot as the prune (PG: one data-modifying CTE; SQLite: a single writer, so two statements),
        // so a key recorded by a transaction that commits meanwhile stays for the next sweep.
        const users = db.dialect === "pg"
          ? yield* storage(sql`WITH c AS (DELETE FROM user_prune_candidates RETURNING master_pkey)
            DELETE FROM users u WHERE u.master_pkey IN (SELECT master_pkey FROM c)
              AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.master_pkey = u.master_pkey) RETURNING gen_index`)
          : yield* storage(sql`DELETE FROM users WHERE master_pkey IN (SELECT c.master_pkey FROM user_prune_candidates c
            WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.master_pkey = c.master_pkey)) RETURNING gen_index`)
        if (db.dialect === "sqlite") yield* storage(sql`DELETE FROM user_prune_candidates`)
        const apple = yield* storage(sql`DELETE FROM apple_notification_uuid_history WHERE ${ts} >= expiry_unix_ts_ms RETURNING uuid`)
        const google = yield* storage(sql`DELETE FROM google_notification_history WHERE ${ts} >= expiry_unix_ts_ms
          AND handled = ${db.bool(true)} RETURNING expiry_unix_ts_ms`)
        // Our own tables: acknowledged outbox rows older than a week, proof watermarks past their expiry.
        const acks = yield* storage(sql`DELETE FROM google_ack_outbox WHERE done_unix_ts_ms IS NOT NULL
          AND done_unix_ts_ms <= ${ts - 7 * 86_400_000} RETURNING id`)
        yield* storage(sql`DELETE FROM gen_index_proof_expiry WHERE ${ts} >= max_expiry_unix_ts_ms`)
        return {
          alreadyDone: false,
          payments: masters.size,
          paymentRows: expired.length,
          revocations: revs.length,
          users: users.length,
          appleNotifications: apple.length,
          googleNotifications: google.length,
          googleAcks: acks.length
        } as ExpirySweepResult
      }))
    return { run } as const
  })
}) {}
