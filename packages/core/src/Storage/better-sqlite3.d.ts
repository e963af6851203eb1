// Minimal typing of the better-sqlite3 surface the core uses (no @types package is installed).
declare module "better-sqlite3" {
  namespace BetterSqlite3 {
    interface RunResult {
      changes: number
      lastInsertRowid: number | bigint
    }
    interface Statement {
      readonly reader: boolean
      run(...params: ReadonlyArray<unknown>): RunResult
      all(...params: ReadonlyArray<unknown>): Array<unknown>
      get(...params: ReadonlyArray<unknown>): unknown
      raw(toggle?: boolean): this
      safeIntegers(toggle?: boolean): this
    }
    interface Database {
      prepare(sql: string): Statement
      exec(sql: string): this
      pragma(sql: string, options?: { simple?: boolean }): unknown
      close(): this
      serialize(): Buffer
      backup(destination: string): Promise<unknown>
      loadExtension(path: string): this
      transaction<F extends (...args: Array<any>) => any>(fn: F): F
    }
  }
  interface DatabaseConstructor {
    new (filename?: string, options?: { readonly?: boolean }): BetterSqlite3.Database
  }
  const Database: DatabaseConstructor & { BetterSqlite3: never }
  export = Database
}
