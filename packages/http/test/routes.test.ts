import { HttpServer } from "@effect/platform"
import { Proofs, Revocations, StorageError } from "@session-pro/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { readFileSync } from "node:fs"
import * as http from "node:http"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type Exchange, fixedClock, runSetup, type VectorsFile } from "../src/Conformance/Runner.js"
import { dispatch, ExtraRoutes, MAX_JSON_BODY_BYTES, type RouteRequest } from "../src/Routes/ClientRoutes.js"
import * as Server from "../src/Server.js"

const vectors: VectorsFile = JSON.parse(readFileSync(new URL("../../../test-vectors/vectors.json", import.meta.url), "utf8"))
const ctx = vectors.http_exchanges.context
const exchange = (id: string) => (vectors.http_exchanges.prod as ReadonlyArray<Exchange>).find((e) => e.id === id)!
const hex = (h: string) => new Uint8Array(Buffer.from(h, "hex"))
const utf8 = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8")
const clock = fixedClock(ctx.server_now_ms)

const services = (dev = false) =>
  Server.servicesLayer({
    url: "sqlite://:memory:",
    settings: { dev },
    bootstrap: { backendSeed: hex(ctx.backend_ed25519_seed), salt: hex(ctx.gen_index_salt) }
  })

const post = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}): RouteRequest => ({
  method: "POST",
  path,
  headers,
  body: typeof body === "string" ? utf8(body) : body
})
const fromVector = (id: string): RouteRequest => post(exchange(id).path!, exchange(id).request_body!)
const envelope = (b: Uint8Array) => JSON.parse(text(b)) as { status: number; result?: unknown; errors?: Array<string> }

const runIn = <A, E>(eff: Effect.Effect<A, E, any>, layer: Layer.Layer<any, any, never> = services()) =>
  Effect.runPromise(eff.pipe(Effect.provide(layer), Effect.withClock(clock), Effect.scoped) as Effect.Effect<A, E, never>)

