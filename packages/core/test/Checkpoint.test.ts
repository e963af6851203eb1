/**
 * The background WAL checkpointer (Storage/Checkpointer.ts): the request connection stops
 * auto-checkpointing, a worker thread keeps the WAL bounded under writes, the scope stops it with a
 * final checkpoint, and a failed worker hands checkpointing back to the connection.
 */
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { type SqliteDatabase, SqliteDriver, SqliteHandle } from "@session-pro/core"
import * as Checkpointer from "@session-pro/core/Storage/Checkpointer"
import Sqlite from "better-sqlite3"
import { Effect, Exit, Layer, Scope } from "effect"
import { tempDbPath } from "./engines.js"

const openWal = (file: string) => {
  const db = new Sqlite(file) as SqliteDatabase
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.exec("CREATE TABLE IF NOT EXISTS t (x BLOB)")
  return db
}
const walBytes = (file: string) => (NodeFs.existsSync(`${file}-wal`) ? NodeFs.statSync(`${file}-wal`).size : 0)
/**
 * `commits` write transactions of `rows` rows of ~4 KB (about one WAL page each), with a 1 ms pause after
 * each (a server's writes come between requests, not back to back).
 */
const writeLoad = (db: SqliteDatabase, commits: number, rows: number) =>
  Effect.gen(function*() {
    const insert = db.prepare("INSERT INTO t VALUES (randomblob(3900))")
    const begin = db.prepare("BEGIN IMMEDIATE")
    const commit = db.prepare("COMMIT")
    for (let c = 0; c < commits; c++) {
      begin.run()
      for (let i = 0; i < rows; i++) insert.run()
      commit.run()
      yield* Effect.sleep("1 millis")
    }
  })
const until = (cond: () => boolean, what: string, ms = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!cond()) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("10 millis")
    }
  })

