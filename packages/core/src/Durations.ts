import { Either } from "effect"

/** Upper bound the reference accepts (10 000 years of 365.25 days, in seconds). */
export const MAX_DURATION_SECONDS = 315_576_000_000

const UNIT_SECONDS_DATE: Record<string, number> = { Y: 365 * 86_400, M: 30 * 86_400, W: 7 * 86_400, D: 86_400 }
const UNIT_SECONDS_TIME: Record<string, number> = { H: 3_600, M: 60, S: 1 }

/**
 * Google's ISO-8601 durations as the reference parses them (T5): Y = 365 days, M = 30 days before `T` and
 * minutes after it, W = 7 days, D = 1 day, H/S only after `T`, integers only. Returns seconds.
 */
export const parseIso8601Seconds = (s: string): Either.Either<number, string> => {
  if (s.length < 3 || s[0] !== "P") return Either.left(`Invalid ISO-8601 duration (must start with P and be at least 3 characters): ${JSON.stringify(s)}`)
  let total = 0
  let inTime = false
  let digits = ""
  for (let i = 1; i < s.length; i++) {
    const c = s[i]!
    if (c >= "0" && c <= "9") {
      digits += c
      continue
    }
    if (c === "T") {
      if (inTime || digits !== "") return Either.left(`Invalid ISO-8601 duration (misplaced T): ${JSON.stringify(s)}`)
      inTime = true
      continue
    }
    const table = inTime ? UNIT_SECONDS_TIME : UNIT_SECONDS_DATE
    const unit = table[c]
    if (unit === undefined) {
      return Either.left(`Invalid ISO-8601 duration (unexpected ${JSON.stringify(c)}${inTime ? "" : " outside the time part"}): ${JSON.stringify(s)}`)
    }
    if (digits === "") return Either.left(`Invalid ISO-8601 duration (unit ${c} without a value): ${JSON.stringify(s)}`)
    total += Number(digits) * unit
    digits = ""
  }
  if (digits !== "") return Either.left(`Invalid ISO-8601 duration (trailing number without a unit): ${JSON.stringify(s)}`)
  if (total > MAX_DURATION_SECONDS) return Either.left(`ISO-8601 duration too large: ${JSON.stringify(s)}`)
  return Either.right(total)
}

/** Same, in milliseconds (seconds × 1000): what the Google ingestion stores as a grace duration. */
export const parseIso8601 = (s: string): Either.Either<number, string> => Either.map(parseIso8601Seconds(s), (sec) => sec * 1000)
