/**
 * Flask `jsonify` (non-debug), byte for byte (protocol.md §1.3): keys sorted at every level,
 * compact separators, ASCII-only output with lowercase `\uXXXX` (0x7f too), integers in plain
 * decimal of any size, one trailing `\n`. `JSON.stringify` differs on key order and non-ASCII.
 */
import { asciiJsonString, pyFloatRepr } from "./PyFormat.js"

export type WireValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | ReadonlyArray<WireValue>
  | RawJson
  | { readonly [key: string]: WireValue | undefined }

/** Text already in this module's output format, written verbatim (see `rawJsonList`). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** Python sorts `str` keys by code point; JS `sort()` compares UTF-16 units (differs above the BMP). */
const compareCodePoints = (a: string, b: string): number => {
  // Fast path: below the surrogate range UTF-16 unit order is code point order.
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const p = a.charCodeAt(i)
    const q = b.charCodeAt(i)
    if (p !== q) return p < 0xd800 && q < 0xd800 ? p - q : compareSlow(a, b)
  }
  return a.length === b.length ? 0 : compareSlow(a, b)
}

const compareSlow = (a: string, b: string): number => {
  const x = Array.from(a)
  const y = Array.from(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!
    if (d !== 0) return d
  }
  return x.length - y.length
}

/** `"key":` literals by key: responses reuse a small set of field names. */
const keyLiterals = new Map<string, string>()
const keyLiteral = (k: string): string => {
  let lit = keyLiterals.get(k)
  if (lit === undefined) {
    lit = `${asciiJsonString(k)}:`
    if (keyLiterals.size >= 4096) keyLiterals.clear()
    keyLiterals.set(k, lit)
  }
  return lit
}

const writeNumber = (v: number): string => {
  // String() is plain decimal for safe integers; larger ones would use an exponent.
  if (Number.isSafeInteger(v)) return String(v)
  if (Number.isInteger(v)) return BigInt(v).toString()
  if (Number.isNaN(v)) return "NaN"
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity"
  return pyFloatRepr(v)
}

/** The keys of `o` with a defined value, in Python's sorted order (usually already sorted). */
const sortedKeys = (o: { readonly [key: string]: WireValue | undefined }): Array<string> => {
  const keys = Object.keys(o)
  let sorted = true
  let defined = true
  for (let i = 0; i < keys.length; i++) {
    if (o[keys[i]] === undefined) defined = false
    if (i > 0 && sorted && compareCodePoints(keys[i - 1], keys[i]) > 0) sorted = false
  }
  const out = defined ? keys : keys.filter((k) => o[k] !== undefined)
  return sorted ? out : out.sort(compareCodePoints)
}

const write = (v: WireValue): string => {
  if (v === null) return "null"
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false"
    case "bigint":
      return v.toString()
    case "number":
      return writeNumber(v)
    case "string":
      return asciiJsonString(v)
  }
  if (v instanceof RawJson) return v.text
  if (Array.isArray(v)) {
    const a = v as ReadonlyArray<WireValue>
    if (a.length === 0) return "[]"
    let out = `[${write(a[0])}`
    for (let i = 1; i < a.length; i++) out += `,${write(a[i])}`
    return `${out}]`
  }
  const o = v as { readonly [key: string]: WireValue | undefined }
  const keys = sortedKeys(o)
  if (keys.length === 0) return "{}"
  let out = `{${keyLiteral(keys[0])}${write(o[keys[0]]!)}`
  for (let i = 1; i < keys.length; i++) out += `,${keyLiteral(keys[i])}${write(o[keys[i]]!)}`
  return `${out}}`
}

/** Encodings of frozen lists by identity (see `rawJsonList`); dropped with the list. */
const encodedLists = new WeakMap<ReadonlyArray<WireValue>, RawJson>()

/**
 * A list that is usually the same from one response to the next (the revocation list: hundreds of
 * items, the bulk of the response). The core hands out the same frozen array while the revocation
 * ticket is unchanged, so a frozen list is encoded once and its text reused; any other list is
 * written as usual.
 */
export const rawJsonList = (items: ReadonlyArray<WireValue>): WireValue => {
  if (items.length < 8 || !Object.isFrozen(items)) return items
  let raw = encodedLists.get(items)
  if (raw === undefined) {
    // Flattened once (a Latin-1 round trip): the written text is a rope of every piece, which
    // each response would otherwise walk again when encoding.
    raw = new RawJson(Buffer.from(write(items), "latin1").toString("latin1"))
    encodedLists.set(items, raw)
  }
  return raw
}

/** The response body text. */
export const jsonify = (v: WireValue): string => `${write(v)}\n`

/**
 * The response body bytes. The text is pure ASCII, so Latin-1 = UTF-8 here (and Buffer's Latin-1
 * encoder is several times faster than TextEncoder). A plain Uint8Array view, not a Buffer.
 */
export const jsonifyBytes = (v: WireValue): Uint8Array => {
  const b = Buffer.from(jsonify(v), "latin1")
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/** Exactly what the desktop client checks (D2). */
export const JSON_CONTENT_TYPE = "application/json"

export const successEnvelope = (result: WireValue): WireValue => ({ result, status: 0 })
export const errorEnvelope = (status: number, errors: ReadonlyArray<string>): WireValue => ({ errors, status })
