/**
 * The fake clock for app testers (DevClock.ts): a dev subscription walked through expiry, grace,
 * revocation and the daily sweep in seconds, over loopback HTTP with the client SDK; the clock's
 * sleep semantics; `/dev/clock` input errors; the route is absent (clear 404) without the fake
 * clock; and the real server binary mounts it only with dev + fake_clock.
 */
import { FetchHttpClient, HttpServer } from "@effect/platform"
import { Payments } from "@session-pro/core"
import { Keys, ProClient, ServerRejected } from "@session-pro/http/client"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as DevClock from "../src/DevClock.js"
import { WebhookSink } from "../src/Observability/Webhooks.js"
import * as Server from "../src/Server.js"
import { ExpirySweep, Maintenance, MaintenanceEvents, WorkerHealth } from "../src/Workers/index.js"
import { killAllServers, spawnServer } from "./support/serverProcess.js"

const DAY = 86_400_000
const T0 = Date.parse("2026-03-01T10:00:00.000Z")

const serverLayer = (clock: DevClock.DevClockService | undefined) => {
  const services = Server.servicesLayer({ url: "sqlite://:memory:", settings: { dev: true } })
  const base = Server.layer({ port: 0, middleware: clock ? (app) => Effect.withClock(app, clock.clock) : undefined }).pipe(
    Layer.provideMerge(services)
  )
  return (clock ? base.pipe(Layer.provideMerge(DevClock.layerFrom(clock))) : base).pipe(Layer.provideMerge(FetchHttpClient.layer))
}

const baseUrl = Effect.map(HttpServer.HttpServer, (s) => `http://127.0.0.1:${(s.address as HttpServer.TcpAddress).port}`)

describe("fake clock: a dev subscription through expiry, grace and revocation over HTTP", () => {
  it("walks the timeline in seconds", async () => {
    const clock = DevClock.make(T0)
    const program = Effect.gen(function*() {
      const client = yield* ProClient.make(yield* baseUrl, { backendPublicKey: Keys.DEV_BACKEND_PUBLIC_KEY })
      // The client adopts the server's fake time from the first /dev/clock answer.
      const t0 = yield* client.devClock()
      expect(Math.abs(t0.unix_ts_ms - T0)).toBeLessThan(5_000)
      expect(Math.abs((yield* client.now) - t0.unix_ts_ms)).toBeLessThan(5_000)

      // --- user A: 2-day auto-renewing dev subscription (grace 60 s)
      const a = Keys.randomKey()
      const proofA = yield* client.addProPayment({
        master: a,
        rotating: Keys.randomKey(),
        payment: { provider: "google", purchaseToken: "tok-a", orderId: "DEV.order-a" },
        dev: { durationMs: 2 * DAY, autoRenewing: true }
      })
      const detailsA = yield* client.getProDetails({ master: a })
      expect(detailsA).toMatchObject({ status: 1, auto_renewing: true, grace_period_duration_ms: 60_000 })
      const E = detailsA.items[0].expiry_unix_ts_ms // without grace
      expect(detailsA.expiry_unix_ts_ms).toBe(E + 60_000)
      expect(proofA.expiry_unix_ts_ms).toBe(E + 60_000) // dev: not rounded to a day

      // 30 s into the grace period: crosses two midnights, so the sweep ran (and expired nothing yet)
      const inGrace = yield* client.devClock({ setUnixTsMs: E + 30_000 })
      expect(inGrace.swept_boundary_unix_ts_ms).toBe(Math.floor((E + 30_000) / DAY) * DAY)
      expect((yield* client.getProDetails({ master: a })).status).toBe(1)
      const rotating2 = Keys.randomKey()
      const graceProof = yield* client.generateProProof({ master: a, rotating: rotating2 })
      expect(graceProof.expiry_unix_ts_ms).toBe(E + 60_000)
      expect((yield* client.verifyProof(graceProof)).status).toBe("valid")

      // past the grace period: expired everywhere
      yield* client.devClock({ advanceMs: 60_000 })
      expect((yield* client.getProDetails({ master: a })).status).toBe(2)
      const refused = yield* Effect.flip(client.generateProProof({ master: a, rotating: rotating2 }))
      expect(refused).toBeInstanceOf(ServerRejected)
      expect(refused).toMatchObject({ status: 1 })
      expect((refused as ServerRejected).errors[0]).toMatch(/entitlement expired/)
      expect((yield* client.verifyProof(graceProof)).status).toBe("expired")

      // --- user B: 30-day Apple dev subscription, revoked by the store (a refund)
      const b = Keys.randomKey()
      const txB = "DEV.apple-b"
      const proofB = yield* client.addProPayment({
        master: b,
        rotating: Keys.randomKey(),
        payment: { provider: "apple", transactionId: txB },
        dev: { plan: "OneMonth", durationMs: 30 * DAY }
      })
      const payments = yield* Payments
      yield* payments.revokeChain({ provider: 2, chainId: txB, revokedAtMs: yield* client.now })
      const revs = yield* client.getProRevocations({ ticket: 0 })
      const item = revs.items.find((i) => i.gen_index_hash === proofB.gen_index_hash)!
      expect(item).toBeDefined()
      expect(item.effective_unix_ts_ms - (yield* client.now)).toBeGreaterThan(DAY - 10_000)
      expect((yield* client.generateProProof({ master: b, rotating: Keys.randomKey() }).pipe(Effect.flip))).toMatchObject({ status: 1 })
      // listed but not yet effective: recipients still accept it for up to a day
      expect((yield* client.verifyProof(proofB, { revocations: revs.items })).status).toBe("valid")
      yield* client.devClock({ advanceMs: DAY })
      expect((yield* client.verifyProof(proofB, { revocations: revs.items })).status).toBe("revoked")

      // --- a month later: the daily sweep prunes the revocation (ticket bumps) and expires A's payment
      const later = yield* client.devClock({ advanceMs: 32 * DAY })
      expect(later.swept_boundary_unix_ts_ms).not.toBeNull()
      const revs2 = yield* client.getProRevocations({ ticket: revs.ticket })
      expect(revs2.ticket).toBeGreaterThan(revs.ticket)
      expect(revs2.items.find((i) => i.gen_index_hash === proofB.gen_index_hash)).toBeUndefined()
      expect((yield* client.verifyProof(proofB)).status).toBe("expired")
      // A's payment rows expired and the user was pruned: "never been pro" again is not the
      // reference's answer for an expired row, so check the item status when it is still listed.
      const finalA = yield* client.getProDetails({ master: a })
      expect(finalA.status).not.toBe(1)
      if (finalA.items.length > 0) expect(finalA.items[0].status).toBe(3)
    })
    await Effect.runPromise(program.pipe(Effect.provide(serverLayer(clock)), Effect.scoped))
  })
})

