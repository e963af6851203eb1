/**
 * PII masking of the reference (`base.py` obfuscate): strings shorter than 3 code points stay as they
 * are, otherwise `s[:k] + "…" + s[-k:]` with `k = max(floor(n × 0.3), 1)`. Lengths count code points,
 * as Python does.
 */
export const obfuscate = (s: string): string => {
  const cps = Array.from(s)
  const n = cps.length
  if (n < 3) return s
  const k = Math.max(Math.floor(n * 0.3), 1)
  return cps.slice(0, k).join("") + "\u2026" + cps.slice(n - k).join("")
}

/** `maybe_obfuscate`: unmasked with unsafe logging, `'None'` for absent values. */
export const maybeObfuscate = (v: string | number | null | undefined, unsafeLogging: boolean): string =>
  v === null || v === undefined ? "None" : unsafeLogging ? String(v) : obfuscate(String(v))
