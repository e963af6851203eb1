/**
 * WAL checkpoints off the request thread, for a SQLite file DB.
 *
 * SQLite's automatic checkpoint (`wal_autocheckpoint`, every 1000 WAL pages) runs inside whichever COMMIT
 * crosses the threshold: it copies the WAL's pages back into the DB file and fsyncs both files, on the
 * server's only JS thread, so one request in a thousand pages of writes waited for it (tens of ms on a
 * busy disk). Here the request connection stops auto-checkpointing (`wal_autocheckpoint = 0`) and a
 * worker thread with its own connection checkpoints instead (the script and its schedule are in
 * `CheckpointWorker.ts`): PASSIVE checkpoints, which never block a reader or writer of any connection
 * or process; when writes keep landing during them so that the WAL never gets fully copied (the writer
 * starts the WAL over only after a complete checkpoint) and it has grown long, a RESTART checkpoint that
 * makes writers wait while it copies the last few frames; a TRUNCATE when a fully copied WAL file is large.
 *
 * Safety: checkpointing is SQLite's own, only on another connection; atomicity and durability of commits
 * are untouched (they are in the WAL), and several processes on one file may each run a checkpointer (a
 * busy one skips its turn). A scoped resource: closing the scope sends the worker a stop, it runs a final
 * checkpoint and closes its connection, and the thread is terminated if it has not exited within
 * `stopTimeoutMs`. If the worker fails (cannot start, throws, exits unexpectedly), the request connection
 * gets its previous `wal_autocheckpoint` back, so the WAL stays bounded as before, and a warning is logged.
 */
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import { Effect, Runtime, type Scope } from "effect"
import { CHECKPOINT_WORKER_SOURCE } from "./CheckpointWorker.js"

/** What the checkpointer needs of the request connection. */
export interface CheckpointedConnection {
  pragma(sql: string, options?: { simple?: boolean }): unknown
}

export interface CheckpointerOptions {
  /** The SQLite file (already in WAL mode). */
  readonly filename: string
  /** Checkpoint once this many WAL frames are not yet copied into the DB file (default 1000, as SQLite's autocheckpoint). */
  readonly thresholdFrames?: number
  /** How often the worker reads the WAL-index header (default 100 ms; one pread). */
  readonly pollMs?: number
  /** Pending frames are also checkpointed once the WAL has not grown for this long (default 1000 ms). */
  readonly idleMs?: number
  /** PASSIVE passes per checkpoint at most, while frames committed during the previous one are left (default 4). */
  readonly catchUpPasses?: number
  /**
   * A WAL this long (frames) that the PASSIVE passes could not complete gets a RESTART checkpoint, which
   * holds the write lock for the last few frames (default 8 × thresholdFrames). Only bounds the WAL file:
   * readers look up (and read from the WAL) only frames not yet copied, however long the WAL is.
   */
  readonly restartFrames?: number
  /** How long that RESTART waits for the write lock (a gap between write transactions; default 20 ms, in the worker). */
  readonly restartBusyMs?: number
  /** After a complete checkpoint, TRUNCATE the WAL file when it is larger than this (default 64 MiB; 0 never). */
  readonly truncateBytes?: number
  /** How long closing waits for the final checkpoint before terminating the thread (default 5000 ms). */
  readonly stopTimeoutMs?: number
  /** Module loaded as better-sqlite3 in the worker (default: the one this package resolves; tests inject failures). */
  readonly driverPath?: string
}

export const DEFAULT_THRESHOLD_FRAMES = 1000
export const DEFAULT_POLL_MS = 100
export const DEFAULT_IDLE_MS = 1000
export const DEFAULT_CATCH_UP_PASSES = 4
export const DEFAULT_TRUNCATE_BYTES = 64 * 1024 * 1024

export interface CheckpointResult {
  /** 1 when another connection held the checkpoint lock (the checkpoint was skipped). */
  readonly busy: number
  /** Frames in the WAL and frames copied into the DB file (as `PRAGMA wal_checkpoint` reports them). */
  readonly log: number
  readonly checkpointed: number
  /** PASSIVE passes run (more than one: frames committed during the first were copied too). */
  readonly passes: number
  /** A reader's snapshot kept the last pass from copying every frame it saw (no RESTART is tried then). */
  readonly heldBack: boolean
  /** A RESTART (or TRUNCATE) checkpoint under the write lock followed and succeeded. */
  readonly restarted: boolean
  /** A TRUNCATE followed and succeeded (the WAL file is empty). */
  readonly truncated: boolean
  readonly ms: number
}

