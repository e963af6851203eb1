/**
 * The daily sweep's statements run in an order chosen for SQLite's WAL writes, and on SQLite the payment
 * update is `UPDATE OR FAIL` (no statement journal); see ExpirySweep.ts. Neither may change what the
 * sweep leaves behind: on a mixed database (every status, expiries before, at and after `ts`, revocations
 * whose deletion bumps the revocation ticket, notification history, outbox rows, proof watermarks, users
 * without payments), `ExpirySweep.run` must leave every table exactly as the statements in their previous
 * order (below, verbatim) leave a twin database, and report the same counts. Both engines (PostgreSQL
 * only with PRO_TEST_PG_URL).
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { accountIdForMaster, Backend, Database, ExpirySweep } from "@session-pro/core"
import { Effect } from "effect"
import { dropPgSchemas, engines } from "./engines.js"

afterAll(() => dropPgSchemas())

const DAY = 86_400_000
const T0 = 1_790_000_000_000
const TS = T0 + DAY
const key = (n: number) => Buffer.alloc(32, n)

const prng = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

/** The same rows on every call (fixed seed). */
const seed = Effect.gen(function*() {
  const db = yield* Database
  const sql = db.sql
  const rnd = prng(7)
  const pick = <A>(xs: ReadonlyArray<A>) => xs[Math.floor(rnd() * xs.length)]!
  // Expiries around the sweep's `ts`, including exactly `ts` (the sweep uses `ts >= expiry`).
  const when = () => pick([TS - 40 * DAY, TS - DAY, TS - 1, TS, TS + 1, TS + DAY, TS + 30 * DAY])
  for (let u = 1; u <= 40; u++) {
    yield* sql`INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing,
      refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
      VALUES (${key(u)}, ${u - 1}, ${when()}, 0, ${db.bool(false)}, 0, ${Buffer.from(accountIdForMaster(key(u)))}, '')`
  }
  for (let i = 0; i < 300; i++) {
    // Users 31..40 own no payment (pruned); some rows are unredeemed (no key).
    const owner = rnd() < 0.2 ? null : key(1 + Math.floor(rnd() * 30))
    const status = owner === null ? pick([1, 3]) : pick([2, 2, 3, 4])
    yield* sql`INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms,
      redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms, platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms,
      apple_original_tx_id, apple_tx_id, apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id,
      refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
      VALUES (${owner}, ${status}, 1, 2, ${db.bool(false)}, ${T0 - DAY}, ${owner === null ? null : T0 - DAY}, ${when()}, 0, 0,
      ${status === 4 ? T0 : null}, ${`o${i}`}, ${`t${i}`}, '', NULL, NULL, NULL, 0, NULL, '')`
  }
  for (let g = 0; g < 25; g++) {
    yield* sql`INSERT INTO revocations (gen_index, creation_unix_ts_ms, expiry_unix_ts_ms) VALUES (${g}, ${T0 - DAY}, ${when()})`
  }
  for (let i = 0; i < 60; i++) {
    yield* sql`INSERT INTO apple_notification_uuid_history (uuid, expiry_unix_ts_ms) VALUES (${`uuid-${i}`}, ${when()})`
    yield* sql`INSERT INTO google_notification_history (message_id, handled, payload, expiry_unix_ts_ms)
      VALUES (${i}, ${db.bool(rnd() < 0.7)}, ${rnd() < 0.5 ? null : `p${i}`}, ${when()})`
  }
  for (let i = 0; i < 20; i++) {
    const done = pick([null, TS - 8 * DAY, TS - 7 * DAY, TS - 7 * DAY + 1, TS - DAY])
    yield* sql`INSERT INTO google_ack_outbox (purchase_token, order_id, subscription_id, created_unix_ts_ms,
      next_attempt_unix_ts_ms, attempts, last_error, done_unix_ts_ms) VALUES (${`tok${i}`}, ${`ord${i}`}, NULL, ${T0 - 9 * DAY},
      ${T0}, 1, NULL, ${done})`
    yield* sql`INSERT INTO gen_index_proof_expiry (gen_index, max_expiry_unix_ts_ms) VALUES (${i}, ${when()})`
  }
})

