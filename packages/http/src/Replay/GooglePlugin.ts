/**
 * Adapts the Google engineer's `GoogleSteps.ts` to the replay registry: per Google scenario it starts
 * the Android Publisher fake, adds the Google services to the runtime, registers `google_notification`
 * and wraps `client_request` (drain the acknowledgement outbox, compare outbound calls).
 */
import { Effect } from "effect"
import type { FixtureStep } from "./Fixture.js"
import * as GoogleSteps from "./GoogleSteps.js"
import type { ReplayPlugin } from "./Registry.js"

export const googlePlugin: ReplayPlugin = {
  name: "google",
  setup: (fixture) =>
    Effect.gen(function*() {
      if (!GoogleSteps.isGoogleScenario(fixture)) return undefined
      const replay = yield* GoogleSteps.makeGoogleReplay(fixture.config.google as unknown as GoogleSteps.GoogleFixtureConfig)
      return {
        layer: replay.layer,
        steps: {
          google_notification: (step: FixtureStep, ctx) =>
            ctx.provide(GoogleSteps.runGoogleNotification(replay, step as unknown as GoogleSteps.GoogleNotificationStep)).pipe(
              Effect.map((r) => ({ label: `google_notification ${r.detail ?? ""}`.trim(), problems: r.problems }))
            )
        },
        clientRequest: {
          before: () => Effect.sync(() => GoogleSteps.beforeClientRequest(replay)),
          after: (step, ctx, before) =>
            ctx.provide(
              GoogleSteps.afterClientRequest(
                replay,
                step as unknown as GoogleSteps.ClientRequestStep,
                before as { readonly acknowledgeCalls: number }
              )
            ).pipe(Effect.map((r) => r.problems))
        }
      }
    })
}
