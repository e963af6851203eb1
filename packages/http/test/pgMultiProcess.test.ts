/**
 * Several server processes on one PostgreSQL database (D3/D4g, domain.md §14.4): two real binaries
 * (`tsx packages/http/src/bin/server.ts`) on one schema of PRO_TEST_PG_URL, requests spread over both.
 * 100 identical dev adds redeem exactly once; 1,000 distinct redemptions get 1,000 distinct generation
 * indexes (the runtime counter agrees); both sweep workers reach the same fake midnight and the sweep
 * runs once. The figures are printed so they can be quoted. Skipped visibly without PRO_TEST_PG_URL.
 *
 * The server processes come from test/support/serverProcess.ts (own process group, killed with it).
 */
import { spawnSync } from "node:child_process"
import * as NodeCrypto from "node:crypto"
import { afterAll, describe, expect, it } from "vitest"
import { Requests } from "../src/client/index.js"
import { killAllServers, spawnServer } from "./support/serverProcess.js"

const DAY = 86_400_000

afterAll(() => killAllServers())

const start = async (env: Record<string, string>) => {
  const { proc, port, output, exited, waitFor } = await spawnServer(env)
  const stop = async () => {
    proc.kill("SIGTERM")
    const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  return { port, output, waitFor: (re: RegExp, timeoutMs?: number) => waitFor(re, { timeoutMs }), stop }
}

const http = async (port: number, path: string, init?: RequestInit) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers: { connection: "close", ...init?.headers } })
  return { status: res.status, text: await res.text() }
}

if (!process.env.PRO_TEST_PG_URL) {
  describe("two server processes on one PostgreSQL database", () => {
    it.skip("SKIPPED: set PRO_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it", () => {})
  })
}

describe.skipIf(!process.env.PRO_TEST_PG_URL)("two server processes on one PostgreSQL database", () => {
  const PG_URL = process.env.PRO_TEST_PG_URL!
  const psql = (sql: string) => {
    const r = spawnSync("psql", [PG_URL, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], { encoding: "utf8" })
    if (r.status !== 0) throw new Error(`psql: ${r.stderr}`)
    return r.stdout.trim()
  }
  const post = async (port: number, path: string, body: unknown) => {
    const r = await http(port, path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    return { http: r.status, ...(JSON.parse(r.text) as { status: number; result?: any; errors?: Array<string> }) }
  }
  const tally = (xs: ReadonlyArray<{ readonly status: number }>) =>
    xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x.status]: (m[x.status] ?? 0) + 1 }), {})

  it("identical adds redeem once, 1,000 redemptions get 1,000 gen indexes, one sweep per day boundary", { timeout: 180_000 }, async () => {
    const schema = `http_two_proc_${NodeCrypto.randomBytes(5).toString("hex")}`
    psql(`CREATE SCHEMA ${schema}`)
    try {
      const url = `${PG_URL}${PG_URL.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`
      const midnight = Math.floor(Date.now() / DAY) * DAY + 10 * DAY
      // Fake clock far enough before a midnight that start-up and the request bursts finish first.
      const env = { SESH_PRO_BACKEND_DB_URL: url, SESH_PRO_BACKEND_DEV: "1", SESH_PRO_BACKEND_FAKE_CLOCK: String(midnight - 10 * 60_000) }
      const a = await start(env)
      const b = await start(env)
      await Promise.all([a.waitFor(/Listening on/), b.waitFor(/Listening on/)])
      const ports = [a.port, b.port]
      const q = (sql: string) => psql(`SET search_path = ${schema}; ${sql}`).split("\n").at(-1)!

      // 1) 100 identical dev add requests (one DEV. Apple payment, same keys), alternating over both processes.
      const same = Requests.addProPayment({
        master: NodeCrypto.randomBytes(32),
        rotating: NodeCrypto.randomBytes(32),
        payment: { provider: "apple", transactionId: `DEV.${NodeCrypto.randomUUID()}` },
        dev: { plan: "OneMonth", durationMs: 30 * DAY }
      })
      const identical = await Promise.all(Array.from({ length: 100 }, (_, i) => post(ports[i % 2]!, "/add_pro_payment", same)))
      const identicalTally = tally(identical)
      console.log(`[pg two processes] 100 identical dev /add_pro_payment: status counts ${JSON.stringify(identicalTally)}`)
      expect(identical.every((r) => r.http === 200)).toBe(true)
      expect(identicalTally).toEqual({ 0: 1, 100: 99 })
      expect(q(`SELECT COUNT(*) || '/' || COUNT(*) FILTER (WHERE status = 2) FROM payments`)).toBe("1/1")

      // 2) 1,000 distinct payments (one new user each) redeemed at once, alternating over both processes.
      const bodies = Array.from({ length: 1000 }, () =>
        Requests.addProPayment({
          master: NodeCrypto.randomBytes(32),
          rotating: NodeCrypto.randomBytes(32),
          payment: { provider: "apple", transactionId: `DEV.${NodeCrypto.randomUUID()}` },
          dev: { plan: "OneMonth", durationMs: 30 * DAY }
        })
      )
      const t0 = Date.now()
      const distinct = await Promise.all(bodies.map((body, i) => post(ports[i % 2]!, "/add_pro_payment", body)))
      const ms = Date.now() - t0
      const distinctTally = tally(distinct)
      const genIndexes = new Set(distinct.map((r) => r.result?.gen_index_hash))
      const users = q(`SELECT COUNT(*) || '/' || COUNT(DISTINCT gen_index) || '/' || MIN(gen_index) || '/' || MAX(gen_index) FROM users`)
      const counter = Number(q(`SELECT gen_index FROM runtime`))
      console.log(
        `[pg two processes] 1000 distinct redemptions in ${ms} ms: status counts ${JSON.stringify(distinctTally)}, ` +
          `${genIndexes.size} distinct gen_index_hash in the proofs; users rows/distinct gen_index/min/max = ${users}; runtime.gen_index = ${counter}`
      )
      expect(distinctTally).toEqual({ 0: 1000 })
      expect(genIndexes.size).toBe(1000)
      expect(users).toBe("1001/1001/0/1000") // with the user of step 1
      expect(counter).toBe(1001)

      // 3) Both sweep workers wait for the same fake midnight: move both clocks to just before it.
      const day = (t: number) => new Date(t).toISOString().slice(0, 10)
      const moved = await Promise.all(ports.map((p) => post(p, "/dev/clock", { set_unix_ts_ms: midnight - 1500 })))
      expect(moved.map((m) => m.result?.swept_boundary_unix_ts_ms)).toEqual([null, null]) // no midnight crossed by the move
      const atMidnight = new RegExp(`Daily pruning for ${day(midnight - DAY)} (completed|was already done)`)
      await Promise.all([a.waitFor(atMidnight, 60_000), b.waitFor(atMidnight, 60_000)])
      const completed = [a, b].map((s) => s.output().match(new RegExp(`Daily pruning for ${day(midnight - DAY)} completed`, "g"))?.length ?? 0)
      console.log(`[pg two processes] sweeps completed for ${day(midnight - DAY)}: ${completed.join(" + ")} (both workers reached the boundary)`)
      expect(completed[0]! + completed[1]!).toBe(1)
      expect(Number(q(`SELECT last_expire_unix_ts_ms FROM runtime`))).toBe(midnight)
      expect(await a.stop()).toBe(0)
      expect(await b.stop()).toBe(0)
    } finally {
      psql(`DROP SCHEMA ${schema} CASCADE`)
    }
  })
})
