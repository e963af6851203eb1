/**
 * The read path of `/get_pro_details` (and the index of migration 12), on both engines:
 * - migration 12 applies to an existing v11 database and keeps its rows;
 * - the items query is served in order by `payments_master_unredeemed` (SQLite: no temp B-tree; PostgreSQL:
 *   the index can give the order — with a handful of rows per key its planner may still prefer a top-N sort);
 * - the one-row head (user, payments_total, error_report, revoked) answers exactly what the four separate
 *   reads it replaced answered, in the corner cases: no user row, payments without a user (gen index 0),
 *   a revoked gen index, FLAG-35 errors across providers, providers without a chain id;
 * - `Entitlement.refresh` (on SQLite one statement for the user row and the lookup) writes what the
 *   separate reads wrote: with and without a user row or usable payments, and the D4e watermark.
 * PostgreSQL runs only with PRO_TEST_PG_URL (own schemas); skipped visibly otherwise.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { PgClient } from "@effect/sql-pg"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Backend, Database, Ddl, Entitlement, Inspect, num, ProDetails, type SqliteDatabase, UserErrors } from "@session-pro/core"
import Sqlite from "better-sqlite3"
import { Effect, Redacted } from "effect"
import { dropPgSchemas, engines } from "./engines.js"
import { account, type Account } from "./helpers.js"

afterAll(() => dropPgSchemas())

const DAY = 86_400_000
const T0 = 1_790_000_000_000

// Every statement text prepared on a SQLite connection of this test file, to EXPLAIN the real ones.
const prepared = new Set<string>()
const proto = Sqlite.prototype as unknown as { prepare: (text: string) => unknown }
const originalPrepare = proto.prepare
proto.prepare = function(this: unknown, text: string) {
  prepared.add(text)
  return originalPrepare.call(this, text)
}

interface Pay {
  readonly master: Uint8Array | null
  readonly provider: number
  readonly status?: number
  readonly unredeemed: number
  readonly chain?: string
}

let paymentsMade = 0
/** A payment row written directly (any state, any provider); the chain id goes where the provider keeps it. */
const insertPayment = (p: Pay) =>
  Effect.flatMap(Database, (db) => {
    const n = ++paymentsMade
    const chain = p.chain ?? `c-${n}`
    const m = p.master === null ? null : Buffer.from(p.master)
    return db.sql`INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms,
      redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms, platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms,
      apple_original_tx_id, apple_tx_id, apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id,
      refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
      VALUES (${m}, ${p.status ?? (m === null ? 1 : 2)}, 1, ${p.provider}, ${db.bool(true)}, ${p.unredeemed}, ${m === null ? null : p.unredeemed},
      ${T0 + 30 * DAY}, 1000, 0, NULL, ${p.provider === 2 ? chain : null}, ${p.provider === 2 ? `tx-${n}` : null},
      ${p.provider === 2 ? "" : null}, ${p.provider === 1 ? chain : null}, ${p.provider === 1 ? `GPA.${n}` : null},
      ${p.provider === 3 || p.provider === 0 ? chain : null}, 0, NULL, '')`
  })
const insertUser = (master: Uint8Array, gen: number, expiry = T0 + 30 * DAY) =>
  Effect.flatMap(Database, (db) =>
    db.sql`INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing,
      refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
      VALUES (${Buffer.from(master)}, ${gen}, ${expiry}, 1000, ${db.bool(true)}, 7, ${Buffer.alloc(32, 3)}, '')`)
const revoke = (gen: number) =>
  Effect.flatMap(Database, (db) => db.sql`INSERT INTO revocations (gen_index, creation_unix_ts_ms, expiry_unix_ts_ms) VALUES (${gen}, ${T0}, ${T0 + 90 * DAY})`)

