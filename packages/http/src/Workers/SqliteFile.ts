/**
 * A separate better-sqlite3 connection for file-level work (online backups, tests). Loaded through
 * `createRequire` with the few methods we use typed here, since no @types package is installed and
 * the core's ambient declaration is deliberately opaque.
 */
import { createRequire } from "node:module"

export interface SqliteStatement {
  all(...params: ReadonlyArray<unknown>): Array<unknown>
  get(...params: ReadonlyArray<unknown>): unknown
  run(...params: ReadonlyArray<unknown>): { changes: number }
}

export interface SqliteFile {
  prepare(sql: string): SqliteStatement
  exec(sql: string): void
  pragma(sql: string): unknown
  backup(destination: string): Promise<unknown>
  close(): void
}

const require = createRequire(import.meta.url)
const Ctor = require("better-sqlite3") as new (filename: string, options?: { readonly?: boolean; fileMustExist?: boolean }) => SqliteFile

export const openSqlite = (filename: string, options?: { readonly?: boolean; fileMustExist?: boolean }): SqliteFile =>
  new Ctor(filename, options)
