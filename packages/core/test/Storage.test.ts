/**
 * Storage suite, parameterised over the engines: bootstrap, runtime row, schema version, triggers,
 * BIGINT/BYTEA decoding, the FLAG-20 unique identity, the atomic sweep guard, big Pub/Sub ids, and the
 * whole recorded prod exchange sequence. PostgreSQL runs only with PRO_TEST_PG_URL (each test in its own
 * schema); otherwise its block is skipped with a visible message.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import {
  accountIdForMaster,
  Backend,
  Database,
  DEV_BACKEND_SEED,
  ExpirySweep,
  fromHex,
  GoogleNotificationHistory,
  hex,
  Inspect,
  Payments,
  Revocations,
  StorageError
} from "@session-pro/core"
import { Effect, Either, Exit, Layer, TestClock } from "effect"
import { dropPgSchemas, engines } from "./engines.js"
import { coreDecides, ctx, exchanges, expected, finalState, NOW, replay, SALT, seedProd } from "./exchanges.js"

const SEED = new Uint8Array(32).fill(7)
const master = fromHex(ctx.keys.master.pub)

afterAll(() => dropPgSchemas())

for (const engine of engines) {
  describe.skipIf(!engine.enabled)(`storage on ${engine.name}`, () => {
    const backend = (url: string, dev = false, bootstrap: { salt?: Uint8Array; backendSeed?: Uint8Array } = { salt: SALT, backendSeed: SEED }) =>
      Backend.layer({ url, settings: { dev }, bootstrap })

    it.effect("fresh bootstrap: schema v12, runtime row with the injected seed and salt", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        const check = Effect.gen(function*() {
          const inspect = yield* Inspect
          expect(yield* inspect.schemaVersion()).toBe(12)
          const rt = yield* inspect.runtime()
          expect(rt).toEqual({
            gen_index: 0,
            gen_index_salt: SALT,
            backend_key: SEED,
            last_expire_unix_ts_ms: 0,
            apple_notification_checkpoint_unix_ts_ms: 0,
            revocation_ticket: 0
          })
          expect(yield* inspect.counts()).toMatchObject({ users: 0, payments: 0, revocations: 0 })
        })
        yield* check.pipe(Effect.provide(backend(url)))
        // Re-open: DDL is idempotent, the runtime row (and its key) is kept even if another seed is offered.
        yield* check.pipe(Effect.provide(backend(url, false, { backendSeed: new Uint8Array(32).fill(9) })))
      }))

    it.effect("dev mode: fresh DB gets the 0xCD seed; a non-dev DB refuses to start in dev mode", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        const rt = yield* Effect.flatMap(Inspect, (i) => i.runtime()).pipe(Effect.provide(backend(url, true, {})))
        expect(rt.backend_key).toEqual(DEV_BACKEND_SEED)
        expect(rt.gen_index_salt.length).toBe(16)
        const other = yield* Effect.promise(engine.fresh)
        yield* Effect.void.pipe(Effect.provide(backend(other, false)))
        const exit = yield* Effect.exit(Effect.void.pipe(Effect.provide(backend(other, true, {}))))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) expect(String(exit.cause)).toMatch(/Dev mode requires the dev backend key/)
      }))

    it.effect("recorded prod exchanges end in final_state_prod (BIGINT, BYTEA, triggers)", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        yield* Effect.gen(function*() {
          yield* TestClock.setTime(NOW)
          for (const e of exchanges("prod")) {
            if (e.setup === "init") yield* seedProd
            else if (e.setup === "revoke_google_G1") {
              yield* (yield* Payments).revokeChain({ provider: 1, chainId: "google-token-1", revokedAtMs: NOW })
            } else if (coreDecides(e)) expect(yield* replay(e), e.id).toEqual(expected(e))
          }
          yield* finalState(ctx.final_state_prod)
        }).pipe(Effect.provide(backend(url, false, { salt: SALT, backendSeed: DEV_BACKEND_SEED })))
      }))

    it.effect("revocation ticket: insert/delete triggers; an admin update bumps it too (FLAG-8 fixed)", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        yield* Effect.gen(function*() {
          yield* TestClock.setTime(NOW)
          yield* seedProd
          const e = exchanges("prod").find((x) => x.id === "add_google_ok")
          expect((yield* replay(e)).status).toBe(0)
          const revs = yield* Revocations
          const inspect = yield* Inspect
          const ticket = () => Effect.map(inspect.runtime(), (r) => r.revocation_ticket)
          expect(yield* revs.setForMaster(new Uint8Array(32), { creationUnixTsMs: 1, expiryUnixTsMs: 2 })).toBe("User does not exist")
          expect(yield* revs.setForMaster(master, { creationUnixTsMs: NOW, expiryUnixTsMs: NOW + 5 })).toBe("Created")
          expect(yield* ticket()).toBe(1)
          expect(yield* revs.setForMaster(master, { creationUnixTsMs: NOW, expiryUnixTsMs: NOW + 10 })).toBe("Updated")
          expect(yield* ticket()).toBe(2)
          expect(yield* revs.setForMaster(master, { creationUnixTsMs: NOW, expiryUnixTsMs: NOW + 10 })).toBe("Updated")
          expect(yield* ticket()).toBe(2) // nothing changed, nothing to tell clients
          expect(yield* inspect.revocations()).toEqual([{ gen_index: 0, creation_unix_ts_ms: NOW, expiry_unix_ts_ms: NOW + 10 }])
          expect(yield* revs.deleteForMaster(master)).toBe("Deleted")
          expect(yield* ticket()).toBe(3)
          expect(yield* revs.deleteForMaster(master)).toBe("Skipped")
          expect(yield* ticket()).toBe(3)
        }).pipe(Effect.provide(backend(url)))
      }))

    it.effect("FLAG-20: the payment identity is unique, also under concurrent inserts", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        yield* Effect.gen(function*() {
          const payments = yield* Payments
          const add = (order: string) =>
            payments.addUnredeemed({
              tx: { provider: 1, googlePaymentToken: "tok", googleOrderId: order },
              plan: 1,
              unredeemedUnixTsMs: 1,
              expiryUnixTsMs: 2 ** 41,
              platformRefundExpiryUnixTsMs: 0,
              googleObfuscatedAccountId: accountIdForMaster(master)
            })
          const results = yield* Effect.all([add("o1"), add("o1"), add("o1"), add("o2")], { concurrency: "unbounded" })
          expect(results.filter((r) => r.inserted).length).toBe(2)
          const rows = yield* (yield* Inspect).payments()
          expect(rows.length).toBe(2)
          expect(rows[0]!.expiry_unix_ts_ms).toBe(2 ** 41) // BIGINT decoded as a number
          expect(rows[0]!.google_obfuscated_account_id).toEqual(accountIdForMaster(master))
          expect(rows[0]!.auto_renewing).toBe(true)
          // Apple and Rangeproof identities too
          const apple = { provider: 2 as const, appleOriginalTxId: "a", appleTxId: "a", appleWebLineOrderTxId: "" }
          const base = { plan: 1 as const, unredeemedUnixTsMs: 1, expiryUnixTsMs: 2, platformRefundExpiryUnixTsMs: 0 }
          expect((yield* payments.addUnredeemed({ ...base, tx: apple })).inserted).toBe(true)
          expect((yield* payments.addUnredeemed({ ...base, tx: apple })).inserted).toBe(false)
          expect((yield* payments.addUnredeemed({ ...base, tx: { provider: 3, rangeproofOrderId: "r" } })).inserted).toBe(true)
          expect((yield* payments.addUnredeemed({ ...base, tx: { provider: 3, rangeproofOrderId: "r" } })).inserted).toBe(false)
        }).pipe(Effect.provide(backend(url)))
      }))

    it.effect("D4g: concurrent sweeps for the same day run once", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        const layerA = backend(url)
        yield* Effect.gen(function*() {
          const sweep = yield* ExpirySweep
          const rs = yield* Effect.all([sweep.run(NOW), sweep.run(NOW), sweep.run(NOW)], { concurrency: "unbounded" })
          expect(rs.filter((r) => !r.alreadyDone).length).toBe(1)
          expect((yield* sweep.run(NOW - 1)).alreadyDone).toBe(true)
          expect((yield* sweep.run(NOW + 1)).alreadyDone).toBe(false)
          expect((yield* (yield* Inspect).runtime()).last_expire_unix_ts_ms).toBe(NOW + 1)
        }).pipe(Effect.provide(layerA))
        // A second "process" (its own connection/pool) sees the guard too.
        const again = yield* Effect.flatMap(ExpirySweep, (s) => s.run(NOW + 1)).pipe(Effect.provide(backend(url)))
        expect(again.alreadyDone).toBe(true)
      }))

    it.effect("Google message ids beyond 2^53 round-trip exactly", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        yield* Effect.gen(function*() {
          const h = yield* GoogleNotificationHistory
          const id = "9007199254740993"
          yield* h.add(id, 100, "{\"x\":1}")
          yield* h.add("17", 100, "")
          expect(yield* h.get(id)).toEqual({ handled: false })
          expect(yield* h.get("9007199254740992")).toBeUndefined()
          expect(yield* h.unhandled()).toEqual([
            { messageId: id, payload: "{\"x\":1}", expiry: 100 },
            { messageId: "17", payload: null, expiry: 100 }
          ])
          expect(yield* h.setHandled(id)).toBe(true)
          expect(yield* h.get(id)).toEqual({ handled: true })
          expect(yield* h.setHandled("17", { delete: true })).toBe(true)
          expect(yield* h.get("17")).toBeUndefined()
          expect(yield* h.setHandled("18")).toBe(false)
        }).pipe(Effect.provide(backend(url)))
      }))

    it.effect("StorageError on a broken URL target", () =>
      Effect.gen(function*() {
        const bad = engine.name === "sqlite" ? "sqlite:////nonexistent-dir/x/y.db" : "postgresql://nobody@127.0.0.1:1/none"
        const r = yield* Effect.either(Effect.void.pipe(Effect.provide(Database.layer({ url: bad }))))
        expect(Either.isLeft(r)).toBe(true)
      }).pipe(Effect.catchAllDefect(() => Effect.void)))
  })
}

void hex
void Layer
void StorageError
