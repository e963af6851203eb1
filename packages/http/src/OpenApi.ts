/**
 * The OpenAPI 3.1 document of the client protocol, generated from an `HttpApi` description built
 * on the Protocol schemas (the same ones the client SDK decodes with), served at `GET /openapi.json`.
 *
 * The `HttpApi` here is documentation only: the server does not run `HttpApiBuilder`, because the
 * reference's acceptance rules and error texts (Protocol/Requests.ts) are stricter and different
 * from what Schema decoding would produce. Every route answers HTTP 200 with either envelope
 * (protocol.md §1.3), so each endpoint's single success response is the union of both.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { DevClock, DevClockRequest, DevClockResult } from "./DevClock.js"
import * as Schemas from "./Protocol/Schemas.js"

const envelope = <A, I, R>(result: Schema.Schema<A, I, R>, name: string) =>
  Schema.Union(
    Schemas.SuccessEnvelope(result).annotations({ identifier: `${name}Success` }),
    Schemas.ErrorEnvelope
  ).annotations({
    identifier: `${name}Response`,
    description: "Always HTTP 200: status 0 carries `result`, any other status carries `errors` (protocol.md §1.4)"
  })

const route = <const Name extends string, const Path extends keyof typeof Schemas.Endpoints>(
  name: Name,
  path: Path,
  summary: string,
  resultName: string
) => {
  const e = Schemas.Endpoints[path]
  return HttpApiEndpoint.post(name, path)
    .setPayload(e.request as Schema.Schema<any, any, never>)
    .addSuccess(envelope(e.result as Schema.Schema<any, any, never>, resultName))
    .annotate(OpenApi.Summary, summary)
}

/** The five JSON routes (protocol.md §2). */
export class ClientGroup extends HttpApiGroup.make("client")
  .add(route("addProPayment", "/add_pro_payment", "Redeem a store payment and get a first proof (§2.1)", "AddProPayment"))
  .add(route("generateProProof", "/generate_pro_proof", "A new proof for an existing entitlement (§2.2)", "GenerateProProof"))
  .add(route("getProRevocations", "/get_pro_revocations", "The revocation list, unauthenticated (§2.3)", "GetProRevocations"))
  .add(route("getProDetails", "/get_pro_details", "Entitlement status and payment history (§2.4)", "GetProDetails"))
  .add(route(
    "setPaymentRefundRequested",
    "/set_payment_refund_requested",
    "Flag or clear a refund request on an Apple payment the key owns (§2.5)",
    "SetPaymentRefundRequested"
  ))
  .annotate(OpenApi.Description, "Session Pro client protocol v0. Every request is a JSON object POSTed as the body.")
{}

/** The onion entry point: an opaque binary frame in, an encrypted binary reply out (protocol.md §4). */
export const OnionFrame = HttpApiSchema.Uint8Array({ contentType: "application/octet-stream" }).annotations({
  description:
    "u32le N ‖ N bytes of ciphertext ‖ metadata JSON {ephemeral_key, enc_type}. The ciphertext is the bencoded inner request " +
    "l<len>:<meta JSON>[<len>:<body>]e encrypted to the server's X25519 key (xchacha20 or aes-gcm)."
})

export class OnionGroup extends HttpApiGroup.make("onion")
  .add(
    HttpApiEndpoint.post("onionRequest", "/oxen/v4/lsrpc")
      .setPayload(OnionFrame)
      .addSuccess(HttpApiSchema.Uint8Array({ contentType: "text/html; charset=utf-8" }).annotations({
        description: "The encrypted inner reply l<len>:<{code, headers} JSON><len>:<body>e (nonce ‖ ciphertext ‖ tag); " +
          "the Content-Type is Flask's default, not a description of the bytes"
      }))
      .annotate(OpenApi.Summary, "Onion request v4: reaches every route above through an encrypted envelope (§4)")
  )
{}

/** `POST /dev/clock`: only present when dev mode and `fake_clock` are both on (DevClock.ts). */
export class DevGroup extends HttpApiGroup.make("dev")
  .add(
    HttpApiEndpoint.post("devClock", "/dev/clock")
      .setPayload(DevClockRequest)
      .addSuccess(envelope(DevClockResult, "DevClock"))
      .annotate(OpenApi.Summary, "Testers only: read, set or advance the server's fake clock")
  )
  .annotate(OpenApi.Description, "Only mounted when the server runs in dev mode with the fake_clock option")
{}

export class ClientApi extends HttpApi.make("session-pro").add(ClientGroup).add(OnionGroup)
  .annotate(OpenApi.Title, "Session Pro backend")
  .annotate(OpenApi.Version, "0")
  .annotate(
    OpenApi.Description,
    "The Session Pro client wire protocol v0 (byte-compatible with the Python reference). " +
      "Requests are signed with Ed25519 over BLAKE2b-256 digests; see protocol.md §3."
  )
{}

export class ClientApiWithDevClock extends ClientApi.add(DevGroup) {}

const ONION_400 = {
  description: "Werkzeug's plain 400 page: the outer frame could not be parsed or decrypted (§4.1, §4.5)",
  content: { "text/html; charset=utf-8": { schema: { type: "string" } } }
}

/**
 * HttpApi adds a 400 `HttpApiDecodeError` response to every endpoint with a payload; this server
 * never answers that (bad JSON is an HTTP 200 status-2 envelope), so it is taken out again.
 */
const withoutDecodeErrors = (spec: OpenApi.OpenAPISpec): OpenApi.OpenAPISpec => {
  const paths: Record<string, any> = structuredClone(spec.paths)
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item as Record<string, any>)) {
      if (JSON.stringify(op.responses?.["400"] ?? {}).includes("HttpApiDecodeError")) delete op.responses["400"]
      if (op.operationId === "onion.onionRequest") op.responses["400"] = ONION_400
      const ok = op.responses?.["200"]
      if (ok?.content?.["application/json"]) ok.description = "Envelope: `{result, status: 0}` or `{errors, status}`"
    }
  }
  const schemas: Record<string, any> = { ...spec.components.schemas }
  for (const k of ["HttpApiDecodeError", "Issue", "PropertyKey"]) delete schemas[k]
  return { ...spec, paths, components: { ...spec.components, schemas } } as OpenApi.OpenAPISpec
}

/** The document; with `devClock` the tester-only `/dev/clock` route is included. */
export const document = (options: { readonly devClock?: boolean } = {}): OpenApi.OpenAPISpec =>
  // "allow": the server ignores unknown keys everywhere (protocol.md §1.2).
  withoutDecodeErrors(
    OpenApi.fromApi(options.devClock ? ClientApiWithDevClock : ClientApi, { additionalPropertiesStrategy: "allow" })
  )

const cached: { plain?: Uint8Array; dev?: Uint8Array } = {}
const bytes = (devClock: boolean) => {
  const k = devClock ? "dev" : "plain"
  return (cached[k] ??= new TextEncoder().encode(JSON.stringify(document({ devClock }), null, 2) + "\n"))
}

export const PATH = "/openapi.json"

/** The `GET /openapi.json` response (the dev route is listed when the fake clock is running). */
export const response = (devClock = false) =>
  HttpServerResponse.uint8Array(bytes(devClock), { status: 200, contentType: "application/json" })

/** `GET /openapi.json` for the HTTP adapter; lists `/dev/clock` exactly when it is mounted. */
export const serve: Effect.Effect<HttpServerResponse.HttpServerResponse> = Effect.map(
  Effect.serviceOption(DevClock),
  (clock) => response(Option.isSome(clock))
)
