/** Each example runs through its `npm run example:<name>` script (the wiring users type). */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const npmRun = (name: string) => promisify(execFile)("npm", ["run", "--silent", `example:${name}`], { cwd: ROOT, timeout: 170_000 })

describe("npm run example:<name>", () => {
  it.concurrent.each([
    ["client-walkthrough", /--> POST \/set_payment_refund_requested/],
    ["verify-proof", /VALID {3}add_google_ok proof/],
    ["embed-core", /revocation list now: ticket 2, 0 item\(s\)/],
    ["promise-facade", /daily sweep: /]
  ])("%s exits 0", async (name, expected) => {
    const { stdout } = await npmRun(name)
    expect(stdout).toMatch(expected)
  }, 180_000) // four tsx processes at once, next to the rest of the suite
})
