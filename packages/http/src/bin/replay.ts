/**
 * `npm run replay -- <fixture.json> [...]`: replays recorded store scenarios (fixture_format 1)
 * through the real verification, handlers, HTTP routes and sweep; prints one line per step and
 * `N passed, N failed`; exits 1 on any mismatch. `--verbose` shows the backend's logs.
 */
import { Effect, LogLevel } from "effect"
import { formatLine, runFiles, summaryLine } from "../Replay/Runner.js"

const args = process.argv.slice(2)
const verbose = args.includes("--verbose") || args.includes("-v")
const files = args.filter((a) => !a.startsWith("-"))
if (files.length === 0) {
  process.stderr.write("usage: npm run replay -- [--verbose] <fixture.json> [...]\n")
  process.exit(2)
}
const summary = await Effect.runPromise(
  runFiles(files, {
    logLevel: verbose ? LogLevel.Info : LogLevel.None,
    onStep: (l) => process.stdout.write(formatLine(l) + "\n")
  })
)
process.stdout.write(summaryLine(summary) + "\n")
process.exit(summary.failed === 0 ? 0 : 1)
