// better-sqlite3 has no typings installed; the surface the core uses is typed in SqliteDriver.ts.
declare module "better-sqlite3" {
  const Database: new (filename?: string, options?: { readonly?: boolean }) => unknown
  export = Database
}
