/**
 * Python `json.loads(bytes)` emulation (protocol.md §1.2), because acceptance and error texts of
 * the reference depend on it:
 * - text encoding detected like `json.detect_encoding` (UTF-8 with optional BOM, UTF-16/32 either
 *   endian), decoded with `surrogatepass`;
 * - `NaN` / `Infinity` / `-Infinity` literals; integers of arbitrary size (`bigint`, never rounded);
 * - duplicate keys: last value wins, first position kept (Python dict assignment);
 * - booleans stay booleans here: whether they count as integers is the field reader's decision
 *   (D4a says they do not);
 * - failures carry CPython's message, e.g. `Expecting value: line 1 column 1 (char 0)`.
 * Never throws: every input gives a value or a message.
 */
import { isAscii } from "node:buffer"
import * as Either from "effect/Either"

export type PyValue =
  | { readonly type: "null" }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "int"; readonly value: bigint }
  | { readonly type: "float"; readonly value: number }
  | { readonly type: "str"; readonly value: string }
  | { readonly type: "list"; readonly items: ReadonlyArray<PyValue> }
  | { readonly type: "dict"; readonly entries: ReadonlyMap<string, PyValue> }

export const PyNull: PyValue = { type: "null" }
const PY_TRUE: PyValue = { type: "bool", value: true }
const PY_FALSE: PyValue = { type: "bool", value: false }

/** The text of the exception `json.loads` raised (what `str(e)` gives). */
export class PyJsonError {
  readonly _tag = "PyJsonError"
  constructor(readonly message: string) {}
}

// ---------------------------------------------------------------------------------------------
// bytes -> code points

/** `UnicodeDecodeError.__str__`: one byte → its value, several → a position range. */
const decodeError = (codec: string, b: Uint8Array, start: number, end: number, reason: string, base = 0) =>
  new PyJsonError(
    end - start === 1
      ? `'${codec}' codec can't decode byte 0x${b[base + start].toString(16).padStart(2, "0")} in position ${start}: ${reason}`
      : `'${codec}' codec can't decode bytes in position ${start}-${end - 1}: ${reason}`
  )

const isCont = (c: number | undefined) => c !== undefined && (c & 0xc0) === 0x80

/**
 * CPython's UTF-8 decoder (stringlib `utf8_decode` + `unicode_decode_utf8`) with the
 * `surrogatepass` handler, so error ranges and reasons match: positions are relative to `base`
 * (after a stripped BOM, as `utf-8-sig` does).
 */
/** Code points; a typed array keeps 1 MiB bodies fast (no per-element boxing). */
export type CodePoints = Uint32Array

/** Growable-free output: a body never decodes to more code points than it has bytes. */
class CpOut {
  readonly buf: Uint32Array
  n = 0
  constructor(max: number) {
    this.buf = new Uint32Array(max)
  }
  push(cp: number) {
    this.buf[this.n++] = cp
  }
  done(): Uint32Array {
    return this.buf.subarray(0, this.n)
  }
}

