/**
 * Reference schema v9 (domain.md §4), column for column, for both engines. Run on every start with
 * IF NOT EXISTS, exactly like the reference, so an existing reference DB opens unchanged. Our own
 * additions are `OUR_MIGRATIONS` below (schema versions 10+).
 */

export const SQLITE_V9: ReadonlyArray<string> = [
  `CREATE TABLE IF NOT EXISTS payments (
    id                                INTEGER PRIMARY KEY NOT NULL,
    master_pkey                       BLOB,
    status                            INTEGER NOT NULL,
    plan                              INTEGER NOT NULL,
    payment_provider                  INTEGER NOT NULL,
    auto_renewing                     INTEGER NOT NULL,
    unredeemed_unix_ts_ms             INTEGER NOT NULL,
    redeemed_unix_ts_ms               INTEGER,
    expiry_unix_ts_ms                 INTEGER NOT NULL,
    grace_period_duration_ms          INTEGER,
    platform_refund_expiry_unix_ts_ms INTEGER NOT NULL,
    revoked_unix_ts_ms                INTEGER,
    apple_original_tx_id              TEXT,
    apple_tx_id                       TEXT,
    apple_web_line_order_tx_id        TEXT,
    google_payment_token              TEXT,
    google_order_id                   TEXT,
    rangeproof_order_id               TEXT,
    refund_requested_unix_ts_ms       INTEGER NOT NULL,
    google_obfuscated_account_id      BLOB,
    apple_app_account_token           TEXT NOT NULL DEFAULT ''
  )`,
  `CREATE TABLE IF NOT EXISTS users (
    master_pkey                  BLOB PRIMARY KEY NOT NULL,
    gen_index                    INTEGER NOT NULL,
    expiry_unix_ts_ms            INTEGER NOT NULL,
    grace_period_duration_ms     INTEGER NOT NULL,
    auto_renewing                INTEGER NOT NULL,
    refund_requested_unix_ts_ms  INTEGER NOT NULL,
    google_obfuscated_account_id BLOB NOT NULL,
    apple_app_account_token      TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS revocations (
    gen_index           INTEGER PRIMARY KEY NOT NULL,
    creation_unix_ts_ms INTEGER NOT NULL,
    expiry_unix_ts_ms   INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS runtime (
    gen_index                                INTEGER NOT NULL,
    gen_index_salt                           BLOB NOT NULL,
    backend_key                              BLOB NOT NULL,
    last_expire_unix_ts_ms                   INTEGER NOT NULL,
    apple_notification_checkpoint_unix_ts_ms INTEGER NOT NULL,
    revocation_ticket                        INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS apple_notification_uuid_history (
    uuid              TEXT NOT NULL,
    expiry_unix_ts_ms INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS google_notification_history (
    message_id        INTEGER NOT NULL,
    handled           INTEGER NOT NULL,
    payload           TEXT,
    expiry_unix_ts_ms INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS user_errors (
    payment_id       TEXT NOT NULL,
    payment_provider INTEGER NOT NULL,
    unix_ts_ms       INTEGER NOT NULL,
    UNIQUE(payment_id, payment_provider)
  )`,
  `CREATE TRIGGER IF NOT EXISTS increment_revocation_ticket_after_insert AFTER INSERT ON revocations
   BEGIN UPDATE runtime SET revocation_ticket = revocation_ticket + 1; END`,
  `CREATE TRIGGER IF NOT EXISTS increment_revocation_ticket_after_delete AFTER DELETE ON revocations
   BEGIN UPDATE runtime SET revocation_ticket = revocation_ticket + 1; END`
]

