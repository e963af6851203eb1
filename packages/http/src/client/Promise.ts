/**
 * The client for async/await hosts: the same operations as Promises (failures reject with the
 * tagged errors of Errors.ts). HTTP goes through `fetch` unless another `HttpClient` layer is given.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type ClientOptions, make, type ProClientApi } from "./Client.js"

type Promisified<S> = {
  readonly [K in keyof S]: S[K] extends (...args: infer A) => Effect.Effect<infer R, any, any> ? (...args: A) => Promise<R>
    : S[K] extends Effect.Effect<infer R, any, any> ? () => Promise<R>
    : S[K]
}

export type ProClientPromise = Promisified<Omit<ProClientApi, "now">> & {
  /** Client time used for request timestamps. */
  readonly now: () => Promise<number>
  /** Frees the HTTP client's resources. */
  readonly close: () => Promise<void>
}

export const createProClient = async (
  baseUrl: string,
  options: ClientOptions & { readonly httpClient?: Layer.Layer<HttpClient.HttpClient> } = {}
): Promise<ProClientPromise> => {
  const runtime = ManagedRuntime.make(options.httpClient ?? FetchHttpClient.layer)
  const api = await runtime.runPromise(make(baseUrl, options))
  // Reject with the tagged error itself (not Effect's FiberFailure wrapper), so `instanceof` works.
  const run = <A>(e: Effect.Effect<A, any, never>) =>
    runtime.runPromiseExit(e).then((exit) => Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause)))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(api)) {
    out[k] = typeof v === "function"
      ? (...args: Array<unknown>) => run((v as (...a: Array<unknown>) => Effect.Effect<unknown>)(...args))
      : Effect.isEffect(v)
      ? () => run(v as Effect.Effect<unknown>)
      : v
  }
  out.close = () => runtime.dispose()
  return out as ProClientPromise
}
