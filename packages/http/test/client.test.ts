/**
 * The client SDK (`@session-pro/http/client`): request builders reproduce the golden request bodies
 * byte for byte (same keys, same timestamps → same deterministic signatures), the verifier accepts
 * every proof of the golden exchanges under the dev backend key (and rejects wrong key, expiry,
 * revocation, the reference example's old personalisation), and the client drives a dev server
 * end to end in-process, over loopback HTTP, plain and through onion requests with both ciphers.
 */
import { FetchHttpClient } from "@effect/platform"
import { HttpServer } from "@effect/platform"
import {
  createProClient,
  InvalidProof,
  Keys,
  ProClient,
  Requests,
  ServerRejected,
  Verify
} from "@session-pro/http/client"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import * as Server from "../src/Server.js"

const vectors: any = JSON.parse(readFileSync(fileURLToPath(new URL("../../../test-vectors/vectors.json", import.meta.url)), "utf8"))
const ctx = vectors.http_exchanges.context
const exchanges: Array<any> = [...vectors.http_exchanges.prod, ...vectors.http_exchanges.dev]
const byId = (id: string) => exchanges.find((e) => e.id === id)
const NOW: number = ctx.server_now_ms
const DEV_PUB: string = ctx.backend_ed25519_pub
const master = Keys.signingKey(ctx.keys.master.seed)
const rotating1 = Keys.signingKey(ctx.keys.rotating1.seed)
const rotating2 = Keys.signingKey(ctx.keys.rotating2.seed)

const proofExchanges = exchanges.filter((e) =>
  (e.path === "/add_pro_payment" || e.path === "/generate_pro_proof") && e.response?.http_status === 200 &&
  JSON.parse(e.response.body).status === 0
)

describe("client request builders reproduce the golden requests", () => {
  it("add (Google, Apple), generate, details, refund, revocations", () => {
    const golden = (id: string) => JSON.parse(byId(id).request_body)
    expect(Requests.addProPayment({
      master,
      rotating: rotating1,
      payment: { provider: "google", purchaseToken: "google-token-1", orderId: "GPA.0000-0000-0000-00001" }
    })).toEqual(golden("add_google_ok"))
    expect(Requests.addProPayment({ master: ctx.keys.master.seed, rotating: rotating1, payment: { provider: "apple", transactionId: "2000000000000001" } }))
      .toEqual(golden("add_apple_ok"))
    expect(Requests.generateProProof({ master, rotating: rotating2, unixTsMs: NOW })).toEqual(golden("generate_ok"))
    expect(Requests.getProDetails({ master, unixTsMs: NOW, count: 10 })).toEqual(golden("details_active_1"))
    expect(Requests.setPaymentRefundRequested({
      master,
      appleTransactionId: "2000000000000001",
      refundRequestedUnixTsMs: NOW,
      unixTsMs: NOW
    })).toEqual(golden("refund_apple_ok"))
    expect(Requests.getProRevocations({ ticket: 0 })).toEqual(golden("revocations_empty"))
  })

  it("dev fields are sent as the dev exchanges do", () => {
    const body = JSON.parse(byId("dev_add_apple_args").request_body)
    const built = Requests.addProPayment({
      master,
      rotating: rotating1,
      payment: { provider: "apple", transactionId: body.payment_tx.apple_tx_id },
      dev: { plan: body.dev_plan, durationMs: body.dev_duration_ms, autoRenewing: body.dev_auto_renewing }
    })
    expect(built).toEqual(body)
  })

  it("keys: seed, 64-byte secret key, hex with 0x; onion key derived from the backend key", () => {
    const sk = new Uint8Array([...Buffer.from(ctx.keys.master.seed, "hex"), ...master.publicKey])
    expect(Buffer.from(Keys.signingKey(sk).publicKey).toString("hex")).toBe(ctx.keys.master.pub)
    expect(Buffer.from(Keys.signingKey(`0x${ctx.keys.master.seed}`).publicKey).toString("hex")).toBe(ctx.keys.master.pub)
    expect(() => Keys.signingKey(new Uint8Array(16))).toThrow(/32-byte seed/)
    expect(Buffer.from(Keys.onionKeyFromBackendKey(DEV_PUB)).toString("hex")).toBe(ctx.server_x25519_pub)
  })
})