describe("WAL checkpointer", () => {
  it.live("the request connection stops auto-checkpointing; the worker keeps the WAL bounded under writes", () =>
    Effect.gen(function*() {
      const file = tempDbPath("ckpt")
      const db = openWal(file)
      yield* Effect.addFinalizer(() => Effect.sync(() => db.close()))
      const cp = yield* Checkpointer.make(db, { filename: file, thresholdFrames: 200, pollMs: 20 })
      expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(0)
      yield* until(() => cp.stats().ready, "the worker")
      // ~8000 pages (~32 MiB) written; without any checkpoint the WAL would hold all of them
      yield* writeLoad(db, 400, 20)
      yield* until(() => cp.stats().checkpoints > 0, "a checkpoint")
      const s = cp.stats()
      expect(s.fellBack).toBeUndefined()
      expect(s.checkpoints).toBeGreaterThan(3)
      // restarted from its beginning at least once (without checkpoints it would hold all ~33 MiB)
      expect(walBytes(file)).toBeLessThan(20 * 1024 * 1024)
      expect((db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(8000)
    }).pipe(Effect.scoped))

  it.live("a WAL left below the threshold is checkpointed once writes stop (idle)", () =>
    Effect.gen(function*() {
      const file = tempDbPath("ckpt-idle")
      const db = openWal(file)
      yield* Effect.addFinalizer(() => Effect.sync(() => db.close()))
      const cp = yield* Checkpointer.make(db, { filename: file, pollMs: 20, idleMs: 100 })
      yield* writeLoad(db, 5, 2)
      yield* until(() => cp.stats().checkpoints > 0, "the idle checkpoint")
      const last = cp.stats().last!
      expect(last.busy).toBe(0)
      expect(last.log).toBeGreaterThan(0)
      expect(last.checkpointed).toBe(last.log)
    }).pipe(Effect.scoped))

  it.live("a reader's snapshot holding the WAL back gets no RESTART (which would block writers); the WAL completes after it", () =>
    Effect.gen(function*() {
      const file = tempDbPath("ckpt-reader")
      const db = openWal(file)
      const reader = openWal(file)
      yield* Effect.addFinalizer(() => Effect.sync(() => (reader.close(), db.close())))
      const cp = yield* Checkpointer.make(db, { filename: file, thresholdFrames: 100, restartFrames: 200, pollMs: 10, idleMs: 50 })
      yield* until(() => cp.stats().ready, "the worker")
      yield* writeLoad(db, 5, 5)
      reader.exec("BEGIN")
      reader.prepare("SELECT count(*) FROM t").get() // the snapshot now pins the WAL
      yield* writeLoad(db, 60, 10)
      yield* until(() => cp.stats().heldBack > 0, "a held-back checkpoint")
      expect(cp.stats().restarts).toBe(0)
      reader.exec("COMMIT")
      const before = cp.stats().checkpoints
      yield* until(() => cp.stats().checkpoints > before && !cp.stats().last!.heldBack, "a checkpoint after the reader")
      expect(cp.stats().fellBack).toBeUndefined()
    }).pipe(Effect.scoped))

  it.live("closing the scope runs a final checkpoint and ends the thread; the connection stays usable", () =>
    Effect.gen(function*() {
      const file = tempDbPath("ckpt-close")
      const db = openWal(file)
      yield* Effect.addFinalizer(() => Effect.sync(() => db.close()))
      const scope = yield* Scope.make()
      const cp = yield* Checkpointer.make(db, { filename: file, pollMs: 20, idleMs: 60_000 }).pipe(Scope.extend(scope))
      yield* until(() => cp.stats().ready, "the worker")
      yield* writeLoad(db, 10, 3)
      expect(cp.stats().checkpoints).toBe(0) // below the threshold and not idle long enough
      yield* Scope.close(scope, Exit.void)
      const final = cp.stats().final as Checkpointer.CheckpointResult
      expect(final.busy).toBe(0)
      expect(final.log).toBeGreaterThan(0)
      expect(final.checkpointed).toBe(final.log)
      // a normal stop is not a failure: no fallback, and the pragma is left as the checkpointer set it
      expect(cp.stats().fellBack).toBeUndefined()
      db.exec("INSERT INTO t VALUES (x'00')")
    }).pipe(Effect.scoped))

  it.live("a worker that cannot start hands checkpointing back to the connection", () =>
    Effect.gen(function*() {
      const file = tempDbPath("ckpt-nostart")
      const db = openWal(file)
      yield* Effect.addFinalizer(() => Effect.sync(() => db.close()))
      db.pragma("wal_autocheckpoint = 777")
      const cp = yield* Checkpointer.make(db, { filename: file, driverPath: NodePath.join(NodeOs.tmpdir(), "no-such-driver.cjs") })
      yield* until(() => cp.stats().fellBack !== undefined, "the fallback")
      expect(cp.stats().fellBack).toMatch(/no-such-driver/)
      expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(777)
    }).pipe(Effect.scoped))

  it.live("a worker that crashes while running hands checkpointing back to the connection", () =>
    Effect.gen(function*() {
      const file = tempDbPath("ckpt-crash")
      const db = openWal(file)
      yield* Effect.addFinalizer(() => Effect.sync(() => db.close()))
      // better-sqlite3 whose checkpoints fail with an I/O error
      const driver = NodePath.join(NodeOs.tmpdir(), `failing-driver-${process.pid}-${Date.now()}.cjs`)
      NodeFs.writeFileSync(
        driver,
        `const Real = require(${JSON.stringify(createRequire(import.meta.url).resolve("better-sqlite3"))})
module.exports = function (...args) {
  const db = new Real(...args)
  const prepare = db.prepare.bind(db)
  db.prepare = (sql) => /wal_checkpoint/.test(sql) ? { get() { throw new Error("disk I/O error") } } : prepare(sql)
  return db
}`
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.rmSync(driver, { force: true })))
      const cp = yield* Checkpointer.make(db, { filename: file, driverPath: driver, pollMs: 10, thresholdFrames: 5 })
      yield* until(() => cp.stats().ready, "the worker")
      expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(0)
      yield* writeLoad(db, 5, 5)
      yield* until(() => cp.stats().fellBack !== undefined, "the fallback")
      expect(cp.stats().fellBack).toMatch(/disk I\/O error/)
      expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(1000)
      // SQLite checkpoints on the connection again: the WAL stays bounded
      yield* writeLoad(db, 300, 20)
      expect(walBytes(file)).toBeLessThan(20 * 1024 * 1024)
    }).pipe(Effect.scoped))

  it.live("two checkpointers on one file (two processes' connections) both keep working", () =>
    Effect.gen(function*() {
      const file = tempDbPath("ckpt-two")
      const a = openWal(file)
      const b = openWal(file)
      yield* Effect.addFinalizer(() => Effect.sync(() => (a.close(), b.close())))
      const ca = yield* Checkpointer.make(a, { filename: file, thresholdFrames: 100, pollMs: 10 })
      const cb = yield* Checkpointer.make(b, { filename: file, thresholdFrames: 100, pollMs: 10 })
      yield* until(() => ca.stats().ready && cb.stats().ready, "the workers")
      for (let i = 0; i < 20; i++) {
        yield* writeLoad(a, 10, 20)
        yield* writeLoad(b, 10, 20)
      }
      yield* until(() => ca.stats().checkpoints + cb.stats().checkpoints > 4, "checkpoints")
      expect(ca.stats().fellBack).toBeUndefined()
      expect(cb.stats().fellBack).toBeUndefined()
      expect(walBytes(file)).toBeLessThan(20 * 1024 * 1024)
      expect((a.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(8000)
    }).pipe(Effect.scoped))
})

describe("SQLite driver with the checkpointer", () => {
  it.live("file DB: the connection does not auto-checkpoint, the WAL stays bounded, the layer closes cleanly", () =>
    Effect.gen(function*() {
      const file = tempDbPath("ckpt-driver")
      yield* Effect.gen(function*() {
        const db = yield* SqliteHandle
        expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(0)
        db.exec("CREATE TABLE t (x BLOB)")
        yield* writeLoad(db, 400, 20)
        // a RESTART at 1600 frames bounds it (the margin is for a loaded machine); without checkpoints
        // the WAL would hold all 8000 pages (~33 MiB)
        expect(walBytes(file)).toBeLessThan(20 * 1024 * 1024)
      }).pipe(Effect.provide(SqliteDriver.layer({ filename: file, backgroundCheckpoint: { thresholdFrames: 200, pollMs: 20 } })))
      // the last connection closed: SQLite removed the WAL (the worker's connection was closed first)
      expect(NodeFs.existsSync(`${file}-wal`)).toBe(false)
      const check = new Sqlite(file, { readonly: true }) as SqliteDatabase
      expect((check.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(8000)
      check.close()
    }))

  it.effect("backgroundCheckpoint: false keeps SQLite's autocheckpoint; :memory: has no checkpointer", () =>
    Effect.gen(function*() {
      const off = yield* Effect.map(SqliteHandle, (db) => db.pragma("wal_autocheckpoint", { simple: true })).pipe(
        Effect.provide(SqliteDriver.layer({ filename: tempDbPath("ckpt-off"), backgroundCheckpoint: false }))
      )
      expect(off).toBe(1000)
      const memory = yield* Effect.map(SqliteHandle, (db) => db.pragma("wal_autocheckpoint", { simple: true })).pipe(
        Effect.provide(SqliteDriver.layer({ filename: ":memory:" }))
      )
      expect(memory).toBe(1000)
    }))

  it.live("the driver layer builds and releases many times without leaking threads", () =>
    Effect.gen(function*() {
      const file = tempDbPath("ckpt-cycle")
      for (let i = 0; i < 5; i++) {
        yield* Effect.provide(Effect.void, Layer.fresh(SqliteDriver.layer({ filename: file })))
      }
      const handles = (process as unknown as { getActiveResourcesInfo(): Array<string> }).getActiveResourcesInfo()
      expect(handles.filter((h) => h === "Worker").length).toBe(0)
    }))
})
