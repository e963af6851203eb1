/**
 * The admin CLI against real databases: SQLite always, PostgreSQL when PRO_TEST_PG_URL is set.
 * Every command runs in-process through @effect/cli's Command.run with the console captured.
 */
import { DEV_BACKEND_SEED, Ed25519, GoogleNotificationHistory, hex, Revocations } from "@session-pro/core"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { emptyPgDb, emptySqliteDb, insertPayment, insertUser, pgDb, query, runCli, sqliteDb, type TestDb } from "./cliHarness.js"

const PG_URL = process.env.PRO_TEST_PG_URL
const DEV_PUB = hex(Ed25519.publicKeyFromSeed(DEV_BACKEND_SEED))
const key = (b: number) => new Uint8Array(32).fill(b)
const A = key(0xa1)
const B = key(0xb2)
const C = key(0xc3)
const D = key(0xd4)
const NOBODY = key(0xee)
const T = (iso: string) => Date.parse(iso)
const FAR = T("2100-01-01T00:00:00Z")

const backends: Array<["sqlite" | "pg", () => Promise<TestDb>]> = [["sqlite", async () => sqliteDb()]]
if (PG_URL) backends.push(["pg", () => pgDb(PG_URL)])
else {
  describe("admin CLI on PostgreSQL", () => {
    it.skip("skipped: set PRO_TEST_PG_URL=postgresql://user:pass@host/db to run every CLI test on PostgreSQL too", () => {})
  })
}

