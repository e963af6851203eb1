/**
 * `server …` commands against the real HTTP adapter (packages/http/src/Server.ts over a dev-mode
 * SQLite backend) on loopback.
 */
import { Backend, DEV_BACKEND_SEED, Ed25519, hex } from "@session-pro/core"
import { Effect, Layer, ManagedRuntime } from "effect"
import * as NodeFs from "node:fs"
import * as NodeHttp from "node:http"
import type { AddressInfo } from "node:net"
import * as NodePath from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { query, runCli, SALT, tmpDir } from "./cliHarness.js"

const DEV_PUB = hex(Ed25519.publicKeyFromSeed(DEV_BACKEND_SEED))
const seedHex = (b: number) => hex(new Uint8Array(32).fill(b))

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

const servers: Array<[string, (dbUrl: string) => Promise<Running>]> = [["the real server", startRealServer]]

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