/** The four reads the head replaced, verbatim (before migration 12): what the head must still answer. */
const headBefore = (master: Uint8Array) =>
  Effect.gen(function*() {
    const db = yield* Database
    const m = Buffer.from(master)
    const e = yield* db.sql<{ e: unknown }>`SELECT EXISTS (SELECT 1 FROM payments p JOIN user_errors ue ON
      (p.payment_provider = 2 AND p.apple_original_tx_id = ue.payment_id) OR
      (p.payment_provider = 1 AND p.google_payment_token = ue.payment_id)
      WHERE p.master_pkey = ${m}) AS e`
    const u = yield* db.sql<{ gen_index: unknown; expiry_unix_ts_ms: unknown }>`SELECT gen_index, expiry_unix_ts_ms FROM users WHERE master_pkey = ${m}`
    const n = yield* db.sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM payments WHERE master_pkey = ${m}`
    const gen = u.length === 0 ? 0 : num(u[0]!.gen_index)
    const r = yield* db.sql`SELECT 1 AS x FROM revocations WHERE gen_index = ${gen}`
    const total = num(n[0]!.n)
    const expiry = u.length === 0 ? 0 : num(u[0]!.expiry_unix_ts_ms)
    const status = total === 0 ? 0 : T0 <= expiry && r.length === 0 ? 1 : 2
    return { status, payments_total: total, error_report: Number(e[0]!.e) === 1 || e[0]!.e === true ? 1 : 0 }
  })

const details = (a: Account, count = 10) => Effect.flatMap(ProDetails, (d) => d.get(a.details(T0, count)))

/** v11 as our bootstrap left it: the v9 DDL, migrations 10 and 11, user_version / schema_version 11. */
const v11Statements = (dialect: "sqlite" | "pg") => [
  ...(dialect === "sqlite" ? Ddl.SQLITE_V9 : Ddl.PG_V9),
  ...Ddl.OUR_MIGRATIONS.filter(([v]) => v <= 11).flatMap(([, s, p]) => (dialect === "sqlite" ? s : p)),
  dialect === "sqlite" ? `PRAGMA user_version = 11` : `UPDATE schema_version SET version = 11`
]

for (const engine of engines) {
  describe.skipIf(!engine.enabled)(`details read path on ${engine.name}`, () => {
    const backend = (url: string) => Backend.layer({ url })

    it.effect("migration 12 applies to an existing v11 database, keeps its rows, and serves details from the new index", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        const a = account()
        const m = Buffer.from(a.masterPkey).toString("hex")
        const rows = [
          `INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms, expiry_unix_ts_ms,
            platform_refund_expiry_unix_ts_ms, apple_original_tx_id, apple_tx_id, apple_web_line_order_tx_id, refund_requested_unix_ts_ms)
            VALUES (${engine.name === "sqlite" ? `X'${m}'` : `'\\x${m}'`}, 2, 1, 2, ${engine.name === "sqlite" ? 0 : "FALSE"}, ${T0 - DAY},
            ${T0 + DAY}, 0, 'o1', 't1', '', 0)`,
          `INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing, refund_requested_unix_ts_ms,
            google_obfuscated_account_id, apple_app_account_token)
            VALUES (${engine.name === "sqlite" ? `X'${m}'` : `'\\x${m}'`}, 4, ${T0 + DAY}, 0, ${engine.name === "sqlite" ? 0 : "FALSE"}, 0,
            ${engine.name === "sqlite" ? `X'${"03".repeat(32)}'` : `'\\x${"03".repeat(32)}'`}, '')`
        ]
        if (engine.name === "sqlite") {
          const raw = new Sqlite(url.replace(/^sqlite:\/\//, "")) as SqliteDatabase
          for (const s of [...v11Statements("sqlite"), ...rows]) raw.exec(s)
          raw.close()
        } else {
          yield* Effect.scoped(Effect.flatMap(PgClient.make({ url: Redacted.make(url) }), (sql) =>
            Effect.forEach([...v11Statements("pg"), ...rows], (s) => sql.unsafe(s)))).pipe(Effect.provide(Reactivity.layer))
        }
        const check = Effect.gen(function*() {
          expect(yield* (yield* Inspect).schemaVersion()).toBe(12)
          const db = yield* Database
          const idx = db.dialect === "sqlite"
            ? yield* db.sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'payments_master_unredeemed'`
            : yield* db.sql<{ name: string }>`SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'payments_master_unredeemed'`
          expect(idx.length).toBe(1)
          const d = yield* details(a)
          expect(d).toMatchObject({ status: 1, payments_total: 1, expiry_unix_ts_ms: T0 + DAY, error_report: 0 })
          expect(d.items.map((i) => i.apple_tx_id)).toEqual(["t1"])
        })
        yield* check.pipe(Effect.provide(backend(url)))
        yield* check.pipe(Effect.provide(backend(url))) // re-opening is a no-op
      }))

    it.effect("the items come in order from payments_master_unredeemed, without a sort", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        const a = account()
        yield* Effect.gen(function*() {
          yield* insertUser(a.masterPkey, 1)
          // Out of id order on purpose, with a tie on the timestamp (the higher id comes first).
          for (const [t, chain] of [[5, "o5"], [9, "o9a"], [1, "o1"], [9, "o9b"], [7, "o7"]] as const) {
            yield* insertPayment({ master: a.masterPkey, provider: 2, unredeemed: T0 - t * DAY, chain })
          }
          yield* insertPayment({ master: a.masterPkey, provider: 2, status: 1, unredeemed: T0, chain: "skipped-unredeemed" })
          yield* insertPayment({ master: null, provider: 2, unredeemed: T0, chain: "nobody" })
          prepared.clear()
          const d = yield* details(a, 4)
          expect(d.payments_total).toBe(6)
          expect(d.items.map((i) => i.apple_original_tx_id)).toEqual(["o1", "o5", "o7", "o9b"])
          expect((yield* details(a, 10)).items.map((i) => i.apple_original_tx_id)).toEqual(["o1", "o5", "o7", "o9b", "o9a"])
          // The LIMIT is a power of two spliced in as text; the rows are cut to the count asked for.
          expect((yield* details(a, 3)).items.map((i) => i.apple_original_tx_id)).toEqual(["o1", "o5", "o7"])
          expect((yield* details(a, 1)).items.map((i) => i.apple_original_tx_id)).toEqual(["o1"])
          // The statement ProDetails ran (recorded on SQLite; on PostgreSQL its condition and order, $n parameters).
          const db = yield* Database
          const itemsSql = db.dialect === "sqlite"
            ? [...prepared].find((t) => t.includes("ORDER BY unredeemed_unix_ts_ms DESC"))!
            : "SELECT status FROM payments WHERE master_pkey = ? AND status != 1 AND payment_provider != 0 ORDER BY unredeemed_unix_ts_ms DESC, id DESC LIMIT ?"
          expect(itemsSql).toBeDefined()
          if (db.dialect === "sqlite") {
            const texts = [...prepared].filter((t) => t.includes("ORDER BY unredeemed_unix_ts_ms DESC"))
            expect(texts.map((t) => t.match(/LIMIT (\S+)/)![1]).sort()).toEqual(["1", "16", "4"])
          }
          const params = db.dialect === "sqlite" ? [Buffer.from(a.masterPkey)] : [Buffer.from(a.masterPkey), 4]
          if (db.dialect === "sqlite") {
            const plan = (yield* db.sql.unsafe<{ detail: string }>(`EXPLAIN QUERY PLAN ${itemsSql}`, params)).map((r) => r.detail)
            expect(plan.join("\n")).toContain("payments_master_unredeemed")
            expect(plan.join("\n")).not.toContain("TEMP B-TREE")
          } else {
            let n = 0
            const text = itemsSql.replace(/\?/g, () => `$${++n}`)
            const plan = yield* db.transaction(Effect.gen(function*() {
              yield* db.sql`SET LOCAL enable_sort = off`
              return (yield* db.sql.unsafe<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, params)).map((r) => r["QUERY PLAN"])
            }))
            expect(plan.join("\n")).toContain("Index Scan Backward using payments_master_unredeemed")
            expect(plan.join("\n")).not.toMatch(/Sort/)
          }
        }).pipe(Effect.provide(backend(url)))
      }))

    it.effect("the one-row head answers what the four separate reads answered", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        yield* Effect.gen(function*() {
          const ue = yield* UserErrors
          yield* ue.add({ provider: 2, paymentId: "apple-err", unixTsMs: T0 })
          yield* ue.add({ provider: 1, paymentId: "google-err", unixTsMs: T0 })
          yield* ue.add({ provider: 2, paymentId: "cross", unixTsMs: T0 }) // FLAG-35: matches a Google token too
          yield* ue.add({ provider: 1, paymentId: "rp-err", unixTsMs: T0 }) // a Rangeproof id never matches
          yield* revoke(0)
          yield* revoke(6)
          const cases: Array<{ readonly name: string; readonly setup: (a: Account) => Effect.Effect<unknown, unknown, Database>; readonly expect: object }> = [
            { name: "nobody", setup: () => Effect.void, expect: { status: 0, payments_total: 0, error_report: 0 } },
            {
              name: "user without payments",
              setup: (a) => insertUser(a.masterPkey, 5),
              expect: { status: 0, payments_total: 0, error_report: 0, expiry_unix_ts_ms: T0 + 30 * DAY, refund_requested_unix_ts_ms: 7 }
            },
            {
              name: "payments without a user: expired (no user expiry)",
              setup: (a) => insertPayment({ master: a.masterPkey, provider: 2, unredeemed: T0 - DAY }),
              expect: { status: 2, payments_total: 1, error_report: 0, expiry_unix_ts_ms: 0 }
            },
            {
              name: "active user",
              setup: (a) => Effect.zip(insertUser(a.masterPkey, 5), insertPayment({ master: a.masterPkey, provider: 1, unredeemed: T0 - DAY })),
              expect: { status: 1, payments_total: 1, error_report: 0, auto_renewing: true, grace_period_duration_ms: 1000 }
            },
            {
              name: "revoked gen index",
              setup: (a) => Effect.zip(insertUser(a.masterPkey, 6), insertPayment({ master: a.masterPkey, provider: 2, unredeemed: T0 - DAY })),
              expect: { status: 2, payments_total: 1 }
            },
            {
              name: "expired user",
              setup: (a) => Effect.zip(insertUser(a.masterPkey, 5, T0 - 1), insertPayment({ master: a.masterPkey, provider: 2, unredeemed: T0 - DAY })),
              expect: { status: 2, payments_total: 1 }
            },
            {
              name: "Apple chain error",
              setup: (a) => Effect.zip(insertUser(a.masterPkey, 5), insertPayment({ master: a.masterPkey, provider: 2, unredeemed: T0 - DAY, chain: "apple-err" })),
              expect: { status: 1, error_report: 1 }
            },
            {
              name: "Google chain error on an unredeemed-status row still counts",
              setup: (a) =>
                Effect.zip(insertUser(a.masterPkey, 5), insertPayment({ master: a.masterPkey, provider: 1, status: 1, unredeemed: T0 - DAY, chain: "google-err" })),
              expect: { status: 1, payments_total: 1, error_report: 1, items: [] }
            },
            {
              name: "FLAG-35: an error recorded for Apple matches a Google token",
              setup: (a) => Effect.zip(insertUser(a.masterPkey, 5), insertPayment({ master: a.masterPkey, provider: 1, unredeemed: T0 - DAY, chain: "cross" })),
              expect: { error_report: 1 }
            },
            {
              name: "Rangeproof and Nil rows never match an error",
              setup: (a) =>
                Effect.gen(function*() {
                  yield* insertUser(a.masterPkey, 5)
                  yield* insertPayment({ master: a.masterPkey, provider: 3, unredeemed: T0 - DAY, chain: "rp-err" })
                  yield* insertPayment({ master: a.masterPkey, provider: 0, unredeemed: T0 - 2 * DAY, chain: "apple-err" })
                }),
              expect: { status: 1, payments_total: 2, error_report: 0 }
            },
            {
              name: "another key's error does not leak",
              setup: (a) =>
                Effect.zip(
                  insertPayment({ master: a.masterPkey, provider: 2, unredeemed: T0 - DAY }),
                  insertPayment({ master: account().masterPkey, provider: 2, unredeemed: T0 - DAY, chain: "apple-err" })
                ),
              expect: { error_report: 0 }
            }
          ]
          for (const c of cases) {
            const a = account()
            yield* c.setup(a)
            const got = yield* details(a)
            expect(got, c.name).toMatchObject(c.expect)
            expect({ status: got.status, payments_total: got.payments_total, error_report: got.error_report }, c.name).toEqual(yield* headBefore(a.masterPkey))
            expect(yield* ue.hasForMaster(a.masterPkey), c.name).toBe(got.error_report === 1)
          }
        }).pipe(Effect.provide(backend(url)))
      }))

    it.effect("refresh: the user row and the lookup read together give what separate reads gave", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        yield* Effect.gen(function*() {
          const db = yield* Database
          const ent = yield* Entitlement
          const userRow = (a: Account) =>
            Effect.map(
              db.sql<any>`SELECT gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing, refund_requested_unix_ts_ms
                FROM users WHERE master_pkey = ${Buffer.from(a.masterPkey)}`,
              (r) => r.map((u) => [num(u.gen_index), num(u.expiry_unix_ts_ms), num(u.grace_period_duration_ms), u.auto_renewing === true || num(u.auto_renewing) === 1, num(u.refund_requested_unix_ts_ms)])
            )
          const watermark = (gen: number) =>
            Effect.map(db.sql<any>`SELECT max_expiry_unix_ts_ms AS w FROM gen_index_proof_expiry WHERE gen_index = ${gen}`, (r) => r.map((x) => num(x.w)))
          const refresh = (a: Account) => db.transaction(ent.refresh(a.masterPkey))

          // A user whose stored expiry is above what the payments give: the refresh lowers it, keeps the old as the watermark.
          const a = account()
          yield* insertUser(a.masterPkey, 11, T0 + 90 * DAY)
          yield* insertPayment({ master: a.masterPkey, provider: 2, unredeemed: T0 - 2 * DAY, chain: "ra" })
          yield* insertPayment({ master: a.masterPkey, provider: 1, status: 4, unredeemed: T0 - DAY, chain: "rg" })
          yield* insertPayment({ master: a.masterPkey, provider: 2, status: 1, unredeemed: T0, chain: "ra-unredeemed" })
          const r = yield* refresh(a)
          expect(r).toEqual(yield* ent.lookup(a.masterPkey))
          expect(r.best).toEqual({ expiry: T0 + 30 * DAY + 1000, grace: 1000, refund: 0, auto: true })
          expect(yield* userRow(a)).toEqual([[11, T0 + 30 * DAY + 1000, 1000, true, 0]])
          expect(yield* watermark(11)).toEqual([T0 + 90 * DAY])
          // Again: nothing lower, the watermark stays.
          expect(yield* refresh(a)).toEqual(r)
          expect(yield* watermark(11)).toEqual([T0 + 90 * DAY])

          // A user without a usable payment (only an unredeemed-status row): zeroed, the old expiry is the watermark.
          const b = account()
          yield* insertUser(b.masterPkey, 12, T0 + 5 * DAY)
          yield* insertPayment({ master: b.masterPkey, provider: 2, status: 1, unredeemed: T0, chain: "rb" })
          const zero = { expiry: 0, grace: 0, refund: 0, auto: false }
          expect(yield* refresh(b)).toEqual({ best: zero, fromRedeemed: zero })
          expect(yield* userRow(b)).toEqual([[12, 0, 0, false, 0]])
          expect(yield* watermark(12)).toEqual([T0 + 5 * DAY])

          // Payments without a user row: the lookup's result, no user row written, no watermark.
          const c = account()
          yield* insertPayment({ master: c.masterPkey, provider: 2, unredeemed: T0 - DAY, chain: "rc" })
          const rc = yield* refresh(c)
          expect(rc.fromRedeemed.expiry).toBe(T0 + 30 * DAY + 1000)
          expect(yield* userRow(c)).toEqual([])

          // Neither.
          expect(yield* refresh(account())).toEqual({ best: zero, fromRedeemed: zero })
          expect((yield* db.sql<any>`SELECT gen_index FROM gen_index_proof_expiry ORDER BY gen_index`).map((x) => num(x.gen_index))).toEqual([11, 12])

          if (db.dialect === "sqlite") {
            const joined = [...prepared].find((t) => t.includes("FROM users u, payments p"))
            expect(joined).toBeDefined()
            // The window is spliced in as text (a bound LIMIT re-prepares on every run), so only the two keys are parameters.
            expect(joined).not.toMatch(/LIMIT \?/)
            const plan = (yield* db.sql.unsafe<{ detail: string }>(`EXPLAIN QUERY PLAN ${joined}`, [Buffer.from(a.masterPkey), Buffer.from(a.masterPkey)]))
              .map((x) => x.detail).join("\n")
            expect(plan).toContain("payments_master_pkey")
            expect(plan).not.toContain("TEMP B-TREE")
          }
        }).pipe(Effect.provide(backend(url)))
      }))
  })
}
