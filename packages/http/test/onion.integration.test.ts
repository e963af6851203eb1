/**
 * Onion requests through the real client route table (`ClientRoutes.dispatch`) over an
 * in-memory dev backend: the recorded `onion_roundtrip` requests, fresh client requests for both
 * ciphers, and an onion request nested inside another.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Backend, Database } from "@session-pro/core"
import { AppleConfig, AppleNotifications } from "@session-pro/stores"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as OnionRequests from "../src/OnionRequests/index.js"
import * as ClientRoutes from "../src/Routes/ClientRoutes.js"
import * as AppleWebhook from "../src/AppleWebhook.js"
import { BUNDLE, type Chain, DAY, makeChain, notificationJws } from "../../stores/test/appleTestKit.js"
import { devServer, fromHex, text, vectors } from "./onionVectors.js"

const NOW = vectors.http_exchanges.context.server_now_ms as number
const services = OnionRequests.layer().pipe(Layer.provideMerge(Backend.layerSqlite(":memory:", { dev: true })))

const post = (body: Uint8Array) => ClientRoutes.dispatch({ method: "POST", path: ClientRoutes.ONION_PATH, headers: {}, body })

const encOf = (v: any): OnionRequests.EncType => (v.enc_type === "aes-gcm" ? "aes-gcm" : "xchacha20")

/** Replies that do not depend on the database contents: byte-identical to the reference's. */
const DB_INDEPENDENT = new Set([
  "onion_unknown_endpoint",
  "onion_endpoint_no_slash",
  "onion_get_on_post_route",
  "onion_no_body",
  "onion_parse_error_inner",
  "onion_form_content_type"
])

describe("onion_roundtrip through ClientRoutes.dispatch", () => {
  for (const v of vectors.onion_roundtrip as Array<any>) {
    it.effect(v.id, () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(NOW)
        const res = yield* post(fromHex(v.request_wire))
        expect(res.status).toBe(200)
        const reply = Either.getOrThrow(OnionRequests.Client.decryptReply({ encType: encOf(v), key: fromHex(v.shared_key) }, res.body))
        if (DB_INDEPENDENT.has(v.id)) {
          expect(reply.meta).toBe(v.decrypted_reply_meta_json)
          expect(text(reply.body)).toBe(v.decrypted_reply_body)
          return
        }
        expect(reply.meta).toBe('{"code": 200, "headers": {"content-type": "application/json"}}')
        const env = JSON.parse(text(reply.body))
        if (v.id === "onion_exception_in_handler") {
          // D4b: the reference answered the encrypted 400 "Invalid v4 onion request"; we answer
          // the route's status-2 envelope (count ≥ 2^32 is a parse error).
          expect(env.status).toBe(2)
          expect(env.errors.length).toBeGreaterThan(0)
          return
        }
        // The recorded DB was seeded; ours is empty — same status and result shape.
        expect(env.status).toBe(JSON.parse(v.decrypted_reply_body).status)
        expect(Object.keys(env.result).sort()).toEqual(Object.keys(JSON.parse(v.decrypted_reply_body).result).sort())
      }).pipe(Effect.provide(services))
    )
  }
})

describe("fresh client requests through ClientRoutes.dispatch", () => {
  for (const encType of ["xchacha20", "aes-gcm"] as const) {
    it.effect(`${encType}: /get_pro_revocations round trip`, () =>
      Effect.gen(function* () {
        const req = Either.getOrThrow(
          OnionRequests.Client.buildRequest({
            serverPublicKey: devServer.publicKey,
            encType,
            request: OnionRequests.Client.jsonRequest("/get_pro_revocations", { version: 0, ticket: 0 })
          })
        )
        const res = yield* post(req.body)
        const reply = Either.getOrThrow(OnionRequests.Client.decryptReply(req, res.body))
        expect(reply.code).toBe(200)
        expect(reply.headers).toEqual({ "content-type": "application/json" })
        expect(JSON.parse(text(reply.body))).toEqual({ result: { items: [], retry_in_s: 86400, ticket: 0, version: 0 }, status: 0 })
      }).pipe(Effect.provide(services))
    )
  }

  it.effect("desktop style: no enc_type (AES-GCM), empty inner headers", () =>
    Effect.gen(function* () {
      const req = Either.getOrThrow(
        OnionRequests.Client.buildRequest({
          serverPublicKey: devServer.publicKey,
          encType: "aes-gcm",
          encTypeLabel: null,
          request: { method: "POST", endpoint: "/get_pro_revocations", headers: {}, body: '{"version":0,"ticket":0}' }
        })
      )
      const reply = Either.getOrThrow(OnionRequests.Client.decryptReply(req, (yield* post(req.body)).body))
      expect(JSON.parse(text(reply.body)).status).toBe(0)
    }).pipe(Effect.provide(services))
  )

  it.effect("an onion request nested inside an onion request reaches the route", () =>
    Effect.gen(function* () {
      const inner = Either.getOrThrow(
        OnionRequests.Client.buildRequest({
          serverPublicKey: devServer.publicKey,
          request: OnionRequests.Client.jsonRequest("/get_pro_revocations", { version: 0, ticket: 0 })
        })
      )
      const outer = Either.getOrThrow(
        OnionRequests.Client.buildRequest({
          serverPublicKey: devServer.publicKey,
          encType: "aes-gcm",
          request: { method: "POST", endpoint: ClientRoutes.ONION_PATH, body: inner.body }
        })
      )
      const outerReply = Either.getOrThrow(OnionRequests.Client.decryptReply(outer, (yield* post(outer.body)).body))
      expect(outerReply.code).toBe(200)
      const innerReply = Either.getOrThrow(OnionRequests.Client.decryptReply(inner, outerReply.body))
      expect(JSON.parse(text(innerReply.body)).status).toBe(0)
    }).pipe(Effect.provide(services))
  )

  it.effect("garbage at the onion route is the plain 400 page", () =>
    Effect.gen(function* () {
      const res = yield* post(fromHex("0500000001020304057b7d"))
      expect(res.status).toBe(400)
      expect(text(res.body)).toBe(OnionRequests.BAD_REQUEST_HTML)
    }).pipe(Effect.provide(services))
  )
})