const decodeUtf8 = (b: Uint8Array, base: number): Either.Either<CodePoints, PyJsonError> => {
  const out = new CpOut(b.length)
  const n = b.length
  let i = base
  const err = (len: number, reason: string) => Either.left(decodeError("utf-8", b, i - base, i - base + len, reason, base))
  while (i < n) {
    const c = b[i]
    if (c < 0x80) {
      out.push(c)
      i++
      continue
    }
    if (c < 0xc2) return err(1, "invalid start byte")
    if (c < 0xe0) {
      if (i + 1 >= n) return err(n - i, "unexpected end of data")
      if (!isCont(b[i + 1])) return err(1, "invalid continuation byte")
      out.push(((c & 0x1f) << 6) | (b[i + 1] & 0x3f))
      i += 2
      continue
    }
    if (c < 0xf0) {
      const c2 = b[i + 1]
      const c3 = b[i + 2]
      // surrogatepass: an encoded surrogate (ED A0..BF 80..BF) is accepted as a lone surrogate
      if (c === 0xed && c2 !== undefined && c2 >= 0xa0 && c2 <= 0xbf && isCont(c3)) {
        out.push(0xd000 | ((c2 & 0x3f) << 6) | (c3! & 0x3f))
        i += 3
        continue
      }
      const bad2 = !isCont(c2) || (c === 0xe0 && c2! < 0xa0) || (c === 0xed && c2! >= 0xa0)
      if (n - i < 3) {
        if (n - i >= 2 && bad2) return err(1, "invalid continuation byte")
        return err(n - i, "unexpected end of data")
      }
      if (bad2) return err(1, "invalid continuation byte")
      if (!isCont(c3)) return err(2, "invalid continuation byte")
      out.push(((c & 0x0f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f))
      i += 3
      continue
    }
    if (c < 0xf5) {
      const c2 = b[i + 1]
      const c3 = b[i + 2]
      const c4 = b[i + 3]
      const bad2 = !isCont(c2) || (c === 0xf0 && c2! < 0x90) || (c === 0xf4 && c2! >= 0x90)
      if (n - i < 4) {
        if (n - i >= 2 && bad2) return err(1, "invalid continuation byte")
        if (n - i >= 3 && !isCont(c3)) return err(2, "invalid continuation byte")
        return err(n - i, "unexpected end of data")
      }
      if (bad2) return err(1, "invalid continuation byte")
      if (!isCont(c3)) return err(2, "invalid continuation byte")
      if (!isCont(c4)) return err(3, "invalid continuation byte")
      out.push(((c & 0x07) << 18) | ((c2 & 0x3f) << 12) | ((c3 & 0x3f) << 6) | (c4 & 0x3f))
      i += 4
      continue
    }
    return err(1, "invalid start byte")
  }
  return Either.right(out.done())
}

const decodeUtf16 = (b: Uint8Array, le: boolean, start: number, codec: string): Either.Either<CodePoints, PyJsonError> => {
  const out = new CpOut(b.length)
  let i = start
  const unit = (j: number) => (le ? b[j] | (b[j + 1] << 8) : (b[j] << 8) | b[j + 1])
  while (i < b.length) {
    if (i + 1 >= b.length) return Either.left(decodeError(codec, b, i, b.length, "truncated data"))
    const u = unit(i)
    if (u >= 0xd800 && u <= 0xdbff && i + 3 < b.length) {
      const v = unit(i + 2)
      if (v >= 0xdc00 && v <= 0xdfff) {
        out.push(0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00))
        i += 4
        continue
      }
    }
    out.push(u) // lone surrogates pass (surrogatepass)
    i += 2
  }
  return Either.right(out.done())
}

