/** Small byte helpers shared by the crypto and storage modules. */
export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

/** Strict lowercase/uppercase hex → bytes; throws on odd length or a non-hex digit. */
export const fromHex = (s: string): Uint8Array => {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error(`invalid hex string of length ${s.length}`)
  return new Uint8Array(Buffer.from(s, "hex"))
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

export const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i]
  return d === 0
}

export const isZero = (a: Uint8Array): boolean => a.every((x) => x === 0)

export const u8 = (n: number): Uint8Array => {
  if (!Number.isInteger(n) || n < 0 || n > 0xff) throw new RangeError(`${n} does not fit in u8`)
  return Uint8Array.of(n)
}

export const u32le = (n: number): Uint8Array => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new RangeError(`${n} does not fit in u32`)
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n, true)
  return b
}

/** Accepts numbers (safe integers) and bigints; anything outside [0, 2^64) is a RangeError. */
export const u64le = (n: number | bigint): Uint8Array => {
  const v = typeof n === "bigint" ? n : Number.isSafeInteger(n) ? BigInt(n) : -1n
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`${n} does not fit in u64`)
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, v, true)
  return b
}
