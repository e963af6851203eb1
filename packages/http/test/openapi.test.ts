/**
 * The OpenAPI 3.1 document (OpenApi.ts): every client route and the onion route are there, every
 * request and result field of protocol.md §2 is described with the right requiredness, the
 * golden exchanges' bodies have exactly the documented keys, and `GET /openapi.json` serves it.
 */
import { FetchHttpClient, HttpServer } from "@effect/platform"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import * as OpenApiDoc from "../src/OpenApi.js"
import * as Server from "../src/Server.js"

const doc: any = OpenApiDoc.document()
const vectors: any = JSON.parse(readFileSync(fileURLToPath(new URL("../../../test-vectors/vectors.json", import.meta.url)), "utf8"))

/** Follows `$ref`s into components. */
const deref = (s: any): any => (s?.$ref ? deref(doc.components.schemas[s.$ref.split("/").pop()]) : s)

const requestSchema = (path: string) => deref(doc.paths[path].post.requestBody.content["application/json"].schema)
const responseAlternatives = (path: string): Array<any> =>
  doc.paths[path].post.responses["200"].content["application/json"].schema.anyOf.map(deref)
const resultSchema = (path: string) => {
  const success = responseAlternatives(path).find((s) => s.properties?.result)
  return deref(success.properties.result)
}

const sorted = (xs: Iterable<string>) => [...xs].sort()

// protocol.md §2, written out independently of the schemas the document is generated from.
const REQUESTS: Record<string, { required: Array<string>; optional?: Array<string> }> = {
  "/add_pro_payment": {
    required: ["version", "master_pkey", "rotating_pkey", "master_sig", "rotating_sig", "payment_tx"],
    optional: ["dev_plan", "dev_duration_ms", "dev_auto_renewing"]
  },
  "/generate_pro_proof": { required: ["version", "master_pkey", "rotating_pkey", "unix_ts_ms", "master_sig", "rotating_sig"] },
  "/get_pro_revocations": { required: ["version", "ticket"] },
  "/get_pro_details": { required: ["version", "master_pkey", "master_sig", "unix_ts_ms", "count"] },
  "/set_payment_refund_requested": {
    required: ["version", "master_pkey", "master_sig", "unix_ts_ms", "refund_requested_unix_ts_ms", "payment_tx"]
  }
}
const PROOF = ["expiry_unix_ts_ms", "gen_index_hash", "rotating_pkey", "sig", "version"]
const RESULTS: Record<string, Array<string>> = {
  "/add_pro_payment": PROOF,
  "/generate_pro_proof": PROOF,
  "/get_pro_revocations": ["items", "retry_in_s", "ticket", "version"],
  "/get_pro_details": [
    "version",
    "status",
    "auto_renewing",
    "expiry_unix_ts_ms",
    "grace_period_duration_ms",
    "refund_requested_unix_ts_ms",
    "payments_total",
    "error_report",
    "items"
  ],
  "/set_payment_refund_requested": ["updated", "version"]
}
const DETAILS_ITEM_REQUIRED = [
  "status",
  "plan",
  "payment_provider",
  "auto_renewing",
  "unredeemed_unix_ts_ms",
  "redeemed_unix_ts_ms",
  "expiry_unix_ts_ms",
  "grace_period_duration_ms",
  "platform_refund_expiry_unix_ts_ms",
  "revoked_unix_ts_ms",
  "refund_requested_unix_ts_ms"
]
const DETAILS_ITEM_OPTIONAL = [
  "google_payment_token",
  "google_order_id",
  "apple_original_tx_id",
  "apple_tx_id",
  "apple_web_line_order_id",
  "rangeproof_order_id"
]

