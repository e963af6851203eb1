/**
 * SQLite backups after each day boundary (domain.md §7 steps 3.2-3.3), in the process that ran
 * the day's maintenance only (FLAG-11: once per deployment, not once per worker).
 *
 * Only for SQLite *files*: an in-memory database has nothing to back up (FLAG-42 fixed) and
 * PostgreSQL is backed up by its own tooling. Rotation then applies the 180-day / first-of-month rule.
 *
 * The copy is SQLite's online backup, stepped a few pages at a time between event-loop turns, into a
 * temporary name that is renamed into place only once complete (a failure or interruption removes it),
 * so the rotation never sees half a file. SQLite restarts an online backup whenever its source is
 * written by *another* connection; copying through a separate connection under steady write traffic
 * from the server's own therefore never finished. So the copy goes, in order of preference:
 *   - "connection": through the server's own connection (`SqliteHandle`). Writes made through the
 *     backing-up connection are carried into the copy instead of restarting it; a step that finds the
 *     connection inside a write transaction is skipped (SQLITE_BUSY), so every step copies committed
 *     pages and the result is the database as committed when the copy completes.
 *   - "snapshot": through a separate read-only connection that holds one read transaction for the
 *     whole copy, so the copy is the snapshot committed when it started and writers (in any process)
 *     cannot restart it. Used when there is no handle for this file (the handle is absent or another
 *     file) and in a multi-process cluster, where the other workers' writes would restart the former.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { type BackupRotation, SqliteHandle } from "@session-pro/core"
import { Cause, Context, Data, Effect, Layer, Option, Schedule } from "effect"
import type { DatabaseTarget } from "../Config/ServerConfig.js"
import * as Metrics from "../Observability/Metrics.js"
import { WebhookSink } from "../Observability/Webhooks.js"
import { backupFileName, planRotation } from "./BackupRotation.js"
import * as Cluster from "./Cluster.js"
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

/**
 * Pages per backup step (one step per event-loop turn): 100 x 4 KiB pages, about 400 KiB copied per turn.
 * The last step also commits and syncs the copy, which blocks the loop for longer on a large file.
 */
export const DEFAULT_PAGES_PER_STEP = 100
/** A copy restarted this often is abandoned (the retry schedule tries again later). */
export const DEFAULT_MAX_RESTARTS = 20

export interface BackupOptions {
  /** Force a path (tests); by default "connection" when the server's handle is for this file and the process is not clustered. */
  readonly via?: "connection" | "snapshot"
  readonly pagesPerStep?: number
  readonly maxRestarts?: number
}

export interface BackupStats {
  readonly via: "connection" | "snapshot"
  /** Backup steps taken (each copies up to `pagesPerStep` pages; a step skipped as busy counts too). */
  readonly steps: number
  /** Times SQLite restarted the copy from page 1 because another connection wrote to the source. */
  readonly restarts: number
  /** Pages in the finished copy. */
  readonly totalPages: number
  readonly ms: number
}

export class BackupError extends Data.TaggedError("BackupError")<{ readonly message: string; readonly cause?: unknown }> {}

/** The copy was restarted more than `maxRestarts` times (another connection kept writing the source). */
class TooManyRestarts extends Data.TaggedError("TooManyRestarts")<{ readonly restarts: number }> {}

interface Progress {
  readonly totalPages: number
  readonly remainingPages: number
}
/** better-sqlite3's `backup` with its options (the shared typings declare only the destination). */
interface Backupable {
  backup(destination: string, options?: { readonly progress?: (p: Progress) => number | undefined }): Promise<Progress>
}

/**
 * Pages copied between background flushes of the copy. The destination is synced when the last step
 * commits it, on the event loop; without flushes on the way that one fsync wrote the whole copy (53 MiB at
 * 100k users). A flush is an `fdatasync` of the temporary file in libuv's thread pool, at most one at a
 * time, never waited for: it only leaves the final sync less to write.
 */
