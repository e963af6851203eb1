/**
 * `POST /apple_notifications_v2` (packages/http AppleWebhook) on a loopback server over the real
 * core: status codes per outcome, nothing stored for forged payloads, duplicates answered 200,
 * concurrent double delivery applied once, defects answered non-2xx; plus log masking and the
 * Config-based layer.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Backend, Database } from "@session-pro/core"
import * as AppleWebhook from "../../http/src/AppleWebhook.js"
import { AppleConfig, AppleNotifications } from "@session-pro/stores"
import { ConfigProvider, Context, Effect, Layer, Logger } from "effect"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { BUNDLE, type Chain, DAY, makeChain, notificationJws, notificationsConfig } from "./appleTestKit.js"

let chain: Chain
beforeAll(() => {
  chain = makeChain()
})

const config = (): AppleConfig.AppleNotificationsConfig => notificationsConfig(chain, { retryWindowMs: 0 })

const serverLayer = (notifications: Layer.Layer<AppleNotifications.AppleNotifications, never, any>) =>
  HttpServer.serve(AppleWebhook.router).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(notifications),
    Layer.provideMerge(Backend.layerSqlite(":memory:"))
  )

const withServer = <A>(
  f: (post: (body: string) => Promise<{ status: number; text: string }>) => Effect.Effect<A, never, Database>,
  notifications: Layer.Layer<AppleNotifications.AppleNotifications, never, any> = AppleNotifications.layer(config())
) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const ctx = yield* Layer.build(serverLayer(notifications) as Layer.Layer<HttpServer.HttpServer | Database, unknown, never>)
    const address = Context.get(ctx, HttpServer.HttpServer).address
    const url = `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}${AppleWebhook.PATH}`
    const post = async (body: string) => {
      const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } })
      return { status: res.status, text: await res.text() }
    }
    return yield* f(post).pipe(Effect.provide(ctx))
  })))

const count = (table: string) =>
  Effect.flatMap(Database, (db) => db.sql.unsafe<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`)).pipe(
    Effect.map((r) => Number(r[0]!.n)),
    Effect.orDie
  )

const T = Date.UTC(2026, 0, 10)
const tx = (orig: string, id: string) => ({ orig, tx: id, purchase: T, expires: T + 30 * DAY })

describe("POST /apple_notifications_v2", () => {
  it("200 with an empty body when applied; 200 again for the duplicate", () =>
    withServer((post) =>
      Effect.gen(function*() {
        const body = JSON.stringify({ signedPayload: notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: tx("800", "801") }) })
        const r1 = yield* Effect.promise(() => post(body))
        expect(r1).toEqual({ status: 200, text: "" })
        const r2 = yield* Effect.promise(() => post(body))
        expect(r2.status).toBe(200)
        expect(yield* count("payments")).toBe(1)
        expect(yield* count("apple_notification_uuid_history")).toBe(1)
      })
    ))

  it("TEST → 200", () =>
    withServer((post) =>
      Effect.gen(function*() {
        const r = yield* Effect.promise(() => post(JSON.stringify({ signedPayload: notificationJws(chain, { type: "TEST" }) })))
        expect(r.status).toBe(200)
      })
    ))

  it("400 for a body that is not {signedPayload: string}; nothing stored", () =>
    withServer((post) =>
      Effect.gen(function*() {
        for (const body of ["not json", "{}", JSON.stringify({ signedPayload: 5 }), JSON.stringify({ signedPayload: "" }), "[]"]) {
          expect((yield* Effect.promise(() => post(body))).status).toBe(400)
        }
        expect(yield* count("apple_notification_uuid_history")).toBe(0)
      })
    ))

  it("403 for a forged payload (untrusted chain) or another app's; nothing stored", () =>
    withServer((post) =>
      Effect.gen(function*() {
        const forged = notificationJws(makeChain({ name: "Forger" }), { type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: tx("810", "811") })
        const r = yield* Effect.promise(() => post(JSON.stringify({ signedPayload: forged })))
        expect(r.status).toBe(403)
        const other = notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", bundleId: "com.other", tx: tx("812", "813") })
        expect((yield* Effect.promise(() => post(JSON.stringify({ signedPayload: other })))).status).toBe(403)
        expect(yield* count("payments")).toBe(0)
        expect(yield* count("user_errors")).toBe(0)
        expect(yield* count("apple_notification_uuid_history")).toBe(0)
      })
    ))

  it("503 (Apple redelivers) when it cannot be applied, with the user error kept", () =>
    withServer((post) =>
      Effect.gen(function*() {
        const jws = notificationJws(chain, { type: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_DISABLED", tx: tx("820", "821") })
        expect((yield* Effect.promise(() => post(JSON.stringify({ signedPayload: jws })))).status).toBe(503)
        expect(yield* count("user_errors")).toBe(1)
        expect(yield* count("apple_notification_uuid_history")).toBe(0)
        // The purchase arrives; Apple's redelivery now succeeds.
        const sub = notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: tx("820", "821") })
        expect((yield* Effect.promise(() => post(JSON.stringify({ signedPayload: sub })))).status).toBe(200)
        expect((yield* Effect.promise(() => post(JSON.stringify({ signedPayload: jws })))).status).toBe(200)
      })
    ))

  it("concurrent double delivery is applied once", () =>
    withServer((post) =>
      Effect.gen(function*() {
        const body = JSON.stringify({ signedPayload: notificationJws(chain, { type: "DID_RENEW", tx: tx("830", "831") }) })
        const rs = yield* Effect.promise(() => Promise.all([post(body), post(body), post(body)]))
        expect(rs.map((r) => r.status)).toEqual([200, 200, 200])
        expect(yield* count("payments")).toBe(1)
        expect(yield* count("apple_notification_uuid_history")).toBe(1)
      })
    ))

  it("a defect in processing is answered 503, not a crash", () =>
    withServer(
      (post) =>
        Effect.gen(function*() {
          const r = yield* Effect.promise(() => post(JSON.stringify({ signedPayload: "a.b.c" })))
          expect(r.status).toBe(503)
        }),
      Layer.succeed(AppleNotifications.AppleNotifications, {
        config: config(),
        verify: () => Effect.die(new Error("boom")),
        process: () => Effect.die(new Error("boom"))
      })
    ))
})

describe("Apple logging and configuration", () => {
  const logsOf = async (unsafeLogging: boolean) => {
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => logs.push(Array.isArray(message) ? message.join(" ") : String(message)))
    await Effect.runPromise(
      Effect.gen(function*() {
        const s = yield* AppleNotifications.AppleNotifications
        yield* s.process(notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: tx("2000001024993299", "2000001024998954") }))
      }).pipe(
        Effect.provide(AppleNotifications.layer(config()).pipe(Layer.provideMerge(Backend.layerSqlite(":memory:", { unsafeLogging })))),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
    )
    return logs.join("\n")
  }

  it("masks transaction ids unless unsafe_logging", async () => {
    const masked = await logsOf(false)
    expect(masked).toMatch(/orig=2000…3299/)
    expect(masked).not.toMatch(/2000001024993299/)
    expect(await logsOf(true)).toMatch(/orig=2000001024993299/)
  })

  it("layerConfig reads [apple] (root cert paths, sandbox, app id, extra product plans)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apple-cfg-"))
    const rootPath = path.join(dir, "root.pem")
    fs.writeFileSync(rootPath, chain.root.pem)
    const provider = ConfigProvider.fromMap(
      new Map([
        ["apple.bundle_id", BUNDLE],
        ["apple.app_id", "1470168868"],
        ["apple.sandbox_env", "true"],
        ["apple.root_cert_path", rootPath],
        ["apple.online_checks", "false"],
        ["apple.extra_product_plans", "com.getsession.org.pro_sub=1M"]
      ])
    )
    const cfg = await Effect.runPromise(Effect.withConfigProvider(AppleConfig.fromConfig, provider))
    expect(cfg).toMatchObject({ bundleId: BUNDLE, appAppleId: 1470168868, environment: "Sandbox", enableOnlineChecks: false, retryWindowMs: 0 })
    expect(cfg.productPlans["com.getsession.org.pro_sub"]).toBe(1)
    expect(Buffer.from(cfg.rootCertificates[0]!).equals(chain.root.der)).toBe(true)
    // And the layer built from it verifies our chain.
    const o = await Effect.runPromise(
      Effect.flatMap(AppleNotifications.AppleNotifications, (s) => s.process(notificationJws(chain, { type: "TEST" }))).pipe(
        Effect.provide(AppleNotifications.layerConfig.pipe(Layer.provideMerge(Backend.layerSqlite(":memory:")))),
        Effect.withConfigProvider(provider)
      )
    )
    expect(o._tag).toBe("NoAction")
    expect(AppleConfig.defaultRetryWindowMs("Production")).toBe(567_000_000)
  })
})
