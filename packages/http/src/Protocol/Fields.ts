/**
 * The reference's field-extraction helpers (protocol.md §1.5): every reader appends its message to
 * a shared list and returns `undefined` on failure, so a route reports all problems of a step at
 * once, in request order.
 */
import type { PyValue } from "./PyJson.js"
import { keyDump, pyJsonDumps, pyStr, pyTypeName } from "./PyFormat.js"

export type PyDict = PyValue & { readonly type: "dict" }
export const EMPTY_DICT: PyDict = { type: "dict", entries: new Map() }

export interface ReadOptions {
  readonly unsafeLogging: boolean
}

/** Accumulates messages for one parse step. */
export class Errors {
  readonly messages: Array<string> = []
  constructor(readonly options: ReadOptions) {}
  add(message: string): void {
    this.messages.push(message)
  }
  get any(): boolean {
    return this.messages.length > 0
  }
}

const dump = (container: PyValue, o: ReadOptions): string => (o.unsafeLogging ? pyJsonDumps(container) : keyDump(container))

const typeText = (v: PyValue, o: ReadOptions): string => (o.unsafeLogging ? `(${pyTypeName(v)}) ${pyStr(v)}` : pyTypeName(v))

const lookup = (container: PyValue, key: string, errs: Errors): PyValue | undefined => {
  const v = container.type === "dict" ? container.entries.get(key) : undefined
  if (v === undefined) errs.add(`Required key "${key}" is missing from JSON: ${dump(container, errs.options)}`)
  return v
}

/** The value at `key` when it is of type `type`; otherwise the reference's message naming `noun`. */
const readTyped = <T extends PyValue["type"]>(type: T, noun: string) =>
(container: PyValue, key: string, errs: Errors): (PyValue & { readonly type: T }) | undefined => {
  const v = lookup(container, key, errs)
  if (v === undefined) return undefined
  if (v.type === type) return v as PyValue & { readonly type: T }
  errs.add(`Key "${key}" value was not ${noun}: "${typeText(v, errs.options)}"`)
  return undefined
}

const intValue = readTyped("int", "an integer")
const strValue = readTyped("str", "a string")
const boolValue = readTyped("bool", "a bool")

/**
 * An integer. D4a: JSON booleans are *not* integers here (the reference accepts them because
 * `isinstance(True, int)`), so `false`/`true` get the "not an integer" message with `<class 'bool'>`.
 */
export const readInt = (container: PyValue, key: string, errs: Errors): bigint | undefined =>
  intValue(container, key, errs)?.value

export const readStr = (container: PyValue, key: string, errs: Errors): string | undefined =>
  strValue(container, key, errs)?.value

export const readObject: (container: PyValue, key: string, errs: Errors) => PyDict | undefined = readTyped("dict", "an object")

export const readBool = (container: PyValue, key: string, errs: Errors): boolean | undefined =>
  boolValue(container, key, errs)?.value

/** Whether an optional key is present (dev fields are only read when present). */
export const has = (container: PyValue, key: string): boolean => container.type === "dict" && container.entries.has(key)

// ---------------------------------------------------------------------------------------------
// hex (Python bytes.fromhex)

const isPySpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d)
const digitValue = (c: number | undefined): number =>
  c === undefined ? 99 : c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : 99

/** Nibble values of ASCII hex digits (255 = not a hex digit). */
const NIBBLE = (() => {
  const t = new Uint8Array(128).fill(255)
  for (let c = 0x30; c <= 0x39; c++) t[c] = c - 0x30
  for (let c = 0x61; c <= 0x66; c++) t[c] = c - 0x57
  for (let c = 0x41; c <= 0x46; c++) t[c] = c - 0x37
  return t
})()

/** Fast path: an even number of hex digits and nothing else (what every real request sends). */
const plainHex = (s: string): Uint8Array | undefined => {
  const n = s.length
  if ((n & 1) !== 0) return undefined
  const out = new Uint8Array(n >> 1)
  for (let i = 0; i < n; i += 2) {
    const a = s.charCodeAt(i)
    const b = s.charCodeAt(i + 1)
    const hi = a < 128 ? NIBBLE[a] : 255
    const lo = b < 128 ? NIBBLE[b] : 255
    if ((hi | lo) > 15) return undefined
    out[i >> 1] = (hi << 4) | lo
  }
  return out
}

/** Code points in `s` (= `len(s)` in Python); no allocation for strings without surrogates. */
const codePointLength = (s: string): number => {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--
        i++
      }
    }
  }
  return n
}

/**
 * `bytes.fromhex(s)`: case-insensitive, ASCII whitespace allowed *between* byte pairs; the error
 * text names the first offending code point like CPython does.
 */
export const pyFromHex = (s: string): { ok: true; bytes: Uint8Array } | { ok: false; error: string } => {
  const fast = plainHex(s)
  if (fast !== undefined) return { ok: true, bytes: fast }
  const cps = Array.from(s, (ch) => ch.codePointAt(0)!)
  const fail = (pos: number) => ({ ok: false as const, error: `non-hexadecimal number found in fromhex() arg at position ${pos}` })
  const nonAscii = cps.findIndex((c) => c > 0x7f)
  if (nonAscii >= 0) return fail(nonAscii)
  const out: Array<number> = []
  let i = 0
  while (i < cps.length) {
    if (isPySpace(cps[i])) {
      while (i < cps.length && isPySpace(cps[i])) i++
      if (i >= cps.length) break
    }
    const top = digitValue(cps[i])
    if (top >= 16) return fail(i)
    i++
    const bot = digitValue(cps[i])
    if (bot >= 16) return fail(i)
    i++
    out.push((top << 4) | bot)
  }
  return { ok: true, bytes: Uint8Array.from(out) }
}

export const HexLabel = {
  masterPkey: "Master public key",
  rotatingPkey: "Rotating public key",
  masterSig: "Master key signature",
  rotatingSig: "Rotating key signature"
} as const

/**
 * A hex field of `chars` characters (protocol.md §1.5). D4b: a key whose text contains whitespace
 * decodes to fewer than 32 bytes, which crashes the reference (`VerifyKey`) → 500; here it is a
 * readable status-2 error. Short signatures pass through unchanged (the reference only fails to
 * verify them, which is not a crash).
 */
export const decodeHex = (value: string, label: string, chars: number, errs: Errors, isKey: boolean): Uint8Array | undefined => {
  const len = codePointLength(value)
  if (len !== chars) {
    errs.add(`${label} was not ${chars} characters, was ${len} characters`)
    return undefined
  }
  const r = pyFromHex(value)
  if (!r.ok) {
    errs.add(`${label} was not valid hex: ${r.error}`)
    return undefined
  }
  if (isKey && r.bytes.length !== chars / 2) {
    errs.add(`${label} was not valid hex: contains whitespace, decoded to ${r.bytes.length} bytes instead of ${chars / 2}`)
    return undefined
  }
  return r.bytes
}
