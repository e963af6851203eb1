/**
 * The backup rotation rule of domain.md §7 (`base.py:677-743`), in UTC:
 * parse the first 17 characters of each name as `%Y-%m-%d_%H%M%S` (others are ignored), group by
 * (year, month) in order of first appearance, keep a file when it is at most 180 days old, and
 * always keep the earliest file of every month; delete the rest.
 * Mirrors core's `BackupRotation.plan`; kept here so the worker does not wait on the core slice.
 */
export const KEEP_DAYS = 180

export const parseBackupTimestamp = (name: string): number | undefined => {
  const m = /^(\d{4})-(\d{2})-(\d{2})_(\d{2})(\d{2})(\d{2})/.exec(name.slice(0, 17))
  if (!m) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const t = Date.UTC(y, mo - 1, d, h, mi, s)
  const back = new Date(t)
  // Reject impossible dates (2025-02-30) the way strptime does.
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined
  return t
}

export interface RotationPlan {
  readonly keep: ReadonlyArray<string>
  readonly delete: ReadonlyArray<string>
}

export const planRotation = (names: ReadonlyArray<string>, nowMs: number): RotationPlan => {
  const groups = new Map<string, Array<{ name: string; t: number }>>()
  for (const name of names) {
    const t = parseBackupTimestamp(name)
    if (t === undefined) continue
    const d = new Date(t)
    const key = `${d.getUTCFullYear()}-${d.getUTCMonth()}`
    const g = groups.get(key) ?? []
    g.push({ name, t })
    groups.set(key, g)
  }
  const keep: Array<string> = []
  const del: Array<string> = []
  const cutoff = nowMs - KEEP_DAYS * 86_400_000
  for (const g of groups.values()) {
    g.sort((a, b) => a.t - b.t || (a.name < b.name ? -1 : 1))
    g.forEach((f, i) => (i === 0 || f.t >= cutoff ? keep : del).push(f.name))
  }
  return { keep, delete: del }
}

const pad = (n: number) => String(n).padStart(2, "0")
/** `<YYYY-mm-dd_HHMMSS>_<dbname>.bak`, UTC. */
export const backupFileName = (atMs: number, dbName: string): string => {
  const d = new Date(atMs)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}_${pad(d.getUTCHours())}${
    pad(d.getUTCMinutes())
  }${pad(d.getUTCSeconds())}_${dbName}.bak`
}
