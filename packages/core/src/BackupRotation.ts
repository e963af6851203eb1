import { DAY_MS } from "./Domain/Constants.js"

export interface BackupRotationPlan {
  readonly keep: ReadonlyArray<string>
  readonly delete: ReadonlyArray<string>
  /** Names that do not start with `YYYY-MM-DD_HHMMSS`: neither kept nor deleted. */
  readonly ignored: ReadonlyArray<string>
}

const NAME = /^(\d{4})-(\d{2})-(\d{2})_(\d{2})(\d{2})(\d{2})/

const baseName = (p: string) => p.slice(Math.max(p.lastIndexOf("/"), p.lastIndexOf("\\")) + 1)

/** Wall-clock `YYYY-MM-DD_HHMMSS` of a backup name, as naive milliseconds (UTC fields = wall clock). */
export const parseBackupTimestamp = (path: string): number | undefined => {
  const m = NAME.exec(baseName(path))
  if (!m) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const t = Date.UTC(y, mo - 1, d, h, mi, s)
  const dt = new Date(t)
  // Reject impossible dates (strptime would): 2025-02-30 etc.
  if (dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined
  return t
}

/**
 * T1 / §7 backup rotation (a dry run): keep everything dated at or after `now − 180 days`, and always the
 * earliest file of every month; delete the rest. `now` is the naive wall-clock time in the same frame as
 * the file names (pass `Date.UTC(y, m, d, …)` of the local wall time). Output order: months in order of
 * first appearance, dates ascending inside each month.
 */
export const plan = (paths: ReadonlyArray<string>, now: number | Date): BackupRotationPlan => {
  const nowMs = typeof now === "number" ? now : now.getTime()
  const cutoff = nowMs - 180 * DAY_MS
  const groups = new Map<string, Array<{ path: string; t: number }>>()
  const ignored: Array<string> = []
  for (const p of paths) {
    const t = parseBackupTimestamp(p)
    if (t === undefined) {
      ignored.push(p)
      continue
    }
    const d = new Date(t)
    const key = `${d.getUTCFullYear()}-${d.getUTCMonth()}`
    const g = groups.get(key) ?? []
    g.push({ path: p, t })
    groups.set(key, g)
  }
  const keep: Array<string> = []
  const del: Array<string> = []
  for (const g of groups.values()) {
    g.sort((a, b) => a.t - b.t)
    g.forEach((f, i) => (i === 0 || f.t >= cutoff ? keep : del).push(f.path))
  }
  return { keep, delete: del, ignored }
}