describe("fake clock: the Clock itself", () => {
  it("runs on in real time from the start, set/advance move it, sleep wakes when fake time passes the target", async () => {
    const c = DevClock.make(T0)
    expect(Math.abs(c.now() - T0)).toBeLessThan(1_000)
    const program = Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.sleep("6 hours"))
      yield* Effect.sleep("20 millis")
      expect(fiber.unsafePoll()).toBeNull()
      c.advance(5 * 3_600_000)
      yield* Effect.sleep("20 millis")
      expect(fiber.unsafePoll()).toBeNull()
      c.advance(3_600_000)
      yield* Fiber.join(fiber)
      expect(c.now() - T0).toBeGreaterThanOrEqual(6 * 3_600_000)
      c.set(T0)
      expect(Math.abs((yield* Effect.clockWith((k) => k.currentTimeMillis)) - T0)).toBeLessThan(1_000)
    }).pipe(Effect.withClock(c.clock))
    await Effect.runPromise(program)
  })

  it("the background sweep worker sleeping until midnight wakes when the fake clock is moved past it", async () => {
    const c = DevClock.make(Date.parse("2026-03-01T23:00:00.000Z"))
    const calls: Array<number> = []
    const deps = Layer.mergeAll(
      Layer.succeed(Maintenance, {
        sweep: (ts) =>
          Effect.sync(() => {
            calls.push(ts)
            return { alreadyDone: false, payments: 0, revocations: 0, users: 0, appleNotifications: 0, googleNotifications: 0 }
          }),
        report: () => Effect.succeed(""),
        ping: Effect.void,
        outboxDepth: Effect.succeed(0)
      }),
      Layer.succeed(WebhookSink, { offer: () => true, push: () => Effect.void, dropped: Effect.succeed(0), configured: false, flush: Effect.void }),
      WorkerHealth.layer,
      Layer.effect(MaintenanceEvents, MaintenanceEvents.make)
    )
    // Effect.sleep in the test body is real time; only the worker runs on the fake clock.
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const worker = Layer.build(ExpirySweep.ExpirySweepWorker.pipe(Layer.provide(deps))).pipe(Effect.zipRight(Effect.never))
      const fiber = yield* Effect.forkScoped(Effect.withClock(worker, c.clock))
      yield* Effect.sleep("100 millis")
      // (a start-up catch-up run for the last midnight may already have happened)
      const before = calls.length
      expect(calls.every((t) => t <= Date.parse("2026-03-01T00:00:00.000Z"))).toBe(true)
      c.advance(2 * 3_600_000)
      yield* Effect.sleep("300 millis")
      expect(calls.slice(before)).toEqual([Date.parse("2026-03-02T00:00:00.000Z")])
      yield* Fiber.interrupt(fiber)
    })))
  })

  it("/dev/clock input errors and GET; without the fake clock the route is absent with a clear 404", async () => {
    const post = (url: string, body: string) => fetch(url, { method: "POST", body }).then(async (r) => ({ status: r.status, json: await r.json() as any }))
    const withClock = Effect.gen(function*() {
      const url = `${yield* baseUrl}/dev/clock`
      for (const bad of ['{"advance_ms": 1.5}', '{"set_unix_ts_ms": -1}', '{"advance_ms": 1, "set_unix_ts_ms": 1}', "nope", '{"foo": 1}']) {
        const r = yield* Effect.promise(() => post(url, bad))
        expect(r.status).toBe(200)
        expect(r.json.status).toBe(2)
        expect(r.json.errors[0]).toMatch(/JSON failed|Expected/)
      }
      const get = yield* Effect.promise(() => fetch(url).then((r) => r.json() as any))
      expect(get).toMatchObject({ status: 0, result: { swept_boundary_unix_ts_ms: null } })
      const set = yield* Effect.promise(() => post(url, JSON.stringify({ set_unix_ts_ms: T0 + 1234 })))
      expect(set.json.result.unix_ts_ms - (T0 + 1234)).toBeLessThan(1_000)
      expect(set.json.result.iso).toMatch(/^2026-03-01T10:00:01/)
    })
    await Effect.runPromise(withClock.pipe(Effect.provide(serverLayer(DevClock.make(T0))), Effect.scoped))
    const without = Effect.gen(function*() {
      const base = yield* baseUrl
      const r = yield* Effect.promise(() => post(`${base}/dev/clock`, '{"advance_ms": 1000}'))
      expect(r.status).toBe(404)
      expect(r.json).toEqual({ errors: [DevClock.DISABLED_MESSAGE], status: 2 })
      const client = yield* ProClient.make(base)
      const e = yield* Effect.flip(client.devClock({ advanceMs: 1 }))
      expect(e).toMatchObject({ _tag: "ProClientUnexpectedResponse", httpStatus: 404 })
      // not reachable through the onion route table either
      const onion = yield* ProClient.make(base, { backendPublicKey: Keys.DEV_BACKEND_PUBLIC_KEY, onion: true })
      const raw = yield* onion.raw("/dev/clock", {}).pipe(Effect.either)
      expect(raw._tag === "Left" ? raw.left._tag : raw.right.httpStatus).toBe(404)
    })
    await Effect.runPromise(without.pipe(Effect.provide(serverLayer(undefined)), Effect.scoped))
  })
})

