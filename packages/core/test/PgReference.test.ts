/**
 * An existing REFERENCE PostgreSQL database at schema v9 opens and migrates in place (domain.md §4, the
 * `.pgsql` variant): a schema is created with the reference's v9 DDL run as ONE text (as the reference
 * does), filled with rows through plain SQL, then opened with our Backend/Database layer. Every row must
 * read back unchanged, our additive migrations (v10: indexes, outbox, proof-expiry table; v11: sweep prune candidates;
 * v12: the details index; FLAG-20 identity indexes) must be applied, and the reference's triggers must keep working exactly once per row.
 * Runs only with PRO_TEST_PG_URL (own schema, dropped afterwards); skipped visibly otherwise.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { accountIdForMaster, Backend, GenerationIndex, Inspect, Revocations } from "@session-pro/core"
import { Effect } from "effect"
import { dropPgSchemas, engines, runPg } from "./engines.js"

const pg = engines.find((e) => e.name === "pg")!

/** The reference's v9 `backend_schema.pgsql`, written from domain.md §4.1–4.9 (PostgreSQL columns). */
const REFERENCE_V9_PGSQL = `
CREATE TABLE IF NOT EXISTS payments (
    id                                SERIAL  PRIMARY KEY,
    master_pkey                       BYTEA   CHECK (octet_length(master_pkey) = 32),
    status                            INTEGER NOT NULL,
    plan                              INTEGER NOT NULL,
    payment_provider                  INTEGER NOT NULL,
    auto_renewing                     BOOLEAN NOT NULL DEFAULT FALSE,
    unredeemed_unix_ts_ms             BIGINT  NOT NULL,
    redeemed_unix_ts_ms               BIGINT,
    expiry_unix_ts_ms                 BIGINT  NOT NULL,
    grace_period_duration_ms          BIGINT,
    platform_refund_expiry_unix_ts_ms BIGINT  NOT NULL,
    revoked_unix_ts_ms                BIGINT,
    apple_original_tx_id              TEXT,
    apple_tx_id                       TEXT,
    apple_web_line_order_tx_id        TEXT,
    google_payment_token              TEXT,
    google_order_id                   TEXT,
    rangeproof_order_id               TEXT,
    refund_requested_unix_ts_ms       BIGINT  NOT NULL DEFAULT 0,
    google_obfuscated_account_id      BYTEA   NULL CHECK (octet_length(google_obfuscated_account_id) = 32),
    apple_app_account_token           TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS users (
    master_pkey                  BYTEA   PRIMARY KEY CHECK (octet_length(master_pkey) = 32),
    gen_index                    INTEGER NOT NULL,
    expiry_unix_ts_ms            BIGINT  NOT NULL,
    grace_period_duration_ms     BIGINT  NOT NULL,
    auto_renewing                BOOLEAN NOT NULL DEFAULT FALSE,
    refund_requested_unix_ts_ms  BIGINT  NOT NULL DEFAULT 0,
    google_obfuscated_account_id BYTEA   NULL CHECK (octet_length(google_obfuscated_account_id) = 32),
    apple_app_account_token      TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS revocations (
    gen_index           INTEGER PRIMARY KEY NOT NULL,
    creation_unix_ts_ms BIGINT  NOT NULL,
    expiry_unix_ts_ms   BIGINT  NOT NULL
);

CREATE TABLE IF NOT EXISTS runtime (
    gen_index                                INTEGER NOT NULL DEFAULT 0,
    gen_index_salt                           BYTEA   NOT NULL CHECK (octet_length(gen_index_salt) = 16),
    backend_key                              BYTEA   NOT NULL CHECK (octet_length(backend_key) = 32),
    last_expire_unix_ts_ms                   BIGINT  NOT NULL DEFAULT 0,
    apple_notification_checkpoint_unix_ts_ms BIGINT  NOT NULL DEFAULT 0,
    revocation_ticket                        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS apple_notification_uuid_history (
    uuid              TEXT   NOT NULL,
    expiry_unix_ts_ms BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS google_notification_history (
    message_id        BIGINT  NOT NULL,
    handled           BOOLEAN NOT NULL DEFAULT FALSE,
    payload           TEXT,
    expiry_unix_ts_ms BIGINT  NOT NULL
);

CREATE TABLE IF NOT EXISTS user_errors (
    payment_id       TEXT    NOT NULL,
    payment_provider INTEGER NOT NULL,
    unix_ts_ms       BIGINT  NOT NULL,
    UNIQUE(payment_id, payment_provider)
);

CREATE OR REPLACE FUNCTION increment_revocation_ticket()
RETURNS TRIGGER AS $$
BEGIN
    UPDATE runtime SET revocation_ticket = revocation_ticket + 1;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS increment_revocation_ticket_after_insert ON revocations;
CREATE TRIGGER increment_revocation_ticket_after_insert
    AFTER INSERT ON revocations
    FOR EACH ROW
    EXECUTE FUNCTION increment_revocation_ticket();

DROP TRIGGER IF EXISTS increment_revocation_ticket_after_delete ON revocations;
CREATE TRIGGER increment_revocation_ticket_after_delete
    AFTER DELETE ON revocations
    FOR EACH ROW
    EXECUTE FUNCTION increment_revocation_ticket();

CREATE TABLE IF NOT EXISTS schema_version (
    id      SERIAL  PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 0
);

INSERT INTO schema_version (id, version) SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version);
`

