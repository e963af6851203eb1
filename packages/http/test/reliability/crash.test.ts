/**
 * Crash safety: the real server binary (SQLite file, WAL, dev mode) is killed with SIGKILL (whole
 * process group) in the middle of sustained redemption + proof load, then restarted on the same
 * file, several times in a row. After every restart: each redemption that was answered status 0
 * is in the database (payment redeemed to that master key, user row present, and the restarted
 * server still issues proofs with the same gen_index_hash), `PRAGMA integrity_check` = ok,
 * generation indexes are unique and the allocation counter is past all of them.
 */
import * as NodePath from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Keys, Requests } from "../../src/client/index.js"
import { openSqlite } from "../../src/Workers/SqliteFile.js"
import { killAllChildren, post, type Running, Secrets, startServer, tmpDir } from "./harness.js"

const SCALE = Number(process.env.PRO_RELIABILITY_SCALE ?? 1)
const CYCLES = 2 * SCALE
const secrets = new Secrets()

afterAll(() => killAllChildren())

interface Acked {
  readonly master: Keys.SigningKey
  readonly orderId: string
  readonly genIndexHash: string
}

const sendJson = async (port: number, path: string, body: unknown) => {
  const r = await post(port, path, JSON.stringify(body), { "content-type": "application/json" })
  return { http: r.status, env: JSON.parse(r.body.toString("utf8")) as { status: number; result?: any } }
}

/** Sustained load until `stop()`: redemptions of fresh DEV. payments, and proofs for earlier ones. */
const load = (port: number, acked: Array<Acked>, workers = 6) => {
  let running = true
  const counts = { sent: 0, ok: 0, failed: 0 }
  const worker = async () => {
    while (running) {
      try {
        if (acked.length > 0 && Math.random() < 0.25) {
          const a = acked[Math.floor(Math.random() * acked.length)]!
          counts.sent++
          const r = await sendJson(port, "/generate_pro_proof", Requests.generateProProof({ master: a.master, rotating: Keys.randomKey(), unixTsMs: Date.now() }))
          // a proof for an acknowledged redemption must always be issued, with the same index
          expect(r.env.status).toBe(0)
          expect(r.env.result.gen_index_hash).toBe(a.genIndexHash)
          continue
        }
        const master = Keys.randomKey()
        const orderId = `DEV.crash-${Math.random().toString(36).slice(2)}`
        const purchaseToken = `tok-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
        secrets.add(master.seed, master.publicKey, orderId, purchaseToken)
        counts.sent++
        const r = await sendJson(port, "/add_pro_payment", Requests.addProPayment({
          master,
          rotating: Keys.randomKey(),
          payment: { provider: "google", purchaseToken, orderId }
        }))
        expect(r.http).toBe(200)
        expect(r.env.status).toBe(0)
        counts.ok++
        acked.push({ master, orderId, genIndexHash: r.env.result.gen_index_hash })
      } catch (e) {
        // connection refused/reset once the process is gone: the outcome is unknown, not acked
        if (e instanceof Error && /ECONNRESET|ECONNREFUSED|socket hang up|EPIPE/.test(String((e as any).code ?? e.message))) {
          counts.failed++
          await new Promise((r) => setTimeout(r, 20))
          continue
        }
        running = false
        throw e
      }
    }
  }
  const done = Promise.all(Array.from({ length: workers }, worker))
  return { counts, stop: async () => {
    running = false
    await done
  }, done }
}

const checkDatabase = (db: string, acked: ReadonlyArray<Acked>) => {
  const conn = openSqlite(db, { readonly: true })
  try {
    expect(conn.prepare("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }])
    const byOrder = conn.prepare("SELECT status, master_pkey FROM payments WHERE payment_provider = 1 AND google_order_id = ?")
    const user = conn.prepare("SELECT gen_index FROM users WHERE master_pkey = ?")
    for (const a of acked) {
      const rows = byOrder.all(a.orderId) as Array<{ status: number; master_pkey: Uint8Array }>
      expect(rows, `acked redemption ${a.orderId} lost`).toHaveLength(1)
      expect(Buffer.from(rows[0]!.master_pkey).equals(Buffer.from(a.master.publicKey))).toBe(true)
      expect(rows[0]!.status).toBe(2) // Redeemed
      expect(user.all(Buffer.from(a.master.publicKey))).toHaveLength(1)
    }
    expect(conn.prepare("SELECT gen_index, COUNT(*) AS n FROM users GROUP BY gen_index HAVING n > 1").all()).toEqual([])
    const { max } = conn.prepare("SELECT COALESCE(MAX(gen_index), -1) AS max FROM users").get() as { max: number }
    const { next } = conn.prepare("SELECT gen_index AS next FROM runtime").get() as { next: number }
    expect(next).toBeGreaterThan(max)
  } finally {
    conn.close()
  }
}

describe("crash safety: SIGKILL during sustained redemption load, restart on the same file", () => {
  it(`survives ${CYCLES} kill/restart cycles with every acknowledged redemption intact`, async () => {
    const db = NodePath.join(tmpDir(), "pro.db")
    const env = { SESH_PRO_BACKEND_DB_PATH: db, SESH_PRO_BACKEND_DEV: "1" }
    const acked: Array<Acked> = []
    const outputs: Array<string> = []
    let server: Running = await startServer(env)
    await server.waitFor(/Listening on/)
    let totalSent = 0
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const before = acked.length
      const l = load(server.port, acked)
      // kill at a random point once the load is flowing
      const deadline = Date.now() + 30_000
      while (acked.length < before + 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 600))
      await server.kill("SIGKILL")
      await l.stop()
      totalSent += l.counts.sent
      expect(acked.length).toBeGreaterThan(before)
      outputs.push(server.output())
      server = await startServer(env)
      await server.waitFor(/Listening on/)
      checkDatabase(db, acked)
      // the restarted server answers for every acknowledged user, with the same generation index
      for (const a of acked.slice(-20)) {
        const r = await sendJson(server.port, "/generate_pro_proof", Requests.generateProProof({ master: a.master, rotating: Keys.randomKey(), unixTsMs: Date.now() }))
        expect(r.env.status).toBe(0)
        expect(r.env.result.gen_index_hash).toBe(a.genIndexHash)
      }
    }
    await server.kill("SIGTERM")
    outputs.push(server.output())
    checkDatabase(db, acked)
    console.log(`crash safety: ${CYCLES} SIGKILLs survived, ${totalSent} requests under load, ${acked.length} acknowledged redemptions all present`)
    // secrets: nothing in any process's stdout/stderr
    const lines = outputs.join("\n").split("\n")
    expect(secrets.leaks(lines)).toEqual([])
  }, 300_000)
})