describe("ClientRoutes.dispatch (in-process)", () => {
  it("answers every envelope status: 0, 1, 2, 100, 101", () =>
    runIn(Effect.gen(function*() {
      yield* runSetup("init", ctx, "prod")
      const st = function*(r: RouteRequest) {
        const res = yield* dispatch(r)
        expect(res.status).toBe(200)
        expect(res.headers["content-type"]).toBe("application/json")
        return envelope(res.body).status
      }
      expect(yield* st(fromVector("revocations_empty"))).toBe(0)
      expect(yield* st(fromVector("add_google_ok"))).toBe(0)
      expect(yield* st(fromVector("add_google_already_redeemed"))).toBe(100)
      expect(yield* st(fromVector("add_google_unknown"))).toBe(101)
      expect(yield* st(fromVector("err_generate_unknown_user"))).toBe(1)
      expect(yield* st(fromVector("err_not_json"))).toBe(2)
      expect(yield* st(fromVector("err_details_bad_sig"))).toBe(2)
    })))

  it("404 for unknown paths, 405 with Allow for other methods, OPTIONS", () =>
    runIn(Effect.gen(function*() {
      const nf = yield* dispatch({ method: "POST", path: "/nope", headers: {}, body: new Uint8Array() })
      expect(nf.status).toBe(404)
      expect(text(nf.body)).toBe(exchange("err_unknown_route").response!.body)
      const na = yield* dispatch({ method: "GET", path: "/get_pro_revocations", headers: {}, body: new Uint8Array() })
      expect(na.status).toBe(405)
      expect(na.headers).toEqual({ "content-type": "text/html; charset=utf-8", allow: "POST, OPTIONS" })
      expect(text(na.body)).toBe(exchange("err_get_method").response!.body)
      const opt = yield* dispatch({ method: "OPTIONS", path: "/add_pro_payment", headers: {}, body: new Uint8Array() })
      expect(opt.status).toBe(200)
      expect(opt.headers.allow).toBe("POST, OPTIONS")
      // Werkzeug: no trailing-slash alias for these rules
      expect((yield* dispatch(post("/get_pro_revocations/", "{}"))).status).toBe(404)
    })))

  it("plain HTTP bodies are read whatever the Content-Type; onion inner requests keep Flask's form quirk", () =>
    runIn(Effect.gen(function*() {
      const body = '{"version":0,"ticket":0}'
      for (const ct of ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
        const hidden = yield* dispatch({ ...post("/get_pro_revocations", body, { "content-type": ct }), formBodyHidden: true })
        expect(envelope(hidden.body)).toEqual({ errors: ["JSON failed to be parsed: Expecting value: line 1 column 1 (char 0)"], status: 2 })
      }
      for (const ct of ["application/x-www-form-urlencoded", "text/plain", "application/octet-stream", "application/json"]) {
        const r = yield* dispatch(post("/get_pro_revocations", body, { "content-type": ct }))
        expect(envelope(r.body).status).toBe(0)
      }
    })))

  it("bodies above 1 MiB get HTTP 413 with a status-2 envelope", () =>
    runIn(Effect.gen(function*() {
      const r = yield* dispatch(post("/get_pro_details", new Uint8Array(MAX_JSON_BODY_BYTES + 1)))
      expect(r.status).toBe(413)
      expect(envelope(r.body)).toEqual({ errors: ["Request body too large: the limit is 1048576 bytes"], status: 2 })
    })))

  it("unexpected failures and defects become envelopes, never 500", async () => {
    const broken = Layer.mergeAll(
      Layer.succeed(Proofs, { generateProProof: () => Effect.die(new Error("boom")), addProPayment: () => Effect.die("boom") } as any),
      Layer.succeed(Revocations, { list: () => Effect.fail(new StorageError({ message: "db down" })) } as any)
    )
    await runIn(
      Effect.gen(function*() {
        const gen = yield* dispatch(fromVector("generate_ok"))
        expect(gen.status).toBe(200)
        expect(envelope(gen.body)).toMatchObject({ status: 1 })
        expect(envelope(gen.body).errors![0]).toContain("Internal error")
        const rev = yield* dispatch(fromVector("revocations_empty"))
        expect(rev.status).toBe(200)
        expect(envelope(rev.body)).toMatchObject({ status: 2 })
        expect(envelope(rev.body).errors![0]).toContain("Internal error")
      }),
      Layer.merge(services(), broken) // right side wins
    )
  })

  it("ExtraRoutes are reachable in-process (e.g. through onion requests)", () =>
    runIn(
      Effect.gen(function*() {
        const r = yield* dispatch(post("/apple_notifications_v2", "x"))
        expect(r.status).toBe(200)
        expect(text(r.body)).toBe("got x")
        expect((yield* dispatch({ ...post("/apple_notifications_v2", ""), method: "GET" })).status).toBe(405)
      }).pipe(
        Effect.provideService(ExtraRoutes, [{
          path: "/apple_notifications_v2",
          handle: (req) => Effect.succeed({ status: 200, headers: {}, body: utf8(`got ${text(req.body)}`) })
        }])
      )
    ))

  it("the onion route dispatches into the same table", () =>
    runIn(Effect.gen(function*() {
      const r = yield* dispatch(post("/oxen/v4/lsrpc", hex(exchange("onion_garbage").request_body_hex!)))
      expect(r.status).toBe(400)
      const ok = yield* dispatch(post("/oxen/v4/lsrpc", hex(exchange("onion_xchacha_poly_alias").request_body_hex!)))
      expect(ok.status).toBe(200)
      expect(ok.headers["content-type"]).toBe("text/html; charset=utf-8")
    })))
})

