/**
 * The HTTP adapter: a raw `HttpApp` around `ClientRoutes.dispatch` (bodies read as bytes whatever
 * the Content-Type, responses written byte-exact), `GET /healthz`, and the NodeHttpServer layer.
 *
 * Seams for the rest of the server binary (config, workers, metrics):
 * - `extraRoutes`: an `HttpRouter` tried first (e.g. the ops `/healthz` + `/metrics`); anything it
 *   does not match falls through to the client routes;
 * - `middleware`: wraps the whole app (request logging, metrics, a fixed clock in conformance);
 * - the services (`Backend.layer(...)`, `OnionRequests.layer()`) are provided by the caller, or
 *   use `layerWithBackend`.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import { Backend } from "@session-pro/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Stream from "effect/Stream"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { MAX_BODY_BYTES as ONION_MAX_BODY_BYTES } from "./OnionRequests/Outer.js"
import * as OnionRequests from "./OnionRequests/OnionRequests.js"
import * as DevClock from "./DevClock.js"
import * as OpenApiDoc from "./OpenApi.js"
import {
  bodyTooLarge,
  CLIENT_PATHS,
  dispatch,
  ExtraRoutes,
  MAX_JSON_BODY_BYTES,
  ONION_PATH,
  type RouteRequest,
  type RouteServices
} from "./Routes/ClientRoutes.js"
import * as Pages from "./Routes/Pages.js"

export type AppMiddleware = <E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R>

export interface AppOptions<E = never, R = never> {
  readonly extraRoutes?: HttpRouter.HttpRouter<E, R> | undefined
  readonly middleware?: AppMiddleware | undefined
  /** Replaces the built-in `/healthz` check (default: `SELECT 1` on the database). */
  readonly health?: Effect.Effect<{ readonly ok: boolean; readonly detail: string }, never, R> | undefined
}

/** Default health: the database answers. */
export const databaseHealth: Effect.Effect<{ ok: boolean; detail: string }, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* sql`SELECT 1`.pipe(
    Effect.timeout("2 seconds"),
    Effect.as({ ok: true, detail: "database reachable" }),
    Effect.catchAllCause(() => Effect.succeed({ ok: false, detail: "database unreachable" }))
  )
})

const toServerResponse = (r: Pages.RouteResponse): HttpServerResponse.HttpServerResponse => {
  const { "content-type": contentType, ...rest } = r.headers
  return HttpServerResponse.uint8Array(r.body, { status: r.status, headers: rest, contentType })
}

const lowerHeaders = (h: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : String(v)
  }
  return out
}

/** WSGI servers hand Flask a percent-decoded PATH_INFO. */
const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  const raw = (q < 0 ? url : url.slice(0, q)) || "/"
  if (raw.indexOf("%") < 0) return raw // nothing to decode (every real client request)
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

const plainBytes = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

/** Past this many bytes an oversized body is no longer drained: the connection is simply answered. */
const DRAIN_CAP_BYTES = 16 * 1024 * 1024

/**
 * Reads the body up to `limit` bytes. A larger body is drained (up to `DRAIN_CAP_BYTES`) but
 * not kept, so the client gets our answer instead of a reset connection.
 */
const readBody = (req: HttpServerRequest.HttpServerRequest, limit: number) =>
  req.stream.pipe(
    Stream.runFoldWhile(
      { chunks: [] as Array<Uint8Array>, size: 0 },
      (s) => s.size <= DRAIN_CAP_BYTES,
      (s, chunk) => {
        s.size += chunk.length
        if (s.size <= limit) s.chunks.push(chunk)
        return s
      }
    ),
    Effect.map((s) =>
      s.size > limit
        ? { ok: false as const, tooLarge: true }
        // A plain Uint8Array view, not a Buffer: some crypto code (noble's byte checks) rejects
        // Buffers from another realm, e.g. under vitest.
        : { ok: true as const, bytes: plainBytes(s.chunks.length === 1 ? s.chunks[0] : Buffer.concat(s.chunks)) }
    ),
    Effect.catchAll(() => Effect.succeed({ ok: false as const, tooLarge: false }))
  )

/** The client routes as an `HttpApp` (what `HttpServer.serve` runs). */
export const clientApp: HttpApp.Default<never, RouteServices> = Effect.gen(function*() {
  const req = yield* HttpServerRequest.HttpServerRequest
  const path = pathOf(req.url)
  const method = req.method.toUpperCase()
  const headers = lowerHeaders(req.headers as Record<string, string>)
  const extras = yield* ExtraRoutes
  const known = (CLIENT_PATHS as ReadonlyArray<string>).includes(path) || path === ONION_PATH ||
    extras.some((r) => r.path === path)
  let body: Uint8Array = new Uint8Array(0)
  if (known && method === "POST") {
    const isOnion = path === ONION_PATH
    // The onion handler answers > 10 MiB itself (400), so read one byte more than that.
    const limit = isOnion ? ONION_MAX_BODY_BYTES + 1 : MAX_JSON_BODY_BYTES
    const read = yield* readBody(req, limit)
    if (!read.ok) {
      return toServerResponse(read.tooLarge && !isOnion ? bodyTooLarge() : Pages.badRequest())
    }
    body = read.bytes
  }
  const request: RouteRequest = { method, path, headers, body }
  return toServerResponse(yield* dispatch(request))
})

