/**
 * Python-isms that appear inside the reference's error texts (protocol.md §1.5, B8): `str()` of
 * floats, `type()` reprs, `repr()` of containers, the key dump of a searched object, the `…`
 * obfuscation, `json.dumps` with default separators (unsafe-logging dumps).
 */
import { obfuscate } from "@session-pro/core"
import type { PyValue } from "./PyJson.js"

/** Python `repr(float)`: shortest round-trip digits, scientific outside 1e-4 <= |x| < 1e16. */
export const pyFloatRepr = (x: number): string => {
  if (Number.isNaN(x)) return "nan"
  if (x === Infinity) return "inf"
  if (x === -Infinity) return "-inf"
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0"
  const [mant, expStr] = x.toExponential().split("e")
  const exp = Number(expStr)
  const neg = mant.startsWith("-")
  const digits = mant.replace("-", "").replace(".", "")
  const sign = neg ? "-" : ""
  if (exp >= -5 && exp < 16) {
    // fixed notation; Python keeps at least one digit after the point
    if (exp >= 0) {
      const intPart = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits.padEnd(exp + 1, "0")
      const frac = digits.length > exp + 1 ? digits.slice(exp + 1) : "0"
      return `${sign}${intPart}.${frac}`
    }
    if (exp >= -4) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
  const e = Math.abs(exp).toString().padStart(2, "0")
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${e}`
}

/** `str(type(v))`. */
export const pyTypeName = (v: PyValue): string => {
  switch (v.type) {
    case "null":
      return "<class 'NoneType'>"
    case "bool":
      return "<class 'bool'>"
    case "int":
      return "<class 'int'>"
    case "float":
      return "<class 'float'>"
    case "str":
      return "<class 'str'>"
    case "list":
      return "<class 'list'>"
    case "dict":
      return "<class 'dict'>"
  }
}

/** Python `repr(str)`: single quotes unless the text has `'` and no `"`. */
export const pyStrRepr = (s: string): string => {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'"
  let out = quote
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (ch === quote || ch === "\\") out += "\\" + ch
    else if (ch === "\n") out += "\\n"
    else if (ch === "\r") out += "\\r"
    else if (ch === "\t") out += "\\t"
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0")
    else if (c >= 0xd800 && c <= 0xdfff) out += "\\u" + c.toString(16).padStart(4, "0")
    else out += ch
  }
  return out + quote
}

/** `repr(v)` (what `str()` gives for containers). */
export const pyRepr = (v: PyValue): string => {
  switch (v.type) {
    case "null":
      return "None"
    case "bool":
      return v.value ? "True" : "False"
    case "int":
      return v.value.toString()
    case "float":
      return pyFloatRepr(v.value)
    case "str":
      return pyStrRepr(v.value)
    case "list":
      return `[${v.items.map(pyRepr).join(", ")}]`
    case "dict":
      return `{${Array.from(v.entries, ([k, x]) => `${pyStrRepr(k)}: ${pyRepr(x)}`).join(", ")}}`
  }
}

/** `str(v)`: like repr except a string is printed raw. */
export const pyStr = (v: PyValue): string => (v.type === "str" ? v.value : pyRepr(v))

/** `json.dumps(v)` with Python's defaults: `", "` / `": "`, ASCII-only, insertion order. */
export const pyJsonDumps = (v: PyValue): string => {
  switch (v.type) {
    case "null":
      return "null"
    case "bool":
      return v.value ? "true" : "false"
    case "int":
      return v.value.toString()
    case "float":
      return Number.isNaN(v.value) ? "NaN" : v.value === Infinity ? "Infinity" : v.value === -Infinity ? "-Infinity" : pyFloatRepr(v.value)
    case "str":
      return asciiJsonString(v.value)
    case "list":
      return `[${v.items.map(pyJsonDumps).join(", ")}]`
    case "dict":
      return `{${Array.from(v.entries, ([k, x]) => `${asciiJsonString(k)}: ${pyJsonDumps(x)}`).join(", ")}}`
  }
}

const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** A JSON string literal with `ensure_ascii`: everything outside 0x20–0x7e as lowercase `\uXXXX`. */
export const asciiJsonString = (s: string): string => {
  // Fast path: hex keys, ids and most messages need no escaping at all.
  if (PLAIN_ASCII.test(s)) return `"${s}"`
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x22) out += '\\"'
    else if (c === 0x5c) out += "\\\\"
    else if (c === 0x0a) out += "\\n"
    else if (c === 0x0d) out += "\\r"
    else if (c === 0x09) out += "\\t"
    else if (c === 0x08) out += "\\b"
    else if (c === 0x0c) out += "\\f"
    else if (c < 0x20 || c > 0x7e) out += "\\u" + c.toString(16).padStart(4, "0") // UTF-16 units = surrogate pairs
    else out += s[i]
  }
  return out + '"'
}

/**
 * The reference's key dump for "missing key" messages (unsafe_logging = false):
 * `dictionary w/ keys: {a, b: {c}}`, or `{FAILED TO EXTRACT KEYS}` when not searching an object.
 */
export const keyDump = (container: PyValue): string => {
  const keys = (d: PyValue & { type: "dict" }): string =>
    Array.from(d.entries, ([k, v]) => (v.type === "dict" ? `${k}: {${keys(v)}}` : k)).join(", ")
  return container.type === "dict" ? `dictionary w/ keys: {${keys(container)}}` : "dictionary w/ keys: {FAILED TO EXTRACT KEYS}"
}

/** `obfuscate(s)` (code points): the core domain's masking, re-exported for the protocol formatters. */
export { obfuscate }

/** Obfuscated unless unsafe logging is on. */
export const mask = (s: string, unsafeLogging: boolean): string => (unsafeLogging ? s : obfuscate(s))
