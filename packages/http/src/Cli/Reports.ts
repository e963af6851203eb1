/**
 * Subscription reports (domain.md §6.16), computed in code from the payments table.
 *
 * Why not in SQL as the reference does: its period keys and period ends are dialect-specific and
 * broken (FLAG-4a week 00 crashes the weekly report on SQLite, FLAG-4b daily Active Users is always 0
 * on SQLite, FLAG-4c the PG period-end SQL does not run; SQLite `%W` and PG `IW` weeks also differ).
 * Here one UTC calendar serves both engines: days, ISO-8601 weeks (Monday start, labelled with the
 * Monday's date as the reference does, `YYYY-MM-DD (Wnn)`), calendar months; a period ends on its
 * last millisecond.
 *
 * Metric definitions, the period set (union of New Subs, Refunds, Revoked, Cancelling and Active
 * Users keys), ordering, the limit and both output formats follow §6.16.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { bool, bytes, num } from "./Format.js"

export type ReportKind = "daily" | "weekly" | "monthly"

export interface ReportPayment {
  readonly status: number
  readonly plan: number
  readonly provider: number
  readonly autoRenewing: boolean
  readonly unredeemedUnixTsMs: number
  readonly expiryUnixTsMs: number
  readonly refundRequestedUnixTsMs: number
  readonly revokedUnixTsMs: number | null
  /** Hex; null while unredeemed. */
  readonly masterPkey: string | null
}

export interface ReportRow {
  readonly period: string
  readonly activeUsers: number
  readonly unredeemed: number
  readonly newSubs: number
  readonly google: number
  readonly apple: number
  readonly rangeproof: number
  readonly plan1m: number
  readonly plan3m: number
  readonly plan12m: number
  readonly refundsInitiated: number
  readonly revoked: number
  readonly cancelling: number
}

export const REPORT_COLUMNS: ReadonlyArray<readonly [header: string, key: keyof ReportRow, width: number]> = [
  ["Period", "period", 16],
  ["Active Users", "activeUsers", 14],
  ["Unredeemed", "unredeemed", 12],
  ["New Subs", "newSubs", 10],
  ["Google", "google", 8],
  ["Apple", "apple", 7],
  ["Rangeproof", "rangeproof", 12],
  ["Plan 1m", "plan1m", 10],
  ["Plan 3m", "plan3m", 10],
  ["Plan 12m", "plan12m", 10],
  ["Refunds Initiated", "refundsInitiated", 20],
  ["Revoked", "revoked", 10],
  ["Cancelling", "cancelling", 12]
]

const DAY_MS = 86_400_000
const pad = (n: number, w = 2) => String(n).padStart(w, "0")
const ymd = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`

export interface Period {
  /** The label, which is also the sort key (string order = time order). */
  readonly key: string
  readonly startMs: number
  /** Last millisecond of the period (inclusive). */
  readonly endMs: number
}

/** The UTC period containing `t`. */
export const periodOf = (kind: ReportKind, t: number): Period => {
  const dayStart = Math.floor(t / DAY_MS) * DAY_MS
  const d = new Date(dayStart)
  switch (kind) {
    case "daily":
      return { key: ymd(d), startMs: dayStart, endMs: dayStart + DAY_MS - 1 }
    case "weekly": {
      const isoDow = (d.getUTCDay() + 6) % 7 // Monday = 0
      const monday = dayStart - isoDow * DAY_MS
      // The ISO week-year is the year of that week's Thursday.
      const thursday = new Date(monday + 3 * DAY_MS)
      const isoYear = thursday.getUTCFullYear()
      const week = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / DAY_MS / 7) + 1
      return { key: `${ymd(new Date(monday))} (W${pad(week)})`, startMs: monday, endMs: monday + 7 * DAY_MS - 1 }
    }
    case "monthly": {
      const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
      const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
      return { key: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`, startMs: start, endMs: next - 1 }
    }
  }
}