export const PG_V9: ReadonlyArray<string> = [
  `CREATE TABLE IF NOT EXISTS payments (
    id                                SERIAL PRIMARY KEY,
    master_pkey                       BYTEA CHECK (octet_length(master_pkey) = 32),
    status                            INTEGER NOT NULL,
    plan                              INTEGER NOT NULL,
    payment_provider                  INTEGER NOT NULL,
    auto_renewing                     BOOLEAN NOT NULL DEFAULT FALSE,
    unredeemed_unix_ts_ms             BIGINT NOT NULL,
    redeemed_unix_ts_ms               BIGINT,
    expiry_unix_ts_ms                 BIGINT NOT NULL,
    grace_period_duration_ms          BIGINT,
    platform_refund_expiry_unix_ts_ms BIGINT NOT NULL,
    revoked_unix_ts_ms                BIGINT,
    apple_original_tx_id              TEXT,
    apple_tx_id                       TEXT,
    apple_web_line_order_tx_id        TEXT,
    google_payment_token              TEXT,
    google_order_id                   TEXT,
    rangeproof_order_id               TEXT,
    refund_requested_unix_ts_ms       BIGINT NOT NULL DEFAULT 0,
    google_obfuscated_account_id      BYTEA NULL CHECK (octet_length(google_obfuscated_account_id) = 32),
    apple_app_account_token           TEXT NOT NULL DEFAULT ''
  )`,
  `CREATE TABLE IF NOT EXISTS users (
    master_pkey                  BYTEA PRIMARY KEY CHECK (octet_length(master_pkey) = 32),
    gen_index                    INTEGER NOT NULL,
    expiry_unix_ts_ms            BIGINT NOT NULL,
    grace_period_duration_ms     BIGINT NOT NULL,
    auto_renewing                BOOLEAN NOT NULL DEFAULT FALSE,
    refund_requested_unix_ts_ms  BIGINT NOT NULL DEFAULT 0,
    google_obfuscated_account_id BYTEA NULL CHECK (octet_length(google_obfuscated_account_id) = 32),
    apple_app_account_token      TEXT NOT NULL DEFAULT ''
  )`,
  `CREATE TABLE IF NOT EXISTS revocations (
    gen_index           INTEGER PRIMARY KEY NOT NULL,
    creation_unix_ts_ms BIGINT NOT NULL,
    expiry_unix_ts_ms   BIGINT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS runtime (
    gen_index                                INTEGER NOT NULL DEFAULT 0,
    gen_index_salt                           BYTEA NOT NULL CHECK (octet_length(gen_index_salt) = 16),
    backend_key                              BYTEA NOT NULL CHECK (octet_length(backend_key) = 32),
    last_expire_unix_ts_ms                   BIGINT NOT NULL DEFAULT 0,
    apple_notification_checkpoint_unix_ts_ms BIGINT NOT NULL DEFAULT 0,
    revocation_ticket                        INTEGER NOT NULL DEFAULT 0
  )`,
  `CREATE TABLE IF NOT EXISTS apple_notification_uuid_history (
    uuid              TEXT NOT NULL,
    expiry_unix_ts_ms BIGINT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS google_notification_history (
    message_id        BIGINT NOT NULL,
    handled           BOOLEAN NOT NULL DEFAULT FALSE,
    payload           TEXT,
    expiry_unix_ts_ms BIGINT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS user_errors (
    payment_id       TEXT NOT NULL,
    payment_provider INTEGER NOT NULL,
    unix_ts_ms       BIGINT NOT NULL,
    UNIQUE(payment_id, payment_provider)
  )`,
  // Quoted body instead of $$ so the statement needs no dollar-quote handling anywhere.
  `CREATE OR REPLACE FUNCTION increment_revocation_ticket() RETURNS TRIGGER AS '
   BEGIN
     UPDATE runtime SET revocation_ticket = revocation_ticket + 1;
     RETURN NEW;
   END;
   ' LANGUAGE plpgsql`,
  `DROP TRIGGER IF EXISTS increment_revocation_ticket_after_insert ON revocations`,
  `CREATE TRIGGER increment_revocation_ticket_after_insert AFTER INSERT ON revocations
   FOR EACH ROW EXECUTE FUNCTION increment_revocation_ticket()`,
  `DROP TRIGGER IF EXISTS increment_revocation_ticket_after_delete ON revocations`,
  `CREATE TRIGGER increment_revocation_ticket_after_delete AFTER DELETE ON revocations
   FOR EACH ROW EXECUTE FUNCTION increment_revocation_ticket()`,
  `CREATE TABLE IF NOT EXISTS schema_version (
    id      SERIAL PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 0
  )`,
  `INSERT INTO schema_version (id, version) SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)`
]

/** v10 lookups, the same text in SQLite and Postgres: entitlement (§5.9), sweep (§6.11), chains (§6.1/6.9), redeem by Apple tx id. */
const V10_INDEXES: ReadonlyArray<string> = [
  `CREATE INDEX IF NOT EXISTS payments_master_pkey ON payments (master_pkey)`,
  `CREATE INDEX IF NOT EXISTS payments_status_expiry ON payments (status, expiry_unix_ts_ms)`,
  `CREATE INDEX IF NOT EXISTS payments_google_token ON payments (google_payment_token)`,
  `CREATE INDEX IF NOT EXISTS payments_google_order ON payments (google_order_id)`,
  `CREATE INDEX IF NOT EXISTS payments_apple_original_tx ON payments (apple_original_tx_id)`,
  `CREATE INDEX IF NOT EXISTS payments_apple_tx ON payments (apple_tx_id)`,
  `CREATE INDEX IF NOT EXISTS apple_notification_uuid ON apple_notification_uuid_history (uuid)`,
  `CREATE INDEX IF NOT EXISTS google_notification_message ON google_notification_history (message_id)`
]

