/**
 * Built-in step kinds: `apple_notification` (POSTed to the real webhook, so the JWS goes through real
 * verification), `client_request` (the real client routes at the step's server time) and
 * `expire_sweep` (the core's sweep, what the worker runs at each UTC midnight).
 */
import { ExpirySweep } from "@session-pro/core"
import { Effect } from "effect"
import { PATH as APPLE_PATH } from "../AppleWebhook.js"
import { diffJson } from "./Compare.js"
import type { FixtureStep } from "./Fixture.js"
import type { ClientRequestHook, ReplayContext, ReplayPlugin, StepResult } from "./Registry.js"

const claimsOf = (jws: string): Record<string, any> => {
  try {
    return JSON.parse(Buffer.from(jws.split(".")[1] ?? "", "base64url").toString("utf8"))
  } catch {
    return {}
  }
}

export const appleNotification = (step: FixtureStep, ctx: ReplayContext): Effect.Effect<StepResult, unknown> =>
  Effect.gen(function*() {
    const signedPayload = String(step.signedPayload ?? "")
    const claims = claimsOf(signedPayload)
    const label = `apple_notification ${claims.notificationType ?? "?"}${claims.subtype ? "/" + claims.subtype : ""}`
    // Handlers read no clock except the failure path's user-error stamp; pin it to the signing time.
    if (typeof claims.signedDate === "number") ctx.setNow(claims.signedDate)
    const reply = yield* ctx.post(APPLE_PATH, { signedPayload })
    const expect = (step.expect ?? {}) as { handled?: boolean }
    const problems: Array<string> = []
    const handled = reply.status >= 200 && reply.status < 300
    if (expect.handled !== undefined && handled !== expect.handled) {
      problems.push(`expected handled=${expect.handled}, webhook answered HTTP ${reply.status} ${reply.text.slice(0, 120)}`)
    }
    return { label, problems }
  })

export const clientRequest = (hooks: ReadonlyArray<ClientRequestHook>) =>
(step: FixtureStep, ctx: ReplayContext): Effect.Effect<StepResult, unknown> =>
  Effect.gen(function*() {
    const path = String(step.path)
    if (typeof step.server_now_unix_ts_ms === "number") ctx.setNow(step.server_now_unix_ts_ms)
    const before = yield* Effect.forEach(hooks, (h) => h.before(step, ctx))
    const reply = yield* ctx.post(path, step.request_json)
    const expect = (step.expect ?? {}) as { status_code?: number; response_json?: unknown }
    const problems: Array<string> = []
    if (expect.status_code !== undefined && reply.status !== expect.status_code) {
      problems.push(`HTTP ${reply.status}, expected ${expect.status_code}`)
    }
    if (expect.response_json !== undefined) {
      for (const d of diffJson(expect.response_json, reply.json, "response")) problems.push(d)
    }
    for (const [i, h] of hooks.entries()) problems.push(...(yield* h.after(step, ctx, before[i])))
    return { label: `client_request ${path}`, problems }
  })

/** Snapshot names of the sweep counters → the core's result. */
const SWEEP_FIELDS: Record<string, (r: ExpirySweep["run"] extends (ts: number) => Effect.Effect<infer A, any, any> ? A : never) => unknown> = {
  already_done_by_someone_else: (r) => r.alreadyDone,
  success: () => true,
  payments: (r) => r.payments,
  revocations: (r) => r.revocations,
  users: (r) => r.users,
  apple_notification_uuid_history: (r) => r.appleNotifications,
  google_notification_history: (r) => r.googleNotifications
}

export const expireSweep = (step: FixtureStep, ctx: ReplayContext): Effect.Effect<StepResult, unknown> =>
  Effect.gen(function*() {
    const ts = Number(step.unix_ts_ms)
    const result = yield* ctx.provide(Effect.flatMap(ExpirySweep, (s) => s.run(ts)))
    const expected = ((step.expect ?? {}) as { result?: Record<string, unknown> }).result ?? {}
    const problems: Array<string> = []
    for (const [k, v] of Object.entries(expected)) {
      const get = SWEEP_FIELDS[k]
      if (get === undefined) problems.push(`sweep result field ${k} is unknown to the replay`)
      else if (get(result) !== v) problems.push(`sweep ${k}: expected ${JSON.stringify(v)}, got ${JSON.stringify(get(result))}`)
    }
    return { label: `expire_sweep ${ts}`, problems }
  })

/** Registered first; `client_request` gets the other plugins' hooks at set-up time. */
export const corePlugin = (hooks: () => ReadonlyArray<ClientRequestHook>): ReplayPlugin => ({
  name: "core",
  setup: () =>
    Effect.succeed({
      steps: {
        apple_notification: appleNotification,
        client_request: (step, ctx) => clientRequest(hooks())(step, ctx),
        expire_sweep: expireSweep
      }
    })
})
