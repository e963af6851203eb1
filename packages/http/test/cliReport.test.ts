/**
 * `report generate` on a seeded dataset with known counts (domain.md §6.16, FLAG-4 fixed): daily,
 * weekly (ISO weeks across the new year: no week-00 crash) and monthly, human and CSV, on SQLite and
 * (with PRO_TEST_PG_URL) PostgreSQL — the same numbers on both engines.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Reporting } from "@session-pro/core"
import { insertPayment, pgDb, runCli, sqliteDb, type TestDb } from "./cliHarness.js"

const PG_URL = process.env.PRO_TEST_PG_URL
const T = (iso: string) => Date.parse(iso)
const key = (b: number) => new Uint8Array(32).fill(b)

// P1..P6 (see the expectations below for how each one is counted).
const seed = Effect.all([
  insertPayment({ id: "p1", master: key(0xa), status: 2, plan: 1, provider: 1, auto: true, unredeemed: T("2026-01-01T10:00:00Z"), expiry: T("2026-01-31T10:00:00Z") }),
  insertPayment({ id: "p2", master: key(0xb), status: 2, plan: 2, provider: 2, auto: false, unredeemed: T("2026-01-01T20:00:00Z"), expiry: T("2026-04-01T20:00:00Z"), refundRequested: T("2026-01-05T12:00:00Z") }),
  insertPayment({ id: "p3", master: key(0xc), status: 2, plan: 3, provider: 3, auto: false, unredeemed: T("2026-01-05T09:00:00Z"), expiry: T("2027-01-05T09:00:00Z") }),
  insertPayment({ id: "p4", master: null, status: 1, plan: 1, provider: 1, auto: true, unredeemed: T("2026-01-05T15:00:00Z"), expiry: T("2026-02-04T15:00:00Z") }),
  insertPayment({ id: "p5", master: key(0xd), status: 4, plan: 1, provider: 2, auto: true, unredeemed: T("2025-12-30T08:00:00Z"), expiry: T("2026-01-29T08:00:00Z"), revoked: T("2026-01-02T00:00:00Z") }),
  insertPayment({ id: "p6", master: key(0xa), status: 3, plan: 1, provider: 1, auto: false, unredeemed: T("2025-11-15T00:00:00Z"), expiry: T("2025-12-15T00:00:00Z") })
], { discard: true })

// Period, Active Users, Unredeemed, New Subs, Google, Apple, Rangeproof, Plan 1m, 3m, 12m, Refunds, Revoked, Cancelling
type Row = [string, ...Array<number>]
const DAILY: Array<Row> = [
  ["2027-01-05", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  ["2026-04-01", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  ["2026-01-05", 3, 1, 2, 1, 0, 1, 1, 0, 1, 1, 0, 0],
  ["2026-01-02", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
  ["2026-01-01", 2, 0, 2, 1, 1, 0, 1, 1, 0, 0, 0, 0],
  ["2025-12-30", 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0],
  ["2025-12-15", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  ["2025-11-15", 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
]
const WEEKLY: Array<Row> = [
  ["2027-01-04 (W01)", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  ["2026-03-30 (W14)", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  ["2026-01-05 (W02)", 3, 1, 2, 1, 0, 1, 1, 0, 1, 1, 0, 0],
  ["2025-12-29 (W01)", 2, 0, 3, 1, 2, 0, 2, 1, 0, 0, 1, 0],
  ["2025-12-15 (W51)", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  ["2025-11-10 (W46)", 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
]
const MONTHLY: Array<Row> = [
  ["2027-01", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  ["2026-04", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  ["2026-01", 2, 1, 4, 2, 1, 1, 2, 1, 1, 1, 1, 0],
  ["2025-12", 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1],
  ["2025-11", 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
]
const HEADER = "Period,Active Users,Unredeemed,New Subs,Google,Apple,Rangeproof,Plan 1m,Plan 3m,Plan 12m,Refunds Initiated,Revoked,Cancelling"

/** Human rows back into cells: the period is the first 16 characters, the rest whitespace-separated. */
const parseHuman = (text: string): Array<Row> =>
  text.split("\n").slice(4).map((l) => [l.slice(0, 16).trim(), ...l.slice(16).trim().split(/ +/).map(Number)] as Row)
const parseCsv = (text: string): Array<Row> =>
  text.split("\r\n").slice(1).map((l) => {
    const [p, ...n] = l.split(",")
    return [p!, ...n.map(Number)] as Row
  })

