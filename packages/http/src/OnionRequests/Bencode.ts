/**
 * A small, strict bencode codec (byte strings, integers, lists, dictionaries).
 *
 * The onion inner request/reply only ever uses lists of byte strings, but a complete codec is
 * cheap and the client SDK and tests use it. The inner-request parser of the reference is
 * *laxer* than strict bencode (leading zeros in lengths, a stray trailing byte ignored); that
 * quirky parser lives in `Inner.ts`, not here.
 */
import * as Either from "effect/Either"

export type Value = Uint8Array | bigint | ReadonlyArray<Value> | ReadonlyMap<string, Value>

export class BencodeError extends Error {
  override readonly name = "BencodeError"
  constructor(message: string, readonly offset: number) {
    super(`${message} at byte ${offset}`)
  }
}

const COLON = 0x3a
const enc = new TextEncoder()
const ascii = (s: string): Uint8Array => enc.encode(s)

const concatAll = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** `len ":" bytes` — the one element type the onion protocol uses. */
export const encodeString = (bytes: Uint8Array | string): Uint8Array => {
  const b = typeof bytes === "string" ? enc.encode(bytes) : bytes
  return concatAll([ascii(`${b.length}:`), b])
}

/** `l ... e` of byte strings, exactly what the onion request/reply plaintexts are. */
export const encodeStringList = (items: ReadonlyArray<Uint8Array | string>): Uint8Array =>
  concatAll([ascii("l"), ...items.map(encodeString), ascii("e")])

const encodeInto = (v: Value, out: Array<Uint8Array>): void => {
  if (v instanceof Uint8Array) {
    out.push(encodeString(v))
  } else if (typeof v === "bigint") {
    out.push(ascii(`i${v.toString()}e`))
  } else if (v instanceof Map) {
    out.push(ascii("d"))
    // Keys are compared as raw bytes (UTF-8), which is what the bencode spec requires.
    const keys = [...(v as ReadonlyMap<string, Value>).keys()].map((k) => [k, enc.encode(k)] as const)
    keys.sort(([, a], [, b]) => compareBytes(a, b))
    for (const [k, kb] of keys) {
      out.push(encodeString(kb))
      encodeInto((v as ReadonlyMap<string, Value>).get(k)!, out)
    }
    out.push(ascii("e"))
  } else {
    out.push(ascii("l"))
    for (const x of v as ReadonlyArray<Value>) encodeInto(x, out)
    out.push(ascii("e"))
  }
}

export const encode = (v: Value): Uint8Array => {
  const out: Array<Uint8Array> = []
  encodeInto(v, out)
  return concatAll(out)
}

const compareBytes = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1")

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39

/** Depth cap so a hostile `llll…` cannot blow the stack. */
const MAX_DEPTH = 64

const decodeAt = (b: Uint8Array, pos: number, depth: number): [Value, number] => {
  if (depth > MAX_DEPTH) throw new BencodeError("nesting too deep", pos)
  const c = b[pos]
  if (c === undefined) throw new BencodeError("unexpected end of input", pos)
  if (isDigit(c)) {
    let p = pos
    while (isDigit(b[p])) p++
    if (b[p] !== COLON) throw new BencodeError("expected ':' after string length", p)
    if (p - pos > 15) throw new BencodeError("string length exceeds input", pos)
    const digits = latin1(b.subarray(pos, p))
    if (digits.length > 1 && digits[0] === "0") throw new BencodeError("leading zero in string length", pos)
    const len = Number(digits)
    const start = p + 1
    if (!Number.isSafeInteger(len) || start + len > b.length) throw new BencodeError("string length exceeds input", pos)
    return [b.slice(start, start + len), start + len]
  }
  if (c === 0x69 /* i */) {
    const end = b.indexOf(0x65, pos + 1)
    if (end < 0) throw new BencodeError("unterminated integer", pos)
    const s = latin1(b.subarray(pos + 1, end))
    if (!/^(0|-?[1-9][0-9]*)$/.test(s)) throw new BencodeError("malformed integer", pos)
    return [BigInt(s), end + 1]
  }
  if (c === 0x6c /* l */) {
    const items: Array<Value> = []
    let p = pos + 1
    while (b[p] !== 0x65) {
      const [v, next] = decodeAt(b, p, depth + 1)
      items.push(v)
      p = next
    }
    return [items, p + 1]
  }
  if (c === 0x64 /* d */) {
    const m = new Map<string, Value>()
    let p = pos + 1
    let prev: Uint8Array | undefined
    while (b[p] !== 0x65) {
      if (!isDigit(b[p])) throw new BencodeError("dictionary key must be a string", p)
      const [k, afterKey] = decodeAt(b, p, depth + 1) as [Uint8Array, number]
      if (prev !== undefined && compareBytes(prev, k) >= 0) throw new BencodeError("dictionary keys not sorted/unique", p)
      prev = k
      const [v, next] = decodeAt(b, afterKey, depth + 1)
      m.set(new TextDecoder().decode(k), v)
      p = next
    }
    return [m, p + 1]
  }
  throw new BencodeError(`unexpected byte 0x${c.toString(16).padStart(2, "0")}`, pos)
}

/** Decodes exactly one value spanning the whole input. Never throws. */
export const decode = (bytes: Uint8Array): Either.Either<Value, BencodeError> => {
  try {
    const [v, end] = decodeAt(bytes, 0, 0)
    if (end !== bytes.length) return Either.left(new BencodeError("trailing data", end))
    return Either.right(v)
  } catch (e) {
    return Either.left(e instanceof BencodeError ? e : new BencodeError(String(e), 0))
  }
}

/** Decodes a list whose elements are all byte strings (the onion plaintext shape). */
export const decodeStringList = (bytes: Uint8Array): Either.Either<ReadonlyArray<Uint8Array>, BencodeError> =>
  Either.flatMap(decode(bytes), (v) =>
    Array.isArray(v) && v.every((x) => x instanceof Uint8Array)
      ? Either.right(v as ReadonlyArray<Uint8Array>)
      : Either.left(new BencodeError("expected a list of byte strings", 0))
  )
