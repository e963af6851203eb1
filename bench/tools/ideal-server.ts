/**
 * The least a `/get_pro_details` server can do on this stack (see `ideal.ts`): bare `node:http`, `JSON.parse`,
 * the route's BLAKE2b + Ed25519 verify (the core's own functions), two prepared better-sqlite3 reads (the user
 * row, the newest payments) and `JSON.stringify` — no routing, validation, Effect, logging, metrics, error
 * envelope or Python-compatible JSON. Usage: node --import tsx bench/tools/ideal-server.ts <db file> <port>
 */
import * as NodeHttp from "node:http"
import Sqlite from "better-sqlite3"
import * as Ed25519 from "../../packages/core/src/Crypto/Ed25519.js"
import { getProDetailsHash } from "../../packages/core/src/Crypto/Hashes.js"
import type { SqliteDatabase } from "../../packages/core/src/Storage/SqliteDriver.js"

const [file, port] = process.argv.slice(2)
const db = new (Sqlite as any)(file!) as SqliteDatabase
db.pragma("journal_mode = WAL")
db.pragma("synchronous = NORMAL")
db.pragma("mmap_size = 1073741824")
const user = db.prepare("SELECT gen_index, expiry_unix_ts_ms, auto_renewing FROM users WHERE master_pkey = ?").raw(true)
const items = db.prepare(`SELECT status, plan, payment_provider, expiry_unix_ts_ms, apple_original_tx_id FROM payments
  WHERE master_pkey = ? AND status != 1 ORDER BY unredeemed_unix_ts_ms DESC, id DESC LIMIT 16`).raw(true)

NodeHttp.createServer((req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (c: Buffer) => chunks.push(c))
  req.on("end", () => {
    const j = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    const master = Buffer.from(j.master_pkey, "hex")
    const ok = Ed25519.verify(Buffer.from(j.master_sig, "hex"), getProDetailsHash(0, master, j.unix_ts_ms, j.count), master)
    const u = ok ? user.get(master) as Array<number> | undefined : undefined
    const rows = ok ? (items.all(master) as Array<Array<unknown>>).slice(0, j.count) : []
    const body = JSON.stringify({
      status: ok ? 0 : 1,
      result: { expiry_unix_ts_ms: u?.[1] ?? 0, items: rows.map((r) => ({ status: r[0], plan: r[1], payment_provider: r[2], expiry_unix_ts_ms: r[3], apple_original_tx_id: r[4] })) }
    })
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    res.end(body)
  })
}).listen(Number(port), "127.0.0.1", () => console.log("listening"))