const healthRoute = <R>(check: Effect.Effect<{ readonly ok: boolean; readonly detail: string }, never, R>) =>
  Effect.map(check, (h) =>
    toServerResponse(
      Pages.json({ status: h.ok ? "ok" : "unavailable", detail: h.detail }, h.ok ? 200 : 503)
    ))

/** The full app: extra routes first, `/healthz`, then the client routes. */
export const makeApp = <E = never, R = never>(options: AppOptions<E, R> = {}): HttpApp.Default<E, R | RouteServices | SqlClient.SqlClient> => {
  const health: Effect.Effect<{ readonly ok: boolean; readonly detail: string }, never, R | SqlClient.SqlClient> = options.health ?? databaseHealth
  const base: HttpApp.Default<never, R | RouteServices | SqlClient.SqlClient> = Effect.gen(function*() {
    const req = yield* HttpServerRequest.HttpServerRequest
    if (pathOf(req.url) === "/healthz" && (req.method === "GET" || req.method === "HEAD")) return yield* healthRoute(health)
    if (pathOf(req.url) === OpenApiDoc.PATH && req.method === "GET") return yield* OpenApiDoc.serve
    if (pathOf(req.url) === DevClock.PATH) return yield* DevClock.serve
    return yield* clientApp
  })
  const withExtra: HttpApp.Default<E, R | RouteServices | SqlClient.SqlClient> = options.extraRoutes
    ? (Effect.catchTag(options.extraRoutes as unknown as Effect.Effect<HttpServerResponse.HttpServerResponse, E | { readonly _tag: "RouteNotFound" }, R | HttpServerRequest.HttpServerRequest>, "RouteNotFound", () => base) as any)
    : base
  const app = options.middleware ? options.middleware(withExtra) : withExtra
  // Last line of defence: a defect in the adapter itself still answers with an envelope (D4b).
  return app.pipe(
    Effect.catchAllDefect((defect) =>
      Effect.as(Effect.logError("http adapter defect", defect), toServerResponse(Pages.failure(2, ["Internal error"])))
    )
  )
}

/** The paths `clientHandler` answers itself (POST only); anything else goes to the full app. */
const FAST_PATHS: ReadonlySet<string> = new Set([...CLIENT_PATHS, ONION_PATH])

type BodyRead = { ok: true; bytes: Uint8Array } | { ok: false; tooLarge: boolean }

/**
 * Reads a node request body with `readBody`'s rules (limit, drain cap, errors → not ok). A class
 * with bound methods rather than closures per request: the server runs under tsx, whose keepNames
 * transform gives every named closure a `name` property as it is created (≈0.3 µs each).
 */
class NodeBodyReader {
  private readonly chunks: Array<Uint8Array> = []
  private size = 0
  private finished = false
  private readonly onData: (chunk: Uint8Array) => void
  private readonly onEnd: () => void
  private readonly onError: () => void
  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
    private readonly done: (read: BodyRead) => void
  ) {
    this.onData = this.data.bind(this)
    this.onEnd = this.finish.bind(this)
    this.onError = this.error.bind(this)
    req.on("data", this.onData)
    req.on("end", this.onEnd)
    req.on("error", this.onError)
  }
  private finish() {
    if (this.finished) return
    this.finished = true
    this.req.off("data", this.onData)
    this.req.off("end", this.onEnd)
    this.req.off("error", this.onError)
    if (this.size > this.limit) this.done({ ok: false, tooLarge: true })
    else this.done({ ok: true, bytes: plainBytes(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)) })
  }
  private data(chunk: Uint8Array) {
    this.size += chunk.length
    if (this.size <= this.limit) this.chunks.push(chunk)
    if (this.size > DRAIN_CAP_BYTES) {
      // As the platform's stream does when the fold stops early: stop reading, destroy the request.
      this.finish()
      this.req.destroy()
    }
  }
  private error() {
    if (this.finished) return
    this.finished = true
    this.req.off("data", this.onData)
    this.req.off("end", this.onEnd)
    this.done({ ok: false, tooLarge: false })
  }
}

const readNodeBody = (req: IncomingMessage, limit: number, done: (read: BodyRead) => void): void => {
  if (req.readableEnded) return done({ ok: true, bytes: new Uint8Array(0) })
  new NodeBodyReader(req, limit, done)
}

/** What `clientHandler`'s runtime must hold. */
export type ClientRuntimeServices = RouteServices

export interface ClientHandlerOptions {
  /** Called once per answered request (what the metrics middleware records for the full app). */
  readonly observe?: ((url: string, method: string, status: number, seconds: number) => void) | undefined
}