describe("client verifies the proofs of the golden exchanges (protocol.md §5)", () => {
  it("there are proofs to check (add_google_ok, generate_ok, add_apple_ok, dev …)", () => {
    const ids = proofExchanges.map((e) => e.id)
    for (const id of ["add_google_ok", "generate_ok", "add_apple_ok", "generate_after_revoke", "dev_add_google_default", "dev_generate"]) {
      expect(ids).toContain(id)
    }
  })

  for (const e of proofExchanges) {
    it(`${e.id}: valid under ${DEV_PUB.slice(0, 6)}…, inclusive expiry, wrong key/tamper rejected`, () => {
      const proof = JSON.parse(e.response.body).result
      const request = JSON.parse(e.request_body)
      const ok = Verify.verifyProof(proof, { backendPublicKey: DEV_PUB, nowMs: NOW, rotatingPublicKey: request.rotating_pkey })
      expect(ok).toMatchObject({ valid: true, status: "valid" })
      expect(Verify.verifyProof(proof, { backendPublicKey: DEV_PUB, nowMs: proof.expiry_unix_ts_ms }).valid).toBe(true)
      expect(Verify.verifyProof(proof, { backendPublicKey: DEV_PUB, nowMs: proof.expiry_unix_ts_ms + 1 }).status).toBe("expired")
      expect(Verify.verifyProof(proof, { backendPublicKey: ctx.keys.master.pub, nowMs: NOW }).status).toBe("bad_signature")
      expect(Verify.verifyProof({ ...proof, expiry_unix_ts_ms: proof.expiry_unix_ts_ms + 1 }, { backendPublicKey: DEV_PUB, nowMs: NOW }).status)
        .toBe("bad_signature")
      expect(Verify.verifyProof(proof, { backendPublicKey: DEV_PUB, nowMs: NOW, rotatingPublicKey: ctx.keys.master.pub }).status)
        .toBe("wrong_rotating_key")
    })
  }

  it("revocation list: revoked from effective_unix_ts_ms on, only for the listed gen_index_hash", () => {
    const items = JSON.parse(byId("revocations_ticket0").response.body).result.items
    const apple = JSON.parse(byId("add_apple_ok").response.body).result
    const google = JSON.parse(byId("add_google_ok").response.body).result
    const listed = items.find((i: any) => i.gen_index_hash === apple.gen_index_hash)
    expect(listed).toBeDefined()
    const opts = (nowMs: number) => ({ backendPublicKey: DEV_PUB, nowMs, revocations: items })
    expect(Verify.verifyProof(apple, opts(listed.effective_unix_ts_ms - 1)).status).toBe("valid")
    expect(Verify.verifyProof(apple, opts(listed.effective_unix_ts_ms)).status).toBe("revoked")
    // §2.3: revoking covers only the current index; the older Google index stays valid.
    expect(Verify.verifyProof(google, opts(listed.effective_unix_ts_ms)).status).toBe("valid")
  })

  it("the reference's verify_pro_proof.py example (old personalisation SeshProBackend__) does not verify", () => {
    const ex = vectors.reference_docstring_examples.find((x: any) => x.name.startsWith("examples/verify_pro_proof.py"))
    const proof = ex.response.result ?? ex.response
    const v = Verify.verifyProof(proof, { backendPublicKey: DEV_PUB, nowMs: 0 })
    expect(v.status).toBe("bad_signature")
  })

  it("malformed proofs are a verdict, not an exception", () => {
    expect(Verify.verifyProof({ version: 0 }, { backendPublicKey: DEV_PUB, nowMs: NOW }).status).toBe("malformed")
    expect(Verify.verifyProof("nope", { backendPublicKey: DEV_PUB, nowMs: NOW }).status).toBe("malformed")
  })
})

// ---------------------------------------------------------------------------------------------
// against a dev server

const devServices = () => Server.servicesLayer({ url: "sqlite://:memory:", settings: { dev: true } })

const walk = (client: ProClient.ProClientApi) =>
  Effect.gen(function*() {
    const m = Keys.randomKey()
    const r1 = Keys.randomKey()
    const r2 = Keys.randomKey()
    const appleTx = `DEV.apple-${Math.random().toString(16).slice(2)}`
    const added = yield* client.addProPayment({
      master: m,
      rotating: r1,
      payment: { provider: "apple", transactionId: appleTx },
      dev: { plan: "ThreeMonth", durationMs: 3 * 86_400_000, autoRenewing: true }
    })
    const generated = yield* client.generateProProof({ master: m, rotating: r2 })
    const details = yield* client.getProDetails({ master: m, count: 5 })
    const refund = yield* client.setPaymentRefundRequested({ master: m, appleTransactionId: appleTx })
    const details2 = yield* client.getProDetails({ master: m })
    const revocations = yield* client.getProRevocations({ ticket: 0 })
    const again = yield* Effect.flip(client.addProPayment({ master: m, rotating: r1, payment: { provider: "apple", transactionId: appleTx } }))
    return { m, r2, added, generated, details, refund, details2, revocations, again }
  })