const b = (byte: number, n = 32) => new Uint8Array(n).fill(byte)
const hexb = (u: Uint8Array) => `'\\x${Buffer.from(u).toString("hex")}'::bytea`
const M1 = b(0x11)
const M2 = b(0x22)
const SALT = b(0x5a, 16)
const SEED = b(0x07)
const BIG = 2 ** 41 + 123 // beyond 32 bits: BIGINT must come back as the same JS number
const MSG_ID = "9007199254740993" // beyond 2^53: only the text form is exact

/** The reference's rows, as its Python would have written them (NULLs, 0-as-NULL, booleans, bytes). */
const REFERENCE_ROWS = `
INSERT INTO runtime (gen_index, gen_index_salt, backend_key, last_expire_unix_ts_ms, apple_notification_checkpoint_unix_ts_ms, revocation_ticket)
  VALUES (2, ${hexb(SALT)}, ${hexb(SEED)}, 1700000000000, 1700000001000, 0);
INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms, redeemed_unix_ts_ms,
    expiry_unix_ts_ms, grace_period_duration_ms, platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms, apple_original_tx_id,
    apple_tx_id, apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id, refund_requested_unix_ts_ms,
    google_obfuscated_account_id, apple_app_account_token) VALUES
  (${hexb(M1)}, 2, 1, 1, TRUE, 1700000000000, 1699920000000, ${BIG}, 3600000, 1700172800000, NULL, NULL, NULL, NULL,
    'gtok-1', 'GPA.1..0', NULL, 0, ${hexb(accountIdForMaster(M1))}, ''),
  (NULL, 1, 3, 2, TRUE, 1700000500000, NULL, 1731536500000, 0, 1731536500000, NULL, 'orig-1', 'tx-1', '',
    NULL, NULL, NULL, 0, NULL, 'app-token'),
  (${hexb(M2)}, 4, 2, 3, FALSE, 1700000600000, 0, 1707776600000, 0, 0, 1700000700000, NULL, NULL, NULL,
    NULL, NULL, 'voucher-uuid-1', 1700000650000, NULL, '');
INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing, refund_requested_unix_ts_ms,
    google_obfuscated_account_id, apple_app_account_token) VALUES
  (${hexb(M1)}, 0, ${BIG + 3600000}, 3600000, TRUE, 0, ${hexb(accountIdForMaster(M1))}, ''),
  (${hexb(M2)}, 1, 1700000700000, 0, FALSE, 1700000650000, ${hexb(accountIdForMaster(M2))}, '');
INSERT INTO revocations (gen_index, creation_unix_ts_ms, expiry_unix_ts_ms) VALUES (1, 1700000700000, 1707776600000);
INSERT INTO apple_notification_uuid_history (uuid, expiry_unix_ts_ms) VALUES ('6f1e0c3a-0000-4000-8000-000000000001', 1702592000000);
INSERT INTO google_notification_history (message_id, handled, payload, expiry_unix_ts_ms) VALUES
  (${MSG_ID}, TRUE, NULL, 1702592000000), (17, FALSE, '{"x":1}', 1702592000000);
INSERT INTO user_errors (payment_id, payment_provider, unix_ts_ms) VALUES ('gtok-1', 1, 1700000800000);
UPDATE schema_version SET version = 9;
`

afterAll(() => dropPgSchemas())

