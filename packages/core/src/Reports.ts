import { Effect } from "effect"
import { DAY_MS } from "./Domain/Constants.js"
import { PaymentProvider, PaymentStatus, ProPlan } from "./Domain/Enums.js"
import { bool, bytes, Database, num, numOrNull, storage } from "./Storage/Database.js"

export type ReportPeriod = "daily" | "weekly" | "monthly"
export type ReportFormat = "human" | "csv"

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

export interface ReportPayment {
  readonly master_pkey: Uint8Array | null
  readonly status: number
  readonly plan: number
  readonly payment_provider: number
  readonly auto_renewing: boolean
  readonly unredeemed_unix_ts_ms: number
  readonly expiry_unix_ts_ms: number
  readonly revoked_unix_ts_ms: number | null
  readonly refund_requested_unix_ts_ms: number
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0")

/** ISO-8601 week (Monday-based, week 1 holds the year's first Thursday) of a UTC time. */
export const isoWeek = (t: number): { year: number; week: number; monday: number } => {
  const day = Math.floor(t / DAY_MS) * DAY_MS
  const dow = (new Date(day).getUTCDay() + 6) % 7 // 0 = Monday
  const monday = day - dow * DAY_MS
  const thursday = monday + 3 * DAY_MS
  const year = new Date(thursday).getUTCFullYear()
  const jan1 = Date.UTC(year, 0, 1)
  const week = Math.floor((thursday - jan1) / DAY_MS / 7) + 1
  return { year, week, monday }
}

/**
 * Period of a UTC time: sortable key, display label and the period's last millisecond. FLAG-4 fixed:
 * boundaries are computed here, in UTC, for both engines; weeks are ISO weeks (labelled by their Monday,
 * `YYYY-MM-DD (Wnn)`, like the reference's labels), so early January never crashes.
 */
export const periodOf = (period: ReportPeriod, t: number): { key: string; label: string; end: number } => {
  const d = new Date(t)
  switch (period) {
    case "daily": {
      const start = Math.floor(t / DAY_MS) * DAY_MS
      const key = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
      return { key, label: key, end: start + DAY_MS - 1 }
    }
    case "weekly": {
      const w = isoWeek(t)
      const m = new Date(w.monday)
      return {
        key: `${w.year}-${pad(w.week)}`,
        label: `${m.getUTCFullYear()}-${pad(m.getUTCMonth() + 1)}-${pad(m.getUTCDate())} (W${pad(w.week)})`,
        end: w.monday + 7 * DAY_MS - 1
      }
    }
    case "monthly": {
      const key = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`
      return { key, label: key, end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - 1 }
    }
  }
}

/** §6.16 metrics over payments, newest period first, cut to `limit`. */
export const computeReport = (payments: ReadonlyArray<ReportPayment>, period: ReportPeriod, limit?: number): Array<ReportRow> => {
  type Counter = Map<string, number>
  const mk = (): Counter => new Map()
  const inc = (c: Counter, k: string) => c.set(k, (c.get(k) ?? 0) + 1)
  const m = {
    unredeemed: mk(), newSubs: mk(), google: mk(), apple: mk(), rangeproof: mk(),
    plan1m: mk(), plan3m: mk(), plan12m: mk(), refundsInitiated: mk(), revoked: mk(), cancelling: mk(), activeUsers: mk()
  }
  const labels = new Map<string, string>()
  const ends = new Map<string, number>()
  const key = (t: number) => {
    const p = periodOf(period, t)
    labels.set(p.key, p.label)
    ends.set(p.key, p.end)
    return p.key
  }
  for (const p of payments) {
    const uk = key(p.unredeemed_unix_ts_ms)
    if (p.status === PaymentStatus.Unredeemed) inc(m.unredeemed, uk)
    if (p.plan === ProPlan.OneMonth) inc(m.plan1m, uk)
    if (p.plan === ProPlan.ThreeMonth) inc(m.plan3m, uk)
    if (p.plan === ProPlan.TwelveMonth) inc(m.plan12m, uk)
    if (p.payment_provider === PaymentProvider.GooglePlayStore) inc(m.google, uk)
    if (p.payment_provider === PaymentProvider.iOSAppStore) inc(m.apple, uk)
    if (p.payment_provider === PaymentProvider.Rangeproof) inc(m.rangeproof, uk)
    if (p.unredeemed_unix_ts_ms > 0) inc(m.newSubs, uk)
    if (p.refund_requested_unix_ts_ms > 0) inc(m.refundsInitiated, key(p.refund_requested_unix_ts_ms))
    if (p.revoked_unix_ts_ms !== null && p.revoked_unix_ts_ms > 0) inc(m.revoked, key(p.revoked_unix_ts_ms))
    if (!p.auto_renewing && p.status !== PaymentStatus.Revoked) inc(m.cancelling, key(p.expiry_unix_ts_ms))
  }
  // Active users: for each period that saw a purchase, distinct keys whose payment spans the period's end.
  for (const k of new Set(payments.map((p) => key(p.unredeemed_unix_ts_ms)))) {
    const end = ends.get(k)!
    const active = new Set<string>()
    for (const p of payments) {
      if (p.master_pkey === null || p.status === PaymentStatus.Revoked) continue
      if (end >= p.unredeemed_unix_ts_ms && end <= p.expiry_unix_ts_ms) active.add(Buffer.from(p.master_pkey).toString("hex"))
    }
    if (active.size > 0) m.activeUsers.set(k, active.size)
  }
  const keys = new Set<string>([
    ...m.newSubs.keys(), ...m.refundsInitiated.keys(), ...m.revoked.keys(), ...m.cancelling.keys(), ...m.activeUsers.keys()
  ])
  const sorted = [...keys].sort().reverse()
  const cut = limit === undefined ? sorted : sorted.slice(0, Math.max(limit, 0))
  return cut.map((k) => ({
    period: labels.get(k) ?? k,
    activeUsers: m.activeUsers.get(k) ?? 0,
    unredeemed: m.unredeemed.get(k) ?? 0,
    newSubs: m.newSubs.get(k) ?? 0,
    google: m.google.get(k) ?? 0,
    apple: m.apple.get(k) ?? 0,
    rangeproof: m.rangeproof.get(k) ?? 0,
    plan1m: m.plan1m.get(k) ?? 0,
    plan3m: m.plan3m.get(k) ?? 0,
    plan12m: m.plan12m.get(k) ?? 0,
    refundsInitiated: m.refundsInitiated.get(k) ?? 0,
    revoked: m.revoked.get(k) ?? 0,
    cancelling: m.cancelling.get(k) ?? 0
  }))
}

const COLUMNS: ReadonlyArray<readonly [string, number, keyof ReportRow]> = [
  ["Period", 16, "period"],
  ["Active Users", 14, "activeUsers"],
  ["Unredeemed", 12, "unredeemed"],
  ["New Subs", 10, "newSubs"],
  ["Google", 8, "google"],
  ["Apple", 7, "apple"],
  ["Rangeproof", 12, "rangeproof"],
  ["Plan 1m", 10, "plan1m"],
  ["Plan 3m", 10, "plan3m"],
  ["Plan 12m", 10, "plan12m"],
  ["Refunds Initiated", 20, "refundsInitiated"],
  ["Revoked", 10, "revoked"],
  ["Cancelling", 12, "cancelling"]
]

const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, "\"\"")}"` : v)

/** Human (fixed-width table) or CSV (`\r\n`, stripped) rendering of §6.16. */
export const renderReport = (rows: ReadonlyArray<ReportRow>, period: ReportPeriod, format: ReportFormat): string => {
  if (format === "csv") {
    const lines = [COLUMNS.map(([n]) => csvCell(n)).join(","), ...rows.map((r) => COLUMNS.map(([, , k]) => csvCell(String(r[k]))).join(","))]
    return lines.join("\r\n").trim()
  }
  const cell = (v: string, w: number, i: number) => (i === 0 ? v.padEnd(w) : v.padStart(w))
  const header = COLUMNS.map(([n, w], i) => cell(n, w, i)).join(" ")
  const rule = "-".repeat(header.length)
  const body = rows.map((r) => COLUMNS.map(([, w, k], i) => cell(String(r[k]), w, i)).join(" "))
  return [`${period.toUpperCase()} REPORT`, rule, header, rule, ...body].join("\n")
}

/** Reports over the live database. */
export class Reports extends Effect.Service<Reports>()("@session-pro/core/Reports", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const sql = db.sql
    const load = storage(sql`SELECT master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms,
        expiry_unix_ts_ms, revoked_unix_ts_ms, refund_requested_unix_ts_ms FROM payments`).pipe(
      Effect.map((rows) =>
        rows.map((r: any): ReportPayment => ({
          master_pkey: bytes(r.master_pkey),
          status: num(r.status),
          plan: num(r.plan),
          payment_provider: num(r.payment_provider),
          auto_renewing: bool(r.auto_renewing),
          unredeemed_unix_ts_ms: num(r.unredeemed_unix_ts_ms),
          expiry_unix_ts_ms: num(r.expiry_unix_ts_ms),
          revoked_unix_ts_ms: numOrNull(r.revoked_unix_ts_ms),
          refund_requested_unix_ts_ms: num(r.refund_requested_unix_ts_ms)
        }))
      )
    )
    const rows = (period: ReportPeriod, limit?: number) => Effect.map(load, (p) => computeReport(p, period, limit))
    const generate = (period: ReportPeriod, format: ReportFormat = "human", limit?: number) =>
      Effect.map(rows(period, limit), (r) => renderReport(r, period, format))
    return { rows, generate } as const
  })
}) {}
