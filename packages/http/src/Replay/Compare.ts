/** Deep comparison of DB snapshots and JSON values, reporting readable paths. */
import type { Snapshot } from "./Fixture.js"
import { deviationFor, NOT_COLUMNS } from "./Deviations.js"

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** Differences between `expected` and `actual` (all keys of both; arrays by position). */
export const diffJson = (expected: unknown, actual: unknown, path = "$", out: Array<string> = []): Array<string> => {
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) out.push(`${path}: expected ${expected.length} item(s), got ${actual.length}`)
    for (let i = 0; i < Math.min(expected.length, actual.length); i++) diffJson(expected[i], actual[i], `${path}[${i}]`, out)
    return out
  }
  if (isObj(expected) && isObj(actual)) {
    for (const k of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      if (!(k in actual)) out.push(`${path}.${k}: missing (expected ${JSON.stringify(expected[k])})`)
      else if (!(k in expected)) out.push(`${path}.${k}: unexpected ${JSON.stringify(actual[k])}`)
      else diffJson(expected[k], actual[k], `${path}.${k}`, out)
    }
    return out
  }
  if (expected !== actual) out.push(`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
  return out
}

/** DB values in snapshot form: bytes as hex, bigint as number. */
export const toSnapshotValue = (v: unknown): unknown =>
  v instanceof Uint8Array ? Buffer.from(v).toString("hex") : typeof v === "bigint" ? Number(v) : v

const sortKey: Record<string, (r: Record<string, unknown>) => string> = {
  payments: (r) => String(r.id).padStart(12, "0"),
  users: (r) => String(r.master_pkey),
  revocations: (r) => String(r.gen_index).padStart(12, "0"),
  user_errors: (r) => `${r.payment_provider}:${r.payment_id}`,
  apple_notification_uuid_history: (r) => `${r.uuid}:${r.expiry_unix_ts_ms}`,
  google_notification_history: (r) => `${String(r.message_id).padStart(24, "0")}:${r.expiry_unix_ts_ms}`
}

/**
 * Compares each table the snapshot lists, restricted to the columns it records (minus the
 * documented deviations). Rows are matched after sorting by the table's natural key.
 */
export const diffSnapshot = (expected: Snapshot, actual: Record<string, unknown>): Array<string> => {
  const out: Array<string> = []
  for (const [table, exp] of Object.entries(expected)) {
    if (exp === undefined) continue
    const act = actual[table]
    if (table === "runtime") {
      const e = exp as Record<string, unknown>
      const a = (act ?? {}) as Record<string, unknown>
      for (const col of Object.keys(e)) {
        const dev = deviationFor(table, col)
        if (dev && (dev.accept === undefined || dev.accept(e[col], a[col]))) continue
        if (e[col] !== a[col]) out.push(`runtime.${col}: expected ${JSON.stringify(e[col])}, got ${JSON.stringify(a[col])}`)
      }
      continue
    }
    const key = sortKey[table] ?? ((r: Record<string, unknown>) => JSON.stringify(r))
    const es = [...(exp as ReadonlyArray<Record<string, unknown>>)].sort((x, y) => key(x).localeCompare(key(y)))
    const as = [...((act ?? []) as ReadonlyArray<Record<string, unknown>>)].sort((x, y) => key(x).localeCompare(key(y)))
    if (es.length !== as.length) out.push(`${table}: expected ${es.length} row(s), got ${as.length}`)
    for (let i = 0; i < Math.min(es.length, as.length); i++) {
      const e = es[i]!
      const a = as[i]!
      for (const col of Object.keys(e)) {
        if (NOT_COLUMNS.has(col)) continue
        const dev = deviationFor(table, col)
        if (dev && (dev.accept === undefined || dev.accept(e[col], a[col]))) continue
        if (!(col in a)) out.push(`${table}[${i}].${col}: column missing`)
        else if (JSON.stringify(e[col]) !== JSON.stringify(a[col])) {
          out.push(`${table}[${i}].${col}: expected ${JSON.stringify(e[col])}, got ${JSON.stringify(a[col])}`)
        }
      }
    }
  }
  return out
}
