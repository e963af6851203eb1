/**
 * How request bytes reach a server: plain HTTP through `@effect/platform`'s `HttpClient`, or
 * in-process through the server's own route table (`ClientRoutes.dispatch`, no socket — tests,
 * embedded use). Onion wrapping is done on top of either by the client.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import { dispatch, type RouteServices } from "../Routes/ClientRoutes.js"
import { TransportError } from "./Errors.js"

export interface RawResponse {
  readonly status: number
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

export interface Transport {
  /** Where requests go, for messages (`http://127.0.0.1:8000`, `in-process`). */
  readonly target: string
  readonly send: (
    method: "GET" | "POST",
    path: string,
    body: Uint8Array | undefined,
    contentType: string
  ) => Effect.Effect<RawResponse, TransportError>
}

/** HTTP to `baseUrl` with whatever `HttpClient` the caller provides (Fetch, Node, Undici). */
export const http = (baseUrl: string): Effect.Effect<Transport, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => {
    const base = baseUrl.replace(/\/+$/, "")
    return {
      target: base,
      send: (method, path, body, contentType) =>
        Effect.gen(function*() {
          const url = `${base}${path}`
          const request = method === "GET"
            ? HttpClientRequest.get(url)
            : HttpClientRequest.post(url).pipe(HttpClientRequest.bodyUint8Array(body ?? new Uint8Array(0), contentType))
          const response = yield* client.execute(request)
          const bytes = new Uint8Array(yield* response.arrayBuffer)
          const headers: Record<string, string> = {}
          for (const [k, v] of Object.entries(response.headers)) headers[k.toLowerCase()] = String(v)
          return { status: response.status, headers, body: bytes }
        }).pipe(
          Effect.scoped,
          Effect.mapError((e) => new TransportError({ path, message: `could not reach ${base}${path}: ${e.message}`, cause: e }))
        )
    }
  })

/** Through the server's route table in this process (the services must be in context). */
export const inProcess: Effect.Effect<Transport, never, RouteServices> = Effect.map(
  Effect.context<RouteServices>(),
  (context) => ({
    target: "in-process",
    send: (method, path, body, contentType) =>
      dispatch({ method, path, headers: { "content-type": contentType }, body: body ?? new Uint8Array(0) }).pipe(
        Effect.provide(context)
      )
  })
)
