/** §6.16 reports with FLAG-4 fixed: period boundaries in code (UTC), ISO weeks, daily active users counted. */
import { describe, expect, it } from "@effect/vitest"
import { Backend, computeReport, DAY_MS, isoWeek, Payments, periodOf, Proofs, renderReport, type ReportPayment, Reports } from "@session-pro/core"
import { Effect, TestClock } from "effect"
import { account } from "./helpers.js"

const day = (s: string) => Date.parse(`${s}T00:00:00Z`)
const pay = (o: Partial<ReportPayment>): ReportPayment => ({
  master_pkey: new Uint8Array(32).fill(1),
  status: 2,
  plan: 1,
  payment_provider: 1,
  auto_renewing: true,
  unredeemed_unix_ts_ms: day("2026-01-05") + 3_600_000,
  expiry_unix_ts_ms: day("2026-02-04"),
  revoked_unix_ts_ms: null,
  refund_requested_unix_ts_ms: 0,
  ...o
})

describe("report periods", () => {
  it("daily / ISO weekly / monthly keys, labels and period ends", () => {
    expect(periodOf("daily", day("2026-01-05") + 5)).toEqual({ key: "2026-01-05", label: "2026-01-05", end: day("2026-01-06") - 1 })
    // 2027-01-01 is a Friday: it belongs to ISO week 53 of 2026 (the SQLite %W "week 00" that crashed the reference).
    expect(isoWeek(day("2027-01-01"))).toEqual({ year: 2026, week: 53, monday: day("2026-12-28") })
    expect(periodOf("weekly", day("2027-01-01"))).toEqual({ key: "2026-53", label: "2026-12-28 (W53)", end: day("2027-01-04") - 1 })
    expect(periodOf("weekly", day("2026-01-01")).label).toBe("2025-12-29 (W01)")
    expect(periodOf("monthly", day("2026-02-14"))).toEqual({ key: "2026-02", label: "2026-02", end: day("2026-03-01") - 1 })
  })
})

describe("computeReport / renderReport", () => {
  const data = [
    pay({}),
    pay({ master_pkey: new Uint8Array(32).fill(2), payment_provider: 2, plan: 3, unredeemed_unix_ts_ms: day("2026-01-06"), auto_renewing: false }),
    pay({ master_pkey: null, status: 1, payment_provider: 3, plan: 2, unredeemed_unix_ts_ms: day("2026-01-06") + 5, auto_renewing: false }),
    pay({ master_pkey: new Uint8Array(32).fill(3), status: 4, unredeemed_unix_ts_ms: day("2026-01-06"), revoked_unix_ts_ms: day("2026-01-07"), auto_renewing: false, refund_requested_unix_ts_ms: day("2026-01-07") + 1 })
  ]
  it("daily: active users counted (FLAG-4b fixed), all metrics per period, newest first", () => {
    const rows = computeReport(data, "daily")
    expect(rows.map((r) => r.period)).toEqual(["2026-02-04", "2026-01-07", "2026-01-06", "2026-01-05"])
    const jan6 = rows.find((r) => r.period === "2026-01-06")!
    expect(jan6).toEqual({
      period: "2026-01-06", activeUsers: 2, unredeemed: 1, newSubs: 3, google: 1, apple: 1, rangeproof: 1,
      plan1m: 1, plan3m: 1, plan12m: 1, refundsInitiated: 0, revoked: 0, cancelling: 0
    })
    expect(rows.find((r) => r.period === "2026-01-05")!.activeUsers).toBe(1)
    expect(rows.find((r) => r.period === "2026-01-07")).toMatchObject({ revoked: 1, refundsInitiated: 1 })
    // Cancelling is grouped by expiry: the non-auto-renewing Apple payment and the unredeemed Rangeproof one (status != 4).
    expect(rows.find((r) => r.period === "2026-02-04")!.cancelling).toBe(2)
    expect(computeReport(data, "daily", 2).length).toBe(2)
  })
  it("weekly and monthly", () => {
    expect(computeReport(data, "weekly").map((r) => r.period)).toEqual(["2026-02-02 (W06)", "2026-01-05 (W02)"])
    const [m2, m1] = computeReport(data, "monthly")
    expect(m2!.period).toBe("2026-02")
    expect(m1).toMatchObject({ period: "2026-01", newSubs: 4, activeUsers: 2 })
  })
  it("human and CSV formats", () => {
    const rows = computeReport(data, "daily", 1)
    const human = renderReport(rows, "daily", "human").split("\n")
    expect(human[0]).toBe("DAILY REPORT")
    expect(human[1]).toBe("-".repeat(human[2]!.length))
    expect(human[2]).toBe(
      "Period           " + "  Active Users" + "   Unredeemed" + "   New Subs" + "   Google" + "   Apple" + "   Rangeproof" +
        "    Plan 1m" + "    Plan 3m" + "   Plan 12m" + "    Refunds Initiated" + "    Revoked" + "   Cancelling"
    )
    expect(human[4]!.startsWith("2026-02-04       ")).toBe(true)
    expect(human.length).toBe(5)
    const csv = renderReport(rows, "daily", "csv")
    expect(csv.split("\r\n")).toEqual([
      "Period,Active Users,Unredeemed,New Subs,Google,Apple,Rangeproof,Plan 1m,Plan 3m,Plan 12m,Refunds Initiated,Revoked,Cancelling",
      "2026-02-04,0,0,0,0,0,0,0,0,0,0,0,2"
    ])
  })
})

describe("Reports service", () => {
  it.effect("reads the live payments", () =>
    Effect.gen(function*() {
      const T = day("2026-01-05") + 1000
      yield* TestClock.setTime(T)
      const u = account()
      yield* (yield* Payments).addUnredeemed({
        tx: { provider: 1, googlePaymentToken: "t", googleOrderId: "o" }, plan: 1, unredeemedUnixTsMs: T,
        expiryUnixTsMs: T + 30 * DAY_MS, platformRefundExpiryUnixTsMs: 0, googleObfuscatedAccountId: u.accountId
      })
      yield* (yield* Proofs).addProPayment(u.add({ provider: 1, googlePaymentToken: "t", googleOrderId: "o" }))
      const rows = yield* (yield* Reports).rows("daily")
      expect(rows).toEqual([expect.objectContaining({ period: "2026-01-05", activeUsers: 1, newSubs: 1, google: 1, plan1m: 1 })])
      expect(yield* (yield* Reports).generate("monthly", "csv")).toBe(
        "Period,Active Users,Unredeemed,New Subs,Google,Apple,Rangeproof,Plan 1m,Plan 3m,Plan 12m,Refunds Initiated,Revoked,Cancelling\r\n2026-01,1,0,1,1,0,0,1,0,0,0,0,0"
      )
    }).pipe(Effect.provide(Backend.layerSqlite(":memory:"))))
})
