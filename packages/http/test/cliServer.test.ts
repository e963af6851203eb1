/**
 * `server …` commands against a server on loopback: the real HTTP adapter (packages/http/src/Server.ts
 * over a dev-mode SQLite backend) — and, so the commands stay testable without it, a minimal
 * stand-in: plain node:http routing the five JSON routes to the same core operations (every
 * signature, proof and revocation is real; only the adapter's field parsing is skipped).
 */
import {
  Backend,
  DEV_BACKEND_SEED,
  Ed25519,
  fromHex,
  getProDetailsHash,
  hex,
  Payments,
  proofToJson,
  Proofs,
  proPlanFromString,
  Revocations
} from "@session-pro/core"
import { Cause, Effect, Exit, Layer, ManagedRuntime, Option } from "effect"
import * as NodeFs from "node:fs"
import * as NodeHttp from "node:http"
import type { AddressInfo } from "node:net"
import * as NodePath from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { query, runCli, SALT, tmpDir } from "./cliHarness.js"

const DEV_PUB = hex(Ed25519.publicKeyFromSeed(DEV_BACKEND_SEED))
const seedHex = (b: number) => hex(new Uint8Array(32).fill(b))

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any
const routes: Record<string, (b: Json) => Effect.Effect<unknown, unknown, Backend.BackendServices>> = {
  add_pro_payment: (b) =>
    Effect.gen(function*() {
      const tx = b.payment_tx
      // What the HTTP parser does before the core (P§2.1 step 4).
      if (tx.provider !== 1 && tx.provider !== 2) {
        return yield* Effect.fail({ _tag: "RequestRejected", status: 2, errors: ["Bad payment provider given"] })
      }
      const proof = yield* Proofs.addProPayment({
        version: b.version,
        masterPkey: fromHex(b.master_pkey),
        rotatingPkey: fromHex(b.rotating_pkey),
        masterSig: fromHex(b.master_sig),
        rotatingSig: fromHex(b.rotating_sig),
        paymentTx: tx.provider === 1
          ? { provider: 1, googlePaymentToken: tx.google_payment_token, googleOrderId: tx.google_order_id }
          : tx.provider === 2
          ? { provider: 2, appleTxId: tx.apple_tx_id }
          : { provider: 3, rangeproofOrderId: tx.rangeproof_order_id },
        dev: {
          ...(b.dev_plan !== undefined ? { plan: proPlanFromString(b.dev_plan) } : {}),
          ...(b.dev_duration_ms !== undefined ? { durationMs: b.dev_duration_ms } : {}),
          ...(b.dev_auto_renewing !== undefined ? { autoRenewing: b.dev_auto_renewing } : {})
        }
      })
      return proofToJson(proof)
    }),
  generate_pro_proof: (b) =>
    Effect.map(
      Proofs.generateProProof({
        version: b.version,
        masterPkey: fromHex(b.master_pkey),
        rotatingPkey: fromHex(b.rotating_pkey),
        masterSig: fromHex(b.master_sig),
        rotatingSig: fromHex(b.rotating_sig),
        unixTsMs: b.unix_ts_ms
      }),
      proofToJson
    ),
  get_pro_revocations: (b) =>
    Effect.flatMap(Revocations, (r) => r.list(b.ticket)).pipe(Effect.map((l) => ({ ...l, retry_in_s: 86400, version: b.version }))),
  // A stand-in for the details route: signature check plus the payment count.
  get_pro_details: (b) =>
    Effect.gen(function*() {
      const master = fromHex(b.master_pkey)
      if (!Ed25519.verify(fromHex(b.master_sig), getProDetailsHash(b.version, master, b.unix_ts_ms, b.count), master)) {
        return yield* Effect.fail({ _tag: "RequestRejected", status: 2, errors: ["Signature failed to be verified"] })
      }
      const rows = yield* query(`SELECT COUNT(*) AS n FROM payments WHERE master_pkey = X'${b.master_pkey}'`)
      return { version: 0, payments_total: Number(rows[0]!.n) }
    }),
  set_payment_refund_requested: (b) =>
    Effect.flatMap(Payments, (p) =>
      p.setRefundRequested({
        version: b.version,
        masterPkey: fromHex(b.master_pkey),
        masterSig: fromHex(b.master_sig),
        unixTsMs: b.unix_ts_ms,
        refundRequestedUnixTsMs: b.refund_requested_unix_ts_ms,
        paymentTx: { provider: 2, appleTxId: b.payment_tx.apple_tx_id }
      })).pipe(Effect.map((r) => ({ ...r, version: 0 })))
}

