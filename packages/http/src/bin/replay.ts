/**
 * `npm run replay -- [--db-url postgresql://…] <fixture.json> [...]`: replays recorded store scenarios (fixture_format 1)
 * through the real verification, handlers, HTTP routes and sweep; prints one line per step and
 * `N passed, N failed`; exits 1 on any mismatch. `--verbose` shows the backend's logs. `--db-url` (or PRO_REPLAY_DB_URL)
 * runs each scenario in a fresh PostgreSQL schema of that database, dropped afterwards.
 */
import { Effect, LogLevel } from "effect"
import { isPgUrl } from "../PgScratchSchema.js"
import { formatLine, runFiles, summaryLine } from "../Replay/Runner.js"

const args = process.argv.slice(2)
const verbose = args.includes("--verbose") || args.includes("-v")
const flag = args.findIndex((a) => a === "--db-url" || a.startsWith("--db-url="))
const dbUrl = flag < 0 ? process.env.PRO_REPLAY_DB_URL || undefined : args[flag]!.includes("=") ? args[flag]!.slice("--db-url=".length) : args[flag + 1]
const files = args.filter((a, i) => !a.startsWith("-") && !(flag >= 0 && i === flag + 1 && !args[flag]!.includes("=")))
if (files.length === 0 || (dbUrl !== undefined && !isPgUrl(dbUrl))) {
  process.stderr.write("usage: npm run replay -- [--verbose] [--db-url postgresql://…] <fixture.json> [...]\n")
  process.exit(2)
}
const summary = await Effect.runPromise(
  runFiles(files, {
    logLevel: verbose ? LogLevel.Info : LogLevel.None,
    onStep: (l) => process.stdout.write(formatLine(l) + "\n"),
    dbUrl
  })
)
process.stdout.write(summaryLine(summary) + "\n")
process.exit(summary.failed === 0 ? 0 : 1)
