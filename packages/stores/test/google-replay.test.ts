/**
 * Google-only fixture replay harness (fallback until the shared runner in packages/http/src/Replay
 * exists; it uses the same GoogleSteps module). Every recorded scenario in
 * test-vectors/fixtures/google/ is replayed against a fresh in-memory backend with the recorded
 * keys and salt: notifications through the real handler (answers from the Android Publisher
 * fake), client requests through the real route handlers with the server clock pinned, sweeps
 * through the core. After every step the DB snapshot and the response are compared with the
 * recording.
 */
import { Backend, ExpirySweep, Inspect } from "@session-pro/core"
import { Effect, Layer, ManagedRuntime, TestClock, TestContext } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as GoogleSteps from "../../http/src/Replay/GoogleSteps.js"
import { handlers } from "../../http/src/Routes/ClientRoutes.js"

const dir = new URL("../../../test-vectors/fixtures/google/", import.meta.url)
const files = readdirSync(dir).filter((f) => /^\d\d_.*\.json$/.test(f)).sort()

const fromHex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"))
const hexOrNull = (b: Uint8Array | null | undefined) => (b === null || b === undefined ? null : Buffer.from(b).toString("hex"))

/** DB snapshot in the fixture's shape (byte columns hex, derived *_name columns dropped). */
const snapshot = Effect.gen(function*() {
  const inspect = yield* Inspect
  const payments = (yield* inspect.payments()).map((p) => ({
    ...p,
    master_pkey: hexOrNull(p.master_pkey),
    google_obfuscated_account_id: hexOrNull(p.google_obfuscated_account_id)
  }))
  const users = (yield* inspect.users()).map((u) => ({
    ...u,
    master_pkey: hexOrNull(u.master_pkey),
    google_obfuscated_account_id: hexOrNull(u.google_obfuscated_account_id)
  }))
  const runtime = yield* inspect.runtime()
  return {
    payments,
    users,
    revocations: yield* inspect.revocations(),
    runtime: {
      gen_index: runtime.gen_index,
      last_expire_unix_ts_ms: runtime.last_expire_unix_ts_ms,
      apple_notification_checkpoint_unix_ts_ms: runtime.apple_notification_checkpoint_unix_ts_ms,
      revocation_ticket: runtime.revocation_ticket
    },
    user_errors: yield* inspect.userErrors(),
    apple_notification_uuid_history: yield* inspect.appleHistory(),
    google_notification_history: yield* inspect.googleHistory()
  }
})

const recorded = (state: any) => ({
  ...state,
  payments: state.payments.map(({ status_name: _s, plan_name: _p, payment_provider_name: _n, ...rest }: any) => rest)
})

describe.each(files)("Google fixture %s", (file) => {
  const fixture = JSON.parse(readFileSync(new URL(file, dir), "utf8"))

  it("replays every step with the recorded results", async () => {
    const keys = fixture.keys.runtime
    const backend = Backend.layerSqlite(
      ":memory:",
      { platformTestingEnv: fixture.config.platform_testing_env },
      { backendSeed: fromHex(keys.backend_key_seed_hex), salt: fromHex(keys.gen_index_salt_hex) }
    )
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function*() {
          const replay = yield* GoogleSteps.makeGoogleReplay(fixture.config.google)
          const rt = yield* Effect.acquireRelease(
            Effect.sync(() => ManagedRuntime.make(replay.layer.pipe(Layer.provideMerge(backend), Layer.provideMerge(TestContext.TestContext)))),
            (r) => Effect.promise(() => r.dispose())
          )
          const run = <A>(eff: Effect.Effect<A, any, any>) => Effect.promise(() => rt.runPromise(eff as Effect.Effect<A, never, never>))

          expect(recorded(yield* run(snapshot))).toEqual(recorded(fixture.initial_state))
          for (const step of fixture.steps) {
            const where = `${file} step ${step.index} (${step.kind})`
            switch (step.kind) {
              case "google_notification": {
                const r = yield* run(GoogleSteps.runGoogleNotification(replay, step))
                expect(r.problems, `${where}: ${r.detail}`).toEqual([])
                break
              }
              case "client_request": {
                yield* run(TestClock.setTime(step.server_now_unix_ts_ms))
                const before = GoogleSteps.beforeClientRequest(replay)
                const handler = handlers[step.path as keyof typeof handlers]
                const res = yield* run(handler(new TextEncoder().encode(JSON.stringify(step.request_json))))
                expect(res.status, where).toBe(step.expect.status_code)
                expect(JSON.parse(new TextDecoder().decode(res.body)), where).toEqual(step.expect.response_json)
                const r = yield* run(GoogleSteps.afterClientRequest(replay, step, before))
                expect(r.problems, `${where}: ${r.detail}`).toEqual([])
                break
              }
              case "expire_sweep": {
                const r = yield* run(Effect.flatMap(ExpirySweep, (s) => s.run(step.unix_ts_ms)))
                const e = step.expect.result
                expect(
                  {
                    already_done_by_someone_else: r.alreadyDone,
                    payments: r.payments,
                    revocations: r.revocations,
                    users: r.users,
                    apple_notification_uuid_history: r.appleNotifications,
                    google_notification_history: r.googleNotifications
                  },
                  where
                ).toEqual({
                  already_done_by_someone_else: e.already_done_by_someone_else,
                  payments: e.payments,
                  revocations: e.revocations,
                  users: e.users,
                  apple_notification_uuid_history: e.apple_notification_uuid_history,
                  google_notification_history: e.google_notification_history
                })
                break
              }
              default:
                throw new Error(`${where}: unknown step kind`)
            }
            expect(recorded(yield* run(snapshot)), `${where}: state_after`).toEqual(recorded(step.state_after))
          }
          expect(recorded(yield* run(snapshot))).toEqual(recorded(fixture.final_state))
        })
      )
    )
  })
})
