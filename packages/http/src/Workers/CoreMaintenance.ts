/**
 * `Maintenance` over the real core: the sweep is core's `ExpirySweep.run` (atomic once-per-day
 * guard, D4g), reports are core's `Reports.generate` (§6.16 with FLAG-4 fixed), and the
 * health ping is a `SELECT 1` on the backend's connection.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Core from "@session-pro/core"
import { Context, Effect, Layer } from "effect"
import { Maintenance } from "./Maintenance.js"

interface CoreSweepResult {
  readonly alreadyDone: boolean
  readonly payments: number | bigint
  readonly revocations: number | bigint
  readonly users: number | bigint
  readonly appleNotifications: number | bigint
  readonly googleNotifications?: number | bigint
}

// Looked up by name so this file builds while the core's sweep is still being written; the shape is
// the contract of docs/core-api.md (`ExpirySweep.run(ts)`).
const core = Core as unknown as Record<string, Record<string, unknown> | undefined>
const coreSweep = core.ExpirySweep as { run?: (ts: number) => Effect.Effect<CoreSweepResult, unknown, any> } | undefined
const coreReports = core.Reports as
  | { generate?: (period: string, format: "human", limit?: number) => Effect.Effect<string, unknown, any> }
  | undefined

export const CoreMaintenance = Layer.effect(
  Maintenance,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // The whole backend context, so the core accessor finds whatever services it needs.
    const ctx = (yield* Effect.context<never>()) as Context.Context<any>
    return {
      sweep: (ts) =>
        coreSweep?.run
          ? Effect.map(Effect.provide(coreSweep.run(ts), ctx), (r) => ({
            alreadyDone: r.alreadyDone,
            payments: Number(r.payments),
            revocations: Number(r.revocations),
            users: Number(r.users),
            appleNotifications: Number(r.appleNotifications),
            googleNotifications: Number(r.googleNotifications ?? 0)
          }))
          : Effect.fail(new Error("the core's ExpirySweep is not available in this build")),
      report: (period, count) =>
        coreReports?.generate
          ? Effect.provide(coreReports.generate(period, "human", count), ctx)
          : Effect.fail(new Error("the core's Reports are not available in this build")),
      ping: Effect.asVoid(sql`SELECT 1`)
    }
  })
)
