/**
 * Every recorded Google scenario (test-vectors/fixtures/google/) through `npm run replay`'s code path
 * (packages/http/src/Replay/Runner.ts with the Google plugin over GoogleSteps.ts): RTDN data through
 * the real handler with the recorded Android Publisher answers served by the loopback fake, claims
 * through the real HTTP app with the acknowledgement drained from the D4c outbox, sweeps through the
 * core, and every step's response and DB snapshot compared with the recording. Plus guards that the
 * Google comparisons are not vacuous.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { formatLine, runFile, runFiles, summaryLine } from "../../http/src/Replay/Runner.js"

const googleDir = fileURLToPath(new URL("../../../test-vectors/fixtures/google/", import.meta.url))
const googleFixtures = fs.readdirSync(googleDir).filter((f) => /^\d\d_.*\.json$/.test(f)).sort().map((f) => path.join(googleDir, f))

const copyWith = (edit: (fx: any) => void) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "google-replay-"))
  const fx = JSON.parse(fs.readFileSync(googleFixtures[0]!, "utf8"))
  edit(fx)
  const file = path.join(dir, "edited.json")
  fs.writeFileSync(file, JSON.stringify(fx))
  return file
}

describe("fixture replay: Google", () => {
  it("finds the nine recorded Google scenarios", () => {
    expect(googleFixtures.length).toBe(9)
  })

  for (const file of googleFixtures) {
    it(`replays ${path.basename(file)}`, async () => {
      const lines = await Effect.runPromise(runFile(file))
      expect(lines.filter((l) => !l.ok).map(formatLine)).toEqual([])
      const fixture = JSON.parse(fs.readFileSync(file, "utf8"))
      expect(lines.length).toBe(fixture.steps.length)
    })
  }

  it("prints `N passed, 0 failed` over all of them", async () => {
    const s = await Effect.runPromise(runFiles(googleFixtures))
    expect(summaryLine(s)).toBe(`${s.lines.length} passed, 0 failed`)
    expect(s.lines.length).toBe(116)
  })

  it("reports a wrong grace, a missing acknowledgement and a handler that should have failed", async () => {
    const file = copyWith((fx) => {
      fx.steps[0].state_after.payments[0].grace_period_duration_ms = 3_600_000
      fx.steps[1].outbound_store_api_calls = []
      fx.steps[3].expect = { handled: false, errors: ["recorded failure"] }
    })
    const s = await Effect.runPromise(runFiles([file]))
    const byIndex = (i: number) => s.lines.find((l) => l.index === i)!.problems.join("\n")
    expect(byIndex(0)).toMatch(/grace_period_duration_ms/)
    expect(byIndex(1)).toMatch(/acknowledge calls/)
    expect(byIndex(3)).toMatch(/expected handled=false/)
  })

  it("a notification whose recorded answer breaks the handler fails the step and rolls back", async () => {
    const file = copyWith((fx) => {
      fx.steps[0].mocked_api["purchases.subscriptionsv2.get"].lineItems[0].offerDetails.basePlanId = "session-pro-2-weeks"
    })
    const s = await Effect.runPromise(runFiles([file]))
    const first = s.lines.find((l) => l.index === 0)!
    expect(first.ok).toBe(false)
    expect(first.problems.join("\n")).toMatch(/unknown base plan session-pro-2-weeks/)
    expect(first.problems.join("\n")).toMatch(/state_after/)
  })
})
