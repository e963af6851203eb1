/**
 * The http_exchanges of vectors.json replayed through the core API (the HTTP package parses; here the
 * parsed values go straight to the services). Exchanges that end at parsing (status 2 other than a
 * signature failure, non-200 framework answers, non-Apple refund providers) are the HTTP package's and
 * are skipped here. Afterwards the DB must equal `final_state_prod` / `final_state_dev`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Backend, DEV_BACKEND_SEED, Inspect, Payments } from "@session-pro/core"
import { Effect, TestClock } from "effect"
import { coreDecides, ctx, exchanges, expected, finalState, NOW, replay, SALT, seedProd } from "./exchanges.js"

const layerFor = (dev: boolean) => Backend.layerSqlite(":memory:", { dev }, { salt: SALT, backendSeed: DEV_BACKEND_SEED })

describe("http_exchanges replayed at the core level", () => {
  it.effect("prod: every exchange the core decides, then final_state_prod", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      let replayed = 0
      for (const e of exchanges("prod")) {
        if (e.setup === "init") yield* seedProd
        else if (e.setup === "revoke_google_G1") {
          const r = yield* (yield* Payments).revokeChain({ provider: 1, chainId: "google-token-1", revokedAtMs: NOW })
          expect(r).toEqual({ revokedPayments: 1, revokedGenIndexes: [1] })
        } else if (coreDecides(e)) {
          expect(yield* replay(e), e.id).toEqual(expected(e))
          replayed++
        }
      }
      expect(replayed).toBeGreaterThanOrEqual(25)
      yield* finalState(ctx.final_state_prod)
    }).pipe(Effect.provide(layerFor(false))))

  it.effect("dev: DEV. payments self-register, then final_state_dev", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      let replayed = 0
      for (const e of exchanges("dev")) {
        if (coreDecides(e)) {
          expect(yield* replay(e), e.id).toEqual(expected(e))
          replayed++
        }
      }
      expect(replayed).toBe(4)
      yield* finalState(ctx.final_state_dev)
    }).pipe(Effect.provide(layerFor(true))))

  it.effect("D4e: repeating the Google revocation is a no-op (FLAG-2/FLAG-7 fixed)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      yield* seedProd
      for (const id of ["add_google_ok", "add_apple_ok"]) {
        const e = exchanges("prod").find((x) => x.id === id)
        expect((yield* replay(e)).status).toBe(0)
      }
      const payments = yield* Payments
      yield* payments.revokeChain({ provider: 1, chainId: "google-token-1", revokedAtMs: NOW })
      const again = yield* payments.revokeChain({ provider: 1, chainId: "google-token-1", revokedAtMs: NOW })
      expect(again).toEqual({ revokedPayments: 0, revokedGenIndexes: [] })
      const rt = yield* (yield* Inspect).runtime()
      expect(rt.revocation_ticket).toBe(1)
      expect(rt.gen_index).toBe(3) // the new, valid gen index 2 is not revoked
    }).pipe(Effect.provide(layerFor(false))))
})
