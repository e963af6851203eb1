/** Text rendering shared by the commands: numbers from either engine, sizes, box tables, cells. */
import { fromHex, hex, paymentStatusName, proPlanName, readableTimestamp } from "@session-pro/core"

/**
 * A number from a DB cell: SQLite gives numbers, PostgreSQL's driver gives BIGINT as a string.
 * Every value the schema stores fits a double (ms timestamps, counters).
 */
export const num = (v: unknown): number => {
  if (typeof v === "number") return v
  if (typeof v === "bigint") return Number(v)
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v)
  if (typeof v === "boolean") return v ? 1 : 0
  if (v === null || v === undefined) return 0
  return Number(v)
}

export const bool = (v: unknown): boolean => v === true || num(v) !== 0

/** `bytes` from a DB cell (SQLite: Uint8Array, PG: Buffer — also a Uint8Array). */
export const bytes = (v: unknown): Uint8Array | undefined => (v instanceof Uint8Array ? v : undefined)

/** 64 hex characters with an optional `0x` prefix → 32 bytes (§12.1, §12.7), or a one-line reason. */
export const parseKeyHex = (label: string, text: string, length = 32): Uint8Array | string => {
  const t = text.trim().replace(/^0x/i, "")
  if (t.length !== length * 2) return `${label} must be ${length * 2} hex characters (optionally 0x-prefixed), got ${t.length}`
  if (!/^[0-9a-fA-F]*$/.test(t)) return `${label} is not valid hex`
  return fromHex(t)
}

/** db info's size column: two decimals in steps of 1024 (`0.00 B` for nothing). */
export const formatSize = (n: number): string => {
  const units = ["B", "kB", "MB", "GB", "TB"]
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(2)} ${units[i]}`
}

/** A box-drawn table, cells left-aligned with one space of padding (db print, §12.12). */
export const boxTable = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (l: string, m: string, r: string) => l + widths.map((w) => "─".repeat(w + 2)).join(m) + r
  const row = (cells: ReadonlyArray<string>) => "│" + widths.map((w, i) => ` ${(cells[i] ?? "").padEnd(w)} `).join("│") + "│"
  return [line("┌", "┬", "┐"), row(headers), line("├", "┼", "┤"), ...rows.map(row), line("└", "┴", "┘")].join("\n")
}

const PROVIDER_NAMES: Record<number, string> = {
  0: " Nil (0)",
  1: "Google Play Store (1)",
  2: "iOS App Store (2)",
  3: "Rangeproof (3)"
}

const cleanText = (s: string): string => {
  const t = s.replace(/[\n\r\t]/g, "")
  return t.length > 128 ? `${t.slice(0, 128)}...(${t.length})` : t
}

/**
 * One db print cell (§12.12), first matching rule wins. Deviation: byte columns always print as hex
 * (the reference decodes them as UTF-8 when it can, which turns some keys into mojibake).
 */
export const renderCell = (table: string, column: string, value: unknown, isBigintColumn = false): string => {
  if (value === null || value === undefined) return "None"
  if (value instanceof Uint8Array) return cleanText(hex(value))
  if (typeof value === "string" && !(isBigintColumn && /^-?\d+$/.test(value))) return cleanText(value)
  if (column.endsWith("unix_ts_ms")) return readableTimestamp(num(value))
  if (column.endsWith("_s")) return `${num(value)} (${(num(value) / 86_400).toFixed(2)} days)`
  if (column === "payment_provider") return PROVIDER_NAMES[num(value)] ?? `Unknown (${num(value)})`
  if (table === "payments" && column === "status") return `${paymentStatusName(num(value))} (${num(value)})`
  if (table === "payments" && column === "plan") return `${proPlanName(num(value))} (${num(value)})`
  if (table === "payments" && column === "auto_renewing") return bool(value) ? "Yes" : "No (0)"
  if (typeof value === "boolean") return value ? "True" : "False"
  return String(value)
}

export const planShort = (plan: number): string => (plan === 1 ? "1M" : plan === 2 ? "3M" : plan === 3 ? "12M" : "??")

export const providerName = (p: number): string =>
  p === 1 ? "GooglePlayStore" : p === 2 ? "iOSAppStore" : p === 3 ? "Rangeproof" : p === 0 ? "Nil" : `Unknown${p}`

/** `NN` item numbers of the reference's listings (two digits, zero-padded). */
export const nn = (i: number): string => String(i).padStart(2, "0")
