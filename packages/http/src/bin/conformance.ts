/**
 * `npm run conformance -- <vectors.json>`: replays the file's `http_exchanges` against the real
 * HTTP server on loopback; one line per exchange, then `N passed, N failed`; exit 1 on any failure.
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { fileURLToPath } from "node:url"
import { runFile } from "../Conformance/Runner.js"

const path = process.argv[2] ?? fileURLToPath(new URL("../../../../test-vectors/vectors.json", import.meta.url))

runFile(path, { onLine: (l) => console.log(l) }).pipe(
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
