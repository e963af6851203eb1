/** Smoke test: a year of a subscription over the embedded core with TestClock. */
import { describe, expect, it } from "vitest"
import { run } from "./main.js"

describe("example: embed-core", () => {
  it("purchase, renewals, refund → revocation list, sweep prunes it", async () => {
    const lines: Array<string> = []
    const r = await run((l) => lines.push(l))
    const out = lines.join("\n")
    expect(out).toMatch(/^2026-01-05 09:30 {2}redeemed: proof/m)
    expect(lines.filter((l) => /renewal \d+: auto-redeemed/.test(l)).length).toBe(9)
    expect(out).toMatch(/REFUND: 1 payment\(s\) revoked/)
    expect(out).toMatch(/revocation list \(ticket 1\)/)
    expect(out).toMatch(/a new proof is refused: status 1/)
    expect(out).toMatch(/1 revocation\(s\) pruned/)
    expect(r).toEqual({ rows: 10, ticket: 2, items: 0 })
  })
})
