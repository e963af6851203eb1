/**
 * The decrypted payloads (protocol.md §4.3/§4.4): the bencoded inner request the client sends
 * and the bencoded `[RMETA, DATA]` reply the server returns.
 *
 * `parseInnerRequest` mirrors the reference's `handle_v4_onionreq_plaintext` quirk for quirk
 * (leading zeros in lengths accepted, a single stray byte after META ignored, Python's
 * `json.loads` encoding detection), because apps in the field were tested against that code.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { asciiJsonString } from "../Protocol/PyFormat.js"
import { encodeStringList } from "./Bencode.js"

/** What the dispatcher receives: one in-process HTTP request. */
export interface InnerRequest {
  /** Upper-cased like Werkzeug does. */
  readonly method: string
  /** The endpoint up to the first `?`, not percent-decoded (it is WSGI `PATH_INFO` verbatim). */
  readonly path: string
  /** Everything after the first `?` (no `?`), `""` when absent. */
  readonly query: string
  /**
   * Lower-cased names (`_` folded to `-`, as the WSGI `HTTP_*` mapping does); `content-length`
   * dropped; `content-type` defaults to `application/octet-stream` like the reference's
   * sub-request. A form content type is passed through: the route must then see no body (§1.1).
   */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

/** What the dispatcher returns, and what the onion handler itself returns to the HTTP layer. */
export interface InnerResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

export type InvalidReason =
  | "NotAList"
  | "BadMetaElement"
  | "BadBodyElement"
  | "TooManyElements"
  | "MetaNotJson"
  | "MetaNotObject"
  | "BadMethod"
  | "BadEndpoint"
  | "BadHeaders"

export class InvalidInnerRequest extends Data.TaggedError("OnionInvalidInnerRequest")<{
  readonly reason: InvalidReason
}> {}

// ---------------------------------------------------------------------------------------------
// Python json.loads(bytes) text decoding

const decodeUtf32 = (b: Uint8Array, littleEndian: boolean, skipBom: boolean): string => {
  if (b.length % 4 !== 0) throw new Error("truncated utf-32")
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let s = ""
  for (let i = skipBom ? 4 : 0; i < b.length; i += 4) {
    const cp = dv.getUint32(i, littleEndian)
    if (cp > 0x10ffff) throw new Error("bad utf-32 code point")
    s += String.fromCodePoint(cp)
  }
  return s
}

/** `json.detect_encoding` + decode: UTF-8 (BOM tolerated), UTF-16 and UTF-32 either endian. */
interface Decoder {
  readonly decode: (b: Uint8Array) => string
}
const decoders = new Map<string, Decoder>()
/** A fatal decoder per (label, BOM handling), made once: `decode` without `stream` keeps no state. */
const decoder = (label: string, bom: boolean): Decoder => {
  const id = `${label}/${bom}`
  let d = decoders.get(id)
  if (d === undefined) {
    d = new TextDecoder(label, { fatal: true, ignoreBOM: !bom })
    decoders.set(id, d)
  }
  return d
}

// Plain byte comparisons, no closures per call (tsx's keepNames names each one as it is created).
export const decodePythonJsonText = (b: Uint8Array): string => {
  const b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3]
  if (b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) return decodeUtf32(b, true, true)
  if (b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff) return decodeUtf32(b, false, true)
  if (b0 === 0xff && b1 === 0xfe) return decoder("utf-16le", true).decode(b)
  if (b0 === 0xfe && b1 === 0xff) return decoder("utf-16be", true).decode(b)
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return decoder("utf-8", true).decode(b)
  if (b.length >= 4) {
    if (b0 === 0) return b1 ? decoder("utf-16be", false).decode(b) : decodeUtf32(b, false, false)
    if (b1 === 0) return b2 || b3 ? decoder("utf-16le", false).decode(b) : decodeUtf32(b, true, false)
  } else if (b.length === 2) {
    if (b0 === 0) return decoder("utf-16be", false).decode(b)
    if (b1 === 0) return decoder("utf-16le", false).decode(b)
  }
  return decoder("utf-8", false).decode(b)
}

