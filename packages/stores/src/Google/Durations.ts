/**
 * Google's ISO-8601 durations (stores.md §3.4) are parsed by the core (`Durations.parseIso8601`);
 * this only adapts its result to an Effect with a readable message.
 */
import { Durations } from "@session-pro/core"
import { Effect, Either } from "effect"

export const parseGoogleDurationMs = (iso: string): Effect.Effect<number, string> => {
  const r = Durations.parseIso8601(iso)
  return Either.isEither(r) ? Either.match(r, { onLeft: (e) => Effect.fail(String(e)), onRight: Effect.succeed }) : Effect.succeed(r as number)
}
