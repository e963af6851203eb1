/**
 * What the background workers need from the core, behind one seam so the workers can be tested
 * with a stub under TestClock and wired to `@session-pro/core` in `CoreMaintenance.ts`.
 */
import { Context, Effect, PubSub } from "effect"

export interface SweepSummary {
  readonly alreadyDone: boolean
  readonly payments: number
  readonly revocations: number
  readonly users: number
  readonly appleNotifications: number
  readonly googleNotifications: number
}

export type ReportPeriod = "daily" | "weekly" | "monthly"

export interface MaintenanceShape {
  /** §6.11 with the atomic once-per-ts guard (D4g). */
  readonly sweep: (boundaryMs: number) => Effect.Effect<SweepSummary, unknown>
  /** §6.16 human-format report, `count` rows. */
  readonly report: (period: ReportPeriod, count: number) => Effect.Effect<string, unknown>
  /** The database answers (`SELECT 1`). */
  readonly ping: Effect.Effect<void, unknown>
  /** Google acknowledgements waiting in the outbox (D4c). */
  readonly outboxDepth: Effect.Effect<number, unknown>
}

export class Maintenance extends Context.Tag("@session-pro/http/Maintenance")<Maintenance, MaintenanceShape>() {}

/** Published by the sweep worker after each day boundary; backup and reports follow it. */
export interface DayEvent {
  readonly boundaryMs: number
  /** done = this process swept; already_done = another process did (it also does the rest). */
  readonly outcome: "done" | "already_done" | "failed"
}

export class MaintenanceEvents extends Context.Tag("@session-pro/http/MaintenanceEvents")<
  MaintenanceEvents,
  PubSub.PubSub<DayEvent>
>() {
  static readonly make = PubSub.unbounded<DayEvent>()
}