const decodeUtf32 = (b: Uint8Array, le: boolean, start: number, codec: string): Either.Either<CodePoints, PyJsonError> => {
  const out = new CpOut(b.length)
  for (let i = start; i < b.length; i += 4) {
    if (i + 3 >= b.length) return Either.left(decodeError(codec, b, i, b.length, "truncated data"))
    const cp = le
      ? (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0
      : ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0
    if (cp > 0x10ffff) return Either.left(decodeError(codec, b, i, i + 4, "code point not in range(0x110000)"))
    out.push(cp)
  }
  return Either.right(out.done())
}

/** `json.detect_encoding` followed by `bytes.decode(enc, 'surrogatepass')`. */
export const decodeText = (b: Uint8Array): Either.Either<CodePoints, PyJsonError> => {
  const starts = (...p: Array<number>) => b.length >= p.length && p.every((x, i) => b[i] === x)
  if (starts(0xff, 0xfe, 0, 0)) return decodeUtf32(b, true, 4, "utf-32-le")
  if (starts(0, 0, 0xfe, 0xff)) return decodeUtf32(b, false, 4, "utf-32-be")
  if (starts(0xff, 0xfe)) return decodeUtf16(b, true, 2, "utf-16-le")
  if (starts(0xfe, 0xff)) return decodeUtf16(b, false, 2, "utf-16-be")
  if (starts(0xef, 0xbb, 0xbf)) return decodeUtf8(b, 3)
  if (b.length >= 4) {
    if (b[0] === 0) return b[1] ? decodeUtf16(b, false, 0, "utf-16-be") : decodeUtf32(b, false, 0, "utf-32-be")
    if (b[1] === 0) return b[2] || b[3] ? decodeUtf16(b, true, 0, "utf-16-le") : decodeUtf32(b, true, 0, "utf-32-le")
  } else if (b.length === 2) {
    if (b[0] === 0) return decodeUtf16(b, false, 0, "utf-16-be")
    if (b[1] === 0) return decodeUtf16(b, true, 0, "utf-16-le")
  }
  return decodeUtf8(b, 0)
}

// ---------------------------------------------------------------------------------------------
// the scanner (CPython's `_json.c` c_make_scanner / scanstring, strict mode)

/** Python's default `sys.get_int_max_str_digits()`. */
export const INT_MAX_STR_DIGITS = 4300
/** Deeper nesting is refused like CPython's RecursionError (and keeps our stack safe). */
export const MAX_DEPTH = 900

class Fail {
  constructor(readonly message: string, readonly pos: number | undefined) {}
}
/** CPython's StopIteration(idx): becomes "Expecting value" at the top. */
class Stop {
  constructor(readonly pos: number) {}
}

const WS = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
const DIGIT = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39

const hexVal = (c: number): number =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1

/**
 * What the scanner reads: decoded code points, or the body bytes themselves when the body is
 * ASCII text that `json.detect_encoding` takes for UTF-8 (then byte i is code point i).
 */
type Units = CodePoints | Uint8Array

const fromCps = (cps: Units, start: number, end: number): string => {
  if (cps instanceof Uint8Array) {
    if (end - start <= 16) {
      let s = ""
      for (let i = start; i < end; i++) s += String.fromCharCode(cps[i])
      return s
    }
    return Buffer.from(cps.buffer, cps.byteOffset, cps.byteLength).toString("latin1", start, end)
  }
  if (end - start <= 16) {
    let s = ""
    for (let i = start; i < end; i++) s += String.fromCodePoint(cps[i])
    return s
  }
  let s = ""
  for (let i = start; i < end; i += 4096) {
    s += String.fromCodePoint.apply(null, cps.subarray(i, Math.min(end, i + 4096)) as unknown as Array<number>)
  }
  return s
}

const SIMPLE_ESCAPES: Readonly<Record<number, string>> = {
  0x22: '"', 0x5c: "\\", 0x2f: "/", 0x62: "\b", 0x66: "\f", 0x6e: "\n", 0x72: "\r", 0x74: "\t"
}

class Scanner {
  /** Where the last scanned value ended (saves a tuple allocation per value). */
  end = 0
  constructor(readonly s: Units) {}

  private ret(v: PyValue, end: number): PyValue {
    this.end = end
    return v
  }

  /** Four hex digits of a `\uXXXX` escape starting at `at`. */
  private hex4(at: number): number {
    const s = this.s
    // CPython wants at least one character after the 4 digits (`end >= len` is an error).
    if (at + 4 >= s.length) throw new Fail("Invalid \\uXXXX escape", at - 1)
    let v = 0
    for (let k = 0; k < 4; k++) {
      const h = hexVal(s[at + k])
      if (h < 0) throw new Fail("Invalid \\uXXXX escape", at - 1)
      v = (v << 4) | h
    }
    return v
  }

  skipWs(i: number): number {
    while (i < this.s.length && WS(this.s[i])) i++
    return i
  }

  match(i: number, word: string): boolean {
    for (let k = 0; k < word.length; k++) if (this.s[i + k] !== word.charCodeAt(k)) return false
    return true
  }

  /** `scan_once`: a value at exactly `i` (no leading whitespace). */
  value(i: number, depth: number): PyValue {
    const s = this.s
    if (i >= s.length) throw new Stop(i)
    const c = s[i]
    switch (c) {
      case 0x22:
        return this.string(i + 1)
      case 0x7b:
        if (depth >= MAX_DEPTH) throw new Fail("maximum recursion depth exceeded while decoding a JSON object from a unicode string", undefined)
        return this.object(i + 1, depth + 1)
      case 0x5b:
        if (depth >= MAX_DEPTH) throw new Fail("maximum recursion depth exceeded while decoding a JSON array from a unicode string", undefined)
        return this.array(i + 1, depth + 1)
      case 0x6e:
        if (this.match(i, "null")) return this.ret(PyNull, i + 4)
        break
      case 0x74:
        if (this.match(i, "true")) return this.ret(PY_TRUE, i + 4)
        break
      case 0x66:
        if (this.match(i, "false")) return this.ret(PY_FALSE, i + 5)
        break
      case 0x4e:
        if (this.match(i, "NaN")) return this.ret({ type: "float", value: NaN }, i + 3)
        break
      case 0x49:
        if (this.match(i, "Infinity")) return this.ret({ type: "float", value: Infinity }, i + 8)
        break
      case 0x2d:
        if (this.match(i, "-Infinity")) return this.ret({ type: "float", value: -Infinity }, i + 9)
        break
    }
    return this.number(i)
  }

  /** `_match_number_unicode`: `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`. */
  number(start: number): PyValue {
    const s = this.s
    let i = start
    if (s[i] === 0x2d) i++
    if (s[i] === 0x30) i++
    else if (DIGIT(s[i]) && s[i] !== 0x30) while (DIGIT(s[i])) i++
    else throw new Stop(start)
    const intEnd = i
    let isFloat = false
    if (s[i] === 0x2e && DIGIT(s[i + 1])) {
      i += 2
      while (DIGIT(s[i])) i++
      isFloat = true
    }
    if (s[i] === 0x65 || s[i] === 0x45) {
      let j = i + 1
      if (s[j] === 0x2d || s[j] === 0x2b) j++
      if (DIGIT(s[j])) {
        while (DIGIT(s[j])) j++
        i = j
        isFloat = true
      }
    }
    const digits = intEnd - start - (s[start] === 0x2d ? 1 : 0)
    if (!isFloat && digits <= 15) {
      // fast path: exact in a double, no string round trip
      let v = 0
      for (let k = intEnd - digits; k < intEnd; k++) v = v * 10 + (s[k] - 0x30)
      return this.ret({ type: "int", value: BigInt(s[start] === 0x2d ? -v : v) }, intEnd)
    }
    const text = fromCps(s, start, isFloat ? i : intEnd)
    if (isFloat) return this.ret({ type: "float", value: Number(text) }, i)
    if (digits > INT_MAX_STR_DIGITS) {
      // CPython raises ValueError (not JSONDecodeError) for this; the message is what the handler prints.
      throw new Fail(
        `Exceeds the limit (${INT_MAX_STR_DIGITS} digits) for integer string conversion: value has ${digits} digits; use sys.set_int_max_str_digits() to increase the limit`,
        undefined
      )
    }
    return this.ret({ type: "int", value: BigInt(text) }, intEnd)
  }

  /** `scanstring_unicode` (strict): `begin` is just after the opening quote. */
  string(begin: number): PyValue {
    const s = this.s
    let i = begin
    let out = ""
    for (;;) {
      let j = i
      while (j < s.length && s[j] !== 0x22 && s[j] !== 0x5c) {
        if (s[j] < 0x20) throw new Fail("Invalid control character at", j)
        j++
      }
      if (j >= s.length) throw new Fail("Unterminated string starting at", begin - 1)
      out += fromCps(s, i, j)
      if (s[j] === 0x22) return this.ret({ type: "str", value: out }, j + 1)
      // backslash
      j++
      if (j >= s.length) throw new Fail("Unterminated string starting at", begin - 1)
      const e = s[j]
      if (e !== 0x75) {
        const r = SIMPLE_ESCAPES[e]
        if (r === undefined) throw new Fail("Invalid \\escape", j - 1)
        out += r
        i = j + 1
        continue
      }
      let cp = this.hex4(j + 1)
      j += 5
      if (cp >= 0xd800 && cp <= 0xdbff && j + 6 < s.length && s[j] === 0x5c && s[j + 1] === 0x75) {
        const lo = this.hex4(j + 2)
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00)
          j += 6
        }
      }
      out += String.fromCodePoint(cp)
      i = j
    }
  }

  object(start: number, depth: number): PyValue {
    const s = this.s
    const entries = new Map<string, PyValue>()
    let i = this.skipWs(start)
    if (i < s.length && s[i] === 0x7d) return this.ret({ type: "dict", entries }, i + 1)
    for (;;) {
      if (i >= s.length || s[i] !== 0x22) throw new Fail("Expecting property name enclosed in double quotes", i)
      const key = this.string(i + 1)
      i = this.skipWs(this.end)
      if (i >= s.length || s[i] !== 0x3a) throw new Fail("Expecting ':' delimiter", i)
      i = this.skipWs(i + 1)
      const v = this.value(i, depth)
      entries.set((key as { value: string }).value, v)
      i = this.skipWs(this.end)
      if (i < s.length && s[i] === 0x7d) return this.ret({ type: "dict", entries }, i + 1)
      if (i >= s.length || s[i] !== 0x2c) throw new Fail("Expecting ',' delimiter", i)
      i = this.skipWs(i + 1)
    }
  }

  array(start: number, depth: number): PyValue {
    const s = this.s
    const items: Array<PyValue> = []
    let i = this.skipWs(start)
    if (i < s.length && s[i] === 0x5d) return this.ret({ type: "list", items }, i + 1)
    for (;;) {
      items.push(this.value(i, depth))
      i = this.skipWs(this.end)
      if (i < s.length && s[i] === 0x5d) return this.ret({ type: "list", items }, i + 1)
      if (i >= s.length || s[i] !== 0x2c) throw new Fail("Expecting ',' delimiter", i)
      i = this.skipWs(i + 1)
    }
  }
}

