/**
 * Store notifications under concurrency and forgery, extending apple-webhook.test.ts (which sends
 * one notification three times) and google-rtdn.test.ts (sequential dedupe):
 * - Apple: several different notifications of one subscription, each delivered several times,
 *   all at once on a SQLite file (so the deliveries really run on separate connections), with
 *   failures redelivered as Apple would → the same rows as one sequential delivery;
 * - Google: the same Pub/Sub message delivered many times at once → handled exactly once; and
 *   PURCHASED + RENEWED messages for one token racing each other → the sequential final state;
 * - Apple forgeries (tampered payload, untrusted chain, self-signed root, wrong bundle id and
 *   environment) → rejected with every table byte-for-byte unchanged.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Backend, Database } from "@session-pro/core"
import * as fc from "fast-check"
import { createServer } from "node:http"
import * as AppleWebhook from "../../../http/src/AppleWebhook.js"
import { AppleConfig, AppleNotifications } from "@session-pro/stores"
import { Effect, Layer, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GooglePlayRtdn, type MessageOutcome } from "../../src/Google/GooglePlayRtdn.js"
import { type Chain, chainJws, DAY, makeChain, notificationJws, notificationsConfig, tamper } from "../appleTestKit.js"
import { AndroidPublisherFake } from "../fakes/AndroidPublisherFake.js"
import { googleLayer, PRODUCT, randomToken, resource, rtdnSubscription } from "../google-helpers.js"

const SCALE = Number(process.env.PRO_RELIABILITY_SCALE ?? 1)

/** Every table's rows without surrogate ids (insertion order differs under concurrency), sorted. */
const state = Effect.gen(function*() {
  const db = yield* Database
  const tables = yield* db.sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
  const out: Record<string, Array<string>> = {}
  for (const { name } of tables) {
    const rows = yield* db.sql.unsafe<Record<string, unknown>>(`SELECT * FROM "${name}"`)
    out[name] = rows.map(({ id: _id, ...r }) =>
      JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : typeof v === "bigint" ? String(v) : v))
    ).sort()
  }
  return out
}).pipe(Effect.orDie)

// ---------------------------------------------------------------------------------------------
// Apple

let chain: Chain
let other: Chain
beforeAll(() => {
  chain = makeChain()
  other = makeChain({ name: "Evil" })
})

const appleConfig = (): AppleConfig.AppleNotificationsConfig => notificationsConfig(chain, { retryWindowMs: 3 * DAY })

const appleRuntime = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apple-rel-"))
  return ManagedRuntime.make(
    AppleNotifications.layer(appleConfig()).pipe(Layer.provideMerge(Backend.layerSqlite(path.join(dir, "pro.db"), {}, {
      // fixed key and salt so two databases compare row for row
      salt: new Uint8Array(16),
      backendSeed: new Uint8Array(32).fill(7)
    })))
  )
}

// inside the generated chain's validity (it starts a day before the test run)
const T = Math.floor(Date.now() / 1000) * 1000
const ORIG = "7000000001"
const subscription = () => [
  notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", signedDate: T, tx: { orig: ORIG, tx: "7000000001", purchase: T, expires: T + 30 * DAY } }),
  notificationJws(chain, { type: "DID_RENEW", signedDate: T + 30 * DAY, tx: { orig: ORIG, tx: "7000000002", purchase: T + 30 * DAY, expires: T + 60 * DAY } }),
  notificationJws(chain, { type: "DID_RENEW", signedDate: T + 60 * DAY, tx: { orig: ORIG, tx: "7000000003", purchase: T + 60 * DAY, expires: T + 90 * DAY } })
]

describe("Apple: concurrent notifications for one subscription", () => {
  it(`each of 3 notifications delivered ${4 * SCALE}× at once → the state of one sequential delivery`, async () => {
    const payloads = subscription()
    const seq = appleRuntime()
    const conc = appleRuntime()
    try {
      const expected = await seq.runPromise(Effect.gen(function*() {
        const svc = yield* AppleNotifications.AppleNotifications
        for (const p of payloads) yield* svc.process(p)
        return yield* state
      }))
      const deliveries = payloads.flatMap((p) => Array.from({ length: 4 * SCALE }, () => p))
      let pending = deliveries
      // Apple redelivers whatever was not answered 2xx; five rounds is plenty
      for (let round = 0; round < 5 && pending.length > 0; round++) {
        const results = await conc.runPromise(Effect.flatMap(AppleNotifications.AppleNotifications, (svc) =>
          Effect.forEach(pending, (p) => Effect.either(svc.process(p)).pipe(Effect.map((r) => [p, r] as const)), { concurrency: "unbounded" })
        ))
        pending = results.filter(([, r]) => r._tag === "Left").map(([p]) => p)
      }
      expect(pending).toEqual([])
      expect(await conc.runPromise(state)).toEqual(expected)
    } finally {
      await seq.dispose()
      await conc.dispose()
    }
  })
})

