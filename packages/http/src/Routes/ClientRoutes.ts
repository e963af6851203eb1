/**
 * The client route table (protocol.md §1.1, §2), defined once and usable two ways:
 * - `dispatch(request)`: an in-process function `(method, path, headers, body) → Effect<response>`;
 *   the onion-request handler sends decrypted inner requests through it (§4.3), and the HTTP
 *   server (`Server.ts`) is a thin adapter around it;
 * - `handlers`: the five endpoint handlers by path.
 *
 * Every handler answers HTTP 200 with a JSON envelope; nothing a client sends produces a 500
 * (D4b): parse problems are status 2, core rejections keep their status, and any unexpected
 * failure or defect becomes a generic envelope (status 1 on add/generate, 2 elsewhere, matching
 * the status codes each route can emit).
 */
import {
  BackendSettings,
  Payments,
  ProDetails,
  type ProPlan,
  Proofs,
  RequestRejected,
  Revocations
} from "@session-pro/core"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { withRequestSpan } from "../Observability/Spans.js"
import { OnionRequests } from "../OnionRequests/OnionRequests.js"
import {
  parseAddProPayment,
  parseGenerateProProof,
  parseGetProDetails,
  parseGetProRevocations,
  type ParseContext,
  type ParseResult,
  parseSetPaymentRefundRequested
} from "../Protocol/Requests.js"
import { rawJsonList, type WireValue } from "../Protocol/Wire.js"
import * as Pages from "./Pages.js"

export type { RouteResponse } from "./Pages.js"

export interface RouteRequest {
  /** Upper-case HTTP method. */
  readonly method: string
  /** The path without query string. */
  readonly path: string
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
  /**
   * Set for inner requests of an onion request: there the reference's Flask sub-request hides a
   * form-encoded body (vector `onion_form_content_type`), and we keep that. Plain HTTP requests are
   * read whatever their Content-Type, so `curl -d '{…}'` (form-encoded by default) just works.
   */
  readonly formBodyHidden?: boolean
}

/** JSON routes refuse bodies above this (the reference has no limit; real requests are < 1 KiB). */
export const MAX_JSON_BODY_BYTES = 1024 * 1024
export const ONION_PATH = "/oxen/v4/lsrpc"

/** Services the client routes need (the core's, plus the onion service for `/oxen/v4/lsrpc`). */
export type RouteServices = Proofs | Revocations | ProDetails | Payments | BackendSettings | OnionRequests

/** Flask/Werkzeug: a form content type makes `request.data` empty (§1.1, vector `onion_form_content_type`). */
export const effectiveBody = (headers: Readonly<Record<string, string>>, body: Uint8Array): Uint8Array => {
  const ct = (headers["content-type"] ?? "").split(";")[0].trim().toLowerCase()
  return ct === "application/x-www-form-urlencoded" || ct === "multipart/form-data" ? new Uint8Array(0) : body
}

/**
 * One JSON endpoint: parse (status 2 on failure), run the core, map `RequestRejected` to its
 * envelope and anything else to a generic error envelope. One flat Effect per request: the
 * settings, the clock, then the parse and the core call under a single cause handler.
 */
const endpoint = <A, R>(
  name: string,
  unexpectedStatus: 1 | 2,
  parse: (body: Uint8Array, ctx: ParseContext) => ParseResult<A>,
  run: (request: A) => Effect.Effect<WireValue, unknown, R>
) => {
  const internalError = [`Internal error while handling ${name}, please try again later`]
  const logMessage = `${name}: unexpected failure`
  const onCause = (cause: Cause.Cause<unknown>): Effect.Effect<Pages.RouteResponse> => {
    // As `catchIf` did: the first failure, if it is a rejection, is the answer.
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some" && failure.value instanceof RequestRejected) {
      return Effect.succeed(Pages.failure(failure.value.status, failure.value.errors))
    }
    return Cause.isInterruptedOnly(cause)
      ? Effect.interrupt
      : Effect.as(Effect.logError(logMessage, cause), Pages.failure(unexpectedStatus, internalError))
  }
  const traced = withRequestSpan(`ClientRoutes${name}`)
  return (body: Uint8Array): Effect.Effect<Pages.RouteResponse, never, R | BackendSettings> =>
    traced(Effect.flatMap(BackendSettings, (settings) =>
      Effect.clockWith((clock) =>
        Effect.catchAllCause(
          Effect.suspend(() => {
            const ctx: ParseContext = {
              nowMs: clock.unsafeCurrentTimeMillis(),
              dev: settings.dev,
              unsafeLogging: settings.unsafeLogging
            }
            const parsed = parse(body, ctx)
            if (Either.isLeft(parsed)) return Effect.succeed(Pages.failure(parsed.left.status, parsed.left.errors))
            return Effect.map(run(parsed.right), Pages.success)
          }),
          onCause
        )
      )
    ))
}