// ---------------------------------------------------------------------------------------------
// inner request (server side)

const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39

/** The reference's `bencode_consume_string`: `digits ":" bytes`, leading zeros allowed. */
const consumeString = (b: Uint8Array): [Uint8Array, Uint8Array] | undefined => {
  let pos = 0
  while (isDigit(b[pos])) pos++
  if (pos === 0 || pos >= b.length || b[pos] !== 0x3a) return undefined
  // More than 15 significant digits can never fit in the (≤ 10 MiB) input; parsing them all
  // would only risk a huge spread. Python gets the same "exceeds buffer" outcome.
  const digits = Buffer.from(b.buffer, b.byteOffset, pos).toString("latin1").replace(/^0+(?=.)/, "")
  if (digits.length > 15) return undefined
  const len = Number(digits)
  pos++
  if (!Number.isSafeInteger(len) || pos + len > b.length) return undefined
  return [b.subarray(pos, pos + len), b.subarray(pos + len)]
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** Parses the decrypted inner request. Every failure means the encrypted 400 reply. Never throws. */
const fail = (reason: InvalidReason) => Either.left(new InvalidInnerRequest({ reason }))

export const parseInnerRequest = (plaintext: Uint8Array): Either.Either<InnerRequest, InvalidInnerRequest> => {
  if (plaintext.length < 2 || plaintext[0] !== 0x6c || plaintext[plaintext.length - 1] !== 0x65) return fail("NotAList")
  const elems = plaintext.subarray(1, plaintext.length - 1)
  const first = consumeString(elems)
  if (first === undefined) return fail("BadMetaElement")
  const [metaBytes, rest] = first
  let body: Uint8Array = new Uint8Array(0)
  // The reference only looks for a body when *more than one* byte follows META.
  if (rest.length > 1) {
    const second = consumeString(rest)
    if (second === undefined) return fail("BadBodyElement")
    if (second[1].length > 0) return fail("TooManyElements")
    // A view, not a copy: the plaintext is this request's own buffer.
    body = second[0]
  }
  let meta: unknown
  try {
    meta = JSON.parse(decodePythonJsonText(metaBytes))
  } catch {
    return fail("MetaNotJson")
  }
  if (!isPlainObject(meta)) return fail("MetaNotObject")
  const { method, endpoint } = meta
  if (typeof method !== "string") return fail("BadMethod")
  if (typeof endpoint !== "string" || !endpoint.startsWith("/")) return fail("BadEndpoint")
  const rawHeaders = Object.prototype.hasOwnProperty.call(meta, "headers") ? meta.headers : {}
  if (!isPlainObject(rawHeaders)) return fail("BadHeaders")
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(rawHeaders)) {
    if (typeof value !== "string") return fail("BadHeaders")
    const n = name.toLowerCase().replace(/_/g, "-")
    if (n === "content-length") continue
    headers[n] = value
  }
  if (headers["content-type"] === undefined) headers["content-type"] = "application/octet-stream"
  const q = endpoint.indexOf("?")
  return Either.right({
    method: method.toUpperCase(),
    path: q < 0 ? endpoint : endpoint.slice(0, q),
    query: q < 0 ? "" : endpoint.slice(q + 1),
    headers,
    body
  })
}

// ---------------------------------------------------------------------------------------------
// inner reply (server side)

/** Python `json.dumps` string literal with the default `ensure_ascii=True` (the protocol's formatter). */
export const pythonJsonString: (s: string) => string = asciiJsonString

/**
 * RMETA: Python `json.dumps({"code": status, "headers": {...}})` with default separators
 * (`", "` and `": "`); header names lower-cased in response order, `content-length` removed.
 */