export const FLUSH_EVERY_PAGES = 1024

/** Start an fdatasync of `file` off the event loop (errors ignored: the final commit syncs anyway). */
const flushInBackground = (file: string, done: () => void) => {
  NodeFs.promises.open(file, "r").then(
    (fh) => fh.datasync().finally(() => fh.close()),
    () => undefined
  ).then(done, done)
}

/** better-sqlite3 resolves a backup whose very first step found the source busy as if it were done (0 pages). */
class SourceBusy extends Data.TaggedError("SourceBusy")<{}> {}

const removeTemp = (tmp: string) =>
  Effect.sync(() => {
    for (const f of [tmp, `${tmp}-journal`, `${tmp}-wal`, `${tmp}-shm`]) NodeFs.rmSync(f, { force: true })
  })

/**
 * One stepped online backup of `source` into `tmp`. Interruption stops it at the next step and waits
 * for better-sqlite3 to close the destination.
 */
const steppedBackup = (source: Backupable, tmp: string, pagesPerStep: number, maxRestarts: number) =>
  Effect.async<Omit<BackupStats, "via" | "ms">, BackupError | SourceBusy | TooManyRestarts>((resume) => {
    let stop: string | undefined
    let steps = 0
    let restarts = 0
    let copied = 0
    let flushedAt = 0
    let flushing = false
    const done = source.backup(tmp, {
      progress: ({ remainingPages, totalPages }) => {
        if (stop !== undefined) throw new Error(stop)
        steps++
        const now = totalPages - remainingPages
        if (now < copied) {
          if (++restarts > maxRestarts) throw new TooManyRestarts({ restarts })
          flushedAt = 0
        }
        copied = now
        if (!flushing && now - flushedAt >= FLUSH_EVERY_PAGES) {
          flushing = true
          flushedAt = now
          flushInBackground(tmp, () => {
            flushing = false
          })
        }
        return pagesPerStep
      }
    })
    done.then(
      (p) => resume(steps === 0 || p.totalPages === 0 ? Effect.fail(new SourceBusy()) : Effect.succeed({ steps: steps + 1, restarts, totalPages: p.totalPages })),
      (cause) =>
        resume(Effect.fail(
          cause instanceof TooManyRestarts ? cause : new BackupError({ message: `Online backup failed: ${String(cause)}`, cause })
        ))
    )
    return Effect.promise(() => {
      stop = "backup interrupted"
      return done.then(() => undefined, () => undefined)
    })
  })

/** A separate read-only connection inside one read transaction: the snapshot committed now. */
const openSnapshot = (file: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const db = openSqlite(file, { readonly: true, fileMustExist: true })
        try {
          db.exec("BEGIN")
          db.prepare("SELECT count(*) FROM sqlite_master").get()
        } catch (e) {
          db.close()
          throw e
        }
        return db
      },
      catch: (cause) => new BackupError({ message: `Cannot open ${file} for backup: ${String(cause)}`, cause })
    }),
    (db) =>
      Effect.sync(() => {
        try {
          db.exec("COMMIT")
        } catch {
          // the read transaction goes with the connection anyway
        }
        db.close()
      })
  )

/** The main database file of a connection, as SQLite reports it. */
const mainFile = (db: SqliteHandle["Type"]): string | undefined => {
  const rows = db.pragma("database_list") as ReadonlyArray<{ name: string; file: string }>
  return rows.find((r) => r.name === "main")?.file
}
const sameFile = (a: string | undefined, b: string) => {
  if (a === undefined || a === "") return false
  try {
    return NodeFs.realpathSync(a) === NodeFs.realpathSync(b)
  } catch {
    return false
  }
}

/**
 * Online backup of `file` to `dest`, through the server's connection when it is in the context (see
 * the module comment), written to a temporary name and renamed into place.
 */