describe("the Apple webhook through onion requests (ClientRoutes.ExtraRoutes, protocol.md §2.6)", () => {
  let apple: Chain
  let forger: Chain
  beforeAll(() => {
    apple = makeChain()
    forger = makeChain({ name: "Forged" })
  })
  const appleServices = () => {
    const notifications = AppleNotifications.layer({
      bundleId: BUNDLE,
      appAppleId: 1470168868,
      environment: "Sandbox",
      rootCertificates: [apple.root.der],
      enableOnlineChecks: false,
      productPlans: AppleConfig.DEFAULT_PRODUCT_PLANS,
      retryWindowMs: 0
    })
    return Layer.effect(ClientRoutes.ExtraRoutes, Effect.map(AppleWebhook.extraRoute(), (route) => [route])).pipe(
      Layer.provideMerge(notifications),
      Layer.provideMerge(services)
    )
  }
  const body = (chain: Chain, orig: string) => {
    const now = Date.now()
    return JSON.stringify({
      signedPayload: notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: { orig, tx: `${orig}1`, purchase: now, expires: now + DAY } })
    })
  }
  const viaOnion = (json: string) =>
    Effect.gen(function* () {
      const req = Either.getOrThrow(OnionRequests.Client.buildRequest({
        serverPublicKey: devServer.publicKey,
        request: OnionRequests.Client.jsonRequest(AppleWebhook.PATH, json)
      }))
      const res = yield* post(req.body)
      expect(res.status).toBe(200)
      return Either.getOrThrow(OnionRequests.Client.decryptReply(req, res.body))
    })
  /** The plain HTTP route handler on the same body. */
  const viaHttp = (json: string) =>
    Effect.gen(function* () {
      const request = HttpServerRequest.fromWeb(new Request(`http://localhost${AppleWebhook.PATH}`, { method: "POST", body: json }))
      const res = HttpServerResponse.toWeb(yield* Effect.provideService(AppleWebhook.handler, HttpServerRequest.HttpServerRequest, request))
      return { status: res.status, text: yield* Effect.promise(() => res.text()), contentType: res.headers.get("content-type") }
    })
  const count = (table: string) =>
    Effect.flatMap(Database, (db) => db.sql.unsafe<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`)).pipe(
      Effect.map((r) => Number(r[0]!.n)),
      Effect.orDie
    )

  it("a forged notification gets the plain route's 403 inside the encrypted reply, and nothing is stored", () =>
    Effect.runPromise(Effect.gen(function* () {
      const forged = body(forger, "7000")
      const plain = yield* viaHttp(forged)
      expect(plain.status).toBe(403)
      expect(plain.text).toMatch(/^Forbidden: /)
      const reply = yield* viaOnion(forged)
      expect(reply.code).toBe(403)
      expect(text(reply.body)).toBe(plain.text)
      expect(reply.headers["content-type"]).toBe(plain.contentType)
      for (const table of ["payments", "apple_notification_uuid_history", "user_errors"]) expect(yield* count(table)).toBe(0)
    }).pipe(Effect.provide(appleServices()))))

  it("a genuine notification through an onion request is applied (200, empty body), a bad body is 400", () =>
    Effect.runPromise(Effect.gen(function* () {
      const reply = yield* viaOnion(body(apple, "7100"))
      expect(reply.code).toBe(200)
      expect(reply.body.length).toBe(0)
      expect(yield* count("payments")).toBe(1)
      expect(yield* count("apple_notification_uuid_history")).toBe(1)
      const bad = yield* viaOnion("{}")
      expect(bad.code).toBe(400)
      expect(text(bad.body)).toBe((yield* viaHttp("{}")).text)
    }).pipe(Effect.provide(appleServices()))))

  it("without the registration the onion path does not reach the webhook (404)", () =>
    Effect.runPromise(Effect.gen(function* () {
      expect((yield* viaOnion(body(forger, "7200"))).code).toBe(404)
    }).pipe(Effect.provide(services))))
})