interface Running {
  readonly url: string
  readonly close: () => Promise<void>
}

/** The real server (Server.makeApp) on an ephemeral loopback port. */
const startRealServer = async (dbUrl: string): Promise<Running> => {
  const Server = await import("../src/Server.js")
  const { HttpServer } = await import("@effect/platform")
  const { NodeHttpServer } = await import("@effect/platform-node")
  const node = NodeHttp.createServer()
  const layer = HttpServer.serve(Server.makeApp<never, never>()).pipe(
    Layer.provide(NodeHttpServer.layer(() => node, { port: 0, host: "127.0.0.1" })),
    Layer.provide(Server.servicesLayer({ url: dbUrl, settings: { dev: true }, bootstrap: { salt: SALT } }))
  )
  const runtime = ManagedRuntime.make(layer)
  await runtime.runPromise(Effect.void)
  return { url: `http://127.0.0.1:${(node.address() as AddressInfo).port}`, close: () => runtime.dispose() }
}

const startLoopback = async (dbUrl: string): Promise<Running> => {
  const runtime = ManagedRuntime.make(Backend.layer({ url: dbUrl, settings: { dev: true }, bootstrap: { salt: SALT } }))
  const server = NodeHttp.createServer((req, res) => {
    let body = ""
    req.on("data", (c) => (body += c))
    req.on("end", async () => {
      const handler = req.method === "POST" ? routes[(req.url ?? "").slice(1)] : undefined
      if (!handler) {
        res.writeHead(404, { "content-type": "text/html" }).end("<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n")
        return
      }
      const exit = await runtime.runPromiseExit(Effect.suspend(() => handler(JSON.parse(body))))
      let envelope: unknown
      if (Exit.isSuccess(exit)) envelope = { result: exit.value, status: 0 }
      else {
        const f = Cause.failureOption(exit.cause)
        const e = Option.getOrUndefined(f) as { _tag?: string; status?: number; errors?: Array<string> } | undefined
        if (e?._tag !== "RequestRejected") {
          res.writeHead(500, { "content-type": "text/html" }).end("<h1>Internal Server Error</h1>")
          return
        }
        envelope = { errors: e.errors, status: e.status }
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(envelope) + "\n")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  await runtime.runPromise(Effect.void) // bootstrap the database before the CLI reads it
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await runtime.dispose()
    }
  }
}

const realServerThere = NodeFs.existsSync(NodePath.join(import.meta.dirname, "../src/Server.ts"))
const servers: Array<[string, (dbUrl: string) => Promise<Running>]> = [["the stand-in", startLoopback]]
if (realServerThere) servers.unshift(["the real server", startRealServer])
else describe("server commands against the real server", () => it.skip("skipped: packages/http/src/Server.ts is not there yet", () => {}))

describe.each(servers)("server commands against %s on loopback", (_name, start) => {
  let dir: string
  let dbUrl: string
  let srv: Running
  beforeAll(async () => {
    dir = tmpDir()
    dbUrl = `sqlite:///${NodePath.join(dir, "server.db")}`
    srv = await start(dbUrl)
  })
  afterAll(async () => {
    await srv?.close()
    NodeFs.rmSync(dir, { recursive: true, force: true })
  })
  const server = (...args: Array<string>) => runCli(["server", ...args, "--url", srv.url])

  it("add-pro-payment with generated keys and a DEV. Apple payment; proof verified with the key from the database", async () => {
    const r = await server("add-pro-payment", "--provider", "apple", "--dev-plan", "3M", "--db-url", dbUrl)
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.stdout).toMatch(/^Master secret key \(generated\): [0-9a-f]{64}\nMaster public key: [0-9a-f]{64}\nRotating secret key \(generated\): [0-9a-f]{64}\nRotating public key: [0-9a-f]{64}\n/)
    expect(r.stdout).toContain(`Request: POST ${srv.url}/add_pro_payment\n{\n "version": 0,`)
    expect(r.stdout).toContain('"dev_plan": "ThreeMonth"')
    expect(r.stdout).toMatch(/"apple_tx_id": "DEV\.[0-9a-f-]{36}"/)
    expect(r.stdout).toMatch(/Response:\n\{\n "result": \{/)
    expect(r.stdout).toContain(`Proof: valid, signed by backend key ${DEV_PUB} (the server's database)`)
    const rows = await Effect.runPromise(
      query("SELECT plan, status FROM payments").pipe(Effect.provide(Backend.layer({ url: dbUrl, settings: { dev: true } })))
    )
    expect(rows.map((x) => [Number(x.plan), Number(x.status)])).toEqual([[2, 2]])
  })

  it("the full client flow with fixed keys: add (Google, real ids too), generate, details, refund, revocations", async () => {
    const master = seedHex(0x11)
    const rotating = seedHex(0x12)
    let r = await server("add-pro-payment", "--master-skey", master, "--rotating-skey", rotating, "--provider", "google", "--dev-duration-ms", "600000", "--dev-auto-renewing", "--server-pubkey", DEV_PUB)
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.stdout).toContain('"dev_auto_renewing": true')
    expect(r.stdout).toContain("Proof: valid")
    // An Apple dev payment with a known tx id, then its refund request (FLAG-45 fixed).
    r = await server("add-pro-payment", "--master-skey", master, "--rotating-skey", rotating, "--provider", "apple", "--tx-id", "DEV.refund-me", "--version", "0")
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.stdout).toContain("Proof: valid, signed by backend key " + DEV_PUB + " (the dev-mode key (assumed))")
    r = await server("generate-pro-proof", "--master-skey", master, "--rotating-skey", seedHex(0x13), "--server-pubkey", DEV_PUB)
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.stdout).toContain(`"rotating_pkey": "${hex(Ed25519.publicKeyFromSeed(new Uint8Array(32).fill(0x13)))}"`)
    expect(r.stdout).toContain("Proof: valid")
    r = await server("get-pro-details", "--master-skey", master, "--count", "5")
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.stdout).toContain('"payments_total": 2')
    r = await server("set-payment-refund-requested", "--master-skey", master, "--tx-id", "DEV.refund-me", "--refund-requested-unix-ts-ms", "1767237945500")
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.stdout).toContain('"payment_tx": {\n  "provider": 2,\n  "apple_tx_id": "DEV.refund-me"\n }')
    expect(r.stdout).toMatch(/Updated: refund requested at 1767237945500 /)
    // Another key cannot touch it (D4d): the server answers updated=false.
    r = await server("set-payment-refund-requested", "--master-skey", seedHex(0x99), "--tx-id", "DEV.refund-me")
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("Not updated")
    // Revoke the user's generation index through the admin CLI, then the list has it.
    const masterPub = hex(Ed25519.publicKeyFromSeed(new Uint8Array(32).fill(0x11)))
    const rv = await runCli(["revoke", "timestamp", masterPub, "4102444800", "--db-url", dbUrl])
    expect(rv.stdout).toMatch(/\(created\)$/)
    r = await server("get-pro-revocations", "--ticket", "0")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/"ticket": 1/)
    expect(r.stdout).toMatch(/"gen_index_hash": "[0-9a-f]{64}"/)
  })

  it("rejections, a wrong server key and HTTP errors are one line and exit 1", async () => {
    let r = await server("generate-pro-proof", "--master-skey", seedHex(0x77))
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('"status": 1')
    expect(r.stderr).toMatch(/^ERROR: server rejected the request with status 1: .+$/)
    r = await server("add-pro-payment", "--provider", "apple", "--server-pubkey", seedHex(0x01))
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^ERROR: proof verification failed against 0101.* the signature does not verify/)
    r = await server("add-pro-payment", "--provider", "rangeproof")
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^ERROR: server rejected the request with status 2/)
    r = await runCli(["server", "get-pro-revocations", "--url", `${srv.url}/nowhere`])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^ERROR: Server returned 404: (404 )?Not Found$/)
    r = await runCli(["server", "get-pro-revocations", "--url", "http://127.0.0.1:1"])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^ERROR: could not reach http:\/\/127\.0\.0\.1:1\/get_pro_revocations: /)
    r = await server("get-pro-details", "--master-skey", "xyz")
    expect(r.stderr).toBe("ERROR: Master secret key must be a 32-byte seed (64 hex) or a 64-byte secret key (128 hex)")
  })
})
