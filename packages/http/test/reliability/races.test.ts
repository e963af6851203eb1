/**
 * Races over real HTTP against the real server binary (tsx bin/server.ts, SQLite file in WAL,
 * dev mode): identical redemptions, proof generation for one user, and many users redeeming at
 * once (gen-index allocation). SQLite serialises writers, so these check that every path that
 * reads-then-writes does it inside one write transaction (domain.md §14.3).
 */
import * as NodePath from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Keys, Requests } from "../../src/client/index.js"
import { openSqlite } from "../../src/Workers/SqliteFile.js"
import { killAllChildren, post, type Running, Secrets, startServer, tmpDir } from "./harness.js"

const SCALE = Number(process.env.PRO_RELIABILITY_SCALE ?? 1)
let server: Running
let db: string
const secrets = new Secrets()

beforeAll(async () => {
  db = NodePath.join(tmpDir(), "pro.db")
  server = await startServer({ SESH_PRO_BACKEND_DB_PATH: db, SESH_PRO_BACKEND_DEV: "1" })
  await server.waitFor(/Listening on/)
})
afterAll(async () => {
  await server?.kill("SIGTERM")
  killAllChildren()
})

const json = async (path: string, body: unknown) => {
  const r = await post(server.port, path, JSON.stringify(body), { "content-type": "application/json" })
  expect(r.status).toBe(200)
  return JSON.parse(r.body.toString("utf8")) as { status: number; result?: any; errors?: Array<string> }
}

const googleDev = (tag: string) => ({
  provider: "google" as const,
  purchaseToken: `tok-${tag}-${Math.random().toString(36).slice(2)}`,
  orderId: `DEV.${tag}-${Math.random().toString(36).slice(2)}`
})

describe("races over real HTTP (real server process)", () => {
  it("100 concurrent identical /add_pro_payment → exactly one status 0, the rest 100", async () => {
    for (let round = 0; round < SCALE; round++) {
      const master = Keys.randomKey()
      const rotating = Keys.randomKey()
      const payment = googleDev("race")
      secrets.add(master.seed, rotating.seed, master.publicKey, payment.purchaseToken, payment.orderId)
      const body = Requests.addProPayment({ master, rotating, payment })
      const replies = await Promise.all(Array.from({ length: 100 }, () => json("/add_pro_payment", body)))
      const statuses = replies.map((r) => r.status)
      expect(statuses.filter((s) => s === 0)).toHaveLength(1)
      expect(statuses.filter((s) => s === 100)).toHaveLength(99)
      const conn = openSqlite(db, { readonly: true })
      try {
        const rows = conn.prepare("SELECT status, master_pkey FROM payments WHERE google_order_id = ?").all(payment.orderId) as Array<any>
        expect(rows).toHaveLength(1)
        expect(Buffer.from(rows[0].master_pkey).toString("hex")).toBe(Buffer.from(master.publicKey).toString("hex"))
        expect(conn.prepare("SELECT COUNT(*) AS n FROM users WHERE master_pkey = ?").get(Buffer.from(master.publicKey))).toEqual({ n: 1 })
      } finally {
        conn.close()
      }
    }
  })

  it("concurrent /generate_pro_proof for one user are all consistent", async () => {
    const master = Keys.randomKey()
    secrets.add(master.seed, master.publicKey)
    const first = await json("/add_pro_payment", Requests.addProPayment({ master, rotating: Keys.randomKey(), payment: googleDev("gen") }))
    expect(first.status).toBe(0)
    const now = Date.now()
    const gens = Array.from({ length: 60 }, () => {
      const rotating = Keys.randomKey()
      return json("/generate_pro_proof", Requests.generateProProof({ master, rotating, unixTsMs: now }))
    })
    const replies = await Promise.all(gens)
    expect(replies.every((r) => r.status === 0)).toBe(true)
    // one user → one generation index and one expiry, whatever the interleaving
    expect(new Set(replies.map((r) => r.result.gen_index_hash)).size).toBe(1)
    expect(new Set(replies.map((r) => r.result.expiry_unix_ts_ms)).size).toBe(1)
    expect(replies[0]!.result.gen_index_hash).toBe(first.result.gen_index_hash)
  })

  it("many users redeeming at once get distinct generation indexes; the counter is past all of them", async () => {
    const n = 40 * SCALE
    const users = Array.from({ length: n }, () => Keys.randomKey())
    const replies = await Promise.all(users.map((master) =>
      json("/add_pro_payment", Requests.addProPayment({ master, rotating: Keys.randomKey(), payment: googleDev("many") }))
    ))
    expect(replies.every((r) => r.status === 0)).toBe(true)
    expect(new Set(replies.map((r) => r.result.gen_index_hash)).size).toBe(n)
    const conn = openSqlite(db, { readonly: true })
    try {
      expect(conn.prepare("SELECT gen_index, COUNT(*) AS n FROM users GROUP BY gen_index HAVING n > 1").all()).toEqual([])
      const { max } = conn.prepare("SELECT MAX(gen_index) AS max FROM users").get() as { max: number }
      const { next } = conn.prepare("SELECT gen_index AS next FROM runtime").get() as { next: number }
      expect(next).toBeGreaterThan(max)
    } finally {
      conn.close()
    }
  })

  it("the server's stdout/stderr contains no seed, full public key, purchase token or order id", () => {
    const lines = server.output().split("\n")
    expect(lines.length).toBeGreaterThan(3)
    expect(secrets.leaks(lines)).toEqual([])
  })
})