/** The sweep's statements in their order before the WAL-write change, as they were. */
const previousOrder = Effect.gen(function*() {
  const db = yield* Database
  const sql = db.sql
  return yield* db.transaction(Effect.gen(function*() {
    const ts = TS
    yield* sql`UPDATE runtime SET last_expire_unix_ts_ms = ${ts} WHERE last_expire_unix_ts_ms < ${ts} RETURNING last_expire_unix_ts_ms`
    const expired = yield* sql`UPDATE payments SET status = 3 WHERE ${ts} >= expiry_unix_ts_ms AND status IN (1, 2) RETURNING master_pkey`
    const revs = yield* sql`DELETE FROM revocations WHERE ${ts} >= expiry_unix_ts_ms RETURNING gen_index`
    const users = db.dialect === "pg"
      ? yield* sql`WITH c AS (DELETE FROM user_prune_candidates RETURNING master_pkey)
        DELETE FROM users u WHERE u.master_pkey IN (SELECT master_pkey FROM c)
          AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.master_pkey = u.master_pkey) RETURNING gen_index`
      : yield* sql`DELETE FROM users WHERE master_pkey IN (SELECT c.master_pkey FROM user_prune_candidates c
        WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.master_pkey = c.master_pkey)) RETURNING gen_index`
    if (db.dialect === "sqlite") yield* sql`DELETE FROM user_prune_candidates`
    const apple = yield* sql`DELETE FROM apple_notification_uuid_history WHERE ${ts} >= expiry_unix_ts_ms RETURNING uuid`
    const google = yield* sql`DELETE FROM google_notification_history WHERE ${ts} >= expiry_unix_ts_ms
      AND handled = ${db.bool(true)} RETURNING expiry_unix_ts_ms`
    const acks = yield* sql`DELETE FROM google_ack_outbox WHERE done_unix_ts_ms IS NOT NULL
      AND done_unix_ts_ms <= ${ts - 7 * DAY} RETURNING id`
    yield* sql`DELETE FROM gen_index_proof_expiry WHERE ${ts} >= max_expiry_unix_ts_ms`
    return { paymentRows: expired.length, revocations: revs.length, users: users.length, appleNotifications: apple.length, googleNotifications: google.length, googleAcks: acks.length }
  }))
})

const TABLES = [
  "payments",
  "users",
  "revocations",
  "runtime",
  "apple_notification_uuid_history",
  "google_notification_history",
  "google_ack_outbox",
  "gen_index_proof_expiry",
  "user_prune_candidates"
]

/** Every row of every table the sweep touches, in a stable order, with engine values made comparable. */
const dump = Effect.gen(function*() {
  const db = yield* Database
  const out: Record<string, Array<string>> = {}
  for (const t of TABLES) {
    const rows = yield* db.sql.unsafe<Record<string, unknown>>(`SELECT * FROM ${t}`)
    out[t] = rows
      .map((r) =>
        JSON.stringify(Object.entries(r).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString("hex") : typeof v === "bigint" ? Number(v) : v]))
      )
      .sort()
  }
  return out
})

for (const engine of engines) {
  describe.skipIf(!engine.enabled)(`sweep end state on ${engine.name}`, () => {
    const backend = (url: string) => Backend.layer({ url, bootstrap: { salt: Buffer.alloc(16, 1), backendSeed: Buffer.alloc(32, 2) } })

    it.effect("ExpirySweep.run leaves the same rows and counts as the statements in their previous order", () =>
      Effect.gen(function*() {
        const [a, b] = [yield* Effect.promise(engine.fresh), yield* Effect.promise(engine.fresh)]
        const viaSweep = yield* Effect.gen(function*() {
          yield* seed
          const r = yield* (yield* ExpirySweep).run(TS)
          return { r, rows: yield* dump }
        }).pipe(Effect.provide(backend(a)))
        const viaPrevious = yield* Effect.gen(function*() {
          yield* seed
          const r = yield* previousOrder
          return { r, rows: yield* dump }
        }).pipe(Effect.provide(backend(b)))
        expect(viaSweep.r).toMatchObject({ alreadyDone: false, ...viaPrevious.r })
        // The seed exercised every statement.
        for (const [k, n] of Object.entries(viaPrevious.r)) if (k !== "googleAcks") expect(n, k).toBeGreaterThan(0)
        expect(viaPrevious.r.googleAcks).toBeGreaterThan(0)
        expect(viaSweep.rows).toEqual(viaPrevious.rows)
      }))
  })
}