export const encodeReplyMeta = (status: number, headers: Readonly<Record<string, string>>): string => {
  const h: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    const n = k.toLowerCase()
    if (n !== "content-length") h[n] = v
  }
  const entries = Object.entries(h).map(([k, v]) => `${pythonJsonString(k)}: ${pythonJsonString(v)}`)
  return `{"code": ${Math.trunc(status)}, "headers": {${entries.join(", ")}}}`
}

const END = new Uint8Array([0x65]) // "e"

/**
 * The reply plaintext in three pieces, `l len:RMETA len:` ‖ DATA ‖ `e`, so that a large DATA is
 * never copied into a frame (the pieces are encrypted one after the other).
 */
export const encodeInnerReplyParts = (response: InnerResponse): [Uint8Array, Uint8Array, Uint8Array] => {
  const meta = encodeReplyMeta(response.status, response.headers)
  const head = Buffer.from(`l${Buffer.byteLength(meta, "utf8")}:${meta}${response.body.length}:`, "utf8")
  return [new Uint8Array(head.buffer, head.byteOffset, head.byteLength), response.body, END]
}

/** The reply plaintext `l len:RMETA len:DATA e`. */
export const encodeInnerReply = (response: InnerResponse): Uint8Array =>
  encodeStringList([encodeReplyMeta(response.status, response.headers), response.body])

/** The reply the reference sends for any malformed inner request (§4.5). */
export const INVALID_REQUEST_REPLY: InnerResponse = {
  status: 400,
  headers: { "content-type": "text/plain; charset=utf-8" },
  body: new TextEncoder().encode("Invalid v4 onion request")
}

// ---------------------------------------------------------------------------------------------
// client side

export interface ClientInnerRequest {
  readonly method: string
  /** Path with optional `?query`; must start with `/`. */
  readonly endpoint: string
  /** Omitted from META when undefined (desktop sends `{}`, Android/iOS a Content-Type). */
  readonly headers?: Readonly<Record<string, string>>
  /** Omitted from the list when undefined (a single-element request). */
  readonly body?: Uint8Array | string
}

/** `l len:META [len:BODY] e` with META = compact `{"method","endpoint","headers"}` (reference helper order). */
export const encodeInnerRequest = (req: ClientInnerRequest): Uint8Array => {
  const meta = JSON.stringify({
    method: req.method,
    endpoint: req.endpoint,
    ...(req.headers !== undefined ? { headers: req.headers } : {})
  })
  return encodeStringList(req.body === undefined ? [meta] : [meta, req.body])
}

export interface InnerReply {
  readonly code: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
  /** The raw RMETA JSON text, for byte-exact assertions. */
  readonly meta: string
}

export class InvalidInnerReply extends Data.TaggedError("OnionInvalidInnerReply")<{ readonly reason: string }> {}

/** Client side: parses the decrypted reply strictly (exactly `[RMETA, DATA]`). Never throws. */
export const parseInnerReply = (plaintext: Uint8Array): Either.Either<InnerReply, InvalidInnerReply> => {
  const fail = (reason: string) => Either.left(new InvalidInnerReply({ reason }))
  if (plaintext.length < 2 || plaintext[0] !== 0x6c || plaintext[plaintext.length - 1] !== 0x65) return fail("not a bencoded list")
  const first = consumeString(plaintext.subarray(1, plaintext.length - 1))
  if (first === undefined) return fail("bad meta element")
  const second = consumeString(first[1])
  if (second === undefined) return fail("bad body element")
  if (second[1].length !== 0) return fail("trailing data")
  let meta: unknown
  const metaText = new TextDecoder().decode(first[0])
  try {
    meta = JSON.parse(metaText)
  } catch {
    return fail("meta is not JSON")
  }
  if (!isPlainObject(meta) || typeof meta.code !== "number") return fail("meta has no numeric code")
  const headers: Record<string, string> = {}
  if (isPlainObject(meta.headers)) for (const [k, v] of Object.entries(meta.headers)) if (typeof v === "string") headers[k] = v
  return Either.right({ code: meta.code, headers, body: second[0].slice(), meta: metaText })
}
