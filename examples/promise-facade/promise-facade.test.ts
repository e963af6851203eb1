/** Smoke test: the core through openBackend from async/await; its proof verifies with the example verifier. */
import { describe, expect, it } from "vitest"
import { verify } from "../verify-proof/main.js"
import { run } from "./main.js"

describe("example: promise-facade", () => {
  it("stores, redeems, refuses a double redemption, details, revokes, sweeps", async () => {
    const lines: Array<string> = []
    const r = await run({ print: (l) => lines.push(l) })
    const out = lines.join("\n")
    expect(out).toMatch(/second redemption refused: status 100/)
    expect(r.details.status).toBe(1)
    expect(r.ticket).toBe(1)
    const key = lines[0].split(": ")[1]
    expect(verify(r.proof, { backendPublicKey: key, nowMs: Date.now() }).valid).toBe(true)
  })
})
