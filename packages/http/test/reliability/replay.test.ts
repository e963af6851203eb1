/**
 * Repeated and reordered store notifications over every shared fixture (test-vectors/fixtures),
 * through the fixture replay runner (Apple: the real webhook with JWS verification and UUID
 * dedupe; Google: the RTDN handler against the Android Publisher fake). The recorded
 * expectations stay as they are: a variant passes only if the repeated/reordered delivery ends
 * in exactly the recorded state after every step.
 *
 * - ×3: every notification delivered three times in a row.
 * - late duplicate: after each notification, the previous one is delivered again (a redelivery
 *   overtaken by its successor). For Google the replay feeds decoded messages without a message
 *   id (as the reference test did), so a redelivery re-fetches the subscription: it is only
 *   "safe" when the API answers with the purchase's current state, i.e. for the same token with
 *   the current step's mocked answer.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { formatLine, runFile } from "../../src/Replay/Runner.js"
import { ROOT, tmpDir } from "./harness.js"

const FIXTURES = path.join(ROOT, "test-vectors/fixtures")
const files = ["apple", "google"].flatMap((dir) =>
  fs.readdirSync(path.join(FIXTURES, dir)).filter((f) => /^\d\d_.*\.json$/.test(f)).sort().map((f) => ({ dir, f }))
)

type Step = Record<string, any>
const isNotification = (s: Step) => s.kind === "apple_notification" || s.kind === "google_notification"
const tokenOf = (s: Step): string | undefined =>
  s.rtdn_message_data?.subscriptionNotification?.purchaseToken ?? s.rtdn_message_data?.voidedPurchaseNotification?.purchaseToken

const variants: Record<string, (steps: ReadonlyArray<Step>) => Array<Step>> = {
  "delivered 3 times": (steps) => steps.flatMap((s) => (isNotification(s) ? [s, s, s] : [s])),
  "late duplicate of the previous notification": (steps) => {
    let prev: Step | undefined
    return steps.flatMap((s) => {
      if (!isNotification(s)) return [s]
      const out = [s]
      if (prev !== undefined && (s.kind === "apple_notification" || tokenOf(prev) === tokenOf(s))) {
        // the redelivery must leave the state the current step recorded; its own checks are the original's
        out.push({ ...prev, ...(s.mocked_api ? { mocked_api: s.mocked_api } : {}), state_after: s.state_after, test_checks: [] })
      }
      prev = s
      return out
    })
  }
}

const dir = tmpDir("pro-replay-")
fs.cpSync(path.join(FIXTURES, "apple/certs"), path.join(dir, "certs"), { recursive: true })
let delivered = 0

describe("store notifications repeated and reordered: same final state as one delivery", () => {
  it("covers every shared fixture", () => {
    expect(files.filter((x) => x.dir === "apple").length).toBeGreaterThanOrEqual(3)
    expect(files.filter((x) => x.dir === "google").length).toBeGreaterThanOrEqual(9)
  })

  for (const [name, transform] of Object.entries(variants)) {
    for (const { dir: store, f } of files) {
      const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, store, f), "utf8"))
      const original = fx.steps.length
      fx.steps = transform(fx.steps)
      // e.g. a single notification has no predecessor, a plan change switches tokens
      if (fx.steps.length === original) continue
      it(`${store}/${f}: ${name}`, async () => {
        const file = path.join(dir, `${store}-${name.replace(/\W+/g, "_")}-${f}`)
        fs.writeFileSync(file, JSON.stringify(fx))
        const lines = await Effect.runPromise(runFile(file))
        expect(lines.filter((l) => !l.ok).map(formatLine)).toEqual([])
        expect(lines.length).toBe(fx.steps.length)
        delivered += fx.steps.filter(isNotification).length
      })
    }
  }

  it("reports the count", () => {
    console.log(`notification replays: ${delivered} deliveries over ${files.length} fixtures × ${Object.keys(variants).length} variants`)
    expect(delivered).toBeGreaterThan(100)
  })
})