export const backupSqlite = (file: string, dest: string, options: BackupOptions = {}): Effect.Effect<BackupStats, BackupError> =>
  Effect.gen(function*() {
    const pagesPerStep = Math.max(1, Math.round(options.pagesPerStep ?? DEFAULT_PAGES_PER_STEP))
    const maxRestarts = options.maxRestarts ?? DEFAULT_MAX_RESTARTS
    const handle = Option.filter(yield* Effect.serviceOption(SqliteHandle), (db) => sameFile(mainFile(db), file))
    const clustered = (Cluster.identity()?.count ?? 1) > 1
    const via = options.via ?? (Option.isSome(handle) && !clustered ? "connection" : "snapshot")
    if (via === "connection" && Option.isNone(handle)) {
      return yield* new BackupError({ message: `No open connection to ${file} to back up through` })
    }
    const tmp = NodePath.join(NodePath.dirname(dest), `.tmp-${NodePath.basename(dest)}`)
    const started = Date.now()
    const copy = (path: "connection" | "snapshot") =>
      Effect.zipRight(
        removeTemp(tmp),
        path === "connection"
          ? steppedBackup(Option.getOrThrow(handle) as unknown as Backupable, tmp, pagesPerStep, maxRestarts)
          : Effect.scoped(Effect.flatMap(openSnapshot(file), (db) => steppedBackup(db as unknown as Backupable, tmp, pagesPerStep, maxRestarts)))
      ).pipe(
        // the server's connection was inside a write transaction at the first step: try again shortly
        Effect.retry({ while: (e) => e._tag === "SourceBusy", schedule: Schedule.spaced("20 millis").pipe(Schedule.intersect(Schedule.recurs(500))) }),
        Effect.catchTag("SourceBusy", () => Effect.fail(new BackupError({ message: `${file} stayed inside a write transaction; backup not started` }))),
        Effect.map((stats) => ({ via: path, ...stats }))
      )
    const tooManyRestarts = (e: TooManyRestarts) => `Backup of ${file} restarted ${e.restarts} times: another connection kept writing it`
    // Through the server's connection, restarts mean another process writes the file (an admin tool, a
    // cluster not detected as such): fall back to a snapshot, which they cannot restart.
    const chosen = via === "connection"
      ? copy("connection").pipe(Effect.catchTag("TooManyRestarts", (e) =>
        Effect.zipRight(Effect.logWarning(`${tooManyRestarts(e)}; copying a read snapshot instead`), copy("snapshot"))))
      : copy("snapshot")
    const stats = yield* chosen.pipe(
      Effect.catchTag("TooManyRestarts", (e) => Effect.fail(new BackupError({ message: tooManyRestarts(e) }))),
      Effect.tap(() =>
        Effect.try({
          try: () => {
            // The copy inherits WAL mode; switch it to a rollback journal so the .bak is one self-contained file.
            const db = openSqlite(tmp, { fileMustExist: true })
            try {
              db.pragma("journal_mode = DELETE")
            } finally {
              db.close()
            }
            NodeFs.renameSync(tmp, dest)
          },
          catch: (cause) => new BackupError({ message: `Cannot finish backup ${dest}: ${String(cause)}`, cause })
        })
      ),
      Effect.onExit((exit) => (exit._tag === "Success" ? Effect.void : removeTemp(tmp)))
    )
    return { ...stats, ms: Date.now() - started }
  })

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
    const stats = yield* backupSqlite(file, dest).pipe(
      Effect.retry(Schedule.exponential("2 seconds").pipe(Schedule.compose(Schedule.recurs(4))))
    )
    Metrics.backupRuns.inc({ outcome: "ok" })
    const msg = `Backed up DB successfully ${file} -> ${dest}`
    yield* Effect.logInfo(msg).pipe(Effect.annotateLogs({
      via: stats.via,
      pages: stats.totalPages,
      steps: stats.steps,
      restarts: stats.restarts,
      ms: stats.ms
    }))
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
