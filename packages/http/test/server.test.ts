/**
 * The real binary, as a child process: `tsx packages/http/src/bin/server.ts` on a temporary SQLite
 * file and a free port.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as Net from "node:net"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as Either from "effect/Either"
import { afterAll, describe, expect, it } from "vitest"
import { makeChain, notificationJws } from "../../stores/test/appleTestKit.js"
import * as OnionRequests from "../src/OnionRequests/index.js"
import { openSqlite } from "../src/Workers/SqliteFile.js"
import { devServer } from "./onionVectors.js"
import { killAllServers, ROOT, spawnServer } from "./support/serverProcess.js"

const DAY = 86_400_000

const tmp = () => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "pro-server-"))

interface Running {
  readonly proc: ChildProcess
  readonly port: number
  readonly output: () => string
  readonly exited: Promise<number | null>
  readonly waitFor: (re: RegExp, count?: number, timeoutMs?: number) => Promise<void>
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

// Each server runs in its own process group (tsx wrapper + node + cluster workers): a failed test
// kills the whole group, so no server outlives the run.
afterAll(() => killAllServers())

const start = async (env: Record<string, string>, port?: number): Promise<Running> => {
  const s = await spawnServer(env, { port })
  const { proc, exited } = s
  return {
    proc,
    port: s.port,
    output: s.output,
    exited,
    waitFor: (re, count, timeoutMs) => s.waitFor(re, { count, timeoutMs }),
    stop: async (signal = "SIGTERM") => {
      proc.kill(signal)
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000)
      const code = await exited
      clearTimeout(timer)
      return code
    }
  }
}

const http = async (port: number, path: string, init?: RequestInit) => {
  // a fresh connection each time, so the cluster's round robin spreads requests
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers: { connection: "close", ...init?.headers } })
  return { status: res.status, text: await res.text(), contentType: res.headers.get("content-type") }
}

const routesMounted = ["Routes", "App.ts", "Server.ts"].some((p) => NodeFs.existsSync(NodePath.join(ROOT, "packages/http/src", p)))

describe("server binary", () => {
  it("a bad configuration lists every problem and exits 1 (D4h)", { timeout: 180_000 }, async () => {
    const s = await start({ SESH_PRO_BACKEND_DEV: "maybe", SESH_PRO_BACKEND_PORT: "-1", SESH_PRO_BACKEND_WITH_PLATFORM_APPLE: "1" })
    expect(await s.exited).toBe(1)
    expect(s.output()).toContain("Failed to start up, invalid configuration (3 problems)")
    expect(s.output()).toContain('SESH_PRO_BACKEND_DEV: "maybe" is not a boolean (0 or 1)')
    expect(s.output()).toContain('SESH_PRO_BACKEND_PORT: "-1" is not an integer between 0 and 65535')
    expect(s.output()).toContain("Platform Apple was enabled but the [apple] section is missing")
  })

  it("serves on a temp SQLite file, answers /healthz, /metrics (and the client routes), exits cleanly on SIGTERM", { timeout: 180_000 }, async () => {
    const dir = tmp()
    const db = NodePath.join(dir, "nested", "pro.db")
    const log = NodePath.join(dir, "pro.log")
    // An INI file (current generation) with Apple in sandbox; the environment adds the rest.
    const cert = NodePath.join(ROOT, "test-vectors/fixtures/apple/certs/AppleRootCA-G3.cer")
    const key = NodePath.join(dir, "AuthKey.p8")
    NodeFs.writeFileSync(
      key,
      NodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" })
    )
    const ini = NodePath.join(dir, "pro.ini")
    NodeFs.writeFileSync(ini, `; test deployment
[base]
db_url = sqlite:///${db}
dev = true
with_platform_apple = true

[apple]
bundle_id = com.loki-project.loki-messenger
issuer_id = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
key_id = ABCDEFGHIJ
key_path = ${key}
root_cert_path = ${cert}
root_cert_ca_g2_path = ${cert}
root_cert_ca_g3_path = ${cert}
sandbox_env = true
`)
    const s = await start({
      SESH_PRO_BACKEND_INI_PATH: ini,
      SESH_PRO_BACKEND_LOG_PATH: log,
      SESH_PRO_BACKEND_SET_USER_ERRORS: "1:some-google-token=true,2:1000000999=false"
    })
    await s.waitFor(/Listening on http:\/\/127\.0\.0\.1:\d+/)
    expect(s.output()).toContain("Session Pro Backend")
    expect(s.output()).toContain("Dev Mode Enabled")
    expect(s.output()).toContain("Set 1/2 user errors")
    expect(s.output()).toContain(`Config .INI file loaded: ${ini}`)
    expect(s.output()).toContain("Platform: Sandbox Apple iOS App Store notification handling enabled")
    expect(s.output()).toContain("Platform testing environment enabled") // sandbox forces it
    expect(s.output()).toContain("Platform Apple is in sandbox mode but platform_testing_env was false; forcing it to true")

    // the Apple webhook is mounted: a bad body is 400, a payload that is not Apple's is 403
    expect((await http(s.port, "/apple_notifications_v2", { method: "POST", body: "{}" })).status).toBe(400)
    expect(
      (await http(s.port, "/apple_notifications_v2", { method: "POST", body: '{"signedPayload":"a.b.c"}' })).status
    ).toBe(403)
    // ... and reachable through onion requests (protocol.md §2.6, ClientRoutes.ExtraRoutes): a forged
    // notification (a well-formed chain that is not Apple's) gets the same 403 inside the encrypted
    // reply as over plain HTTP, and nothing is stored (checked on the file below).
    const now = Date.now()
    const forged = JSON.stringify({
      signedPayload: notificationJws(makeChain({ name: "Forged" }), {
        type: "SUBSCRIBED",
        subtype: "INITIAL_BUY",
        bundleId: "com.loki-project.loki-messenger",
        tx: { orig: "9000", tx: "9001", purchase: now, expires: now + DAY, bundleId: "com.loki-project.loki-messenger" }
      })
    })
    const plain = await http(s.port, "/apple_notifications_v2", { method: "POST", body: forged, headers: { "content-type": "application/json" } })
    expect(plain.status).toBe(403)
    expect(plain.text).toMatch(/^Forbidden: /)
    const onion = Either.getOrThrow(OnionRequests.Client.buildRequest({
      serverPublicKey: devServer.publicKey,
      request: OnionRequests.Client.jsonRequest("/apple_notifications_v2", forged)
    }))
    const outer = await fetch(`http://127.0.0.1:${s.port}/oxen/v4/lsrpc`, { method: "POST", body: onion.body, headers: { connection: "close" } })
    expect(outer.status).toBe(200)
    const reply = Either.getOrThrow(OnionRequests.Client.decryptReply(onion, new Uint8Array(await outer.arrayBuffer())))
    expect(reply.code).toBe(403)
    expect(new TextDecoder().decode(reply.body)).toBe(plain.text)
    expect(reply.headers["content-type"]).toBe(plain.contentType)

    const health = await http(s.port, "/healthz")
    expect(health.status).toBe(200)
    expect(JSON.parse(health.text)).toMatchObject({
      status: "ok",
      database: "ok",
      // Apple is on: its catch-up fiber is a background worker too
      workers: { "expiry-sweep": { alive: true }, backup: { alive: true }, "apple-catch-up": { alive: true } }
    })

    if (routesMounted) {
      const r = await http(s.port, "/get_pro_revocations", { method: "POST", body: '{"version":0,"ticket":0}' })
      expect(r.status).toBe(200)
      expect(r.contentType).toBe("application/json")
      expect(JSON.parse(r.text)).toMatchObject({ status: 0, result: { version: 0, ticket: 0, items: [] } })
    }
    expect((await http(s.port, "/nope")).status).toBe(404)

    const metrics = await http(s.port, "/metrics")
    expect(metrics.status).toBe(200)
    expect(metrics.contentType).toContain("text/plain")
    expect(metrics.text).toContain('session_pro_http_requests_total{route="/healthz",method="GET",status="200"} 1')
    expect(metrics.text).toContain('session_pro_http_requests_total{route="other",method="GET",status="404"} 1')
    expect(metrics.text).toContain("session_pro_http_request_duration_seconds_bucket")
    // 400 + 403 above, the forged one over plain HTTP and the same through the onion request
    expect(metrics.text).toContain('session_pro_store_notifications_failed_total{store="apple"} 4')

    expect(await s.stop("SIGTERM")).toBe(0)
    expect(s.output()).toContain("Shutting down: draining")
    // the database was closed: the last connection checkpoints and removes the WAL
    expect(NodeFs.existsSync(`${db}-wal`)).toBe(false)
    const conn = openSqlite(db, { readonly: true })
    expect(conn.prepare("SELECT payment_id, payment_provider FROM user_errors").all()).toEqual([
      { payment_id: "some-google-token", payment_provider: 1 }
    ])
    // the forged notifications (plain and onion) left no trace
    expect(conn.prepare("SELECT COUNT(*) AS n FROM payments").get()).toEqual({ n: 0 })
    expect(conn.prepare("SELECT COUNT(*) AS n FROM apple_notification_uuid_history").get()).toEqual({ n: 0 })
    conn.close()
    expect(NodeFs.readFileSync(log, "utf8")).toContain("Listening on")
  })

  it("SIGTERM lets an in-flight request finish before the process exits", { timeout: 180_000 }, async () => {
    const dir = tmp()
    const s = await start({ SESH_PRO_BACKEND_DB_PATH: NodePath.join(dir, "pro.db"), SESH_PRO_BACKEND_DEV: "1" })
    await s.waitFor(/Listening on/)
    const body = '{"version":0,"ticket":0}'
    const socket = Net.connect(s.port, "127.0.0.1")
    let response = ""
    socket.on("data", (d) => (response += d))
    const closed = new Promise<void>((r) => socket.once("close", () => r()))
    await new Promise<void>((r) => socket.once("connect", () => r()))
    // headers and half the body: the request is in flight
    socket.write(`POST /get_pro_revocations HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`)
    await new Promise((r) => setTimeout(r, 500))
    s.proc.kill("SIGTERM")
    await s.waitFor(/Shutting down: draining 1 in-flight request/)
    // new connections are refused while draining
    await expect(fetch(`http://127.0.0.1:${s.port}/healthz`)).rejects.toThrow()
    expect(s.proc.exitCode).toBeNull()
    socket.write(body.slice(10))
    await closed
    expect(response).toMatch(/^HTTP\/1\.1 200 /)
    expect(response).toContain('"status":0')
    expect(await s.exited).toBe(0)
  })

  it("print_tables prints every table and exits 0", { timeout: 180_000 }, async () => {
    const dir = tmp()
    const s = await start({ SESH_PRO_BACKEND_DB_PATH: NodePath.join(dir, "pro.db"), SESH_PRO_BACKEND_DEV: "1", SESH_PRO_BACKEND_PRINT_TABLES: "1" })
    expect(await s.exited).toBe(0)
    expect(s.output()).toContain("Table: runtime")
    expect(s.output()).toContain("Table: payments")
    expect(s.output()).toContain("(secret seed hidden; public key fc947730f49eb01427a66e050733294d9e520e545c7a27125a780634e0860a27)")
    expect(s.output()).not.toContain("cd".repeat(32))
    expect(s.output()).not.toContain("Listening on")
  })

  it("workers = 2: two processes share the port and the database; background work only in worker 1", { timeout: 180_000 }, async () => {
    const dir = tmp()
    const s = await start({
      SESH_PRO_BACKEND_DB_PATH: NodePath.join(dir, "pro.db"),
      SESH_PRO_BACKEND_DEV: "1",
      SESH_PRO_BACKEND_WORKERS: "2"
    })
    await s.waitFor(/Listening on http:\/\/127\.0\.0\.1:\d+ \(worker \d of 2\)/, 2)
    expect(s.output()).toContain("Started 2 worker processes; background work runs in worker 1")
    const roles = new Set<string>()
    for (let i = 0; i < 20 && roles.size < 2; i++) {
      const h = await http(s.port, "/healthz")
      expect(h.status).toBe(200)
      const body = JSON.parse(h.text)
      roles.add(body.role)
      if (body.role === "worker 2 of 2") expect(body.workers).toEqual({})
      if (body.role === "worker 1 of 2") expect(Object.keys(body.workers).sort()).toEqual(["backup", "expiry-sweep"])
    }
    expect(roles).toEqual(new Set(["worker 1 of 2", "worker 2 of 2"]))
    // worker 1 (the background one) dies: the primary starts it again with the same role
    let pid1: number | undefined
    for (let i = 0; i < 20 && pid1 === undefined; i++) {
      const body = JSON.parse((await http(s.port, "/healthz")).text)
      if (body.role === "worker 1 of 2") pid1 = body.pid
    }
    process.kill(pid1!, "SIGKILL")
    await s.waitFor(/Worker 1 exited \(code null, signal SIGKILL\); starting it again/)
    await s.waitFor(/Listening on http:\/\/127\.0\.0\.1:\d+ \(worker 1 of 2\)/, 2)
    let back = false
    for (let i = 0; i < 20 && !back; i++) {
      const body = JSON.parse((await http(s.port, "/healthz")).text)
      back = body.role === "worker 1 of 2" && body.pid !== pid1 && body.workers["expiry-sweep"]?.alive === true
    }
    expect(back).toBe(true)
    // /metrics aggregates both processes through the primary
    const m = await http(s.port, "/metrics")
    expect(m.status).toBe(200)
    expect(m.text).toMatch(/session_pro_http_requests_total\{route="\/healthz",method="GET",status="200"\} \d+/)
    expect(await s.stop("SIGTERM")).toBe(0)
    expect(s.output().match(/Shutting down: draining/g)?.length).toBe(2) // the killed worker never drained
  })

  it("two servers on one SQLite file run the day's sweep once (D4g)", { timeout: 240_000 }, async () => {
    const dir = tmp()
    const db = NodePath.join(dir, "pro.db")
    // The fake clock puts midnight ~30 s after start-up. Whether a process is up before midnight or
    // only after it (slow start-up), the start-up catch-up plus the midnight run must sweep each
    // boundary exactly once across both processes.
    const midnight = Math.ceil((Date.now() + 40_000) / DAY) * DAY
    const env = { SESH_PRO_BACKEND_DB_PATH: db, SESH_PRO_BACKEND_DEV: "1", SESH_PRO_BACKEND_FAKE_CLOCK: String(midnight - 30_000) }
    const a = await start(env)
    const b = await start(env)
    await Promise.all([a.waitFor(/Listening on/), b.waitFor(/Listening on/)])
    // the fake clock also drives the request handlers (the nonce window is centred on it)
    const k = "ab".repeat(32)
    const sig = "cd".repeat(64)
    const r = await http(a.port, "/generate_pro_proof", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ version: 0, master_pkey: k, rotating_pkey: k, master_sig: sig, rotating_sig: sig, unix_ts_ms: 1000 })
    })
    const min = Number(/\(min (\d+)\)/.exec(r.text)?.[1])
    expect(min).toBeGreaterThan(midnight - 30_000 - 70_000 - 1)
    expect(min).toBeLessThan(midnight + 120_000)
    const day = (t: number) => new Date(t).toISOString().slice(0, 10)
    const atMidnight = new RegExp(`Daily pruning for ${day(midnight - DAY)} (completed|was already done)`)
    await Promise.all([a.waitFor(atMidnight, 1, 120_000), b.waitFor(atMidnight, 1, 120_000)])
    const completed = (d: string) =>
      [a, b].map((s) => s.output().match(new RegExp(`Daily pruning for ${d} completed`, "g"))?.length ?? 0)
        .reduce((x, y) => x + y, 0)
    expect(completed(day(midnight - DAY))).toBe(1)
    expect(completed(day(midnight - 2 * DAY))).toBeLessThanOrEqual(1) // the start-up catch-up of the day before
    expect(await a.stop()).toBe(0)
    expect(await b.stop()).toBe(0)
    const conn = openSqlite(db, { readonly: true })
    expect(conn.prepare("SELECT last_expire_unix_ts_ms AS t FROM runtime").get()).toEqual({ t: midnight })
    conn.close()
  })

  const PG_URL = process.env.PRO_TEST_PG_URL
  it.skipIf(!PG_URL)("PostgreSQL with workers = 2: serves, no backup worker, exits cleanly", { timeout: 180_000 }, async () => {
    const schema = `http_server_test_${NodeCrypto.randomBytes(5).toString("hex")}`
    const psql = (sql: string) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn("psql", [PG_URL!, "-v", "ON_ERROR_STOP=1", "-c", sql], { stdio: "ignore" })
        p.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}`))))
      })
    await psql(`CREATE SCHEMA ${schema}`)
    try {
      const url = `${PG_URL}${PG_URL!.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`
      const s = await start({ SESH_PRO_BACKEND_DB_URL: url, SESH_PRO_BACKEND_DEV: "1", SESH_PRO_BACKEND_WORKERS: "2" })
      await s.waitFor(/Listening on http:\/\/127\.0\.0\.1:\d+ \(worker \d of 2\)/, 2)
      expect(s.output()).not.toMatch(/postgresql:\/\/[^\s]*:[^\s@*]+@/) // no password in the logs
      for (let i = 0; i < 4; i++) {
        const h = JSON.parse((await http(s.port, "/healthz")).text)
        expect(h.status).toBe("ok")
        if (h.role === "worker 1 of 2") expect(Object.keys(h.workers)).toEqual(["expiry-sweep"])
      }
      const r = await http(s.port, "/get_pro_revocations", { method: "POST", body: '{"version":0,"ticket":0}' })
      expect(JSON.parse(r.text)).toMatchObject({ status: 0, result: { ticket: 0, items: [] } })
      expect(await s.stop()).toBe(0)
    } finally {
      await psql(`DROP SCHEMA ${schema} CASCADE`)
    }
  })
})
