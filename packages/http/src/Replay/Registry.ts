/**
 * Step-kind registry of the fixture replay. A plugin contributes, per scenario, services for the
 * replay runtime (e.g. a store fake + handler), handlers for step kinds, and hooks around the generic
 * `client_request` step. The built-in plugin (`CoreSteps`) handles `apple_notification`,
 * `client_request` and `expire_sweep`; `GooglePlugin` adapts `GoogleSteps.ts` for `google_notification`.
 */
import type { Effect, Layer, Scope } from "effect"
import type { Fixture, FixtureStep } from "./Fixture.js"

export interface HttpReply {
  readonly status: number
  readonly text: string
  /** Parsed body, or undefined when it is not JSON. */
  readonly json: unknown
}

export interface ReplayContext {
  readonly fixture: Fixture
  readonly file: string
  /** Loopback base URL of the real HTTP app (client routes + Apple webhook). */
  readonly baseUrl: string
  /** Sets the server clock (what handlers see as "now"). */
  readonly setNow: (ms: number) => void
  readonly now: () => number
  readonly post: (path: string, body: unknown) => Effect.Effect<HttpReply>
  /** Runs an effect against the replay's services (core, Apple, plugin layers). */
  readonly provide: <A, E, R>(eff: Effect.Effect<A, E, R>) => Effect.Effect<A, E>
}

export interface StepResult {
  /** Short description for the step's output line (no identifiers beyond the fixture's own labels). */
  readonly label: string
  /** Client-visible mismatches (HTTP status/body, expect.*); the runner adds the state_after diff. */
  readonly problems: ReadonlyArray<string>
}

export type StepRun = (step: FixtureStep, ctx: ReplayContext) => Effect.Effect<StepResult, unknown>

export interface ClientRequestHook {
  readonly before: (step: FixtureStep, ctx: ReplayContext) => Effect.Effect<unknown, unknown>
  readonly after: (step: FixtureStep, ctx: ReplayContext, before: unknown) => Effect.Effect<ReadonlyArray<string>, unknown>
}

export interface PluginInstance {
  /** Added to the replay runtime over the core services (before the HTTP app is built). */
  readonly layer?: Layer.Layer<any, unknown, any> | undefined
  readonly steps?: Readonly<Record<string, StepRun>> | undefined
  readonly clientRequest?: ClientRequestHook | undefined
}

export interface ReplayPlugin {
  readonly name: string
  /** Per scenario; undefined when the plugin has nothing to do for it. Resources live for the scenario. */
  readonly setup: (fixture: Fixture) => Effect.Effect<PluginInstance | undefined, unknown, Scope.Scope>
}