export interface CheckpointerStats {
  /** The worker opened its connection and is polling. */
  readonly ready: boolean
  readonly checkpoints: number
  readonly busy: number
  readonly restarts: number
  readonly truncations: number
  /** Checkpoints a reader held back. */
  readonly heldBack: number
  readonly last: CheckpointResult | undefined
  /** The final checkpoint's result once the scope closed (`error` when it threw). */
  readonly final: CheckpointResult | { readonly error: string } | undefined
  /** The worker failed and the request connection auto-checkpoints again (the error, as text). */
  readonly fellBack: string | undefined
}

export interface Checkpointer {
  readonly stats: () => CheckpointerStats
}

const require = createRequire(import.meta.url)

/**
 * Start the checkpointer for `connection` (the request connection of `options.filename`); stopped when
 * the scope closes (before the connection is closed, when acquired after opening it).
 */
export const make = (connection: CheckpointedConnection, options: CheckpointerOptions): Effect.Effect<Checkpointer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const previous = Number(connection.pragma("wal_autocheckpoint", { simple: true }))
    let ready = false
    let checkpoints = 0
    let busy = 0
    let restarts = 0
    let heldBack = 0
    let truncations = 0
    let final: CheckpointerStats["final"]
    let last: CheckpointResult | undefined
    let fellBack: string | undefined
    let stopping = false
    let exited = false

    const fallBack = (reason: string) => {
      if (stopping || fellBack !== undefined) return
      fellBack = reason
      try {
        connection.pragma(`wal_autocheckpoint = ${previous > 0 ? previous : DEFAULT_THRESHOLD_FRAMES}`)
      } catch {
        // the connection is already closed: nothing left to checkpoint for
      }
      Runtime.runFork(runtime)(
        Effect.logWarning(`SQLite WAL checkpointer stopped (${reason}); checkpoints run on the request connection again (wal_autocheckpoint)`)
      )
    }

    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => {
        connection.pragma("wal_autocheckpoint = 0")
        const thresholdFrames = options.thresholdFrames ?? DEFAULT_THRESHOLD_FRAMES
        const w = new Worker(CHECKPOINT_WORKER_SOURCE, {
          eval: true,
          workerData: {
            driverPath: options.driverPath ?? require.resolve("better-sqlite3"),
            filename: options.filename,
            thresholdFrames,
            catchUpPasses: options.catchUpPasses ?? DEFAULT_CATCH_UP_PASSES,
            restartFrames: options.restartFrames ?? 8 * thresholdFrames,
            restartBusyMs: options.restartBusyMs ?? 20,
            pollMs: options.pollMs ?? DEFAULT_POLL_MS,
            idleMs: options.idleMs ?? DEFAULT_IDLE_MS,
            truncateBytes: options.truncateBytes ?? DEFAULT_TRUNCATE_BYTES
          },
          // it only polls and checkpoints: a small heap, so the thread adds little to the process's RSS
          resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
          stdout: false,
          stderr: false
        })
        w.on("message", (m: { type: string; final?: CheckpointerStats["final"] } & Partial<CheckpointResult>) => {
          if (m.type === "ready") ready = true
          else if (m.type === "checkpoint") {
            checkpoints++
            if (m.busy) busy++
            if (m.restarted) restarts++
            if (m.heldBack) heldBack++
            if (m.truncated) truncations++
            const { type: _, ...result } = m
            last = result as CheckpointResult
          } else if (m.type === "stopped") final = m.final
        })
        w.on("error", (e) => fallBack(e instanceof Error ? e.message : String(e)))
        w.on("exit", (code) => {
          exited = true
          fallBack(`worker exited with code ${code}`)
        })
        // never keeps the process alive on its own (the scope stops it)
        w.unref()
        return w
      }),
      (w) =>
        Effect.async<void>((resume) => {
          stopping = true
          if (exited) return resume(Effect.void)
          const timer = setTimeout(() => void w.terminate(), options.stopTimeoutMs ?? 5000)
          w.once("exit", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          w.postMessage({ type: "stop" })
        })
    )
    void worker
    return {
      stats: () => ({ ready, checkpoints, busy, restarts, truncations, heldBack, last, final, fellBack })
    }
  })
