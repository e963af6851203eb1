/**
 * `npm run conformance -- [--db-url postgresql://…] <vectors.json>`: replays the file's `http_exchanges`
 * against the real HTTP server on loopback; one line per exchange, then `N passed, N failed`; exit 1 on
 * any failure. With `--db-url` (or PRO_CONFORMANCE_DB_URL) each set runs in a fresh PostgreSQL schema
 * of that database, dropped afterwards; by default each set gets a temporary SQLite file.
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { fileURLToPath } from "node:url"
import { runFile } from "../Conformance/Runner.js"
import { isPgUrl } from "../PgScratchSchema.js"

const args = process.argv.slice(2)
const flag = args.findIndex((a) => a === "--db-url" || a.startsWith("--db-url="))
const dbUrl = flag < 0 ? process.env.PRO_CONFORMANCE_DB_URL || undefined : args[flag]!.includes("=") ? args[flag]!.slice("--db-url=".length) : args[flag + 1]
const positional = args.filter((_, i) => flag < 0 || (i !== flag && !(i === flag + 1 && !args[flag]!.includes("="))))
if (dbUrl !== undefined && !isPgUrl(dbUrl)) {
  console.error("conformance: --db-url must be a postgresql:// or postgres:// URL (the default is a temporary SQLite file per set)")
  process.exit(2)
}
const path = positional[0] ?? fileURLToPath(new URL("../../../../test-vectors/vectors.json", import.meta.url))

runFile(path, { onLine: (l) => console.log(l), dbUrl }).pipe(
  Effect.tap((s) => Effect.sync(() => (process.exitCode = s.failed > 0 ? 1 : 0))),
  Effect.tapErrorCause((c) => Effect.sync(() => {
    process.exitCode = 2
    const e = Cause.squash(c)
    console.error(`conformance runner failed: ${e instanceof Error ? e.message : String(e)}`)
  })),
  // Request logs from the server would interleave with the report; keep errors only.
  Logger.withMinimumLogLevel(LogLevel.Error),
  Effect.ignore,
  NodeRuntime.runMain({ disableErrorReporting: true })
)