describe("report period boundaries (core Reporting, used by the CLI)", () => {
  const { computeReport, periodOf } = Reporting
  it("daily, ISO weekly (no week 00) and monthly periods end on their last millisecond", () => {
    expect(periodOf("daily", T("2026-01-01T23:59:59.999Z"))).toMatchObject({ label: "2026-01-01", end: T("2026-01-01T23:59:59.999Z") })
    // 1 Jan 2026 is a Thursday: ISO week 1 of 2026 starts on Monday 29 Dec 2025 (SQLite %W calls it week 00).
    expect(periodOf("weekly", T("2026-01-01T00:00:00Z"))).toMatchObject({ label: "2025-12-29 (W01)", end: T("2026-01-04T23:59:59.999Z") })
    // 1 Jan 2027 is a Friday: it belongs to week 53 of 2026.
    expect(periodOf("weekly", T("2027-01-01T12:00:00Z")).label).toBe("2026-12-28 (W53)")
    expect(periodOf("weekly", T("2027-01-03T23:59:59.999Z")).label).toBe("2026-12-28 (W53)")
    expect(periodOf("weekly", T("2027-01-04T00:00:00Z")).label).toBe("2027-01-04 (W01)")
    expect(periodOf("monthly", T("2024-02-10T00:00:00Z"))).toMatchObject({ label: "2024-02", end: T("2024-02-29T23:59:59.999Z") })
    expect(periodOf("monthly", T("2025-12-31T23:59:59.999Z")).end).toBe(T("2025-12-31T23:59:59.999Z"))
  })

  it("daily active users are counted (FLAG-4b fixed) and an empty table gives no rows", () => {
    const p = { status: 2, plan: 1, payment_provider: 1, auto_renewing: true, expiry_unix_ts_ms: T("2026-03-31T08:00:00Z"), refund_requested_unix_ts_ms: 0, revoked_unix_ts_ms: null, master_pkey: key(0xaa) }
    const rows = computeReport([{ ...p, unredeemed_unix_ts_ms: T("2026-03-01T08:00:00Z") }, { ...p, unredeemed_unix_ts_ms: T("2026-03-01T09:00:00Z") }], "daily")
    expect(rows).toHaveLength(1)
    expect(rows[0]!.activeUsers).toBe(1)
    expect(computeReport([], "weekly", 7)).toEqual([])
  })
})

const backends: Array<["sqlite" | "pg", () => Promise<TestDb>]> = [["sqlite", async () => sqliteDb()]]
if (PG_URL) backends.push(["pg", () => pgDb(PG_URL)])
else {
  describe("report generate on PostgreSQL", () => {
    it.skip("skipped: set PRO_TEST_PG_URL to run the report tests on PostgreSQL too", () => {})
  })
}

describe.each(backends)("report generate on %s", (_kind, makeDb) => {
  let db: TestDb
  const report = (...args: Array<string>) => runCli(["report", "generate", ...args, "--db-url", db.url])
  beforeAll(async () => {
    db = await makeDb()
    await db.run(seed)
  })
  afterAll(async () => db?.cleanup())

  it("daily, human: exact text, newest first, default count 7", async () => {
    const r = await report("daily")
    expect(r.code, r.stderr).toBe(0)
    const header =
      "Period             Active Users   Unredeemed   New Subs   Google   Apple   Rangeproof    Plan 1m    Plan 3m   Plan 12m    Refunds Initiated    Revoked   Cancelling"
    const rule = "-".repeat(header.length)
    expect(r.stdout.split("\n").slice(0, 5)).toEqual([
      "DAILY REPORT",
      rule,
      header,
      rule,
      "2027-01-05                    0            0          0        0       0            0          0          0          0                    0          0            1"
    ])
    expect(parseHuman(r.stdout)).toEqual(DAILY.slice(0, 7))
    expect(r.stdout.endsWith("\n")).toBe(false)
  })

  it("daily, CSV with --count", async () => {
    const r = await report("daily", "--format", "csv", "--count", "3")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.split("\r\n")[0]).toBe(HEADER)
    expect(r.stdout).toBe([HEADER, "2027-01-05,0,0,0,0,0,0,0,0,0,0,0,1", "2026-04-01,0,0,0,0,0,0,0,0,0,0,0,1", "2026-01-05,3,1,2,1,0,1,1,0,1,1,0,0"].join("\r\n"))
    const all = await report("daily", "--format", "csv", "--count", "100")
    expect(parseCsv(all.stdout)).toEqual(DAILY)
  })

  it("weekly across the new year, human and CSV", async () => {
    const human = await report("weekly")
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout.split("\n")[0]).toBe("WEEKLY REPORT")
    expect(parseHuman(human.stdout)).toEqual(WEEKLY)
    const csv = await report("weekly", "--format", "csv")
    expect(csv.stdout.split("\r\n")[0]).toBe(HEADER)
    expect(parseCsv(csv.stdout)).toEqual(WEEKLY)
  })

  it("monthly, human and CSV", async () => {
    const human = await report("monthly", "--count", "2")
    expect(human.stdout.split("\n")[0]).toBe("MONTHLY REPORT")
    expect(parseHuman(human.stdout)).toEqual(MONTHLY.slice(0, 2))
    const csv = await report("monthly", "--format", "csv")
    expect(parseCsv(csv.stdout)).toEqual(MONTHLY)
  })

  it("rejects a bad period or count", async () => {
    expect((await report("yearly")).code).toBe(1)
    const r = await report("daily", "--count", "-1")
    expect(r.code).toBe(1)
    expect(r.stderr).toBe("ERROR: --count must not be negative")
  })
})