/**
 * v11 (issue #7): the daily sweep prunes only users that may have lost their last payment, instead of
 * probing every user against payments. The sweep itself only sets payment status, so a user can only
 * become payment-less when a payment row is deleted, a payment's owner changes, or a user row is written
 * (insert, or a new key). Triggers record those keys in `user_prune_candidates` inside the writing
 * transaction — so the admin CLI, raw SQL and the reference's own code are covered too — and the sweep
 * consumes them. Invariant: every user without a payment row has its key in `user_prune_candidates`.
 * The migration seeds the table with the users that already lack payments (a legacy v9 DB: FLAG-6 kept
 * the reference from ever pruning them), so the next sweep prunes them. Keyed by the master key (a repeated key is
 * ignored), and WITHOUT ROWID in SQLite: the sweep reads it in key order, so its probes into
 * `payments_master_pkey` and the users primary key walk those indexes in order.
 *
 * Plus indexes so every other sweep DELETE is an index range, not a table scan.
 */
const V11_SWEEP_INDEXES: ReadonlyArray<string> = [
  `CREATE INDEX IF NOT EXISTS revocations_expiry ON revocations (expiry_unix_ts_ms)`,
  `CREATE INDEX IF NOT EXISTS apple_notification_expiry ON apple_notification_uuid_history (expiry_unix_ts_ms)`,
  `CREATE INDEX IF NOT EXISTS google_notification_handled_expiry ON google_notification_history (handled, expiry_unix_ts_ms)`,
  `CREATE INDEX IF NOT EXISTS gen_index_proof_expiry_expiry ON gen_index_proof_expiry (max_expiry_unix_ts_ms)`
]

const V11_SEED_CANDIDATES = `INSERT INTO user_prune_candidates (master_pkey) SELECT u.master_pkey FROM users u
  WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.master_pkey = u.master_pkey) ON CONFLICT (master_pkey) DO NOTHING`

const SQLITE_V11: ReadonlyArray<string> = [
  `CREATE TABLE IF NOT EXISTS user_prune_candidates (master_pkey BLOB PRIMARY KEY NOT NULL) WITHOUT ROWID`,
  `CREATE TRIGGER IF NOT EXISTS user_prune_candidate_after_payment_delete AFTER DELETE ON payments
   WHEN OLD.master_pkey IS NOT NULL
   BEGIN INSERT OR IGNORE INTO user_prune_candidates (master_pkey) VALUES (OLD.master_pkey); END`,
  `CREATE TRIGGER IF NOT EXISTS user_prune_candidate_after_payment_rekey AFTER UPDATE OF master_pkey ON payments
   WHEN OLD.master_pkey IS NOT NULL AND OLD.master_pkey IS NOT NEW.master_pkey
   BEGIN INSERT OR IGNORE INTO user_prune_candidates (master_pkey) VALUES (OLD.master_pkey); END`,
  `CREATE TRIGGER IF NOT EXISTS user_prune_candidate_after_user_insert AFTER INSERT ON users
   BEGIN INSERT OR IGNORE INTO user_prune_candidates (master_pkey) VALUES (NEW.master_pkey); END`,
  `CREATE TRIGGER IF NOT EXISTS user_prune_candidate_after_user_rekey AFTER UPDATE OF master_pkey ON users
   WHEN OLD.master_pkey IS NOT NEW.master_pkey
   BEGIN INSERT OR IGNORE INTO user_prune_candidates (master_pkey) VALUES (NEW.master_pkey); END`,
  ...V11_SWEEP_INDEXES,
  V11_SEED_CANDIDATES
]