describe("OpenAPI document", () => {
  it("is OpenAPI 3.1 with exactly the five client routes and the onion route, all POST", () => {
    expect(doc.openapi).toBe("3.1.0")
    expect(doc.info.title).toBe("Session Pro backend")
    expect(sorted(Object.keys(doc.paths))).toEqual(sorted([...Object.keys(REQUESTS), "/oxen/v4/lsrpc"]))
    for (const item of Object.values(doc.paths) as Array<any>) expect(Object.keys(item)).toEqual(["post"])
    // The tester-only route is documented only when it is mounted.
    expect(Object.keys(OpenApiDoc.document({ devClock: true }).paths)).toContain("/dev/clock")
  })

  for (const [path, fields] of Object.entries(REQUESTS)) {
    it(`${path}: every request field, required ones marked, unknown keys allowed`, () => {
      const s = requestSchema(path)
      expect(sorted(Object.keys(s.properties))).toEqual(sorted([...fields.required, ...(fields.optional ?? [])]))
      expect(sorted(s.required)).toEqual(sorted(fields.required))
      expect(s.additionalProperties).not.toBe(false)
      expect(deref(s.properties.version).enum).toEqual([0])
    })

    it(`${path}: every result field, and the error envelope, all answered with HTTP 200`, () => {
      const post = doc.paths[path].post
      expect(Object.keys(post.responses)).toEqual(["200"])
      const r = resultSchema(path)
      expect(sorted(Object.keys(r.properties))).toEqual(sorted(RESULTS[path]))
      expect(sorted(r.required)).toEqual(sorted(RESULTS[path]))
      const error = responseAlternatives(path).find((s) => s.properties?.errors)
      expect(sorted(error.required)).toEqual(["errors", "status"])
      expect(deref(error.properties.status).enum).toEqual([1, 2, 100, 101])
    })
  }

  it("payment_tx: Google (token + order id) or Apple (tx id); the refund route only Apple", () => {
    const alts = deref(requestSchema("/add_pro_payment").properties.payment_tx).anyOf.map(deref)
    expect(alts.map((a: any) => sorted(a.required))).toEqual([
      sorted(["provider", "google_payment_token", "google_order_id"]),
      sorted(["provider", "apple_tx_id"])
    ])
    const refund = deref(requestSchema("/set_payment_refund_requested").properties.payment_tx)
    expect(sorted(refund.required)).toEqual(["apple_tx_id", "provider"])
  })

  it("hex fields carry their length pattern; details items and revocation items are described field by field", () => {
    const gen = requestSchema("/generate_pro_proof")
    expect(deref(gen.properties.master_pkey).pattern).toBe("^[0-9a-fA-F]{64}$")
    expect(deref(gen.properties.master_sig).pattern).toBe("^[0-9a-fA-F]{128}$")
    const item = deref(resultSchema("/get_pro_details").properties.items.items)
    expect(sorted(Object.keys(item.properties))).toEqual(sorted([...DETAILS_ITEM_REQUIRED, ...DETAILS_ITEM_OPTIONAL]))
    expect(sorted(item.required)).toEqual(sorted(DETAILS_ITEM_REQUIRED))
    const rev = deref(resultSchema("/get_pro_revocations").properties.items.items)
    expect(sorted(rev.required)).toEqual(["effective_unix_ts_ms", "expiry_unix_ts_ms", "gen_index_hash"])
  })

  it("the onion route takes and returns opaque binary", () => {
    const post = doc.paths["/oxen/v4/lsrpc"].post
    expect(post.requestBody.content["application/octet-stream"].schema.format).toBe("binary")
    expect(post.responses["200"].content["text/html; charset=utf-8"].schema.format).toBe("binary")
    expect(post.responses["400"]).toBeDefined()
  })

  it("every recorded success result of the golden exchanges has exactly documented keys", () => {
    const all: Array<any> = [...vectors.http_exchanges.prod, ...vectors.http_exchanges.dev]
    let checked = 0
    for (const e of all) {
      if (!REQUESTS[e.path] || e.response?.http_status !== 200) continue
      const body = JSON.parse(e.response.body)
      if (body.status !== 0) {
        expect(sorted(Object.keys(body))).toEqual(["errors", "status"])
        continue
      }
      const r = resultSchema(e.path)
      expect(sorted(Object.keys(body.result)).filter((k) => !(k in r.properties))).toEqual([])
      for (const k of r.required) expect(body.result).toHaveProperty(k)
      if (e.path === "/get_pro_details") {
        const item = deref(r.properties.items.items)
        for (const it of body.result.items) {
          expect(Object.keys(it).filter((k) => !(k in item.properties))).toEqual([])
        }
      }
      checked++
    }
    expect(checked).toBeGreaterThanOrEqual(15)
  })

  it("is served at GET /openapi.json", async () => {
    const program = Effect.gen(function*() {
      const s = yield* HttpServer.HttpServer
      const r = yield* Effect.promise(() => fetch(`http://127.0.0.1:${(s.address as HttpServer.TcpAddress).port}/openapi.json`))
      expect(r.status).toBe(200)
      expect(r.headers.get("content-type")).toBe("application/json")
      expect(yield* Effect.promise(() => r.json())).toEqual(JSON.parse(JSON.stringify(doc)))
    })
    const layer = Server.layer({ port: 0 }).pipe(
      Layer.provide(Server.servicesLayer({ url: "sqlite://:memory:", settings: { dev: true } })),
      Layer.provideMerge(FetchHttpClient.layer)
    )
    await Effect.runPromise(program.pipe(Effect.provide(layer), Effect.scoped))
  })
})
