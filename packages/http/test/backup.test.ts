/**
 * The SQLite backup under write traffic: a DB of a few MiB is copied while another fiber writes through
 * the same Database layer every few ms. SQLite restarts an online backup whenever another connection
 * writes its source, so the copy must go through the writing connection (or hold one read snapshot);
 * the test counts backup steps and restarts rather than timing anything.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Database, SqliteHandle } from "@session-pro/core"
import { SqlClient } from "@effect/sql"
import { Deferred, Effect, Fiber, Ref } from "effect"
import { Backup } from "../src/Workers/index.js"
import { openSqlite } from "../src/Workers/SqliteFile.js"

const ROWS = 1500
const PAYLOAD = 2048 // ~3 MiB of rows plus the schema
const PAGES_PER_STEP = 2 // many steps, so writes land in the middle of the copy

const setup = Effect.gen(function*() {
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "pro-backup-load-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true })))
  const file = NodePath.join(dir, "pro.db")
  return { dir, file, dest: NodePath.join(dir, "2026-01-02_000000_pro.db.bak") }
})

const blob = (n: number, size = PAYLOAD) => {
  const b = Buffer.alloc(size)
  for (let i = 0; i < size; i += 4) b.writeUInt32LE((n * 2654435761 + i) >>> 0, i)
  return b
}

/** Seed `ROWS` rows through the handle, then a writer fiber: an insert every ~2 ms, every 5th an update of an early row in a transaction. */
const seedAndWrite = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const db = yield* SqliteHandle
  db.exec("CREATE TABLE bk (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
  const ins = db.prepare("INSERT INTO bk (id, payload) VALUES (?, ?)")
  db.exec("BEGIN")
  for (let i = 1; i <= ROWS; i++) ins.run(i, blob(i))
  db.exec("COMMIT")
  const written = yield* Ref.make(0)
  const writer = yield* Effect.forever(
    Effect.gen(function*() {
      const n = yield* Ref.updateAndGet(written, (x) => x + 1)
      if (n % 5 === 0) {
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`UPDATE bk SET payload = ${blob(n)} WHERE id = ${1 + (n * 37) % ROWS}`
          yield* sql`INSERT INTO bk (id, payload) VALUES (${ROWS + n}, ${blob(n, 512)})`
        }))
      } else {
        yield* sql`INSERT INTO bk (id, payload) VALUES (${ROWS + n}, ${blob(n, 512)})`
      }
      yield* Effect.sleep("2 millis")
    })
  ).pipe(Effect.forkScoped)
  // let the writer get going
  while ((yield* Ref.get(written)) < 5) yield* Effect.sleep("2 millis")
  return { written, writer }
})

const committedIds = (file: string) => {
  const db = openSqlite(file, { readonly: true, fileMustExist: true })
  try {
    return (db.prepare("SELECT id FROM bk ORDER BY id").all() as Array<{ id: number }>).map((r) => r.id)
  } finally {
    db.close()
  }
}

const checkCopy = (dest: string, before: ReadonlyArray<number>) => {
  expect(NodeFs.existsSync(`${dest}-wal`)).toBe(false)
  const copy = openSqlite(dest, { readonly: true, fileMustExist: true })
  try {
    expect(copy.pragma("integrity_check")).toEqual([{ integrity_check: "ok" }])
    expect(copy.pragma("journal_mode")).toEqual([{ journal_mode: "delete" }])
    const ids = new Set((copy.prepare("SELECT id FROM bk").all() as Array<{ id: number }>).map((r) => r.id))
    for (const id of before) if (!ids.has(id)) throw new Error(`row ${id}, committed before the backup started, is missing`)
    return ids.size
  } finally {
    copy.close()
  }
}

const dbLayer = (file: string) => Database.layerSqlite(file)

const underLoad = (via: "connection" | "snapshot") =>
  Effect.gen(function*() {
    const { dest, dir, file } = yield* setup
    yield* Effect.scoped(
      Effect.gen(function*() {
        const { written } = yield* seedAndWrite
        const before = committedIds(file)
        const writesBefore = yield* Ref.get(written)
        const stats = yield* Backup.backupSqlite(file, dest, { via, pagesPerStep: PAGES_PER_STEP, maxRestarts: 5 })
        const writesDuring = (yield* Ref.get(written)) - writesBefore

        expect(stats.via).toBe(via)
        // the writer really wrote while the copy was running …
        expect(writesDuring).toBeGreaterThanOrEqual(3)
        // … and the copy never started over: one pass over the pages (plus the pages written meanwhile)
        expect(stats.restarts).toBe(0)
        expect(stats.steps).toBeLessThanOrEqual(2 * Math.ceil(stats.totalPages / PAGES_PER_STEP) + 20)
        expect(stats.totalPages).toBeGreaterThan((ROWS * PAYLOAD) / 4096)

        const rowsInCopy = checkCopy(dest, before)
        expect(rowsInCopy).toBeGreaterThanOrEqual(before.length)
        expect(NodeFs.readdirSync(dir).filter((n) => n.startsWith(".tmp-"))).toEqual([])
      }).pipe(Effect.provide(dbLayer(file)))
    )
  })

