/**
 * `session-pro-admin`: the operator's tool (domain.md §12). `runAdmin` is the whole program as an
 * Effect returning the exit code, so tests run it in-process with a captured Console.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Option } from "effect"
import { databaseCommands } from "./DbCommands.js"
import { CliError, oneLine } from "./Errors.js"
import { help } from "./Runtime.js"
import { serverCommand } from "./ServerCommands.js"

export const VERSION = "0.1.0"

const root = Command.make("session-pro-admin").pipe(
  Command.withDescription(
    help(
      "Administer a Session Pro backend: user errors, Google notifications, revocations, vouchers, reports and the database — on the same database as the server (--config <ini> / SESH_PRO_BACKEND_* / --db-url, SQLite or PostgreSQL) — and talk to a running server (server …). Run any command with --help for its options.",
      [
        "session-pro-admin db info --config server.ini",
        "session-pro-admin report generate weekly --format csv --db-url postgresql://pro@db/pro",
        "session-pro-admin server get-pro-revocations --url http://127.0.0.1:8000"
      ]
    )
  ),
  Command.withSubcommands([...databaseCommands, serverCommand])
)

const cli = Command.run(root, { name: "session-pro-admin", version: VERSION })

/** The message of a failure, as one line. */
const describeFailure = (e: unknown): string => {
  if (e instanceof CliError) return e.message
  const tag = typeof e === "object" && e !== null ? (e as { _tag?: unknown })._tag : undefined
  if (tag === "StorageError" || tag === "SqlError") return `Database error: ${oneLine(e)}`
  return oneLine(e)
}

/**
 * The reference's `server … --version N` names the request's protocol version, but `--version` is
 * @effect/cli's built-in; with a number after it, it means `--protocol-version`.
 */
const protocolVersionAlias = (args: ReadonlyArray<string>): Array<string> => {
  if (args[0] !== "server") return [...args]
  return args.map((a, i) =>
    a === "--version" && /^\d+$/.test(args[i + 1] ?? "")
      ? "--protocol-version"
      : a.startsWith("--version=")
      ? `--protocol-version=${a.slice("--version=".length)}`
      : a
  )
}

/**
 * Runs the CLI on `argv` (the whole process.argv: runtime and script first) and returns the exit
 * code: 0 on success, 1 on any error (one `ERROR: …` line on stderr; @effect/cli prints its own
 * usage errors), 1 when a command group is called without a subcommand (after printing its help).
 */
export const runAdmin = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.gen(function*() {
    const args = argv.slice(2)
    // A bare group (`session-pro-admin revoke`) prints its help and fails, as the reference does.
    const groups = new Set(["user-error", "google-notification", "revoke", "report", "db", "server"])
    const positional = args.filter((a) => !a.startsWith("-"))
    if (args.length === 0 || (positional.length === 1 && groups.has(positional[0]!) && !args.includes("--help") && !args.includes("-h"))) {
      yield* cli([...argv.slice(0, 2), ...positional, "--help"]).pipe(Effect.ignore)
      yield* Console.error(`ERROR: ${args.length === 0 ? "a command is required" : `${positional[0]} needs a subcommand`}; see --help`)
      return 1
    }
    const exit = yield* Effect.exit(cli([...argv.slice(0, 2), ...protocolVersionAlias(args)]))
    if (Exit.isSuccess(exit)) return 0
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return 1 // already printed
    const message = Option.match(failure, {
      onNone: () => `unexpected error: ${oneLine(Cause.squash(exit.cause))}`,
      onSome: describeFailure
    })
    yield* Console.error(`ERROR: ${message}`)
    return 1
  }).pipe(Effect.provide(NodeContext.layer))
