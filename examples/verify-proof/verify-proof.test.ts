/** The standalone verifier agrees with the SDK's and with the golden proofs; CLI exit codes. */
import { Verify } from "@session-pro/http/client"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { run, verify } from "./main.js"

const vectors: any = JSON.parse(readFileSync(fileURLToPath(new URL("../../test-vectors/vectors.json", import.meta.url)), "utf8"))
const ctx = vectors.http_exchanges.context
const result = (id: string) => JSON.parse([...vectors.http_exchanges.prod, ...vectors.http_exchanges.dev].find((e: any) => e.id === id).response.body).result

describe("example: verify-proof", () => {
  it("demo output: valid, expired, wrong key, revoked, old personalisation", () => {
    const lines: Array<string> = []
    expect(run([], (l) => lines.push(l))).toBe(0)
    expect(lines.filter((l) => l.startsWith("VALID")).length).toBe(2)
    expect(lines.join("\n")).toMatch(/INVALID add_apple_ok proof, at the revocation's effective time: revoked/)
    expect(lines.join("\n")).toMatch(/INVALID the reference example's proof .*signature does not verify/)
  })

  it("agrees with the SDK verifier on every golden proof and on tampered ones", () => {
    for (const id of ["add_google_ok", "generate_ok", "add_apple_ok", "generate_after_revoke", "dev_add_google_default", "dev_add_apple_args", "dev_generate"]) {
      const proof = result(id)
      for (const [p, now] of [[proof, ctx.server_now_ms], [proof, proof.expiry_unix_ts_ms + 1], [{ ...proof, gen_index_hash: proof.rotating_pkey }, ctx.server_now_ms]]) {
        const mine = verify(p, { backendPublicKey: ctx.backend_ed25519_pub, nowMs: now })
        const sdk = Verify.verifyProof(p, { backendPublicKey: ctx.backend_ed25519_pub, nowMs: now })
        expect(mine.valid).toBe(sdk.valid)
      }
      expect(verify(proof, { backendPublicKey: ctx.backend_ed25519_pub, nowMs: ctx.server_now_ms }).valid).toBe(true)
    }
  })

  it("command line: exit 0 valid, 1 invalid, 2 usage; envelopes and revocation results accepted", () => {
    const proof = JSON.stringify({ result: result("add_apple_ok"), status: 0 })
    const revs = JSON.stringify(result("revocations_ticket0"))
    const out: Array<string> = []
    const print = (l: string) => out.push(l)
    expect(run(["--proof", proof, "--backend-key", ctx.backend_ed25519_pub, "--now", String(ctx.server_now_ms)], print)).toBe(0)
    expect(run(["--proof", proof, "--backend-key", ctx.backend_ed25519_pub, "--now", String(ctx.server_now_ms + 2 * 86_400_000), "--revocations", revs], print))
      .toBe(1)
    expect(run(["--proof", proof, "--backend-key", ctx.keys.master.pub, "--now", String(ctx.server_now_ms)], print)).toBe(1)
    expect(run(["--proof", proof], print)).toBe(2)
    expect(out[0]).toMatch(/^VALID: valid until/)
    expect(out[1]).toMatch(/^INVALID: revoked since/)
  })
})
