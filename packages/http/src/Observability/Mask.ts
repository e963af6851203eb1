/**
 * PII masking (domain.md §11.2). Messages written by other modules are free text, so besides the
 * reference's explicit `obfuscate` helpers the logger also scrubs anything shaped like a key,
 * token, order id or transaction id — defence in depth against FLAG-15-style leaks.
 */

/** `s[:n] + "…" + s[-n:]` with `n = max(floor(len*0.3), 1)`; strings shorter than 3 stay. */
export const obfuscate = (s: string): string => {
  if (s.length < 3) return s
  const n = Math.max(Math.floor(s.length * 0.3), 1)
  return `${s.slice(0, n)}\u2026${s.slice(-n)}`
}

export const maybeObfuscate = (v: unknown, unsafeLogging: boolean): string => {
  if (v === null || v === undefined) return "None"
  const s = v instanceof Uint8Array ? Buffer.from(v).toString("hex") : String(v)
  return unsafeLogging ? s : obfuscate(s)
}

const PATTERNS: ReadonlyArray<RegExp> = [
  // PostgreSQL URL passwords
  /(?<=[a-z+]+:\/\/[^:/@\s]*:)[^@\s]+(?=@)/gi,
  // keys, signatures, hashes (hex, 32+ chars, optional 0x)
  /\b(?:0x)?[0-9a-fA-F]{32,}\b/g,
  // Google order ids
  /\bGPA\.\d{4}-\d{4}-\d{4}-\d{5}(?:\.\.\d+)?\b/g,
  // Google purchase tokens, JWS, bearer tokens: long runs of token characters
  /[A-Za-z0-9_\-.]{40,}/g,
  // Apple transaction ids (15+ digits; millisecond timestamps are 13 digits and stay readable)
  /\b\d{15,}\b/g
]

/** Masks identifiers inside free text. */
export const scrubText = (text: string): string => {
  let out = text
  for (const re of PATTERNS) out = out.replace(re, (m) => obfuscate(m))
  return out
}

/** Annotation keys whose values are identifiers. */
export const SENSITIVE_KEY = /key|token|order|tx|sig|secret|password|seed|salt|account|master|rotating/i
