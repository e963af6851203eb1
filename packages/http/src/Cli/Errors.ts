import { Data } from "effect"

/**
 * The one error every command fails with: a single human line. `Main.runAdmin` prints it as
 * `ERROR: <message>` on stderr and exits 1, so no stack trace ever reaches an operator.
 */
export class CliError extends Data.TaggedError("CliError")<{
  readonly message: string
}> {}

export const cliError = (message: string) => new CliError({ message })

/** Any thrown or failed value as one line (database drivers put newlines in their messages). */
export const oneLine = (e: unknown): string => {
  const text =
    e instanceof Error
      ? e.message
      : typeof e === "object" && e !== null && "message" in e && typeof (e as { message: unknown }).message === "string"
      ? (e as { message: string }).message
      : String(e)
  return text.replace(/\s*\n\s*/g, " ").trim()
}