// Quoted bodies instead of $$, like PG_V9. RETURN NULL: the result of an AFTER trigger is ignored.
const PG_V11: ReadonlyArray<string> = [
  `CREATE TABLE IF NOT EXISTS user_prune_candidates (master_pkey BYTEA PRIMARY KEY)`,
  `CREATE OR REPLACE FUNCTION user_prune_candidate_old_key() RETURNS TRIGGER AS '
   BEGIN
     INSERT INTO user_prune_candidates (master_pkey) VALUES (OLD.master_pkey) ON CONFLICT (master_pkey) DO NOTHING;
     RETURN NULL;
   END;
   ' LANGUAGE plpgsql`,
  `CREATE OR REPLACE FUNCTION user_prune_candidate_new_key() RETURNS TRIGGER AS '
   BEGIN
     INSERT INTO user_prune_candidates (master_pkey) VALUES (NEW.master_pkey) ON CONFLICT (master_pkey) DO NOTHING;
     RETURN NULL;
   END;
   ' LANGUAGE plpgsql`,
  // PostgreSQL's TRUNCATE fires no row triggers; SQLite has no TRUNCATE (its DELETE fires them per row).
  `CREATE OR REPLACE FUNCTION user_prune_candidate_all_users() RETURNS TRIGGER AS '
   BEGIN
     INSERT INTO user_prune_candidates (master_pkey) SELECT master_pkey FROM users WHERE TRUE ON CONFLICT (master_pkey) DO NOTHING;
     RETURN NULL;
   END;
   ' LANGUAGE plpgsql`,
  `DROP TRIGGER IF EXISTS user_prune_candidate_after_payment_delete ON payments`,
  `CREATE TRIGGER user_prune_candidate_after_payment_delete AFTER DELETE ON payments
   FOR EACH ROW WHEN (OLD.master_pkey IS NOT NULL) EXECUTE FUNCTION user_prune_candidate_old_key()`,
  `DROP TRIGGER IF EXISTS user_prune_candidate_after_payment_rekey ON payments`,
  `CREATE TRIGGER user_prune_candidate_after_payment_rekey AFTER UPDATE OF master_pkey ON payments
   FOR EACH ROW WHEN (OLD.master_pkey IS NOT NULL AND OLD.master_pkey IS DISTINCT FROM NEW.master_pkey)
   EXECUTE FUNCTION user_prune_candidate_old_key()`,
  `DROP TRIGGER IF EXISTS user_prune_candidate_after_payment_truncate ON payments`,
  `CREATE TRIGGER user_prune_candidate_after_payment_truncate AFTER TRUNCATE ON payments
   FOR EACH STATEMENT EXECUTE FUNCTION user_prune_candidate_all_users()`,
  `DROP TRIGGER IF EXISTS user_prune_candidate_after_user_insert ON users`,
  `CREATE TRIGGER user_prune_candidate_after_user_insert AFTER INSERT ON users
   FOR EACH ROW EXECUTE FUNCTION user_prune_candidate_new_key()`,
  `DROP TRIGGER IF EXISTS user_prune_candidate_after_user_rekey ON users`,
  `CREATE TRIGGER user_prune_candidate_after_user_rekey AFTER UPDATE OF master_pkey ON users
   FOR EACH ROW WHEN (OLD.master_pkey IS DISTINCT FROM NEW.master_pkey) EXECUTE FUNCTION user_prune_candidate_new_key()`,
  ...V11_SWEEP_INDEXES,
  V11_SEED_CANDIDATES
]

/**
 * v12: `/get_pro_details` lists a user's payments newest first (`ORDER BY unredeemed_unix_ts_ms DESC, id
 * DESC LIMIT n`). With only `payments_master_pkey` SQLite sorted them in a temp B-tree on every request;
 * this index yields them in that order (read backwards; `id` is the rowid in SQLite and explicit for
 * PostgreSQL), so the LIMIT stops early and nothing is sorted. Partial (`master_pkey IS NOT NULL`, implied
 * by the lookup's `master_pkey = ?`): unredeemed payments, inserted by every store notification, are not
 * in it, so only a redemption (which sets `master_pkey`) pays for one more index entry.
 */
const V12_INDEXES: ReadonlyArray<string> = [
  `CREATE INDEX IF NOT EXISTS payments_master_unredeemed ON payments (master_pkey, unredeemed_unix_ts_ms, id) WHERE master_pkey IS NOT NULL`
]

/**
 * Our additive migrations (schema versions 10+). Never alter a v9 column; only new tables/indexes/triggers.
 * Each entry is [version, sqlite statements, pg statements].
 */
