/**
 * Backup file naming; the rotation rule itself is core's `BackupRotation.plan` (domain.md §7):
 * keep a file at most 180 days old and always the earliest of every month, delete the rest, ignore
 * names that do not start with `YYYY-mm-dd_HHMMSS`. We name and compare in UTC.
 */
import { BackupRotation } from "@session-pro/core"

export const planRotation = (names: ReadonlyArray<string>, nowMs: number): BackupRotation.BackupRotationPlan => BackupRotation.plan(names, nowMs)

const pad = (n: number) => String(n).padStart(2, "0")
/** `<YYYY-mm-dd_HHMMSS>_<dbname>.bak`, UTC. */
export const backupFileName = (atMs: number, dbName: string): string => {
  const d = new Date(atMs)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}_${pad(d.getUTCHours())}${
    pad(d.getUTCMinutes())
  }${pad(d.getUTCSeconds())}_${dbName}.bak`
}