/** Response headers as the platform's `HttpServerResponse.uint8Array` sets them (see `toServerResponse`). */
const nodeHeaders = (r: Pages.RouteResponse): Record<string, string> => {
  const h = r.headers
  const contentType = h["content-type"]
  let out: Record<string, string>
  const keys = Object.keys(h)
  if (keys.length === 1 && contentType) {
    out = { "content-type": contentType } // the common case: one JSON/HTML content type
  } else {
    out = {}
    for (const k of keys) if (k !== "content-type") out[k] = h[k]
    if (contentType) out["content-type"] = contentType
  }
  if (r.body.length > 0) out["content-length"] = String(r.body.length)
  return out
}

const adapterDefect = (defect: unknown) =>
  Effect.as(Effect.logError("http adapter defect", defect), Pages.failure(2, ["Internal error"]))

/** Writes `r` (headers and body leave in one `writev`) unless the response already ended. */
const send = (
  res: ServerResponse,
  r: Pages.RouteResponse,
  observe: ClientHandlerOptions["observe"],
  url: string,
  start: number
): void => {
  if (!res.writableEnded) {
    res.writeHead(r.status, nodeHeaders(r))
    res.end(r.body)
  }
  if (observe !== undefined) observe(url, "POST", r.status, (performance.now() - start) / 1000)
}

/**
 * A `node:http` request handler for `POST` on the five client routes and `/oxen/v4/lsrpc`, run on
 * a prebuilt runtime: the same bytes as `makeApp`'s client path (body limits, 400/413 pages, the
 * adapter-defect envelope) without the platform's request/response/router machinery. Returns
 * false (and touches nothing) for any other request, which the caller hands to the full app.
 * The runtime's `Clock` (e.g. the fake dev clock) drives the handlers as in the full app.
 *
 * Per request: one fiber running `dispatch` (no per-fiber runtime metrics: Effect's
 * `effect_fiber_*` counters are not exported), the response written by the fiber's exit observer,
 * the socket's `close` watched only while the fiber is still running (it is interrupted then),
 * and the observed duration measured with `performance.now()` only when there is an observer.
 */
export const clientHandler = <R extends RouteServices>(runtime: Runtime.Runtime<R>, options: ClientHandlerOptions = {}) => {
  const runFork = Runtime.runFork(Runtime.disableRuntimeFlag(runtime, RuntimeFlags.RuntimeMetrics))
  const observe = options.observe
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "POST") return false
    const url = req.url ?? "/"
    const path = pathOf(url)
    if (!FAST_PATHS.has(path)) return false
    const start = observe === undefined ? 0 : performance.now()
    const isOnion = path === ONION_PATH
    // The onion handler answers > 10 MiB itself (400), so read one byte more than that.
    const limit = isOnion ? ONION_MAX_BODY_BYTES + 1 : MAX_JSON_BODY_BYTES
    readNodeBody(req, limit, (read) => {
      if (!read.ok) return send(res, read.tooLarge && !isOnion ? bodyTooLarge() : Pages.badRequest(), observe, url, start)
      const headers = nodeRequestHeaders(req.headers)
      const fiber = runFork(
        Effect.catchAllDefect(dispatch({ method: "POST", path, headers, body: read.bytes }), adapterDefect) as Effect.Effect<
          Pages.RouteResponse,
          never,
          R
        >
      )
      fiber.addObserver((exit) => {
        try {
          // Interrupted (the client went away): nothing to answer. `dispatch` never fails.
          if (exit._tag === "Success") send(res, exit.value, observe, url, start)
          else if (!Cause.isInterruptedOnly(exit.cause)) send(res, Pages.failure(2, ["Internal error"]), observe, url, start)
        } catch {
          res.destroy() // e.g. the socket failed under us; never throw into the fiber runtime
        }
      })
      if (fiber.unsafePoll() === null) {
        res.on("close", () => {
          if (!res.writableEnded) fiber.unsafeInterruptAsFork(fiber.id())
        })
      }
    })
    return true
  }
}

/** Node's header object is already lower-case; only a repeated `set-cookie` is an array. */
const nodeRequestHeaders = (h: IncomingMessage["headers"]): Record<string, string> => {
  for (const k in h) if (typeof h[k] !== "string") return lowerHeaders(h)
  return h as Record<string, string>
}

export interface ListenOptions {
  readonly port: number
  readonly host?: string | undefined
}

/**
 * Serves `makeApp(options)` on NodeHttpServer; requires the route services and SqlClient. The
 * `HttpServer` stays in the output (its `address` tells which port `port: 0` got).
 */
export const layer = <E = never, R = never>(options: ListenOptions & AppOptions<E, R>) =>
  HttpServer.serve(makeApp(options)).pipe(
    HttpServer.withLogAddress,
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: options.port, host: options.host ?? "127.0.0.1" }))
  )

/** The route services over the core backend (`Backend.layer`) plus the onion service from its keys. */
export const servicesLayer = (backend: Backend.BackendLayerOptions) =>
  OnionRequests.layer().pipe(Layer.provideMerge(Backend.layer(backend)))

/** Convenience: server + backend in one layer. */
export const layerWithBackend = <E = never, R = never>(options: ListenOptions & AppOptions<E, R> & { readonly backend: Backend.BackendLayerOptions }) =>
  layer(options).pipe(Layer.provide(servicesLayer(options.backend)))