export const OUR_MIGRATIONS: ReadonlyArray<readonly [number, ReadonlyArray<string>, ReadonlyArray<string>]> = [
  [
    10,
    [
      ...V10_INDEXES,
      // D4c: durable Google acknowledgement outbox.
      `CREATE TABLE IF NOT EXISTS google_ack_outbox (
        id                      INTEGER PRIMARY KEY NOT NULL,
        purchase_token          TEXT NOT NULL,
        order_id                TEXT NOT NULL DEFAULT '',
        subscription_id         TEXT,
        created_unix_ts_ms      INTEGER NOT NULL,
        next_attempt_unix_ts_ms INTEGER NOT NULL,
        attempts                INTEGER NOT NULL DEFAULT 0,
        last_error              TEXT,
        done_unix_ts_ms         INTEGER,
        UNIQUE(purchase_token, order_id)
      )`,
      `CREATE INDEX IF NOT EXISTS google_ack_outbox_due ON google_ack_outbox (done_unix_ts_ms, next_attempt_unix_ts_ms)`,
      // D4e: the latest proof expiry issued under each gen index, so a revocation outlives every proof it revokes.
      `CREATE TABLE IF NOT EXISTS gen_index_proof_expiry (
        gen_index             INTEGER PRIMARY KEY NOT NULL,
        max_expiry_unix_ts_ms INTEGER NOT NULL
      )`
    ],
    [
      ...V10_INDEXES,
      `CREATE TABLE IF NOT EXISTS google_ack_outbox (
        id                      SERIAL PRIMARY KEY,
        purchase_token          TEXT NOT NULL,
        order_id                TEXT NOT NULL DEFAULT '',
        subscription_id         TEXT,
        created_unix_ts_ms      BIGINT NOT NULL,
        next_attempt_unix_ts_ms BIGINT NOT NULL,
        attempts                INTEGER NOT NULL DEFAULT 0,
        last_error              TEXT,
        done_unix_ts_ms         BIGINT,
        UNIQUE(purchase_token, order_id)
      )`,
      `CREATE INDEX IF NOT EXISTS google_ack_outbox_due ON google_ack_outbox (done_unix_ts_ms, next_attempt_unix_ts_ms)`,
      `CREATE TABLE IF NOT EXISTS gen_index_proof_expiry (
        gen_index             INTEGER PRIMARY KEY NOT NULL,
        max_expiry_unix_ts_ms BIGINT NOT NULL
      )`
    ]
  ],
  [11, SQLITE_V11, PG_V11],
  [12, V12_INDEXES, V12_INDEXES]
]

/**
 * FLAG-20: the payment identities the code dedupes on, backed by partial unique indexes. Not a numbered
 * migration step because an old reference DB may already hold duplicates (the race FLAG-20 describes):
 * bootstrap creates each index when its identity has no duplicates, and warns otherwise (the
 * check-then-insert in `Payments.addUnredeemed` still dedupes).
 */
export const IDENTITY_INDEXES: ReadonlyArray<{ readonly name: string; readonly create: string; readonly duplicates: string }> = [
  {
    name: "payments_google_identity",
    create: `CREATE UNIQUE INDEX IF NOT EXISTS payments_google_identity ON payments (google_payment_token, google_order_id) WHERE payment_provider = 1`,
    duplicates: `SELECT COUNT(*) AS n FROM (SELECT 1 AS x FROM payments WHERE payment_provider = 1 AND google_payment_token IS NOT NULL
      AND google_order_id IS NOT NULL GROUP BY google_payment_token, google_order_id HAVING COUNT(*) > 1) d`
  },
  {
    name: "payments_apple_identity",
    create: `CREATE UNIQUE INDEX IF NOT EXISTS payments_apple_identity ON payments (apple_original_tx_id, apple_tx_id, apple_web_line_order_tx_id) WHERE payment_provider = 2`,
    duplicates: `SELECT COUNT(*) AS n FROM (SELECT 1 AS x FROM payments WHERE payment_provider = 2 AND apple_original_tx_id IS NOT NULL
      AND apple_tx_id IS NOT NULL AND apple_web_line_order_tx_id IS NOT NULL
      GROUP BY apple_original_tx_id, apple_tx_id, apple_web_line_order_tx_id HAVING COUNT(*) > 1) d`
  },
  {
    name: "payments_rangeproof_identity",
    create: `CREATE UNIQUE INDEX IF NOT EXISTS payments_rangeproof_identity ON payments (rangeproof_order_id) WHERE payment_provider = 3`,
    duplicates: `SELECT COUNT(*) AS n FROM (SELECT 1 AS x FROM payments WHERE payment_provider = 3 AND rangeproof_order_id IS NOT NULL
      GROUP BY rangeproof_order_id HAVING COUNT(*) > 1) d`
  }
]

export const SCHEMA_VERSION_LATEST = OUR_MIGRATIONS[OUR_MIGRATIONS.length - 1]![0]
