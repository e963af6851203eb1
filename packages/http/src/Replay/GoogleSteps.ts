/**
 * Google steps of the fixture replay (fixtures/README.md, `fixture_format: 1`).
 *
 * - `google_notification`: the recorded `mocked_api` answers are served by the Android Publisher
 *   fake (loopback HTTP, so the real REST client, Schema decoding and base-plan lookup run), and
 *   `rtdn_message_data` goes through the real handler (`GooglePlayRtdn.handle`: API reads, then one
 *   DB transaction). The recorded test called the handler directly, not the Pub/Sub queue, so no
 *   `google_notification_history` row is written (the snapshots have none).
 * - `client_request` claims of a Google payment: the redemption enqueues the acknowledgement
 *   (D4c); `afterClientRequest` drains the outbox once — re-reading `subscriptionsv2.get` (answered
 *   with the latest notification's resource, as recorded) and acknowledging — and compares the
 *   outbound calls with `outbound_store_api_calls`.
 */
import { BackendSettings, type ProPlan, proPlanFromString } from "@session-pro/core"
import {
  AndroidPublisher,
  AndroidPublisherFake,
  GoogleAckOutboxWorker,
  GooglePlayRtdn
} from "@session-pro/stores"
import { Effect, Either, Layer, type Scope } from "effect"

/** `config.google` of a scenario. */
export interface GoogleFixtureConfig {
  readonly package_name: string
  readonly subscription_product_id: string
  readonly base_plan_to_plan?: Readonly<Record<string, string>>
  readonly mocked_monetization_plan_details?: {
    readonly billingPeriodDuration?: string
    readonly gracePeriodDuration?: string
  }
}

export interface GoogleNotificationStep {
  readonly index: number
  readonly kind: "google_notification"
  readonly rtdn_message_data: unknown
  readonly pubsub_message_synthetic?: { readonly message_id: string }
  readonly mocked_api: Readonly<Record<string, unknown>>
  readonly expect: { readonly handled: boolean; readonly errors: ReadonlyArray<string> }
}

export interface ClientRequestStep {
  readonly index: number
  readonly kind: "client_request"
  readonly path: string
  readonly request_json: unknown
  readonly outbound_store_api_calls?: ReadonlyArray<{ readonly api: string; readonly purchase_token?: string }>
}

/** What a step check found; an empty `problems` means the step matched the recording. */
export interface GoogleStepReport {
  readonly index: number
  readonly problems: ReadonlyArray<string>
  readonly detail?: string
}

const SUBSCRIPTION_GET = "purchases.subscriptionsv2.get"
const MONETIZATION_PREFIX = "monetization.subscriptions.get"

export interface GoogleReplay {
  readonly fake: AndroidPublisherFake.AndroidPublisherFake
  readonly config: GoogleFixtureConfig
  /** AndroidPublisher (→ fake) + GooglePlayRtdn + GoogleAckOutboxWorker, over the core services. */
  readonly layer: Layer.Layer<
    AndroidPublisher.AndroidPublisher | GooglePlayRtdn.GooglePlayRtdn | GoogleAckOutboxWorker.GoogleAckOutboxWorker,
    never,
    Layer.Layer.Context<ReturnType<typeof storesLayer>>
  >
}

const basePlansOf = (config: GoogleFixtureConfig): Record<string, ProPlan> | undefined => {
  if (config.base_plan_to_plan === undefined) return undefined
  const out: Record<string, ProPlan> = {}
  for (const [basePlan, name] of Object.entries(config.base_plan_to_plan)) {
    const plan = proPlanFromString(name)
    if (plan !== undefined) out[basePlan] = plan
  }
  return out
}

const storesLayer = (fake: AndroidPublisherFake.AndroidPublisherFake, config: GoogleFixtureConfig) => {
  const publisher = AndroidPublisher.layer({
    packageName: config.package_name,
    subscriptionProductId: config.subscription_product_id,
    apiRoot: fake.apiRoot,
    // Each step states its own monetization answer: never reuse an earlier one.
    basePlanCacheTtl: 0
  })
  return Layer.mergeAll(
    GooglePlayRtdn.layer({ packageName: config.package_name, basePlans: basePlansOf(config) }),
    GoogleAckOutboxWorker.layerService({})
  ).pipe(Layer.provideMerge(publisher))
}

/** Starts the Android Publisher fake for one scenario (stopped with the scope). */
export const makeGoogleReplay = (config: GoogleFixtureConfig): Effect.Effect<GoogleReplay, never, Scope.Scope> =>
  Effect.gen(function*() {
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() => AndroidPublisherFake.AndroidPublisherFake.start()),
      (f) => Effect.promise(() => f.stop())
    )
    // The Google test ran with a fixed monetization answer for every base plan (config.google.mocked_monetization_plan_details).
    const m = config.mocked_monetization_plan_details
    if (m !== undefined) {
      const plans: Record<string, { gracePeriodDuration?: string; billingPeriodDuration?: string }> = {}
      for (const basePlan of Object.keys(config.base_plan_to_plan ?? {})) plans[basePlan] = { ...m }
      fake.setBasePlans(config.subscription_product_id, plans)
    }
    return { fake, config, layer: storesLayer(fake, config) }
  })

