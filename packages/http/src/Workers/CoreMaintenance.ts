/**
 * `Maintenance` over the real core: the sweep is core's `ExpirySweep.run` (atomic once-per-day
 * guard, D4g), reports are core's `Reports.generate` (§6.16, period ends computed in code so
 * FLAG-4 is fixed), and the health ping is a `SELECT 1` on the backend's connection.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { ExpirySweep, Reports } from "@session-pro/core"
import { Effect, Layer } from "effect"
import { Maintenance } from "./Maintenance.js"

export const CoreMaintenance = Layer.effect(
  Maintenance,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const sweeper = yield* ExpirySweep
    const reports = yield* Reports
    return {
      sweep: (ts) =>
        Effect.map(sweeper.run(ts), (r) => ({
          alreadyDone: r.alreadyDone,
          payments: r.payments,
          revocations: r.revocations,
          users: r.users,
          appleNotifications: r.appleNotifications,
          googleNotifications: r.googleNotifications
        })),
      report: (period, count) => reports.generate(period, "human", count),
      ping: Effect.asVoid(sql`SELECT 1`),
      outboxDepth: Effect.map(
        sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM google_ack_outbox WHERE done_unix_ts_ms IS NULL`,
        (rows) => Number(rows[0]?.n ?? 0)
      )
    }
  })
)