describe.each(backends)("admin CLI on %s", (kind, makeDb) => {
  let db: TestDb
  const makeEmpty = () => (kind === "pg" ? emptyPgDb(PG_URL!) : Promise.resolve(emptySqliteDb()))
  const cli = (...args: Array<string>) => runCli([...args, "--db-url", db.url])

  beforeAll(async () => {
    db = await makeDb()
    await db.run(
      Effect.gen(function*() {
        // Users A and C have live payments; D has only a revoked one; B is a user with an expired one.
        yield* insertPayment({ id: "a1", master: A, status: 2, plan: 1, provider: 1, auto: true, unredeemed: T("2026-01-01T10:00:00Z"), expiry: FAR })
        yield* insertPayment({ id: "a2", master: A, status: 3, plan: 2, provider: 2, auto: false, unredeemed: T("2025-01-01T10:00:00Z"), expiry: T("2025-04-01T00:00:00Z") })
        yield* insertPayment({ id: "a3", master: A, status: 2, plan: 3, provider: 3, auto: false, unredeemed: T("2026-01-02T10:00:00Z"), expiry: FAR })
        yield* insertPayment({ id: "c1", master: C, status: 1, plan: 1, provider: 2, auto: true, unredeemed: T("2026-01-03T10:00:00Z"), expiry: FAR })
        yield* insertUser(A, 0, FAR)
        yield* insertUser(C, 1, FAR)
        yield* insertUser(B, 2, T("2025-04-01T00:00:00Z"))
        yield* query(`INSERT INTO user_errors (payment_id, payment_provider, unix_ts_ms) VALUES ('existing', 1, 1)`)
        yield* query(`INSERT INTO google_notification_history (message_id, handled, payload, expiry_unix_ts_ms)
          VALUES (111, ${db.kind === "pg" ? "FALSE" : "0"}, '{"x":1}', ${T("2026-01-10T00:00:00Z")}),
                 (222, ${db.kind === "pg" ? "FALSE" : "0"}, '{"x":2}', ${T("2026-01-11T00:00:00Z")}),
                 (333, ${db.kind === "pg" ? "TRUE" : "1"}, NULL, ${T("2026-01-12T00:00:00Z")})`)
      })
    )
  })
  afterAll(async () => db?.cleanup())

  it("db info: counts, next gen index and the backend key", async () => {
    const r = await cli("db", "info")
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.split("\n")
    expect(lines).toHaveLength(5)
    expect(lines[0]).toMatch(db.kind === "sqlite" ? /^  DB: +sqlite:\/\/\/.*pro\.db \(\d+\.\d\d kB\)$/ : /^  DB: +postgresql:\/\/.* \(0\.00 B\)$/)
    expect(lines[1]).toMatch(/^  Users\/Revocs\/Payments\/Unredeemed: 3\/0\/4\/1$/)
    expect(lines[2]).toMatch(/^  U\.Errors\/Google\/Apple Notifs\.: +1\/3\/0$/)
    expect(lines[3]).toMatch(/^  Gen Index: +0$/)
    expect(lines[4]).toMatch(new RegExp(`^  Backend Key: +${DEV_PUB}$`))
  })

  it("db print: every table, box-drawn, readable cells", async () => {
    const r = await cli("db", "print")
    expect(r.code, r.stderr).toBe(0)
    for (const t of ["payments", "users", "revocations", "runtime", "user_errors", "google_notification_history", "apple_notification_uuid_history"]) {
      expect(r.stdout).toContain(`Table: ${t}`)
    }
    expect(r.stdout).toContain("┌")
    expect(r.stdout).toContain("│ Google Play Store (1)")
    expect(r.stdout).toContain("Redeemed (2)")
    expect(r.stdout).toContain("TwelveMonth (3)")
    expect(r.stdout).toContain(hex(A))
    expect(r.stdout).toContain("1767261600000 (26-01-01 10:00:00.000)")
    expect(r.stdout).toMatch(/│ Yes +│/)
    // The backend's signing seed is never printed unless unsafe_logging is on.
    expect(r.stdout).not.toContain("cdcdcdcdcdcdcdcd")
    expect(r.stdout).toContain(`(secret seed hidden; public key ${DEV_PUB})`)
    const unsafe = await runCli(["db", "print", "--db-url", db.url], { SESH_PRO_BACKEND_UNSAFE_LOGGING: "1" })
    expect(unsafe.stdout).toContain("cd".repeat(32))
  })

  it("user-error set and delete, each item reported", async () => {
    let r = await cli("user-error", "set", "1:tok-new=true, 1:existing=true,2:gone=false")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(
      ["Set 1/3 user errors", "  00 1:tok-new = True (added)", "  01 1:existing = True (skipped - already exists)", "  02 2:gone = False (skipped - not found)"].join("\n")
    )
    r = await cli("user-error", "set", "1:existing=FALSE", "--dry-run")
    expect(r.stdout).toBe(["Set 1/1 user errors", "  00 1:existing = False (dry-run)"].join("\n"))
    expect(await db.run(query(`SELECT COUNT(*) AS n FROM user_errors`))).toEqual([{ n: db.kind === "pg" ? "2" : 2 }])
    r = await cli("user-error", "delete", "1:existing,2:nope")
    expect(r.stdout).toBe(["Deleted 1/2 user errors", "  00 1:existing (deleted)", "  01 2:nope (skipped - not found)"].join("\n"))
    r = await cli("user-error", "set", "")
    expect(r.stdout).toBe("No items to process")
  })

  it("user-error rejects bad items in one line, changing nothing", async () => {
    for (const bad of ["3:rp=true", "0:x=true", "x:y=true", "1:tok", "1:tok=maybe"]) {
      const r = await cli("user-error", "set", `1:fine=true,${bad}`)
      expect(r.code).toBe(1)
      expect(r.stderr.split("\n")).toHaveLength(1)
      expect(r.stderr).toMatch(/^ERROR: /)
    }
    const rows = await db.run(query(`SELECT payment_id FROM user_errors WHERE payment_id = 'fine'`))
    expect(rows).toEqual([])
  })

  it("google-notification list, handle, delete", async () => {
    let r = await cli("google-notification", "list")
    expect(r.stdout).toBe(
      [
        "Found 2 unhandled google notifications:",
        "  00 message_id=111, expiry=1768003200000 (26-01-10 00:00:00.000)",
        "  01 message_id=222, expiry=1768089600000 (26-01-11 00:00:00.000)"
      ].join("\n")
    )
    r = await cli("google-notification", "handle", "111,999")
    expect(r.stdout).toBe(["Marked 1/2 google notifications as handled", "  00 111 = Handled", "  01 999 = Handled (skipped - not found)"].join("\n"))
    r = await cli("google-notification", "delete", "222", "--dry-run")
    expect(r.stdout).toBe(["Deleted 1/1 google notifications", "  00 222 = Delete (dry-run)"].join("\n"))
    r = await cli("google-notification", "delete", "222")
    expect(r.stdout).toBe(["Deleted 1/1 google notifications", "  00 222 = Delete"].join("\n"))
    r = await cli("google-notification", "list")
    expect(r.stdout).toBe("No unhandled google notifications")
    // Pub/Sub message ids are 16-17 digits: beyond 2^53 they must survive as exact integers.
    await db.run(Effect.flatMap(GoogleNotificationHistory, (h) => h.add("9007199254740993", T("2026-02-01T00:00:00Z"), "{}")))
    r = await cli("google-notification", "list")
    expect(r.stdout).toBe(["Found 1 unhandled google notifications:", "  00 message_id=9007199254740993, expiry=1769904000000 (26-02-01 00:00:00.000)"].join("\n"))
    r = await cli("google-notification", "handle", "9007199254740993")
    expect(r.stdout).toBe(["Marked 1/1 google notifications as handled", "  00 9007199254740993 = Handled"].join("\n"))
    r = await cli("google-notification", "handle", "12a")
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('ERROR: message id "12a" is not an integer')
  })

  it("revoke list shows the revocable payments (FLAG-43 fixed)", async () => {
    let r = await cli("revoke", "list", hex(A))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(
      [
        `User ${hex(A)} has 2 revocable payments`,
        "    00 RevokeID=GooglePlayStore-token-a1-order-a1; Status=Redeemed; Plan=1M; Unredeemed=1767261600000 (26-01-01 10:00:00.000); Expiry=4102444800000 (00-01-01 00:00:00.000);",
        "    01 RevokeID=Rangeproof-rp-a3; Status=Redeemed; Plan=12M; Unredeemed=1767348000000 (26-01-02 10:00:00.000); Expiry=4102444800000 (00-01-01 00:00:00.000);"
      ].join("\n")
    )
    r = await cli("revoke", "list", `0x${hex(NOBODY)}`)
    expect(r.stdout).toBe(`User 0x${hex(NOBODY)} has 0 revocable payments`)
    r = await cli("revoke", "list", "abcd")
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^ERROR: master public key must be 64 hex characters/)
  })

  it("revoke timestamp (dry run too, FLAG-44 fixed) and delete", async () => {
    let r = await cli("revoke", "timestamp", "--creation-unix-ts-s", "1767225600", hex(C), "1767830400", "--dry-run")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(
      `(DRY RUN) Would set revocation for ${hex(C)} to 1767225600000 (26-01-01 00:00:00.000) to 1767830400000 (26-01-08 00:00:00.000)`
    )
    expect(await db.run(query("SELECT * FROM revocations"))).toEqual([])
    r = await cli("revoke", "timestamp", "--creation-unix-ts-s", "1767225600", hex(C), "1767830400")
    expect(r.stdout).toBe(
      `Set revocation for ${hex(C)} to 1767225600000 (26-01-01 00:00:00.000) to 1767830400000 (26-01-08 00:00:00.000) (created)`
    )
    r = await cli("revoke", "timestamp", "--creation-unix-ts-s", "1767225600", hex(C), "1767916800")
    expect(r.stdout).toMatch(/\(updated\)$/)
    const rows = await db.run(query("SELECT gen_index, creation_unix_ts_ms, expiry_unix_ts_ms FROM revocations"))
    expect(rows.map((x) => [Number(x.gen_index), Number(x.creation_unix_ts_ms), Number(x.expiry_unix_ts_ms)])).toEqual([[1, 1767225600000, 1767916800000]])
    const ticket = await db.run(Effect.flatMap(Revocations, (rv) => rv.ticket))
    expect(ticket).toBe(2) // created + updated (FLAG-8 fixed)
    r = await cli("revoke", "timestamp", hex(NOBODY), "1767916800")
    expect(r.stdout).toMatch(/\(user does not exist\)$/)
    r = await cli("revoke", "delete", hex(C), "--dry-run")
    expect(r.stdout).toBe(`(DRY RUN) Would delete revocation for ${hex(C)}`)
    r = await cli("revoke", "delete", hex(C))
    expect(r.stdout).toBe(`Deleted revocation for ${hex(C)} (deleted)`)
    r = await cli("revoke", "delete", hex(C))
    expect(r.stdout).toBe(`Deleted revocation for ${hex(C)} (skipped)`)
    r = await cli("revoke", "delete", hex(NOBODY))
    expect(r.stdout).toBe(`Deleted revocation for ${hex(NOBODY)} (user does not exist)`)
  })

  it("voucher grants a Rangeproof payment and signs a proof", async () => {
    const master = key(0x5a)
    const rotating = Ed25519.publicKeyFromSeed(key(0x07))
    const r = await cli("voucher", "--master-pkey", `0x${hex(master)}`, "--plan", "3M", "--rotating-pkey", hex(rotating))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("Success: Unredeemed payment created")
    expect(r.stdout).toContain("Success: Payment redeemed and pro proof generated")
    expect(r.stdout).toMatch(/Proof Details:\n  Expiry: \d+ \(.*\)\n  Gen Index Hash: [0-9a-f]{64}$/)
    expect(r.stdout).not.toContain("Generated rotating")
    const orderId = /Order ID: ([0-9a-f-]{36})/.exec(r.stdout)![1]
    const rows = await db.run(query(`SELECT status, plan, payment_provider, rangeproof_order_id, expiry_unix_ts_ms - unredeemed_unix_ts_ms AS d FROM payments WHERE rangeproof_order_id = '${orderId}'`))
    expect(rows.map((x) => [Number(x.status), Number(x.plan), Number(x.payment_provider), Number(x.d)])).toEqual([[2, 2, 3, 90 * 86_400_000]])
    // No rotating key: a throwaway pair is generated and printed.
    const r2 = await cli("voucher", "--master-pkey", hex(master), "--plan", "1M", "--dev-duration-ms", "60000")
    expect(r2.code, r2.stderr).toBe(0)
    expect(r2.stdout).toMatch(/Generated rotating secret key: [0-9a-f]{64}/)
    const dry = await cli("voucher", "--master-pkey", hex(master), "--plan", "12M", "--dry-run")
    expect(dry.stdout).toBe(`(DRY RUN) Would grant a 12M Rangeproof voucher to ${hex(master)}`)
  })

  it("errors: one line and exit 1", async () => {
    let r = await cli("voucher", "--master-pkey", "zz", "--plan", "1M")
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^ERROR: master public key must be 64 hex characters.*$/)
    r = await runCli(["db", "info", "--db-url", "sqlite:////nonexistent/dir/x.db"])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe("ERROR: database file /nonexistent/dir/x.db does not exist (from --db-url); check --config or --db-url")
    // A database without the backend's tables is refused, never bootstrapped by the CLI.
    const empty = await makeEmpty()
    try {
      r = await runCli(["voucher", "--master-pkey", hex(A), "--plan", "1M", "--db-url", empty.url])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/^ERROR: database .* has no Session Pro tables; start the server on it once, or check --config\/--db-url$/)
      expect(await empty.tables()).toEqual([])
    } finally {
      await empty.cleanup()
    }
    r = await runCli(["db", "info", "--config", "/nonexistent.ini"])
    expect(r.stderr).toBe('ERROR: config file "/nonexistent.ini" does not exist or is not readable')
    expect(r.code).toBe(1)
  })
})
