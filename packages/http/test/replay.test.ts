/**
 * The fixture replay over every recorded Apple scenario: each step's client-visible result and DB
 * state must match the recording. Plus guards that the runner is not vacuous (an edited expectation or
 * a tampered JWS fails) and that an unregistered step kind is reported, not skipped.
 */
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { formatLine, runFile, runFiles, summaryLine } from "../src/Replay/Runner.js"

const appleDir = fileURLToPath(new URL("../../../test-vectors/fixtures/apple/", import.meta.url))
const appleFixtures = fs.readdirSync(appleDir).filter((f) => f.endsWith(".json")).sort().map((f) => path.join(appleDir, f))

describe("fixture replay: Apple", () => {
  it("finds the recorded Apple scenarios", () => {
    expect(appleFixtures.length).toBeGreaterThanOrEqual(3)
  })

  for (const file of appleFixtures) {
    it(`replays ${path.basename(file)}`, async () => {
      const lines = await Effect.runPromise(runFile(file))
      const failures = lines.filter((l) => !l.ok).map(formatLine)
      expect(failures).toEqual([])
      const fixture = JSON.parse(fs.readFileSync(file, "utf8"))
      expect(lines.length).toBe(fixture.steps.length)
    })
  }

  it("prints `N passed, N failed` over all of them", async () => {
    const s = await Effect.runPromise(runFiles(appleFixtures))
    expect(summaryLine(s)).toBe(`${s.lines.length} passed, 0 failed`)
  })

  const copyWith = (name: string, edit: (fx: any) => void) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "replay-"))
    fs.cpSync(path.join(appleDir, "certs"), path.join(dir, "certs"), { recursive: true })
    const fx = JSON.parse(fs.readFileSync(appleFixtures[0]!, "utf8"))
    edit(fx)
    const file = path.join(dir, name)
    fs.writeFileSync(file, JSON.stringify(fx))
    return file
  }

  it("reports an edited expectation (DB state and response)", async () => {
    const file = copyWith("edited.json", (fx) => {
      fx.steps[0].state_after.payments[0].grace_period_duration_ms = 0
      fx.steps[1].expect.response_json.result.expiry_unix_ts_ms += 1
    })
    const s = await Effect.runPromise(runFiles([file]))
    expect(summaryLine(s)).toBe("0 passed, 2 failed")
    expect(s.lines[0]!.problems.join("\n")).toMatch(/grace_period_duration_ms: expected 0, got 3600000/)
    expect(s.lines[1]!.problems.join("\n")).toMatch(/expiry_unix_ts_ms/)
  })

  it("a tampered signedPayload is refused by the webhook (403) and nothing is stored", async () => {
    const file = copyWith("tampered.json", (fx) => {
      const [h, p, sig] = String(fx.steps[0].signedPayload).split(".")
      const claims = JSON.parse(Buffer.from(p!, "base64url").toString("utf8"))
      claims.notificationUUID = "00000000-0000-0000-0000-000000000000"
      fx.steps[0].signedPayload = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}`
    })
    const lines = await Effect.runPromise(runFile(file))
    expect(lines[0]!.ok).toBe(false)
    expect(lines[0]!.problems.join("\n")).toMatch(/HTTP 403/)
    expect(lines[0]!.problems.join("\n")).toMatch(/payments: expected 1 row\(s\), got 0/)
  })

  it("a step kind nobody registered is a failed step", async () => {
    const file = copyWith("unknown-kind.json", (fx) => {
      fx.steps = [{ index: 0, kind: "carrier_pigeon" }]
    })
    const lines = await Effect.runPromise(runFile(file))
    expect(lines).toHaveLength(1)
    expect(lines[0]!.ok).toBe(false)
    expect(lines[0]!.problems[0]).toMatch(/no replay handler is registered for step kind "carrier_pigeon"/)
  })

  it("a file that is not fixture_format 1 is one failed line", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "replay-"))
    const file = path.join(dir, "bad.json")
    fs.writeFileSync(file, JSON.stringify({ fixture_format: 2 }))
    const s = await Effect.runPromise(runFiles([file]))
    expect(summaryLine(s)).toBe("0 passed, 1 failed")
  })

  it("the CLI (npm run replay) prints one line per step and the summary, exit 0 / 1", () => {
    const root = fileURLToPath(new URL("../../../", import.meta.url))
    const cli = path.join(root, "packages/http/src/bin/replay.ts")
    const ok = spawnSync(process.execPath, ["--import", "tsx", cli, ...appleFixtures], { cwd: root, encoding: "utf8" })
    const out = ok.stdout.trim().split("\n")
    const steps = appleFixtures.reduce((n, f) => n + JSON.parse(fs.readFileSync(f, "utf8")).steps.length, 0)
    expect(out.filter((l) => l.startsWith("PASS "))).toHaveLength(steps)
    expect(out.at(-1)).toBe(`${steps} passed, 0 failed`)
    expect(ok.status).toBe(0)
    const bad = copyWith("cli-edited.json", (fx) => {
      fx.steps[0].state_after.payments[0].plan = 3
    })
    const ko = spawnSync(process.execPath, ["--import", "tsx", cli, bad], { cwd: root, encoding: "utf8" })
    expect(ko.stdout.trim().split("\n").at(-1)).toBe("1 passed, 1 failed")
    expect(ko.status).toBe(1)
  })
})