// ---------------------------------------------------------------------------------------------
// the real binary

afterAll(() => killAllServers())

const startBinary = async (env: Record<string, string>) => {
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "pro-devclock-"))
  const { proc, port, output, waitFor } = await spawnServer({ SESH_PRO_BACKEND_DB_PATH: NodePath.join(dir, "pro.db"), ...env })
  await waitFor(/Listening on/)
  return {
    base: `http://127.0.0.1:${port}`,
    output,
    stop: () => new Promise<void>((resolve) => {
      proc.once("exit", () => resolve())
      proc.kill("SIGTERM")
    })
  }
}

describe("fake clock in the server binary", () => {
  it("dev + fake_clock: /dev/clock moves the time every route uses; without fake_clock: 404", async () => {
    const s = await startBinary({ SESH_PRO_BACKEND_DEV: "1", SESH_PRO_BACKEND_FAKE_CLOCK: "2030-06-01T00:00:00Z" })
    try {
      const client = await import("@session-pro/http/client").then((m) =>
        m.createProClient(s.base, { backendPublicKey: m.Keys.DEV_BACKEND_PUBLIC_KEY, onion: true })
      )
      const t = await client.devClock()
      expect(t.iso.slice(0, 10)).toBe("2030-06-01")
      const m = Keys.randomKey()
      // The client follows the fake time, so its signed timestamps pass the ±70 s window.
      const proof = await client.addProPayment({ master: m, rotating: Keys.randomKey(), payment: { provider: "google", purchaseToken: "t", orderId: "DEV.bin" } })
      expect(proof.expiry_unix_ts_ms).toBeGreaterThan(Date.parse("2030-06-01"))
      const moved = await client.devClock({ advanceMs: 2 * DAY })
      expect(moved.swept_boundary_unix_ts_ms).toBe(Date.parse("2030-06-03T00:00:00Z"))
      expect((await client.getProDetails({ master: m })).status).toBe(2) // the 1-day dev payment has expired
      const doc = await fetch(`${s.base}/openapi.json`).then((r) => r.json() as any)
      expect(Object.keys(doc.paths)).toContain("/dev/clock")
      await client.close()
    } finally {
      await s.stop()
    }
    const plain = await startBinary({ SESH_PRO_BACKEND_DEV: "1" })
    try {
      const r = await fetch(`${plain.base}/dev/clock`, { method: "POST", body: "{}" })
      expect(r.status).toBe(404)
      expect(((await r.json()) as any).errors[0]).toBe(DevClock.DISABLED_MESSAGE)
      const doc = await fetch(`${plain.base}/openapi.json`).then((r) => r.json() as any)
      expect(Object.keys(doc.paths)).not.toContain("/dev/clock")
    } finally {
      await plain.stop()
    }
  }, 240_000) // two server processes booted with tsx
})
