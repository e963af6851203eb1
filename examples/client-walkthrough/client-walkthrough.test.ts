/** Smoke test: the walkthrough calls every client route against its own in-memory dev server. */
import { describe, expect, it } from "vitest"
import { run } from "./main.js"

describe("example: client-walkthrough", () => {
  it("prints every request and response, plain and through onion", async () => {
    const lines: Array<string> = []
    const r = await run({ print: (l) => lines.push(l) })
    const out = lines.join("\n")
    for (const path of ["/add_pro_payment", "/generate_pro_proof", "/get_pro_details", "/set_payment_refund_requested", "/get_pro_revocations"]) {
      expect(out).toContain(`--> POST ${path}`)
    }
    expect(out).toContain("--> onion /get_pro_revocations")
    expect(out).toMatch(/rejected as expected: ProClientServerRejected status 100/)
    expect(r.details.status).toBe(1)
    expect(r.refund.updated).toBe(true)
    expect(r.proof2.gen_index_hash).toBe(r.proof1.gen_index_hash)
    expect(r.viaOnion.version).toBe(0)
  })

  it("can also run every call through onion requests", async () => {
    const lines: Array<string> = []
    await run({ onion: true, print: (l) => lines.push(l) })
    expect(lines.filter((l) => l.includes("inside an onion request")).length).toBeGreaterThanOrEqual(7)
  })
})