describe("Apple forgeries leave every table unchanged", () => {
  const good = () => ({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", signedDate: T, tx: { orig: "7100000001", tx: "7100000001", purchase: T, expires: T + 30 * DAY } })
  // each forgery with the rejection reason it must get (not a reason shared by every case)
  const cases: Record<string, [() => string, RegExp]> = {
    "tampered payload (type changed)": [() => tamper(notificationJws(chain, good()), (c) => ({ ...c, notificationType: "DID_RENEW" })), /VERIFICATION_FAILURE/],
    "tampered inner transaction": [() => {
      const jws = notificationJws(chain, good())
      return tamper(jws, (c) => ({ ...c, data: { ...c.data, signedTransactionInfo: tamper(c.data.signedTransactionInfo, (t: any) => ({ ...t, expiresDate: T + 3650 * DAY })) } }))
    }, /VERIFICATION_FAILURE/],
    "a chain under another root": [() => notificationJws(other, good()), /VERIFICATION_FAILURE|INVALID_CERTIFICATE/],
    "a self-signed root as the whole chain": [() =>
      chainJws({ leaf: other.root, intermediate: other.root, root: other.root }, JSON.parse(Buffer.from(notificationJws(other, good()).split(".")[1]!, "base64url").toString())), /VERIFICATION_FAILURE|INVALID_CERTIFICATE/],
    "wrong bundle id": [() => notificationJws(chain, { ...good(), bundleId: "com.evil.app" }), /INVALID_APP_IDENTIFIER/],
    "wrong environment": [() => notificationJws(chain, { ...good(), environment: "Production" }), /INVALID_ENVIRONMENT/]
  }
  it("each forgery is rejected (and again on redelivery) with nothing stored", async () => {
    const rt = appleRuntime()
    try {
      const before = await rt.runPromise(state)
      for (const [name, [make, reason]] of Object.entries(cases)) {
        const jws = make()
        for (let i = 0; i < 2; i++) {
          const r = await rt.runPromise(Effect.either(Effect.flatMap(AppleNotifications.AppleNotifications, (s) => s.process(jws))))
          expect(r._tag, name).toBe("Left")
          if (r._tag === "Left") expect(String((r.left as any).reason ?? r.left), name).toMatch(reason)
        }
        expect(await rt.runPromise(state), name).toEqual(before)
      }
      // control: the genuine notification is accepted by the same service
      await rt.runPromise(Effect.flatMap(AppleNotifications.AppleNotifications, (s) => s.process(notificationJws(chain, good()))))
      expect(await rt.runPromise(state)).not.toEqual(before)
    } finally {
      await rt.dispose()
    }
  })
})

describe("Apple webhook under garbage and mutated payloads (over loopback HTTP)", () => {
  it(`${300 * SCALE} bodies: only 200/400/403, never 5xx, nothing stored but for genuine payloads`, async () => {
    const genuine = notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", signedDate: T, tx: { orig: "7200000001", tx: "7200000001", purchase: T, expires: T + 30 * DAY } })
    const [h, p, sig] = genuine.split(".") as [string, string, string]
    const mutateB64 = (b: string, i: number, c: string) => b.slice(0, i % (b.length || 1)) + c + b.slice((i % (b.length || 1)) + 1)
    const bodies = fc.oneof(
      fc.string().map((x) => x),
      fc.json(),
      fc.constantFrom("", "{}", "null", "[]", '{"signedPayload":1}', '{"signedPayload":null}', '{"signedPayload":""}', '{"signedPayload":"a.b.c"}',
        '{"signedPayload":"' + "a".repeat(100_000) + '"}', "{".repeat(10_000)),
      // the genuine JWS with one character of a segment replaced, or segments swapped/dropped
      fc.tuple(fc.constantFrom(0, 1, 2), fc.nat(), fc.constantFrom("A", "_", "-", "=", ".", "+")).map(([seg, i, c]) =>
        JSON.stringify({ signedPayload: [h, p, sig].map((x, k) => (k === seg ? mutateB64(x, i, c) : x)).join(".") })),
      fc.constantFrom(`${h}.${p}`, `${p}.${h}.${sig}`, `${h}.${p}.${sig}.${sig}`, `${h}..${sig}`).map((jws) => JSON.stringify({ signedPayload: jws }))
    )
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apple-fuzz-"))
    const layer = HttpServer.serve(AppleWebhook.router).pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
      Layer.provideMerge(AppleNotifications.layer(appleConfig())),
      Layer.provideMerge(Backend.layerSqlite(path.join(dir, "pro.db")))
    )
    const rt = ManagedRuntime.make(layer as Layer.Layer<HttpServer.HttpServer | Database, unknown, never>)
    try {
      const address = (await rt.runPromise(HttpServer.HttpServer)).address
      const url = `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}${AppleWebhook.PATH}`
      const before = await rt.runPromise(state)
      const seen = new Set<number>()
      for (const body of fc.sample(bodies, 300 * SCALE)) {
        const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } })
        await res.text()
        seen.add(res.status)
        // a mutation can leave the JWS valid (e.g. '=' padding ignored): then it is the genuine one
        if (res.status === 200) continue
        expect([400, 403], body.slice(0, 200)).toContain(res.status)
      }
      const after = await rt.runPromise(state)
      // only the genuine notification may have been stored (if a harmless mutation kept it valid)
      for (const t of ["payments", "apple_notification_uuid_history"]) {
        expect(after[t]!.length).toBeLessThanOrEqual(1)
        if (t === "payments" && after[t]!.length === 1) expect(after[t]![0]).toContain("7200000001")
      }
      expect(after.users).toEqual(before.users)
      expect(after.user_errors).toEqual(before.user_errors)
      expect(seen.has(400) && seen.has(403)).toBe(true)
    } finally {
      await rt.dispose()
    }
  }, 120_000)
})

