import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { loadDeviations, run, type VectorsFile } from "../src/Conformance/Runner.js"

const vectorsPath = new URL("../../../test-vectors/vectors.json", import.meta.url)
const load = (): VectorsFile => JSON.parse(readFileSync(vectorsPath, "utf8"))
const quiet = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e.pipe(Logger.withMinimumLogLevel(LogLevel.None)))

describe("conformance runner on test-vectors/vectors.json", () => {
  it("replays every recorded exchange with 0 failures", async () => {
    const summary = await quiet(run(load()))
    const failures = summary.lines.filter((l) => l.startsWith("FAIL"))
    expect(failures).toEqual([])
    expect(summary.failed).toBe(0)
    expect(summary.passed).toBeGreaterThanOrEqual(70)
    expect(summary.lines.at(-1)).toBe(`${summary.passed} passed, 0 failed`)
  })

  it("every D4 deviation names an exchange of the vectors and is checked (not skipped)", async () => {
    const deviations = loadDeviations()
    const ids = new Set(["prod", "dev"].flatMap((s) => (load().http_exchanges[s] as Array<{ id: string }>).map((e) => e.id)))
    for (const id of [
      "err_details_count_overflow",
      "err_refund_provider_99",
      "err_details_pkey_whitespace",
      "err_refund_negative_refund_ts",
      "onion_exception_in_handler",
      "revocations_version_false",
      "add_provider_true_is_google"
    ]) {
      expect(deviations[id], id).toBeDefined()
      expect(ids.has(id), id).toBe(true)
    }
    // A deviation whose expected outcome we do not produce must fail the run.
    const wrong = {
      ...deviations,
      err_refund_provider_99: { ...deviations.err_refund_provider_99, expected: { http_status: 200, status: 1 } }
    }
    const summary = await quiet(run(load(), { deviations: wrong }))
    expect(summary.failed).toBe(1)
    expect(summary.lines.find((l) => l.startsWith("FAIL"))).toContain("err_refund_provider_99")
  })

  it("detects a changed recording (result, status, HTTP status, onion inner code)", async () => {
    const v = load() as any
    const prod = v.http_exchanges.prod as Array<any>
    const edit = (id: string, f: (e: any) => void) => f(prod.find((e) => e.id === id))
    edit("generate_ok", (e) => (e.response.body = e.response.body.replace("1769829945500", "1769829945501")))
    edit("err_add_version_1", (e) => (e.response.body = e.response.body.replace('"status":2', '"status":1')))
    edit("err_get_method", (e) => (e.response.http_status = 404))
    edit("onion_unknown_endpoint", (e) => (e.response.decrypted_inner = e.response.decrypted_inner.replace('"code": 404', '"code": 405')))
    // error text alone does not fail (D2), it is reported
    edit("err_not_json", (e) => (e.response.body = e.response.body.replace("Expecting", "Expected")))
    const summary = await quiet(run(v))
    expect(summary.failed).toBe(4)
    expect(summary.lines.some((l) => l.includes("note: error text differs"))).toBe(true)
  })
})
