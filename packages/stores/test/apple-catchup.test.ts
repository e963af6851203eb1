/**
 * AppleCatchUp against a fake App Store Server API on loopback, reached through the library's own
 * client (base URL overridden by the ConfigurableAppStoreServerAPIClient subclass): paging with
 * paginationToken, per-notification isolation, checkpoint rules, API failures, and the background
 * fiber not blocking start-up.
 */
import { Backend, Database, Payments } from "@session-pro/core"
import { AppleCatchUp, AppleConfig, AppleNotifications } from "@session-pro/stores"
import { ConfigProvider, Effect, Either, Layer, TestClock, TestContext } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BUNDLE, type Chain, DAY, makeChain, notificationJws, notificationsConfig } from "./appleTestKit.js"

let chain: Chain
let server: http.Server
let baseUrl: string
/** What the fake answers next: a list of pages (by token) or an HTTP error. */
let pages: Record<string, { items: ReadonlyArray<string>; next?: string }> = {}
let failWith: number | undefined
const requests: Array<{ token: string | null; body: any; auth: string | undefined; path: string }> = []

const signingKey = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString()

beforeAll(async () => {
  chain = makeChain()
  server = http.createServer((req, res) => {
    let raw = ""
    req.on("data", (c) => (raw += c))
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x")
      const token = url.searchParams.get("paginationToken")
      requests.push({ token, body: raw ? JSON.parse(raw) : undefined, auth: req.headers.authorization, path: url.pathname })
      res.setHeader("content-type", "application/json")
      if (failWith !== undefined) {
        res.statusCode = failWith
        res.end(JSON.stringify({ errorCode: 5000000, errorMessage: "An unknown error occurred." }))
        return
      }
      if (url.pathname !== "/inApps/v1/notifications/history" || req.method !== "POST") {
        res.statusCode = 404
        res.end("{}")
        return
      }
      const page = pages[token ?? ""] ?? { items: [] }
      res.end(JSON.stringify({
        notificationHistory: page.items.map((signedPayload) => ({ signedPayload, sendAttempts: [] })),
        hasMore: page.next !== undefined,
        ...(page.next ? { paginationToken: page.next } : {})
      }))
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

// Production retention: failures within it are retried by catch-up.
const notifConfig = (): AppleConfig.AppleNotificationsConfig => notificationsConfig(chain, { retryWindowMs: 567_000_000 })
const catchUpConfig = (): AppleCatchUp.AppleCatchUpConfig => ({
  signingKey,
  keyId: "KEY123",
  issuerId: "issuer-uuid",
  bundleId: BUNDLE,
  environment: "Sandbox",
  baseUrl
})
const baseLayer = (retryWindowMs?: number) =>
  AppleNotifications.layer({ ...notifConfig(), ...(retryWindowMs === undefined ? {} : { retryWindowMs }) }).pipe(
    Layer.provideMerge(Backend.layerSqlite(":memory:"))
  )
const manualLayer = (retryWindowMs?: number) => AppleCatchUp.layerManual(catchUpConfig()).pipe(Layer.provideMerge(baseLayer(retryWindowMs)))

const checkpoint = Effect.flatMap(Database, (db) => db.sql<{ c: number }>`SELECT apple_notification_checkpoint_unix_ts_ms AS c FROM runtime`).pipe(
  Effect.map((r) => Number(r[0]!.c)),
  Effect.orDie
)
const userErrors = Effect.flatMap(Database, (db) => db.sql<any>`SELECT payment_id FROM user_errors`).pipe(Effect.orDie)

const T = Date.UTC(2026, 0, 10)
const tx = (orig: string, id: string) => ({ orig, tx: id, purchase: T, expires: T + 30 * DAY })

describe("Apple catch-up", () => {
  it("pages through the history, applies each notification in isolation and pins the checkpoint at the earliest failure", async () => {
    // Signed after the test chain was created (offline checks use signedDate); "now" is 5 days later.
    const base = Date.now() + 60_000
    const now = base + 5 * DAY
    const sBad = base + 2 * 3_600_000
    const a = notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", signedDate: base + 3_600_000, tx: tx("700", "701") })
    // Its purchase has not arrived: fails (and is flagged), must not stop the rest.
    const bad = notificationJws(chain, { type: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_DISABLED", signedDate: sBad, tx: tx("710", "711") })
    const c = notificationJws(chain, { type: "DID_RENEW", signedDate: base + 3 * 3_600_000, tx: tx("700", "702") })
    const forged = notificationJws(makeChain({ name: "Forger" }), { type: "TEST", signedDate: base + 4 * 3_600_000 })
    pages = { "": { items: [a, bad], next: "page-2" }, "page-2": { items: [c, forged] } }
    failWith = undefined
    requests.length = 0

    await Effect.runPromise(Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const cu = yield* AppleCatchUp.AppleCatchUp
      const report = yield* cu.runOnce
      expect(report).toMatchObject({ skipped: false, pages: 2, seen: 4, applied: 2, failed: 2, givenUp: 0, checkpointBefore: 0 })
      // Pinned at the earliest failure (the unverifiable one is later), so both are retried next pass.
      expect(report.checkpointAfter).toBe(sBad)
      expect((yield* (yield* Payments).findByAppleOriginalTxId("700")).map((p) => p.apple_tx_id)).toEqual(["701", "702"])
      expect(yield* userErrors).toEqual([{ payment_id: "710" }])

      expect(requests.map((r) => r.token)).toEqual([null, "page-2"])
      expect(requests[0]!.path).toBe("/inApps/v1/notifications/history")
      expect(requests[0]!.auth).toMatch(/^Bearer ey/)
      expect(requests[0]!.body).toMatchObject({ onlyFailures: true, startDate: report.startDate, endDate: report.endDate })
      expect(report.endDate - report.startDate).toBe(30 * DAY)
      expect(requests[1]!.body).toEqual(requests[0]!.body)
    }).pipe(Effect.provide(manualLayer()), Effect.provide(TestContext.TestContext)))
  })

  it("advances to end when everything applied, skips within 30 min, and retries a fixed failure later", async () => {
    const base = Date.now() + 60_000
    const now = base + 5 * DAY
    const sBad = base + 3_600_000
    const bad = notificationJws(chain, { type: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_DISABLED", signedDate: sBad, tx: tx("720", "721") })
    const later = notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", signedDate: base + 2 * 3_600_000, tx: tx("730", "731") })
    pages = { "": { items: [bad, later] } }
    failWith = undefined

    await Effect.runPromise(Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const cu = yield* AppleCatchUp.AppleCatchUp
      const r1 = yield* cu.runOnce
      expect(r1).toMatchObject({ applied: 1, failed: 1, checkpointAfter: sBad })
      expect(yield* checkpoint).toBe(sBad)

      // The missing purchase arrives live; the next pass applies the failed one and moves to `end`.
      const notifications = yield* AppleNotifications.AppleNotifications
      yield* notifications.process(notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: tx("720", "721") }))
      yield* TestClock.setTime(now + 3_600_000)
      const r2 = yield* cu.runOnce
      expect(r2).toMatchObject({ skipped: false, startDate: sBad, applied: 2, failed: 0 })
      expect(r2.checkpointAfter).toBe(now + 3_600_000 - 10_000)
      expect((yield* (yield* Payments).findByAppleOriginalTxId("720"))[0]!.auto_renewing).toBe(false)
      // "later" was applied in pass 1 already: pass 2 saw it as a duplicate, still one payment.
      expect(yield* (yield* Payments).findByAppleOriginalTxId("730")).toHaveLength(1)

      // Less than 30 min after the checkpoint: skipped without calling Apple.
      const before = requests.length
      yield* TestClock.setTime(now + 3_600_000 + 60_000)
      expect((yield* cu.runOnce).skipped).toBe(true)
      expect(requests.length).toBe(before)
    }).pipe(Effect.provide(manualLayer()), Effect.provide(TestContext.TestContext)))
  })

  it("a failure older than the UUID retention is given up on (no re-listing of forgotten UUIDs)", async () => {
    const base = Date.now() + 60_000
    const now = base + 5 * DAY
    const bad = notificationJws(chain, { type: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_DISABLED", signedDate: base, tx: tx("740", "741") })
    pages = { "": { items: [bad] } }
    failWith = undefined
    await Effect.runPromise(Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const r = yield* (yield* AppleCatchUp.AppleCatchUp).runOnce
      expect(r).toMatchObject({ failed: 1, givenUp: 1, checkpointAfter: now - 10_000 })
      expect(yield* userErrors).toEqual([{ payment_id: "740" }])
    }).pipe(Effect.provide(manualLayer(DAY)), Effect.provide(TestContext.TestContext)))
  })

  it("an API error fails the pass and leaves the checkpoint where it was", async () => {
    failWith = 500
    await Effect.runPromise(Effect.gen(function*() {
      const r = yield* Effect.either((yield* AppleCatchUp.AppleCatchUp).runOnce)
      expect(Either.isLeft(r) && r.left._tag).toBe("AppleCatchUpError")
      expect(Either.isLeft(r) && r.left.message).toMatch(/HTTP 500/)
      expect(yield* checkpoint).toBe(0)
    }).pipe(Effect.provide(manualLayer())))
    failWith = undefined
  })

  it("the layer forks the loop: start-up is not blocked by a failing API, and a pass runs at start", async () => {
    failWith = 503
    requests.length = 0
    const layer = AppleCatchUp.layer({ ...catchUpConfig(), interval: "50 millis" }).pipe(Layer.provideMerge(baseLayer()))
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const started = Date.now()
      yield* Layer.build(layer)
      expect(Date.now() - started).toBeLessThan(2_000)
      // The start-up pass ran (and is being retried in the background).
      for (let i = 0; i < 50 && requests.length === 0; i++) yield* Effect.sleep("20 millis")
      expect(requests.length).toBeGreaterThan(0)
      // The API recovers: a later pass succeeds and moves the checkpoint (retry schedule starts at 5 s,
      // so this checks the service is usable while the background fiber is backing off).
      failWith = undefined
      pages = { "": { items: [] } }
      const cu = yield* AppleCatchUp.AppleCatchUp
      const r = yield* cu.runOnce
      expect(r.failed).toBe(0)
      expect(yield* checkpoint).toBe(r.endDate)
    }).pipe(Effect.provide(layer))))
  })

  it("layerConfig reads [apple] key_id/issuer_id/key_path/bundle_id/sandbox_env/api_base_url and runs a pass at start", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apple-key-"))
    const keyPath = path.join(dir, "AuthKey.p8")
    fs.writeFileSync(keyPath, signingKey)
    failWith = undefined
    pages = { "": { items: [] } }
    requests.length = 0
    const provider = ConfigProvider.fromMap(new Map([
      ["apple.key_id", "K"],
      ["apple.issuer_id", "I"],
      ["apple.key_path", keyPath],
      ["apple.bundle_id", BUNDLE],
      ["apple.sandbox_env", "true"],
      ["apple.api_base_url", baseUrl]
    ]))
    const cfg = await Effect.runPromise(Effect.withConfigProvider(AppleCatchUp.fromConfig, provider))
    expect(cfg).toMatchObject({ keyId: "K", issuerId: "I", bundleId: BUNDLE, environment: "Sandbox", baseUrl })
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      yield* Layer.build(AppleCatchUp.layerConfig.pipe(Layer.provideMerge(baseLayer())))
      for (let i = 0; i < 100 && requests.length === 0; i++) yield* Effect.sleep("20 millis")
      expect(requests.length).toBeGreaterThan(0)
    })).pipe(Effect.withConfigProvider(provider)))
  })
})