const tokenOf = (rtdn: unknown): string | undefined => {
  const r = rtdn as {
    subscriptionNotification?: { purchaseToken?: string }
    voidedPurchaseNotification?: { purchaseToken?: string }
  }
  return r?.subscriptionNotification?.purchaseToken ?? r?.voidedPurchaseNotification?.purchaseToken
}

/** Serves the step's recorded API answers from the fake. */
const installMockedApi = (replay: GoogleReplay, step: GoogleNotificationStep) => {
  const token = tokenOf(step.rtdn_message_data)
  for (const [api, answer] of Object.entries(step.mocked_api ?? {})) {
    if (api === SUBSCRIPTION_GET && token !== undefined) replay.fake.setSubscription(token, answer)
    if (api.startsWith(MONETIZATION_PREFIX) && Array.isArray(answer)) {
      const plans: Record<string, { gracePeriodDuration?: string; billingPeriodDuration?: string }> = {}
      for (const a of answer as ReadonlyArray<{ base_plan_id: string; result?: { grace_period_iso8601?: string; billing_period_iso8601?: string } }>) {
        plans[a.base_plan_id] = {
          ...(a.result?.grace_period_iso8601 ? { gracePeriodDuration: a.result.grace_period_iso8601 } : {}),
          ...(a.result?.billing_period_iso8601 ? { billingPeriodDuration: a.result.billing_period_iso8601 } : {})
        }
      }
      replay.fake.setBasePlans(replay.config.subscription_product_id, plans)
    }
  }
}

/** `google_notification`: mocked answers → fake; RTDN data → the real handler. */
export const runGoogleNotification = (
  replay: GoogleReplay,
  step: GoogleNotificationStep
): Effect.Effect<GoogleStepReport, never, GooglePlayRtdn.GooglePlayRtdn> =>
  Effect.gen(function*() {
    installMockedApi(replay, step)
    const handler = yield* GooglePlayRtdn.GooglePlayRtdn
    const parsed = handler.parse(JSON.stringify(step.rtdn_message_data))
    const outcome = Either.isLeft(parsed)
      ? Either.left(parsed.left.message)
      : yield* handler.handle(parsed.right).pipe(
        Effect.map((r) => r.action),
        Effect.mapError((e) => e.message),
        Effect.either
      )
    const handled = Either.isRight(outcome)
    const problems: Array<string> = []
    if (handled !== step.expect.handled) {
      problems.push(
        `step ${step.index}: expected handled=${step.expect.handled}, got ${handled}${
          Either.isLeft(outcome) ? ` (${outcome.left})` : ""
        }`
      )
    }
    // The reference's error texts are not part of the contract (D2): only "some" vs "none" is compared.
    if (step.expect.errors.length > 0 && handled) problems.push(`step ${step.index}: expected errors, handler succeeded`)
    return { index: step.index, problems, detail: Either.isRight(outcome) ? outcome.right : outcome.left }
  })

/** Call before dispatching a `client_request`; returns the state `afterClientRequest` needs. */
export const beforeClientRequest = (replay: GoogleReplay) => ({
  acknowledgeCalls: replay.fake.callsOf("purchases.subscriptions.acknowledge").length
})

/**
 * After a `client_request`: drain the acknowledgement outbox once (the worker's job, D4c) and
 * compare Google-bound calls with `outbound_store_api_calls`.
 */
export const afterClientRequest = (
  replay: GoogleReplay,
  step: ClientRequestStep,
  before: { readonly acknowledgeCalls: number }
): Effect.Effect<GoogleStepReport, never, GoogleAckOutboxWorker.GoogleAckOutboxWorker> =>
  Effect.gen(function*() {
    const worker = yield* GoogleAckOutboxWorker.GoogleAckOutboxWorker
    const run = yield* worker.runOnce
    const acks = replay.fake
      .callsOf("purchases.subscriptions.acknowledge")
      .slice(before.acknowledgeCalls)
      .filter((c) => c.status === 200)
    const expected = (step.outbound_store_api_calls ?? []).filter((c) => c.api === "purchases.subscriptions.acknowledge")
    const problems: Array<string> = []
    const got = acks.map((c) => c.purchaseToken ?? "")
    const want = expected.map((c) => c.purchase_token ?? "")
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      problems.push(`step ${step.index}: acknowledge calls ${JSON.stringify(got)}, recorded ${JSON.stringify(want)}`)
    }
    for (const c of acks) {
      if (c.packageName !== replay.config.package_name) problems.push(`step ${step.index}: acknowledge for package ${c.packageName}`)
      if (c.subscriptionId !== replay.config.subscription_product_id) {
        problems.push(`step ${step.index}: acknowledge with subscriptionId ${c.subscriptionId}`)
      }
    }
    if (run.failed > 0) problems.push(`step ${step.index}: ${run.failed} acknowledgement(s) failed`)
    return { index: step.index, problems, detail: `ack outbox: ${JSON.stringify(run)}` }
  })

/** Whether this scenario needs the Google machinery. */
export const isGoogleScenario = (fixture: { readonly config?: { readonly google?: unknown } }): boolean =>
  fixture.config?.google !== undefined && fixture.config?.google !== null

/** Settings the recorded Google blocks ran with (`config.platform_testing_env` is true for all of them). */
export const settingsFor = (fixture: { readonly config?: { readonly platform_testing_env?: boolean } }) =>
  BackendSettings.layer({ platformTestingEnv: fixture.config?.platform_testing_env ?? false })