describe.skipIf(!pg.enabled)("an existing reference PostgreSQL database at schema v9", () => {
  it.effect("opens in place: every row reads back, v10, v11 and v12 migrations applied, triggers fire once per row", () =>
    Effect.gen(function*() {
      const url = yield* Effect.promise(pg.fresh)
      const schema = decodeURIComponent(url).match(/search_path=(\w+)/)![1]!
      const inSchema = (text: string) => runPg((sql) => sql.unsafe(`SET search_path = ${schema};\n${text}`))
      yield* Effect.promise(() => inSchema(REFERENCE_V9_PGSQL + REFERENCE_ROWS))
      const before = yield* Effect.promise(() =>
        runPg((sql) => sql<{ n: string }>`SELECT COUNT(*)::text AS n FROM pg_indexes WHERE schemaname = ${schema}`)
      )
      expect(Number(before[0]!.n)).toBe(5) // the reference has 4 primary keys and UNIQUE(user_errors), nothing else

      // Open it twice (a restart re-runs the DDL and migrations: both must be idempotent on a migrated DB).
      const open = () => Backend.layer({ url, bootstrap: { backendSeed: b(0x99), salt: b(0x01, 16) } })
      const check = Effect.gen(function*() {
        const inspect = yield* Inspect
        expect(yield* inspect.schemaVersion()).toBe(12)
        // The stored key and salt win over the ones offered to a fresh DB.
        expect(yield* inspect.runtime()).toEqual({
          gen_index: 2,
          gen_index_salt: SALT,
          backend_key: SEED,
          last_expire_unix_ts_ms: 1700000000000,
          apple_notification_checkpoint_unix_ts_ms: 1700000001000,
          revocation_ticket: 1 // the reference's trigger fired for its one revocation
        })
        const payments = yield* inspect.payments()
        expect(payments).toEqual([
          {
            id: 1,
            master_pkey: M1,
            status: 2,
            plan: 1,
            payment_provider: 1,
            auto_renewing: true,
            unredeemed_unix_ts_ms: 1700000000000,
            redeemed_unix_ts_ms: 1699920000000,
            expiry_unix_ts_ms: BIG,
            grace_period_duration_ms: 3600000,
            platform_refund_expiry_unix_ts_ms: 1700172800000,
            revoked_unix_ts_ms: null,
            apple_original_tx_id: null,
            apple_tx_id: null,
            apple_web_line_order_tx_id: null,
            google_payment_token: "gtok-1",
            google_order_id: "GPA.1..0",
            rangeproof_order_id: null,
            refund_requested_unix_ts_ms: 0,
            google_obfuscated_account_id: accountIdForMaster(M1),
            apple_app_account_token: ""
          },
          {
            id: 2,
            master_pkey: null,
            status: 1,
            plan: 3,
            payment_provider: 2,
            auto_renewing: true,
            unredeemed_unix_ts_ms: 1700000500000,
            redeemed_unix_ts_ms: null,
            expiry_unix_ts_ms: 1731536500000,
            grace_period_duration_ms: 0,
            platform_refund_expiry_unix_ts_ms: 1731536500000,
            revoked_unix_ts_ms: null,
            apple_original_tx_id: "orig-1",
            apple_tx_id: "tx-1",
            apple_web_line_order_tx_id: "",
            google_payment_token: null,
            google_order_id: null,
            rangeproof_order_id: null,
            refund_requested_unix_ts_ms: 0,
            google_obfuscated_account_id: null,
            apple_app_account_token: "app-token"
          },
          {
            id: 3,
            master_pkey: M2,
            status: 4,
            plan: 2,
            payment_provider: 3,
            auto_renewing: false,
            unredeemed_unix_ts_ms: 1700000600000,
            redeemed_unix_ts_ms: 0, // stored as written (domain readers treat 0 as NULL)
            expiry_unix_ts_ms: 1707776600000,
            grace_period_duration_ms: 0,
            platform_refund_expiry_unix_ts_ms: 0,
            revoked_unix_ts_ms: 1700000700000,
            apple_original_tx_id: null,
            apple_tx_id: null,
            apple_web_line_order_tx_id: null,
            google_payment_token: null,
            google_order_id: null,
            rangeproof_order_id: "voucher-uuid-1",
            refund_requested_unix_ts_ms: 1700000650000,
            google_obfuscated_account_id: null,
            apple_app_account_token: ""
          }
        ])
        expect(yield* inspect.users()).toEqual([
          {
            master_pkey: M1,
            gen_index: 0,
            expiry_unix_ts_ms: BIG + 3600000,
            grace_period_duration_ms: 3600000,
            auto_renewing: true,
            refund_requested_unix_ts_ms: 0,
            google_obfuscated_account_id: accountIdForMaster(M1),
            apple_app_account_token: ""
          },
          {
            master_pkey: M2,
            gen_index: 1,
            expiry_unix_ts_ms: 1700000700000,
            grace_period_duration_ms: 0,
            auto_renewing: false,
            refund_requested_unix_ts_ms: 1700000650000,
            google_obfuscated_account_id: accountIdForMaster(M2),
            apple_app_account_token: ""
          }
        ])
        expect(yield* inspect.revocations()).toEqual([{ gen_index: 1, creation_unix_ts_ms: 1700000700000, expiry_unix_ts_ms: 1707776600000 }])
        expect(yield* inspect.appleHistory()).toEqual([{ uuid: "6f1e0c3a-0000-4000-8000-000000000001", expiry_unix_ts_ms: 1702592000000 }])
        expect(yield* inspect.googleHistory()).toEqual([
          { message_id: MSG_ID, handled: true, payload: null, expiry_unix_ts_ms: 1702592000000 },
          { message_id: "17", handled: false, payload: "{\"x\":1}", expiry_unix_ts_ms: 1702592000000 }
        ])
        expect((yield* inspect.userErrors()).length).toBe(1)
        expect(yield* inspect.googleAckOutbox()).toEqual([])
      })
      yield* check.pipe(Effect.provide(open()))
      yield* check.pipe(Effect.provide(open()))

      // The additive migrations are in place: v10/v11/v12 indexes and tables, and the FLAG-20 identity indexes.
      const indexes = yield* Effect.promise(() =>
        runPg((sql) => sql<{ indexname: string }>`SELECT indexname FROM pg_indexes WHERE schemaname = ${schema} ORDER BY indexname`)
      )
      const names = indexes.map((r) => r.indexname)
      for (
        const n of [
          "payments_master_pkey",
          "payments_master_unredeemed",
          "payments_status_expiry",
          "payments_google_token",
          "payments_google_order",
          "payments_apple_original_tx",
          "payments_apple_tx",
          "apple_notification_uuid",
          "google_notification_message",
          "google_ack_outbox_due",
          "revocations_expiry",
          "apple_notification_expiry",
          "google_notification_handled_expiry",
          "gen_index_proof_expiry_expiry",
          "payments_google_identity",
          "payments_apple_identity",
          "payments_rangeproof_identity"
        ]
      ) expect(names, n).toContain(n)
      const tables = yield* Effect.promise(() =>
        runPg((sql) => sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = ${schema} ORDER BY tablename`)
      )
      expect(tables.map((t) => t.tablename)).toEqual([
        "apple_notification_uuid_history",
        "gen_index_proof_expiry",
        "google_ack_outbox",
        "google_notification_history",
        "payments",
        "revocations",
        "runtime",
        "schema_version",
        "user_errors",
        "user_prune_candidates",
        "users"
      ])
      // Still exactly the reference's two triggers (re-created under the same names, not doubled), plus
      // migration 11's prune-candidate triggers, each once.
      const triggers = yield* Effect.promise(() =>
        runPg((sql) =>
          sql<{ tgname: string }>`SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ${schema} AND NOT t.tgisinternal ORDER BY t.tgname`
        )
      )
      expect(triggers.map((t) => t.tgname)).toEqual([
        "increment_revocation_ticket_after_delete",
        "increment_revocation_ticket_after_insert",
        "user_prune_candidate_after_payment_delete",
        "user_prune_candidate_after_payment_rekey",
        "user_prune_candidate_after_payment_truncate",
        "user_prune_candidate_after_user_insert",
        "user_prune_candidate_after_user_rekey"
      ])

      // The migrated DB keeps working: the next gen index continues from runtime (2), and a revocation
      // insert/delete raises the ticket once each.
      yield* Effect.gen(function*() {
        const inspect = yield* Inspect
        const gen = yield* GenerationIndex
        const revs = yield* Revocations
        expect(yield* gen.next).toBe(2)
        expect((yield* inspect.runtime()).gen_index).toBe(3)
        expect(yield* revs.setForMaster(M1, { creationUnixTsMs: 1, expiryUnixTsMs: BIG })).toBe("Created")
        expect((yield* inspect.runtime()).revocation_ticket).toBe(2)
        expect(yield* revs.deleteForMaster(M1)).toBe("Deleted")
        expect((yield* inspect.runtime()).revocation_ticket).toBe(3)
      }).pipe(Effect.provide(open()))
    }), 60_000)
})

if (!pg.enabled) {
  describe("an existing reference PostgreSQL database at schema v9", () => {
    it.skip("SKIPPED: set PRO_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it", () => {})
  })
}
