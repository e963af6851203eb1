/** Google ISO-8601 durations through the core parser (fixtures/google/duration_parser_cases.json). */
import { Durations } from "@session-pro/core"
import { Effect, Either, Exit } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { parseGoogleDurationMs } from "../src/Google/Durations.js"

const cases = JSON.parse(
  readFileSync(new URL("../../../test-vectors/fixtures/google/duration_parser_cases.json", import.meta.url), "utf8")
) as {
  cases: Array<{ iso8601: string; seconds: number; milliseconds: number }>
  reference_rejects_untested: Array<{ input: string; why: string }>
  also_used_by_the_google_test: { gracePeriodDuration: string; grace_period_ms: number }
}

describe("Google ISO-8601 durations (core Durations.parseIso8601)", () => {
  it.each(cases.cases)("$iso8601 = $milliseconds ms", (c) => {
    expect(Durations.parseIso8601(c.iso8601)).toEqual(Either.right(c.milliseconds))
    expect(Effect.runSync(parseGoogleDurationMs(c.iso8601))).toBe(c.milliseconds)
  })

  it.each(cases.reference_rejects_untested)("rejects $input ($why)", (c) => {
    expect(Either.isLeft(Durations.parseIso8601(c.input))).toBe(true)
    expect(Exit.isFailure(Effect.runSyncExit(parseGoogleDurationMs(c.input)))).toBe(true)
  })

  it("the grace the recorded Google test mocked", () => {
    const g = cases.also_used_by_the_google_test
    expect(Effect.runSync(parseGoogleDurationMs(g.gracePeriodDuration))).toBe(g.grace_period_ms)
  })
})