// ---------------------------------------------------------------------------------------------
// Google

let fake: AndroidPublisherFake
beforeAll(async () => {
  fake = await AndroidPublisherFake.start()
  fake.setBasePlans(PRODUCT, { "session-pro-1-month": { billingPeriodDuration: "P30D", gracePeriodDuration: "P2D" } })
})
afterAll(async () => {
  await fake?.stop()
})

const G0 = 1_759_723_091_078
const googleRuntime = () => ManagedRuntime.make(googleLayer(fake))
const deliver = (rt: ManagedRuntime.ManagedRuntime<any, any>, messageId: string, data: string) =>
  rt.runPromise(Effect.flatMap(GooglePlayRtdn, (h) => h.processMessage({ messageId, data })) as Effect.Effect<MessageOutcome, never, never>)

describe("Google: concurrent RTDN messages for one purchase", () => {
  it("the same message delivered many times at once is handled exactly once", async () => {
    const rt = googleRuntime()
    try {
      const token = randomToken()
      fake.setSubscription(token, resource({ orderId: `GPA.${token}`, expiryMs: G0 + 30 * DAY }))
      const data = rtdnSubscription(4, token, G0)
      const outcomes = await Promise.all(Array.from({ length: 10 * SCALE }, () => deliver(rt, "424242", data)))
      expect(outcomes.filter((o) => o._tag === "Handled")).toHaveLength(1)
      expect(outcomes.filter((o) => o._tag === "Duplicate")).toHaveLength(10 * SCALE - 1)
      const s = (await rt.runPromise(state)) as Record<string, Array<string>>
      expect(s.payments!.filter((r) => r.includes(token))).toHaveLength(1)
      expect(s.google_notification_history).toHaveLength(1)
    } finally {
      await rt.dispose()
    }
  })

  it("PURCHASED and RENEWED racing for one token (distinct message ids) → the sequential final state", async () => {
    const run = async (concurrent: boolean) => {
      const rt = googleRuntime()
      try {
        const token = `tok.race-${concurrent}`
        // the API answers the purchase's current state: renewed once
        fake.setSubscription(token, resource({ orderId: `GPA.race-${concurrent}..0`, expiryMs: G0 + 30 * DAY }))
        const msgs = [
          ...Array.from({ length: 3 * SCALE }, (_, i) => [`1${i}`, rtdnSubscription(4, token, G0)] as const),
          ...Array.from({ length: 3 * SCALE }, (_, i) => [`2${i}`, rtdnSubscription(2, token, G0 + 1000)] as const)
        ]
        if (concurrent) {
          const outcomes = await Promise.all(msgs.map(([id, d]) => deliver(rt, id, d)))
          expect(outcomes.every((o) => o._tag === "Handled")).toBe(true)
        } else {
          for (const [id, d] of msgs) expect((await deliver(rt, id, d))._tag).toBe("Handled")
        }
        const s = (await rt.runPromise(state)) as Record<string, Array<string>>
        // normalise the per-run token / order id so the two runs compare
        return JSON.parse(JSON.stringify({ payments: s.payments, users: s.users, revocations: s.revocations }).replaceAll(String(concurrent), "X"))
      } finally {
        await rt.dispose()
      }
    }
    expect(await run(true)).toEqual(await run(false))
  })
})
