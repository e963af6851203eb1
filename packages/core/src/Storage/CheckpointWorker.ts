/**
 * The script of the WAL checkpointer's worker thread (see `Checkpointer.ts`), as source text run with
 * `new Worker(source, { eval: true })`: no file to locate, so it works the same from the TS sources
 * (tsx, vitest) and from the bundled dist. Plain CommonJS; better-sqlite3 is loaded from the path the
 * main thread resolved (`workerData.driverPath`).
 *
 * It opens its own connection to the file (busy_timeout 0: it never waits for a lock, a busy checkpoint
 * is retried at the next poll) and every `pollMs` reads the WAL-index header from the `-shm` file (the
 * documented wal-index format, https://sqlite.org/walformat.html §2.1: `mxFrame` at byte 16, the
 * checkpoint's `nBackfill` at byte 96, both in native byte order; two copies of the 48-byte header that
 * must match). That read takes no lock and costs one pread, so polling is cheap; a checkpoint runs only
 * when `mxFrame - nBackfill` (frames not yet copied into the DB file) reaches `thresholdFrames`, or when
 * frames are pending and the WAL has not grown for `idleMs`, or when frames are pending in a WAL of
 * `restartFrames` or more. The checkpoint is PASSIVE (never blocks a reader or writer of any connection),
 * repeated up to `catchUpPasses` times until every frame is copied (the header read again); if it is still
 * behind in a long WAL and no reader holds it back, a RESTART (see `checkpoint`); a TRUNCATE when the WAL file is larger than
 * `truncateBytes`.
 *
 * Messages to the main thread: `{ type: "ready" }`, `{ type: "checkpoint", busy, log, checkpointed,
 * passes, heldBack, restarted, truncated, ms }` after each checkpoint, `{ type: "stopped", final }` after the final checkpoint once
 * the main thread sent `{ type: "stop" }`. An unexpected error is thrown (the worker exits with an
 * error, and the main thread falls back to SQLite's own autocheckpoint).
 */
export const CHECKPOINT_WORKER_SOURCE = String.raw`
"use strict"
const { parentPort, workerData: o } = require("node:worker_threads")
const fs = require("node:fs")
const os = require("node:os")
const Sqlite = require(o.driverPath)

const db = new Sqlite(o.filename, { fileMustExist: true })
db.pragma("busy_timeout = 0")
const journal = db.pragma("journal_mode", { simple: true })
if (journal !== "wal") throw new Error("the database is not in WAL mode (journal_mode=" + journal + ")")
const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)")
const restart = db.prepare("PRAGMA wal_checkpoint(RESTART)")
const truncate = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)")

const WAL_INDEX_VERSION = 3007000
const buf = Buffer.alloc(100)
const le = os.endianness() === "LE"
const u32 = (offset) => (le ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset))
let shm = -1
/** [mxFrame, nBackfill] from the wal-index header, or undefined when it cannot be read consistently. */
const walIndex = () => {
  try {
    if (shm < 0) shm = fs.openSync(o.filename + "-shm", "r")
    if (fs.readSync(shm, buf, 0, 100, 0) < 100) return undefined
  } catch {
    return undefined
  }
  if (u32(0) !== WAL_INDEX_VERSION || buf[12] !== 1 || buf.compare(buf, 0, 48, 48, 96) !== 0) return undefined
  return [u32(16), u32(96)]
}
const walBytes = () => {
  try {
    return fs.statSync(o.filename + "-wal").size
  } catch {
    return 0
  }
}

/** Every frame of the WAL is in the DB file now: the writer's next transaction starts the WAL over. */
const caughtUp = () => {
  const index = walIndex()
  return index !== undefined && index[1] >= index[0]
}
const checkpoint = () => {
  const t0 = performance.now()
  let r = passive.get()
  let passes = 1
  let done = r.busy === 0 && caughtUp()
  // Frames committed while a checkpoint runs leave the WAL incomplete, and the writer starts the WAL over
  // only after a complete checkpoint (else the WAL grows for as long as writes go on): catch up with a
  // few more PASSIVE passes, each copying only what was committed during the previous one.
  while (!done && r.busy === 0 && r.checkpointed === r.log && passes < o.catchUpPasses) {
    r = passive.get()
    passes++
    done = r.busy === 0 && caughtUp()
  }
  // A reader's snapshot kept the last pass from copying every frame it saw (a long read, a snapshot
  // backup): nothing can complete until it ends, and a RESTART would hold the write lock while it waits.
  const heldBack = r.busy === 0 && r.checkpointed < r.log
  let restarted = false
  let truncated = false
  const wal = walBytes()
  const large = o.truncateBytes > 0 && wal > o.truncateBytes
  if (!done && r.busy === 0 && !heldBack && (r.log >= o.restartFrames || large)) {
    // Still behind in a long WAL only because of commits during the passes: a RESTART (TRUNCATE when the
    // file is large) takes the write lock (waiting up to restartBusyMs for a gap between write
    // transactions) and copies the last few frames under it, so writers wait that long (readers do not),
    // and the next write starts the WAL over.
    db.pragma("busy_timeout = " + o.restartBusyMs)
    try {
      r = (large ? truncate : restart).get()
    } finally {
      db.pragma("busy_timeout = 0")
    }
    restarted = r.busy === 0
    truncated = restarted && large
  } else if (done && large) {
    // nothing left to copy: TRUNCATE only resets the WAL (no wait: it gives up if a writer is active)
    truncated = truncate.get().busy === 0
  }
  return { busy: r.busy, log: r.log, checkpointed: r.checkpointed, passes, heldBack, restarted, truncated, ms: performance.now() - t0 }
}

let lastMxFrame = -1
let lastChange = Date.now()
let lastCheckpoint = Date.now()
const poll = () => {
  const now = Date.now()
  const index = walIndex()
  let due
  if (index === undefined) {
    due = now - lastCheckpoint >= o.idleMs
  } else {
    const [mxFrame, nBackfill] = index
    if (mxFrame !== lastMxFrame) {
      lastMxFrame = mxFrame
      lastChange = now
    }
    const pending = nBackfill <= mxFrame ? mxFrame - nBackfill : mxFrame
    // below the threshold: in a long WAL (to complete it or restart it) or when writes stopped, at most once per idleMs
    due = pending >= o.thresholdFrames ||
      (pending > 0 && now - lastCheckpoint >= o.idleMs && (mxFrame >= o.restartFrames || now - lastChange >= o.idleMs))
  }
  if (!due) return
  lastCheckpoint = now
  parentPort.postMessage({ type: "checkpoint", ...checkpoint() })
}
const timer = setInterval(poll, o.pollMs)

parentPort.on("message", (m) => {
  if (m === null || typeof m !== "object" || m.type !== "stop") return
  clearInterval(timer)
  let final
  try {
    final = checkpoint()
  } catch (e) {
    final = { error: String(e) }
  }
  db.close()
  if (shm >= 0) fs.closeSync(shm)
  parentPort.postMessage({ type: "stopped", final })
  parentPort.close()
})
parentPort.postMessage({ type: "ready" })
`
