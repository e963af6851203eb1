/**
 * Google's ISO-8601 durations (stores.md §3.4) are parsed by the core (`Durations.parseIso8601`);
 * this only lifts its Either into an Effect.
 */
import { Durations } from "@session-pro/core"
import { Effect } from "effect"

export const parseGoogleDurationMs = (iso: string): Effect.Effect<number, string> => Durations.parseIso8601(iso)
