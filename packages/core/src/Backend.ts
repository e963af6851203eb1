import * as SqlClient from "@effect/sql/SqlClient"
import { Layer } from "effect"
import { BackendKeys } from "./BackendKeys.js"
import { StorageError } from "./Domain/Errors.js"
import { BackendSettings, type BackendSettingsShape } from "./Domain/Settings.js"
import { Entitlement } from "./Entitlement.js"
import { ExpirySweep } from "./ExpirySweep.js"
import { Inspect } from "./Inspect.js"
import { AppleNotificationHistory, GoogleNotificationHistory } from "./NotificationHistory.js"
import { ProDetails } from "./ProDetails.js"
import { Reports } from "./Reports.js"
import { UserErrors } from "./UserErrors.js"
import { GenerationIndex } from "./GenerationIndex.js"
import { GoogleAckOutbox } from "./GoogleAckOutbox.js"
import { Payments } from "./Payments.js"
import { Proofs } from "./Proofs.js"
import { Redemption } from "./Redemption.js"
import { Revocations } from "./Revocations.js"
import { type BootstrapOptions, Database, type Dialect } from "./Storage/Database.js"

export type BackendServices =
  | Database
  | SqlClient.SqlClient
  | BackendSettings
  | BackendKeys
  | Entitlement
  | GenerationIndex
  | Revocations
  | Redemption
  | Payments
  | GoogleAckOutbox
  | Proofs
  | ProDetails
  | UserErrors
  | AppleNotificationHistory
  | GoogleNotificationHistory
  | ExpirySweep
  | Inspect
  | Reports

/** Wire every core service over an already-provided Database + BackendSettings. */
export const servicesLayer = <E, R>(base: Layer.Layer<Database | SqlClient.SqlClient | BackendSettings, E, R>) => {
  const keys = BackendKeys.Default.pipe(Layer.provideMerge(base))
  const l2 = Layer.mergeAll(
    Entitlement.Default,
    GenerationIndex.Default,
    Revocations.Default,
    GoogleAckOutbox.Default,
    UserErrors.Default,
    AppleNotificationHistory.Default,
    GoogleNotificationHistory.Default,
    ExpirySweep.Default,
    Inspect.Default,
    Reports.Default
  ).pipe(
    Layer.provideMerge(keys)
  )
  const l3 = Redemption.Default.pipe(Layer.provideMerge(l2))
  const l4 = Payments.Default.pipe(Layer.provideMerge(l3))
  const l5 = Layer.mergeAll(Proofs.Default, ProDetails.Default).pipe(Layer.provideMerge(l4))
  return l5
}

export interface BackendLayerOptions {
  readonly url: string
  readonly settings?: Partial<BackendSettingsShape> | undefined
  readonly bootstrap?: Omit<BootstrapOptions, "dev"> | undefined
}

/** Everything wired together: what http, stores, tests and examples provide. */
export const layer = (options: BackendLayerOptions): Layer.Layer<BackendServices, StorageError> => {
  const settings = { ...BackendSettings.defaults, ...options.settings }
  const db = Database.layer({ url: options.url, bootstrap: { ...options.bootstrap, dev: settings.dev } })
  return servicesLayer(Layer.merge(db, BackendSettings.layer(settings)))
}

/** Tests: `layerSqlite(":memory:")`. */
export const layerSqlite = (
  filename: string,
  settings?: Partial<BackendSettingsShape>,
  bootstrap?: Omit<BootstrapOptions, "dev">
): Layer.Layer<BackendServices, StorageError> => {
  const s = { ...BackendSettings.defaults, ...settings }
  return servicesLayer(Layer.merge(Database.layerSqlite(filename, { ...bootstrap, dev: s.dev }), BackendSettings.layer(s)))
}

/** Over a host-provided SqlClient (the host owns the connection). */
export const layerFromClient = (
  dialect: Dialect,
  settings?: Partial<BackendSettingsShape>,
  bootstrap?: Omit<BootstrapOptions, "dev">
): Layer.Layer<Exclude<BackendServices, SqlClient.SqlClient>, StorageError, SqlClient.SqlClient> => {
  const s = { ...BackendSettings.defaults, ...settings }
  const base = Layer.merge(Database.layerFromClient(dialect, { ...bootstrap, dev: s.dev }), BackendSettings.layer(s))
  return servicesLayer(Layer.provideMerge(base, Layer.context<SqlClient.SqlClient>())) as any
}
