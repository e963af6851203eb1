/**
 * SQLite backups after each day boundary (domain.md §7 steps 3.2-3.3), in the process that ran
 * the day's maintenance only (FLAG-11: once per deployment, not once per worker).
 *
 * Only for SQLite *files*: an in-memory database has nothing to back up (FLAG-42 fixed) and
 * PostgreSQL is backed up by its own tooling. The copy is an online backup through a separate
 * read-only better-sqlite3 connection, written to a temporary name and renamed into place so the
 * rotation never sees half a file. Rotation then applies the 180-day / first-of-month rule.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import type { BackupRotation } from "@session-pro/core"
import { Cause, Context, Effect, Layer, Schedule } from "effect"
import type { DatabaseTarget } from "../Config/ServerConfig.js"
import * as Metrics from "../Observability/Metrics.js"
import { WebhookSink } from "../Observability/Webhooks.js"
import { backupFileName, planRotation } from "./BackupRotation.js"
import { onEachNewDay, recordFailure } from "./DayLoop.js"
import { openSqlite } from "./SqliteFile.js"

export const NAME = "backup"

export class BackupTarget extends Context.Tag("@session-pro/http/BackupTarget")<BackupTarget, {
  /** Absolute path of the SQLite file, or undefined when there is nothing to back up. */
  readonly file: string | undefined
}>() {
  static fromDatabase(db: DatabaseTarget) {
    return Layer.succeed(BackupTarget, {
      file: db._tag === "Sqlite" && db.filename !== ":memory:" ? db.filename : undefined
    })
  }
}

/** Online backup of `file` to `dest` (atomic rename from a temporary name). */
export const backupSqlite = (file: string, dest: string) =>
  Effect.acquireUseRelease(
    Effect.try(() => openSqlite(file, { readonly: true, fileMustExist: true })),
    (db) =>
      Effect.tryPromise(async () => {
        const tmp = NodePath.join(NodePath.dirname(dest), `.tmp-${NodePath.basename(dest)}`)
        await db.backup(tmp)
        // The copy inherits WAL mode; switch it to a rollback journal so the .bak is one self-contained file.
        const copy = openSqlite(tmp)
        try {
          copy.pragma("journal_mode = DELETE")
        } finally {
          copy.close()
        }
        NodeFs.renameSync(tmp, dest)
      }),
    (db) => Effect.sync(() => db.close())
  )

/** Rotation of the `*_<dbname>.bak` files next to `file`; returns the deleted names. */
export const rotate = (file: string, nowMs: number): Effect.Effect<BackupRotation.BackupRotationPlan, Cause.UnknownException> =>
  Effect.try(() => {
    const dir = NodePath.dirname(file)
    const suffix = `_${NodePath.basename(file)}.bak`
    const names = NodeFs.readdirSync(dir).filter((n) => n.endsWith(suffix))
    const plan = planRotation(names, nowMs)
    for (const n of plan.delete) NodeFs.rmSync(NodePath.join(dir, n), { force: true })
    return plan
  })

export const runBackup = (file: string, boundaryMs: number) =>
  Effect.gen(function*() {
    const sink = yield* WebhookSink
    const plan = yield* rotate(file, boundaryMs)
    if (plan.delete.length > 0) {
      Metrics.backupsDeleted.inc(plan.delete.length)
      const msg = `Backup rotation deleted ${plan.delete.length} file(s):\n  ${plan.delete.join("\n  ")}`
      yield* Effect.logInfo(msg)
      yield* sink.push(msg)
    }
    const dest = NodePath.join(NodePath.dirname(file), backupFileName(boundaryMs, NodePath.basename(file)))
    yield* backupSqlite(file, dest).pipe(
      Effect.retry(Schedule.exponential("2 seconds").pipe(Schedule.compose(Schedule.recurs(4))))
    )
    Metrics.backupRuns.inc({ outcome: "ok" })
    const msg = `Backed up DB successfully ${file} -> ${dest}`
    yield* Effect.logInfo(msg)
    yield* sink.push(msg)
    return dest
  })

export const BackupWorker = Layer.scopedDiscard(
  Effect.gen(function*() {
    const target = yield* BackupTarget
    if (target.file === undefined) return
    const file = target.file
    yield* onEachNewDay(NAME, (ev) =>
      runBackup(file, ev.boundaryMs).pipe(
        Effect.tapErrorCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.void : Effect.sync(() => Metrics.backupRuns.inc({ outcome: "failed" }))
        ),
        Effect.catchAllCause(recordFailure(NAME, `Backup of ${file} failed`))
      ))
  })
)
