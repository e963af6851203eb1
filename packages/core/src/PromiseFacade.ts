import * as SqlClient from "@effect/sql/SqlClient"
import { Cause, Effect, Exit, Layer, ManagedRuntime } from "effect"
import * as Backend from "./Backend.js"
import type { BackendSettingsShape } from "./Domain/Settings.js"
import { ExpirySweep } from "./ExpirySweep.js"
import { GoogleAckOutbox } from "./GoogleAckOutbox.js"
import { Inspect } from "./Inspect.js"
import { AppleNotificationHistory, GoogleNotificationHistory } from "./NotificationHistory.js"
import { Payments } from "./Payments.js"
import { ProDetails } from "./ProDetails.js"
import { Proofs } from "./Proofs.js"
import { Reports } from "./Reports.js"
import { Revocations } from "./Revocations.js"
import type { BootstrapOptions, Dialect } from "./Storage/Database.js"
import { UserErrors } from "./UserErrors.js"

export type OpenBackendTarget =
  | { readonly sqlite: string }
  | { readonly url: string }
  | { readonly sqlClient: SqlClient.SqlClient; readonly dialect: Dialect }

type Fn = (...args: Array<any>) => Effect.Effect<any, any, any>
/** Every Effect-returning method becomes a Promise-returning one; Effect values become thunks. */
type Promisified<S> = {
  readonly [K in keyof S]: S[K] extends (...args: infer A) => Effect.Effect<infer R, any, any> ? (...args: A) => Promise<R>
    : S[K] extends Effect.Effect<infer R, any, any> ? () => Promise<R>
    : S[K]
}

const promisify = <S extends object>(service: S, run: <A>(eff: Effect.Effect<A, any, any>) => Promise<A>): Promisified<S> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(service)) {
    if (typeof v === "function") out[k] = (...args: Array<any>) => {
      const r = (v as Fn)(...args)
      return Effect.isEffect(r) ? run(r) : r
    }
    else if (Effect.isEffect(v)) out[k] = () => run(v as Effect.Effect<unknown>)
    else out[k] = v
  }
  return out as Promisified<S>
}

/**
 * Promise facade for non-Effect hosts: every core operation as an async method. Failures reject with the
 * core's tagged errors (`RequestRejected`, `PaymentError`, `StorageError`). Time is the real clock.
 */
export const openBackend = async (
  target: OpenBackendTarget,
  settings?: Partial<BackendSettingsShape>,
  bootstrap?: Omit<BootstrapOptions, "dev">
) => {
  const layer = "sqlite" in target
    ? Backend.layerSqlite(target.sqlite, settings, bootstrap)
    : "url" in target
    ? Backend.layer({ url: target.url, settings, bootstrap })
    : (Backend.layerFromClient(target.dialect, settings, bootstrap).pipe(
      Layer.provide(Layer.succeed(SqlClient.SqlClient, target.sqlClient))
    ) as unknown as ReturnType<typeof Backend.layerSqlite>)
  const runtime = ManagedRuntime.make(layer)
  const services = await runtime.runPromise(Effect.all({
    proofs: Proofs,
    payments: Payments,
    revocations: Revocations,
    proDetails: ProDetails,
    userErrors: UserErrors,
    appleHistory: AppleNotificationHistory,
    googleHistory: GoogleNotificationHistory,
    googleAckOutbox: GoogleAckOutbox,
    expirySweep: ExpirySweep,
    inspect: Inspect,
    reports: Reports
  }))
  // Reject with the core's own error (not Effect's FiberFailure wrapper) so hosts can check `_tag`.
  const run = async <A>(eff: Effect.Effect<A, any, any>): Promise<A> => {
    const exit = await runtime.runPromiseExit(eff as Effect.Effect<A, any, never>)
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  }
  return {
    proofs: promisify(services.proofs, run),
    payments: promisify(services.payments, run),
    revocations: promisify(services.revocations, run),
    proDetails: promisify(services.proDetails, run),
    userErrors: promisify(services.userErrors, run),
    appleHistory: promisify(services.appleHistory, run),
    googleHistory: promisify(services.googleHistory, run),
    googleAckOutbox: promisify(services.googleAckOutbox, run),
    expirySweep: promisify(services.expirySweep, run),
    inspect: promisify(services.inspect, run),
    reports: promisify(services.reports, run),
    /** Run any Effect against this backend's services. */
    run,
    close: () => runtime.dispose()
  }
}

export type OpenedBackend = Awaited<ReturnType<typeof openBackend>>