describe("D4b: no client input produces anything but an envelope", () => {
  const hexish = (n: number) => fc.oneof(fc.string({ minLength: n, maxLength: n, unit: fc.constantFrom("0", "a", "F", " ", "x", "é") }), fc.constant("ab".repeat(n / 2)))
  const anyValue = fc.oneof(
    fc.integer(),
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((b) => ({ raw: b.toString() })),
    fc.constantFrom(true, false, null, 0, 1, 2, 3, 99, -1, 0.5, ctx.server_now_ms, { raw: "1e400" }, { raw: "NaN" }, { raw: "-Infinity" }),
    fc.string(),
    hexish(64),
    hexish(128),
    fc.dictionary(fc.constantFrom("provider", "apple_tx_id", "google_payment_token", "google_order_id"), fc.oneof(fc.integer({ min: -1, max: 4 }), fc.string(), fc.boolean()))
  )
  const keys = ["version", "master_pkey", "rotating_pkey", "master_sig", "rotating_sig", "unix_ts_ms", "count", "ticket",
    "refund_requested_unix_ts_ms", "payment_tx", "dev_plan", "dev_duration_ms", "dev_auto_renewing"]
  // Serialises `{raw}` as a bare literal so big ints / NaN / 1e400 reach the parser verbatim.
  const render = (v: unknown): string =>
    v !== null && typeof v === "object" && "raw" in (v as object)
      ? String((v as { raw: string }).raw)
      : v !== null && typeof v === "object"
      ? `{${Object.entries(v as object).map(([k, x]) => `${JSON.stringify(k)}:${render(x)}`).join(",")}}`
      : JSON.stringify(v)
  // Valid recorded requests with one or two fields replaced: these get past parsing into the core.
  const recorded = [...(vectors.http_exchanges.prod as ReadonlyArray<Exchange>), ...(vectors.http_exchanges.dev as ReadonlyArray<Exchange>)]
    .filter((e) => e.request_body?.startsWith("{") && e.path !== "/nope")
    .flatMap((e) => {
      try {
        return [[e.path!, JSON.parse(e.request_body!) as Record<string, unknown>] as const]
      } catch {
        return [] // e.g. the NaN exchange: not JSON.parse-able
      }
    })
  const mutated = fc.tuple(fc.constantFrom(...recorded), fc.array(fc.tuple(fc.constantFrom(...keys, "payment_tx.provider", "payment_tx.apple_tx_id"), anyValue), { minLength: 1, maxLength: 2 }))
    .map(([[path, req], edits]) => {
      const copy: Record<string, unknown> = JSON.parse(JSON.stringify(req))
      for (const [k, v] of edits) {
        if (k.startsWith("payment_tx.")) {
          const tx = (copy.payment_tx ??= {}) as Record<string, unknown>
          if (typeof tx === "object" && tx !== null) tx[k.slice(11)] = v
        } else copy[k] = v
      }
      return [path, render(copy)] as const
    })
  const bodies = fc.oneof(
    fc.dictionary(fc.constantFrom(...keys), anyValue).map(render),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString("latin1")),
    fc.constantFrom("", "null", "[]", "5", '"version"', "{\"version\":0", "\ufeff{}")
  )
  for (const dev of [false, true]) {
    it(`every route, random bodies (dev=${dev})`, () =>
      runIn(
        Effect.gen(function*() {
          const paths = ["/add_pro_payment", "/generate_pro_proof", "/get_pro_revocations", "/get_pro_details", "/set_payment_refund_requested"]
          const samples = fc.sample(fc.oneof(mutated, mutated, fc.tuple(fc.constantFrom(...paths), bodies)), 600)
          const seen = new Set<number>()
          for (const [path, b] of samples) {
            const r = yield* dispatch(post(path, b))
            expect(r.status, `${path} ${b}`).toBe(200)
            expect(r.headers["content-type"]).toBe("application/json")
            const env = envelope(r.body)
            expect([0, 1, 2, 100, 101]).toContain(env.status)
            if (env.status !== 0) expect(env.errors!.length).toBeGreaterThan(0)
            if (env.status !== 0) expect(env.errors!.join(" ")).not.toContain("Internal error")
            seen.add(env.status)
          }
          // the mutations reach past parsing into the core
          expect(seen.has(1) || seen.has(0)).toBe(true)
        }),
        services(dev)
      ))
  }
})

// ---------------------------------------------------------------------------------------------
// over real HTTP

interface Raw {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}
const request = (port: number, method: string, path: string, body?: Uint8Array | string, headers: Record<string, string> = {}) =>
  Effect.promise<Raw>(() =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c) => chunks.push(c))
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }))
      })
      req.on("error", reject)
      if (body !== undefined) req.end(typeof body === "string" ? body : Buffer.from(body))
      else req.end()
    })
  )

const withServer = <A>(f: (port: number) => Effect.Effect<A, unknown, any>) =>
  runIn(
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      return yield* f((server.address as HttpServer.TcpAddress).port)
    }),
    Layer.provideMerge(Server.layer({ port: 0 }), services())
  )