const checkWalk = (w: Effect.Effect.Success<ReturnType<typeof walk>>) => {
  expect(w.added.rotating_pkey).toMatch(/^[0-9a-f]{64}$/)
  expect(w.generated.rotating_pkey).toBe(Buffer.from(w.r2.publicKey).toString("hex"))
  expect(w.generated.gen_index_hash).toBe(w.added.gen_index_hash)
  expect(w.details).toMatchObject({ status: 1, auto_renewing: true, grace_period_duration_ms: 60_000, payments_total: 1 })
  expect(w.details.items[0]).toMatchObject({ plan: 2, payment_provider: 2, status: 2 })
  expect(w.refund).toEqual({ updated: true, version: 0 })
  expect(w.details2.refund_requested_unix_ts_ms).toBeGreaterThan(0)
  expect(w.revocations).toMatchObject({ retry_in_s: 86400, version: 0 })
  expect(w.again).toBeInstanceOf(ServerRejected)
  expect((w.again as ServerRejected).status).toBe(100)
}

describe("client against a dev server", () => {
  it("in-process: plain, onion xchacha20, onion aes-gcm; every exchange reported", async () => {
    const seen: Array<string> = []
    const program = Effect.gen(function*() {
      for (const onion of [false, true, { encType: "aes-gcm" as const }]) {
        const client = yield* ProClient.makeInProcess({
          backendPublicKey: Keys.DEV_BACKEND_PUBLIC_KEY,
          onion,
          onExchange: (e) => seen.push(`${e.onion ? "onion" : "plain"} ${e.path} ${e.httpStatus}`)
        })
        checkWalk(yield* walk(client))
      }
    })
    await Effect.runPromise(program.pipe(Effect.provide(devServices())))
    expect(seen.filter((s) => s.startsWith("onion")).length).toBe(14)
    expect(seen).toContain("plain /add_pro_payment 200")
  })

  it("a wrong backend key makes the proof an InvalidProof error; a broken onion key a transport error", async () => {
    const program = Effect.gen(function*() {
      const wrong = yield* ProClient.makeInProcess({ backendPublicKey: ctx.keys.master.pub })
      const e = yield* Effect.flip(wrong.addProPayment({
        master: Keys.randomKey(),
        rotating: Keys.randomKey(),
        payment: { provider: "google", purchaseToken: "t", orderId: "DEV.x1" }
      }))
      expect(e).toBeInstanceOf(InvalidProof)
      expect((e as InvalidProof).verdict.status).toBe("bad_signature")
      const badOnion = yield* ProClient.makeInProcess({ onion: { serverPublicKey: ctx.keys.master.pub } })
      const o = yield* Effect.flip(badOnion.getProRevocations())
      expect(o._tag).toBe("ProClientUnexpectedResponse") // the server cannot decrypt: HTTP 400 page
      const rejected = yield* Effect.flip(wrong.getProDetails({ master: Keys.randomKey(), unixTsMs: 1 }))
      expect(rejected).toMatchObject({ _tag: "ProClientServerRejected", status: 2 })
    })
    await Effect.runPromise(program.pipe(Effect.provide(devServices())))
  })

  it("over loopback HTTP: Effect API with FetchHttpClient, and the Promise wrapper through onion", async () => {
    const program = Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const a = server.address as HttpServer.TcpAddress
      const base = `http://127.0.0.1:${a.port}`
      const client = yield* ProClient.make(base, { backendPublicKey: Keys.DEV_BACKEND_PUBLIC_KEY })
      checkWalk(yield* walk(client))
      const p = yield* Effect.promise(() => createProClient(base, { backendPublicKey: Keys.DEV_BACKEND_PUBLIC_KEY, onion: true }))
      const w = yield* Effect.promise(async () => {
        const m = Keys.randomKey()
        const proof = await p.addProPayment({ master: m, rotating: Keys.randomKey(), payment: { provider: "google", purchaseToken: "tok", orderId: `DEV.${Date.now()}` } })
        const details = await p.getProDetails({ master: m })
        const err = await p.getProDetails({ master: m, unixTsMs: 5 }).then(() => undefined, (e) => e)
        await p.close()
        return { proof, details, err }
      })
      expect(w.details.status).toBe(1)
      expect(w.err).toBeInstanceOf(ServerRejected)
      expect(yield* client.verifyProof(w.proof)).toMatchObject({ valid: true })
    })
    const layer = Server.layer({ port: 0 }).pipe(Layer.provide(devServices()), Layer.provideMerge(FetchHttpClient.layer))
    await Effect.runPromise(program.pipe(Effect.provide(layer), Effect.scoped))
  })
})