describe("BackupWorker under write traffic", () => {
  it.scopedLive("through the server's own connection: writes are carried into the copy, no restart", () => underLoad("connection"))

  it.scopedLive("through a read snapshot on a separate connection: no restart either", () => underLoad("snapshot"))

  it.scopedLive("control: a separate connection without a snapshot (the old copy) keeps restarting under the same load", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* setup
      yield* Effect.scoped(
        Effect.gen(function*() {
          yield* seedAndWrite
          const reader = openSqlite(file, { readonly: true, fileMustExist: true })
          yield* Effect.addFinalizer(() => Effect.sync(() => reader.close()))
          let restarts = 0
          let copied = 0
          const outcome = yield* Effect.promise(() =>
            (reader as unknown as {
              backup(d: string, o: { progress: (p: { totalPages: number; remainingPages: number }) => number }): Promise<unknown>
            }).backup(NodePath.join(dir, "control.bak"), {
              progress: ({ remainingPages, totalPages }) => {
                if (totalPages - remainingPages < copied && ++restarts >= 5) throw new Error("restarted")
                copied = totalPages - remainingPages
                return PAGES_PER_STEP
              }
            }).then(() => "finished", () => "gave up")
          )
          expect(outcome).toBe("gave up")
          expect(restarts).toBe(5)
        }).pipe(Effect.provide(dbLayer(file)))
      )
    }))

  it.scopedLive("a write transaction open at the start delays the copy; it never yields an empty file", () =>
    Effect.gen(function*() {
      const { dest, file } = yield* setup
      yield* Effect.scoped(
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`CREATE TABLE bk (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)`
          yield* sql`INSERT INTO bk (id, payload) VALUES (1, ${blob(1)})`
          const inTx = yield* Deferred.make<void>()
          // a transaction that stays open across event-loop turns
          const tx = yield* sql.withTransaction(
            Effect.zipRight(Deferred.succeed(inTx, undefined), Effect.sleep("150 millis")).pipe(
              Effect.zipRight(sql`INSERT INTO bk (id, payload) VALUES (2, ${blob(2)})`)
            )
          ).pipe(Effect.fork)
          yield* Deferred.await(inTx)
          const stats = yield* Backup.backupSqlite(file, dest, { via: "connection" })
          yield* Fiber.join(tx)
          expect(stats.totalPages).toBeGreaterThan(1)
          // the copy started after the transaction committed, so it has both rows
          expect(checkCopy(dest, [1, 2])).toBe(2)
        }).pipe(Effect.provide(dbLayer(file)))
      )
    }))

  it.scopedLive("interrupted mid-copy: nothing under the final name and no temporary file left", () =>
    Effect.gen(function*() {
      const { dest, dir, file } = yield* setup
      yield* Effect.scoped(
        Effect.gen(function*() {
          yield* seedAndWrite
          const fiber = yield* Backup.backupSqlite(file, dest, { via: "connection", pagesPerStep: 1 }).pipe(Effect.fork)
          yield* Effect.sleep("20 millis")
          yield* Fiber.interrupt(fiber)
          expect(NodeFs.existsSync(dest)).toBe(false)
          expect(NodeFs.readdirSync(dir).filter((n) => n.startsWith(".tmp-"))).toEqual([])
        }).pipe(Effect.provide(dbLayer(file)))
      )
    }))

  it.scopedLive("another connection writing (admin tool, undetected cluster) restarts the copy: it falls back to a snapshot", () =>
    Effect.gen(function*() {
      const { dest, dir, file } = yield* setup
      yield* Effect.scoped(
        Effect.gen(function*() {
          yield* seedAndWrite
          const other = openSqlite(file)
          yield* Effect.addFinalizer(() => Effect.sync(() => other.close()))
          const ins = other.prepare("INSERT INTO bk (payload) VALUES (?)")
          yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sync(() => ins.run(blob(0, 64))), Effect.sleep("2 millis"))))
          const before = committedIds(file)
          const stats = yield* Backup.backupSqlite(file, dest, { pagesPerStep: PAGES_PER_STEP, maxRestarts: 3 })
          expect(stats.via).toBe("snapshot")
          expect(stats.restarts).toBe(0)
          checkCopy(dest, before)
          expect(NodeFs.readdirSync(dir).filter((n) => n.startsWith(".tmp-"))).toEqual([])
        }).pipe(Effect.provide(dbLayer(file)))
      )
    }))

  it.scopedLive("the worker path picks the server's connection when its handle is for this file, else a snapshot", () =>
    Effect.gen(function*() {
      const { dest, dir, file } = yield* setup
      const other = NodePath.join(dir, "other.db")
      const seeded = openSqlite(file)
      seeded.exec("PRAGMA journal_mode=WAL; CREATE TABLE bk (id INTEGER PRIMARY KEY, payload BLOB NOT NULL); INSERT INTO bk VALUES (1, x'00');")
      seeded.close()
      const viaOwn = yield* Backup.backupSqlite(file, dest).pipe(Effect.provide(dbLayer(file)))
      expect(viaOwn.via).toBe("connection")
      const viaOther = yield* Backup.backupSqlite(file, dest).pipe(Effect.provide(dbLayer(other)))
      expect(viaOther.via).toBe("snapshot")
      const none = yield* Backup.backupSqlite(file, dest)
      expect(none.via).toBe("snapshot")
      expect(checkCopy(dest, [1])).toBe(1)
    }))
})