describe("Server over HTTP", () => {
  it("JSON routes: HTTP 200, Content-Type exactly application/json, byte-exact body", () =>
    withServer((port) =>
      Effect.gen(function*() {
        const r = yield* request(port, "POST", "/get_pro_revocations", '{"version":0,"ticket":0}')
        expect(r.status).toBe(200)
        expect(r.headers["content-type"]).toBe("application/json")
        expect(r.body).toBe(exchange("revocations_empty").response!.body)
        const bad = yield* request(port, "POST", "/get_pro_revocations?x=1", "hello", { "content-type": "application/json" })
        expect(bad.status).toBe(200)
        expect(JSON.parse(bad.body).status).toBe(2)
      })
    ))

  it("404 / 405 (Allow) / 413 / 400 onion / healthz", () =>
    withServer((port) =>
      Effect.gen(function*() {
        expect((yield* request(port, "POST", "/nope", "{}")).status).toBe(404)
        const m = yield* request(port, "GET", "/get_pro_revocations")
        expect(m.status).toBe(405)
        expect(m.headers.allow).toBe("POST, OPTIONS")
        expect(m.headers["content-type"]).toBe("text/html; charset=utf-8")
        const big = yield* request(port, "POST", "/add_pro_payment", new Uint8Array(MAX_JSON_BODY_BYTES + 10))
        expect(big.status).toBe(413)
        expect(JSON.parse(big.body).status).toBe(2)
        // chunked, no Content-Length: caught while reading
        const chunked = yield* request(port, "POST", "/add_pro_payment", new Uint8Array(MAX_JSON_BODY_BYTES + 10), {
          "transfer-encoding": "chunked"
        })
        expect(chunked.status).toBe(413)
        const onion = yield* request(port, "POST", "/oxen/v4/lsrpc", hex(exchange("onion_garbage").request_body_hex!))
        expect(onion.status).toBe(400)
        const h = yield* request(port, "GET", "/healthz")
        expect(h.status).toBe(200)
        expect(JSON.parse(h.body)).toMatchObject({ status: "ok" })
      })
    ))
})

describe("Server.clientHandler (the binary's fast path) over HTTP", () => {
  // The fast path on a plain node:http server next to makeApp's server, on the same services:
  // every answer (status, the headers a client sees, body bytes) must be the same.
  const withBoth = <A>(f: (fast: number, app: number) => Effect.Effect<A, unknown, any>) =>
    withServer((appPort) =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Server.ClientRuntimeServices>()
        const handler = Server.clientHandler(runtime)
        const fast = http.createServer((req, res) => {
          if (!handler(req, res)) {
            res.writeHead(599)
            res.end("not the fast path")
          }
        })
        yield* Effect.acquireRelease(
          Effect.promise(() => new Promise<void>((resolve) => fast.listen(0, "127.0.0.1", () => resolve()))),
          () => Effect.promise(() => new Promise<void>((resolve) => fast.close(() => resolve())))
        )
        return yield* f((fast.address() as { port: number }).port, appPort)
      })
    )
  const same = (fast: Raw, app: Raw) => {
    expect(fast.status).toBe(app.status)
    expect(fast.body).toBe(app.body)
    expect(fast.headers["content-type"]).toBe(app.headers["content-type"])
    expect(fast.headers["content-length"]).toBe(app.headers["content-length"])
    expect(fast.headers["transfer-encoding"]).toBe(app.headers["transfer-encoding"])
  }

  it("same bytes as makeApp: JSON routes, parse errors, 413 (sized and chunked), onion 400, onion round trip", () =>
    withBoth((fastPort, appPort) =>
      Effect.gen(function*() {
        const both = (path: string, body?: Uint8Array | string, headers?: Record<string, string>) =>
          Effect.all([request(fastPort, "POST", path, body, headers), request(appPort, "POST", path, body, headers)])
        const [r, r2] = yield* both("/get_pro_revocations", '{"version":0,"ticket":0}')
        expect(r.body).toBe(exchange("revocations_empty").response!.body)
        same(r, r2)
        same(...(yield* both("/get_pro_revocations", "hello", { "content-type": "application/json" })))
        same(...(yield* both("/get_pro_details", "{}")))
        same(...(yield* both("/generate_pro_proof", "")))
        same(...(yield* both("/add_pro_payment", new Uint8Array(MAX_JSON_BODY_BYTES + 10))))
        same(...(yield* both("/add_pro_payment", new Uint8Array(MAX_JSON_BODY_BYTES + 10), { "transfer-encoding": "chunked" })))
        same(...(yield* both("/oxen/v4/lsrpc", hex(exchange("onion_garbage").request_body_hex!))))
        // an onion request: the reply nonce is random, so compare the decrypted replies
        const onion = exchange("onion_xchacha_revocations")
        if (onion?.request_body_hex !== undefined) {
          const [f, a] = yield* both("/oxen/v4/lsrpc", hex(onion.request_body_hex))
          expect(f.status).toBe(200)
          expect(a.status).toBe(200)
          expect(f.headers["content-type"]).toBe(a.headers["content-type"])
          // (the bodies are binary: compare their sizes as sent)
          expect(f.headers["content-length"]).toBe(a.headers["content-length"])
        }
        // anything else is left to the caller
        expect((yield* request(fastPort, "GET", "/get_pro_revocations")).status).toBe(599)
        expect((yield* request(fastPort, "POST", "/healthz", "{}")).status).toBe(599)
      })
    ))
})
