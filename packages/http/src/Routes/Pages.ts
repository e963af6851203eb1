/**
 * Framework-level responses with Werkzeug's exact bytes (vectors `err_unknown_route`,
 * `err_get_method`), plus the JSON envelope response helpers.
 */
import { errorEnvelope, JSON_CONTENT_TYPE, jsonifyBytes, successEnvelope, type WireValue } from "../Protocol/Wire.js"

export interface RouteResponse {
  readonly status: number
  /** Lower-case names, in the order the reference emits them (onion RMETA preserves it). */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

const utf8 = (s: string) => new TextEncoder().encode(s)
export const HTML_CONTENT_TYPE = "text/html; charset=utf-8"

const page = (status: number, title: string, text: string): RouteResponse => ({
  status,
  headers: { "content-type": HTML_CONTENT_TYPE },
  body: utf8(`<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${text}</p>\n`)
})

export const notFound = (): RouteResponse =>
  page(
    404,
    "Not Found",
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."
  )

export const ALLOW = "POST, OPTIONS"

export const methodNotAllowed = (): RouteResponse => {
  const p = page(405, "Method Not Allowed", "The method is not allowed for the requested URL.")
  return { ...p, headers: { ...p.headers, allow: ALLOW } }
}

/** Flask's automatic OPTIONS answer. */
export const options = (): RouteResponse => ({
  status: 200,
  headers: { "content-type": HTML_CONTENT_TYPE, allow: ALLOW },
  body: new Uint8Array(0)
})

export const badRequest = (): RouteResponse =>
  page(400, "Bad Request", "The browser (or proxy) sent a request that this server could not understand.")

/** Shared by every JSON response (read-only: frozen so that a mutation fails loudly). */
const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ "content-type": JSON_CONTENT_TYPE })

export const json = (value: WireValue, status = 200): RouteResponse => ({
  status,
  headers: JSON_HEADERS,
  body: jsonifyBytes(value)
})

export const success = (result: WireValue): RouteResponse => json(successEnvelope(result))
export const failure = (status: number, errors: ReadonlyArray<string>): RouteResponse => json(errorEnvelope(status, errors))
