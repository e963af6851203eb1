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
  | { readonly [key: string]: WireValue | undefined }

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

const write = (v: WireValue): string => {
  if (v === null) return "null"
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false"
    case "bigint":
      return v.toString()
    case "number":
      // String() is plain decimal for safe integers; larger ones would use an exponent.
      if (Number.isSafeInteger(v)) return String(v)
      if (Number.isInteger(v)) return BigInt(v).toString()
      if (Number.isNaN(v)) return "NaN"
      if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity"
      return pyFloatRepr(v)
    case "string":
      return asciiJsonString(v)
  }
  if (Array.isArray(v)) return `[${(v as ReadonlyArray<WireValue>).map(write).join(",")}]`
  const o = v as { readonly [key: string]: WireValue | undefined }
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort(compareCodePoints)
  return `{${keys.map((k) => `${asciiJsonString(k)}:${write(o[k]!)}`).join(",")}}`
}

/** The response body text. */
export const jsonify = (v: WireValue): string => `${write(v)}\n`

/** The response body bytes (pure ASCII, so UTF-8 = Latin-1 here). */
export const jsonifyBytes = (v: WireValue): Uint8Array => new TextEncoder().encode(jsonify(v))

/** Exactly what the desktop client checks (D2). */
export const JSON_CONTENT_TYPE = "application/json"

export const successEnvelope = (result: WireValue): WireValue => ({ result, status: 0 })
export const errorEnvelope = (status: number, errors: ReadonlyArray<string>): WireValue => ({ errors, status })