export const handlers = {
  "/add_pro_payment": endpoint("/add_pro_payment", 1, parseAddProPayment, (req) =>
    Effect.flatMap(Proofs, (proofs) =>
      // Protocol keeps the plan as the wire integer; the core types it as ProPlan.
      Effect.map(
        proofs.addProPayment({ ...req, dev: req.dev && { ...req.dev, plan: req.dev.plan as ProPlan } }),
        (proof) => proofs.proofToJson(proof) as unknown as WireValue
      ))),
  "/generate_pro_proof": endpoint("/generate_pro_proof", 1, parseGenerateProProof, (req) =>
    Effect.flatMap(Proofs, (proofs) =>
      Effect.map(proofs.generateProProof(req), (proof) => proofs.proofToJson(proof) as unknown as WireValue))),
  "/get_pro_revocations": endpoint("/get_pro_revocations", 2, parseGetProRevocations, (req) =>
    Effect.flatMap(Revocations, (revocations) =>
      Effect.map(revocations.list(req.ticket), (r): WireValue => ({
        items: rawJsonList(r.items as unknown as ReadonlyArray<WireValue>),
        retry_in_s: 86400,
        ticket: r.ticket,
        version: req.version
      })))),
  "/get_pro_details": endpoint("/get_pro_details", 2, parseGetProDetails, (req) =>
    Effect.flatMap(ProDetails, (details) => details.get(req) as unknown as Effect.Effect<WireValue, unknown>)),
  "/set_payment_refund_requested": endpoint(
    "/set_payment_refund_requested",
    2,
    parseSetPaymentRefundRequested,
    (req) =>
      Effect.flatMap(Payments, (payments) =>
        Effect.map(payments.setRefundRequested(req), (r): WireValue => ({ updated: r.updated, version: 0 })))
  )
} as const

export type ClientPath = keyof typeof handlers
export const CLIENT_PATHS = Object.keys(handlers) as ReadonlyArray<ClientPath>

const isClientPath = (path: string): path is ClientPath => Object.prototype.hasOwnProperty.call(handlers, path)

/**
 * Routes registered by other parts of the server (e.g. the Apple webhook) so that they are also
 * reachable in-process — through onion requests, as in the reference (§2.6). POST only; the
 * handler gets the raw request (form content types already emptied) and must not fail.
 */
export interface ExtraRoute {
  readonly path: string
  readonly handle: (request: RouteRequest) => Effect.Effect<Pages.RouteResponse>
}

export class ExtraRoutes extends Context.Reference<ExtraRoutes>()("@session-pro/http/ExtraRoutes", {
  defaultValue: (): ReadonlyArray<ExtraRoute> => []
}) {}

/** The answer to a JSON route body above `MAX_JSON_BODY_BYTES`. */
export const bodyTooLarge = (): Pages.RouteResponse =>
  Pages.json({ errors: [`Request body too large: the limit is ${MAX_JSON_BODY_BYTES} bytes`], status: 2 }, 413)

/**
 * The whole route table, in-process. Werkzeug semantics: unknown path → 404, known path with
 * another method → 405 (`Allow: POST, OPTIONS`), OPTIONS → 200 with `Allow`.
 */
export const dispatch = (request: RouteRequest): Effect.Effect<Pages.RouteResponse, never, RouteServices> =>
  Effect.flatMap(ExtraRoutes, (extras) => dispatchWith(request, (path) => extras.find((r) => r.path === path)))

const dispatchWith = (
  request: RouteRequest,
  extraRoute: (path: string) => ExtraRoute | undefined
): Effect.Effect<Pages.RouteResponse, never, RouteServices> =>
  Effect.suspend((): Effect.Effect<Pages.RouteResponse, never, RouteServices> => {
    const path = request.path
    const extra = isClientPath(path) || path === ONION_PATH ? undefined : extraRoute(path)
    if (!isClientPath(path) && path !== ONION_PATH && extra === undefined) return Effect.succeed(Pages.notFound())
    const method = request.method.toUpperCase()
    if (method === "OPTIONS") return Effect.succeed(Pages.options())
    if (method !== "POST") return Effect.succeed(Pages.methodNotAllowed())
    // A plain Uint8Array view even when handed a Buffer (noble's byte checks can reject Buffers).
    const raw = request.body
    const view = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
    const body = request.formBodyHidden ? effectiveBody(request.headers, view) : view
    if (path === ONION_PATH) {
      // Inner requests are dispatched through this same table (any route, incl. this one).
      return OnionRequests.pipe(
        Effect.flatMap((onion) => onion.handle(body, (inner) => dispatch({ ...inner, formBodyHidden: true })))
      )
    }
    if (body.length > MAX_JSON_BODY_BYTES) return Effect.succeed(bodyTooLarge())
    if (extra !== undefined) return extra.handle({ ...request, method, body })
    return handlers[path as ClientPath](body)
  })