/** Rows, newest period first, at most `limit` (undefined = all). */
export const computeReport = (
  kind: ReportKind,
  payments: ReadonlyArray<ReportPayment>,
  limit: number | undefined
): Array<ReportRow> => {
  type Counts = { -readonly [K in Exclude<keyof ReportRow, "period" | "activeUsers">]: number }
  const periods = new Map<string, Period>()
  const counts = new Map<string, Counts>()
  const bump = (t: number, f: keyof Counts) => {
    const p = periodOf(kind, t)
    periods.set(p.key, p)
    let c = counts.get(p.key)
    if (!c) {
      c = {
        unredeemed: 0, newSubs: 0, google: 0, apple: 0, rangeproof: 0, plan1m: 0, plan3m: 0, plan12m: 0,
        refundsInitiated: 0, revoked: 0, cancelling: 0
      }
      counts.set(p.key, c)
    }
    c[f]++
  }
  // Keys of periods in which something was purchased: Active Users is reported for these (§6.16).
  const purchasePeriods = new Set<string>()
  for (const p of payments) {
    if (p.unredeemedUnixTsMs > 0) {
      purchasePeriods.add(periodOf(kind, p.unredeemedUnixTsMs).key)
      bump(p.unredeemedUnixTsMs, "newSubs")
      if (p.status === 1) bump(p.unredeemedUnixTsMs, "unredeemed")
      if (p.plan === 1) bump(p.unredeemedUnixTsMs, "plan1m")
      if (p.plan === 2) bump(p.unredeemedUnixTsMs, "plan3m")
      if (p.plan === 3) bump(p.unredeemedUnixTsMs, "plan12m")
      if (p.provider === 1) bump(p.unredeemedUnixTsMs, "google")
      if (p.provider === 2) bump(p.unredeemedUnixTsMs, "apple")
      if (p.provider === 3) bump(p.unredeemedUnixTsMs, "rangeproof")
    }
    if (p.refundRequestedUnixTsMs > 0) bump(p.refundRequestedUnixTsMs, "refundsInitiated")
    if (p.revokedUnixTsMs !== null && p.revokedUnixTsMs > 0) bump(p.revokedUnixTsMs, "revoked")
    if (!p.autoRenewing && p.status !== 4) bump(p.expiryUnixTsMs, "cancelling")
  }
  const keys = [...periods.keys()].sort().reverse()
  const shown = limit === undefined ? keys : keys.slice(0, Math.max(0, limit))
  // Active Users only for the periods shown: distinct master keys whose non-revoked payment covers the period's end.
  const candidates = payments.filter((p) => p.status !== 4 && p.masterPkey !== null)
  return shown.map((key) => {
    const period = periods.get(key)!
    const c = counts.get(key)!
    let activeUsers = 0
    if (purchasePeriods.has(key)) {
      const users = new Set<string>()
      for (const p of candidates) {
        if (period.endMs >= p.unredeemedUnixTsMs && period.endMs <= p.expiryUnixTsMs) users.add(p.masterPkey!)
      }
      activeUsers = users.size
    }
    return { period: key, activeUsers, ...c }
  })
}

export const formatHuman = (kind: ReportKind, rows: ReadonlyArray<ReportRow>): string => {
  const fmt = (cells: ReadonlyArray<string>) =>
    REPORT_COLUMNS.map(([, , w], i) => (i === 0 ? cells[i]!.padEnd(w) : cells[i]!.padStart(w))).join(" ")
  const header = fmt(REPORT_COLUMNS.map(([h]) => h))
  const rule = "-".repeat(header.length)
  const lines = [`${kind.toUpperCase()} REPORT`, rule, header, rule]
  for (const r of rows) lines.push(fmt(REPORT_COLUMNS.map(([, k]) => String(r[k]))))
  return lines.join("\n")
}

const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

export const formatCsv = (rows: ReadonlyArray<ReportRow>): string =>
  [REPORT_COLUMNS.map(([h]) => h), ...rows.map((r) => REPORT_COLUMNS.map(([, k]) => String(r[k])))]
    .map((cells) => cells.map(csvField).join(","))
    .join("\r\n")
    .trim()

/** The report's input, read the same way on SQLite and PostgreSQL. */
export const loadReportPayments: Effect.Effect<Array<ReportPayment>, SqlError, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<Record<string, unknown>>`SELECT status, plan, payment_provider, auto_renewing,
      unredeemed_unix_ts_ms, expiry_unix_ts_ms, refund_requested_unix_ts_ms, revoked_unix_ts_ms, master_pkey
      FROM payments`
    return rows.map((r) => {
      const master = bytes(r.master_pkey)
      return {
        status: num(r.status),
        plan: num(r.plan),
        provider: num(r.payment_provider),
        autoRenewing: bool(r.auto_renewing),
        unredeemedUnixTsMs: num(r.unredeemed_unix_ts_ms),
        expiryUnixTsMs: num(r.expiry_unix_ts_ms),
        refundRequestedUnixTsMs: num(r.refund_requested_unix_ts_ms),
        revokedUnixTsMs: r.revoked_unix_ts_ms === null || r.revoked_unix_ts_ms === undefined ? null : num(r.revoked_unix_ts_ms),
        masterPkey: master ? Buffer.from(master).toString("hex") : null
      }
    })
  }
)

export const generateReport = (kind: ReportKind, format: "human" | "csv", limit: number | undefined) =>
  Effect.map(loadReportPayments, (payments) => {
    const rows = computeReport(kind, payments, limit)
    return format === "csv" ? formatCsv(rows) : formatHuman(kind, rows)
  })