/** `JSONDecodeError.__str__`: `msg: line L column C (char P)`. */
const withPosition = (s: Units, msg: string, pos: number): string => {
  let line = 1
  let lastNl = -1
  for (let k = 0; k < pos && k < s.length; k++) {
    if (s[k] === 0x0a) {
      line++
      lastNl = k
    }
  }
  return `${msg}: line ${line} column ${pos - lastNl} (char ${pos})`
}

/** Parses already-decoded text given as code points. */
export const parseCodePoints = (s: CodePoints): Either.Either<PyValue, PyJsonError> => parseUnits(s)

const parseUnits = (s: Units): Either.Either<PyValue, PyJsonError> => {
  const sc = new Scanner(s)
  try {
    const start = sc.skipWs(0)
    const v = sc.value(start, 0)
    const after = sc.skipWs(sc.end)
    if (after !== s.length) return Either.left(new PyJsonError(withPosition(s, "Extra data", after)))
    return Either.right(v)
  } catch (e) {
    if (e instanceof Stop) return Either.left(new PyJsonError(withPosition(s, "Expecting value", e.pos)))
    if (e instanceof Fail) return Either.left(new PyJsonError(e.pos === undefined ? e.message : withPosition(s, e.message, e.pos)))
    if (e instanceof RangeError) return Either.left(new PyJsonError("maximum recursion depth exceeded while decoding a JSON document"))
    throw e
  }
}

/** `json.loads(body)` for a request body. */
export const parse = (body: Uint8Array): Either.Either<PyValue, PyJsonError> =>
  isPlainUtf8Ascii(body) ? parseUnits(body) : Either.flatMap(decodeText(body), parseUnits)

/** ASCII that `decodeText` would read as BOM-less UTF-8 (no NUL among the first bytes). */
const isPlainUtf8Ascii = (b: Uint8Array): boolean => {
  if (b.length === 2 || b.length >= 4 ? b[0] === 0 || b[1] === 0 : false) return false
  return isAscii(b)
}

/** `json.loads(str)` (e.g. a vectors file already in memory). */
export const parseString = (text: string): Either.Either<PyValue, PyJsonError> => {
  const cps = Uint32Array.from(Array.from(text, (ch) => ch.codePointAt(0)!))
  if (cps[0] === 0xfeff) return Either.left(new PyJsonError(withPosition(cps, "Unexpected UTF-8 BOM (decode using utf-8-sig)", 0)))
  return parseCodePoints(cps)
}

// ---------------------------------------------------------------------------------------------
// conversions

/** A plain JS view (ints as bigint, dicts as objects) for comparisons in tests and the runner. */
export type Plain = null | boolean | bigint | number | string | ReadonlyArray<Plain> | { readonly [k: string]: Plain }

export const toPlain = (v: PyValue): Plain => {
  switch (v.type) {
    case "null":
      return null
    case "bool":
    case "int":
    case "float":
    case "str":
      return v.value
    case "list":
      return v.items.map(toPlain)
    case "dict": {
      const o: Record<string, Plain> = {}
      for (const [k, x] of v.entries) {
        // A "__proto__" key is an own property, as with JSON.parse (an assignment would set the prototype).
        if (k === "__proto__") Object.defineProperty(o, k, { value: toPlain(x), enumerable: true, writable: true, configurable: true })
        else o[k] = toPlain(x)
      }
      return o
    }
  }
}
