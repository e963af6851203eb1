/** Every core operation, and the §15 flags / D4 deviations that concern the core. */
import { afterAll, describe, expect, it } from "@effect/vitest"
import {
  AppleNotificationHistory,
  Backend,
  computeEntitlement,
  DAY_MS,
  Database,
  Entitlement,
  ExpirySweep,
  GenerationIndex,
  GoogleAckOutbox,
  hex,
  Inspect,
  MONTH_MS,
  openBackend,
  type PaymentTx,
  Payments,
  ProDetails,
  Proofs,
  type RequestRejected,
  Revocations,
  SqliteDriver,
  UserErrors
} from "@session-pro/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, ManagedRuntime, Option, TestClock } from "effect"
import { dropPgSchemas, engines } from "./engines.js"
import { account, ceilDay } from "./helpers.js"

const T = 1767237945500
const D = ceilDay(T)
const rejected = (e: unknown) => e as RequestRejected
afterAll(() => dropPgSchemas())

const google = (token: string, order: string): PaymentTx & { provider: 1 } => ({ provider: 1, googlePaymentToken: token, googleOrderId: order })
const apple = (orig: string, tx: string, web = ""): PaymentTx & { provider: 2 } => ({
  provider: 2,
  appleOriginalTxId: orig,
  appleTxId: tx,
  appleWebLineOrderTxId: web
})

const addGoogle = (tx: ReturnType<typeof google>, who: { accountId: Uint8Array }, expiry: number, unredeemed = T, plan: 1 | 2 | 3 = 1) =>
  Effect.flatMap(Payments, (p) =>
    p.addUnredeemed({
      tx,
      plan,
      unredeemedUnixTsMs: unredeemed,
      expiryUnixTsMs: expiry,
      platformRefundExpiryUnixTsMs: unredeemed + 2 * DAY_MS,
      googleObfuscatedAccountId: who.accountId
    }))
const addApple = (tx: ReturnType<typeof apple>, expiry: number, unredeemed = T, token = "") =>
  Effect.flatMap(Payments, (p) =>
    p.addUnredeemed({ tx, plan: 1, unredeemedUnixTsMs: unredeemed, expiryUnixTsMs: expiry, platformRefundExpiryUnixTsMs: expiry, appleAppAccountToken: token }))

for (const engine of engines) {
  describe.skipIf(!engine.enabled)(`operations on ${engine.name}`, () => {
  const provide = <A, E, R>(eff: Effect.Effect<A, E, R>, settings?: { dev?: boolean; unsafeLogging?: boolean }) =>
    eff.pipe(Effect.provide(Layer.unwrapEffect(Effect.map(Effect.promise(engine.fresh), (url) => Backend.layer({ url, settings })))))

  describe("Payments.addUnredeemed", () => {
    it.effect("validates ids (PaymentError) and stores provider-specific columns", () =>
      provide(Effect.gen(function*() {
        const p = yield* Payments
        const u = account()
        const base = { plan: 1 as const, unredeemedUnixTsMs: T, expiryUnixTsMs: T + DAY_MS, platformRefundExpiryUnixTsMs: 0 }
        for (const tx of [google("", "o"), google("t", ""), apple("", "x"), apple("x", ""), { provider: 3 as const, rangeproofOrderId: "" }]) {
          expect((yield* Effect.flip(p.addUnredeemed({ ...base, tx, googleObfuscatedAccountId: u.accountId })))._tag).toBe("PaymentError")
        }
        expect((yield* Effect.flip(p.addUnredeemed({ ...base, tx: google("t", "o") })))._tag).toBe("PaymentError") // no account id
        expect((yield* Effect.flip(p.addUnredeemed({ ...base, tx: { provider: 0 } as any })))._tag).toBe("PaymentError")
        yield* p.addUnredeemed({ ...base, tx: google("t", "o"), googleObfuscatedAccountId: u.accountId })
        yield* p.addUnredeemed({ ...base, tx: apple("ao", "at", "web"), appleAppAccountToken: "tok-uuid" })
        yield* p.addUnredeemed({ ...base, tx: { provider: 3, rangeproofOrderId: "rp" } })
        const rows = yield* (yield* Inspect).payments()
        expect(rows.map((r) => [r.payment_provider, r.auto_renewing, r.grace_period_duration_ms, r.google_obfuscated_account_id?.length ?? null, r.apple_app_account_token]))
          .toEqual([[1, true, 0, 32, ""], [2, true, 0, null, "tok-uuid"], [3, false, 0, null, ""]])
        expect(Option.isSome(yield* p.get(apple("ao", "at", "web")))).toBe(true)
        expect(Option.isNone(yield* p.get(apple("ao", "at", "")))).toBe(true)
        expect((yield* p.findByGoogleToken("t")).length).toBe(1)
        expect((yield* p.findByGoogleOrderId("o")).length).toBe(1)
        expect((yield* p.findByAppleOriginalTxId("ao")).length).toBe(1)
        expect((yield* p.findByAppleTxId("at")).length).toBe(1)
        expect((yield* p.findByRangeproofOrderId("rp")).length).toBe(1)
      })))

    it.effect("Apple auto-redeem deadline counts grace twice (FLAG-9 replicated); beyond it no auto-redeem", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const p = yield* Payments
        yield* addApple(apple("orig", "t1"), T + DAY_MS)
        yield* p.updateRenewalInfo(apple("orig", "t1"), { gracePeriodDurationMs: 3_600_000, autoRenewing: true })
        yield* (yield* Proofs).addProPayment(u.add({ provider: 2, appleTxId: "t1" }))
        // user expiry = T+1d+1h; deadline = that + 1h again
        const inDeadline = yield* addApple(apple("orig", "t2"), T + 31 * DAY_MS, T + DAY_MS + 2 * 3_600_000)
        expect(inDeadline.autoRedeemedFor).toEqual(u.masterPkey)
        yield* p.updateRenewalInfo(apple("orig", "t2"), { autoRenewing: false })
        const late = yield* addApple(apple("orig", "t3"), T + 90 * DAY_MS, T + 31 * DAY_MS + 1)
        expect(late.autoRedeemedFor).toBeUndefined()
      })))

    it.effect("Google auto-redeem: within 60 days of the subscription expiry (account hold)", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        yield* addGoogle(google("tok", "GPA.1"), u, T + 30 * DAY_MS)
        yield* (yield* Proofs).addProPayment(u.add(google("tok", "GPA.1")))
        const r = yield* addGoogle(google("tok", "GPA.1..0"), u, T + 120 * DAY_MS, T + 89 * DAY_MS)
        expect(r.autoRedeemedFor).toEqual(u.masterPkey)
        const late = yield* addGoogle(google("tok", "GPA.1..1"), u, T + 300 * DAY_MS, T + 120 * DAY_MS + 60 * DAY_MS + 1)
        expect(late.autoRedeemedFor).toBeUndefined()
      })))
  })

  describe("Proofs.addProPayment", () => {
    it.effect("ownership predicates: Google obfuscated id, Apple appAccountToken (FLAG-10), other key → 101", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const [u, other] = [account(), account()]
        const proofs = yield* Proofs
        yield* addGoogle(google("t", "o"), other, T + DAY_MS)
        expect(rejected(yield* Effect.flip(proofs.addProPayment(u.add(google("t", "o")))))).toMatchObject({ status: 101 })
        yield* addApple(apple("a", "a"), T + DAY_MS, T, "some-app-account-token")
        expect(rejected(yield* Effect.flip(proofs.addProPayment(u.add({ provider: 2, appleTxId: "a" }))))).toMatchObject({ status: 101 })
        yield* addApple(apple("b", "b"), T + DAY_MS)
        yield* proofs.addProPayment(other.add({ provider: 2, appleTxId: "b" }))
        const e = rejected(yield* Effect.flip(proofs.addProPayment(u.add({ provider: 2, appleTxId: "b" }))))
        expect(e).toEqual(expect.objectContaining({ status: 101, errors: ["Payment was not redeemed, no payments were found matching the request tx: iOSAppStore, google=(/), rangeproof="] }))
      })))

    it.effect("unsafe logging prints ids unmasked", () =>
      provide(
        Effect.gen(function*() {
          const u = account()
          const e = rejected(yield* Effect.flip((yield* Proofs).addProPayment(u.add(google("unknown-token", "GPA.9999")))))
          expect(e.errors).toEqual(["Payment was not redeemed, no payments were found matching the request tx: GooglePlayStore, google=(unknown-token/GPA.9999), rangeproof="])
        }),
        { unsafeLogging: true }
      ))

    it.effect("FLAG-18 fixed: a claim shadowed by a newer non-redeemed chain member is an error and rolls back", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const proofs = yield* Proofs
        yield* addGoogle(google("tok", "GPA.7..0"), u, T + 60 * DAY_MS) // older row, long expiry
        yield* addGoogle(google("tok", "GPA.7..1"), u, T + 2 * DAY_MS) // newer row, short expiry
        yield* proofs.addProPayment(u.add(google("tok", "GPA.7..1")))
        yield* (yield* ExpirySweep).run(T + 3 * DAY_MS) // newer row expires
        yield* TestClock.setTime(T + 3 * DAY_MS)
        const e = rejected(yield* Effect.flip(proofs.addProPayment(u.add(google("tok", "GPA.7..0")))))
        expect(e.status).toBe(1)
        const rows = yield* (yield* Inspect).payments()
        expect(rows[0]!.status).toBe(1) // rolled back: still claimable
        expect((yield* (yield* Inspect).runtime()).gen_index).toBe(1)
      })))

    it.effect("D4c: no proof when the redemption cannot commit; the Google ack is queued in the same transaction", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const proofs = yield* Proofs
        const outbox = yield* GoogleAckOutbox
        yield* addGoogle(google("tok", "o1"), u, T + 30 * DAY_MS)
        yield* addGoogle(google("tok2", "o2"), u, T + 30 * DAY_MS)
        yield* proofs.addProPayment(u.add(google("tok", "o1")))
        expect((yield* outbox.pending).map((r) => [r.purchaseToken, r.orderId, r.attempts])).toEqual([["tok", "o1", 0]])
        // Break the outbox: the redemption must not commit and no proof may come back.
        const db = yield* Database
        yield* db.sql`ALTER TABLE google_ack_outbox RENAME TO google_ack_outbox_gone`
        const e = yield* Effect.flip(proofs.addProPayment(u.add(google("tok2", "o2"))))
        expect(e._tag).toBe("StorageError")
        const rows = yield* (yield* Inspect).payments()
        expect(rows[1]!.status).toBe(1)
        expect((yield* (yield* Inspect).runtime()).gen_index).toBe(1)
        yield* db.sql`ALTER TABLE google_ack_outbox_gone RENAME TO google_ack_outbox`
        // Apple claims queue nothing.
        yield* addApple(apple("a", "a"), T + DAY_MS)
        yield* proofs.addProPayment(u.add({ provider: 2, appleTxId: "a" }))
        expect((yield* outbox.pending).length).toBe(1)
      })))

    it.effect("dev mode: DEV. ids self-register (plan, duration, auto-renew) and a non-DEV id does not", () =>
      provide(
        Effect.gen(function*() {
          yield* TestClock.setTime(T)
          const u = account()
          const proofs = yield* Proofs
          const p = yield* proofs.addProPayment({ ...u.add(google("dev-tok", "DEV.1")), dev: { plan: 3, durationMs: 2 * DAY_MS, autoRenewing: true } })
          expect(p.expiryUnixTsMs).toBe(T + 2 * DAY_MS + 60_000) // raw (dev), grace counted while auto-renewing
          const [row] = yield* (yield* Inspect).payments()
          expect(row).toMatchObject({ plan: 3, redeemed_unix_ts_ms: T, auto_renewing: true, grace_period_duration_ms: 60_000 })
          expect((yield* (yield* GoogleAckOutbox).pending).length).toBe(0) // fake: nothing to acknowledge
          expect(rejected(yield* Effect.flip(proofs.addProPayment(u.add(google("x", "GPA.1")))))).toMatchObject({ status: 101 })
        }),
        { dev: true }
      ))
  })

  describe("Proofs.generateProProof", () => {
    it.effect("expired entitlement message; signature and key sanity checks", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const proofs = yield* Proofs
        yield* addGoogle(google("t", "o"), u, T + DAY_MS)
        yield* proofs.addProPayment(u.add(google("t", "o")))
        const late = T + 2 * DAY_MS
        const e = rejected(yield* Effect.flip(proofs.generateProProof(u.generate(late))))
        expect(e.status).toBe(1)
        expect(e.errors).toEqual([`User ${hex(u.masterPkey)} entitlement expired at ${T + DAY_MS} (26-01-02 03:25:45.500) (${T + DAY_MS} (26-01-02 03:25:45.500) + 0)`])
        const req = u.generate(T)
        const bad = rejected(yield* Effect.flip(proofs.generateProProof({ ...req, rotatingSig: req.masterSig })))
        expect(bad.errors[0]).toMatch(/^Failed to verify signature from rotating key/)
      })))
  })

  describe("Revocations and revokeChain", () => {
    it.effect("D4e: a revocation outlives every proof issued under its gen index (FLAG-1 fixed)", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const p = yield* Payments
        const proofs = yield* Proofs
        const E = T + 10 * DAY_MS
        yield* addGoogle(google("tok", "o"), u, E)
        yield* p.updateRenewalInfo(google("tok", "o"), { gracePeriodDurationMs: 2 * DAY_MS, autoRenewing: true })
        yield* proofs.addProPayment(u.add(google("tok", "o")))
        const proof = yield* proofs.generateProProof(u.generate(T))
        expect(proof.expiryUnixTsMs).toBe(E + 2 * DAY_MS)
        yield* p.updateRenewalInfo(google("tok", "o"), { autoRenewing: false }) // user expiry drops to E
        const r = yield* p.revokeChain({ provider: 1, chainId: "tok", revokedAtMs: T + 3_600_000 })
        expect(r).toEqual({ revokedPayments: 1, revokedGenIndexes: [0] })
        const [rev] = yield* (yield* Inspect).revocations()
        expect(rev!.expiry_unix_ts_ms).toBeGreaterThanOrEqual(proof.expiryUnixTsMs)
        // It survives tonight's sweep (the reference would prune it, FLAG-1).
        yield* (yield* ExpirySweep).run(D)
        expect((yield* (yield* Inspect).revocations()).length).toBe(1)
        // Served form: rounded expiry, effective one day after creation.
        const list = yield* (yield* Revocations).list(0n)
        expect(list.items[0]).toEqual({
          effective_unix_ts_ms: T + 3_600_000 + DAY_MS,
          expiry_unix_ts_ms: ceilDay(E + 2 * DAY_MS),
          gen_index_hash: hex(proof.genIndexHash)
        })
      })))

    it.effect("revocation at the end of the day makes no revocation; unknown chain is a PaymentError", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const p = yield* Payments
        yield* addGoogle(google("tok", "o"), u, T + 3_600_000)
        yield* (yield* Proofs).addProPayment(u.add(google("tok", "o")))
        expect(yield* p.revokeChain({ provider: 1, chainId: "tok", revokedAtMs: T })).toEqual({ revokedPayments: 1, revokedGenIndexes: [] })
        expect((yield* Effect.flip(p.revokeChain({ provider: 2, chainId: "nope", revokedAtMs: T })))._tag).toBe("PaymentError")
      })))

    it.effect("revokePayment revokes one order of a chain only (voided Google order)", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const p = yield* Payments
        yield* addGoogle(google("tok", "GPA.5"), u, T + 30 * DAY_MS)
        yield* (yield* Proofs).addProPayment(u.add(google("tok", "GPA.5")))
        yield* addGoogle(google("tok", "GPA.5..0"), u, T + 60 * DAY_MS, T + 29 * DAY_MS) // auto-redeemed renewal
        const r = yield* p.revokePayment(google("tok", "GPA.5..0"), T + 29 * DAY_MS)
        expect(r.revokedPayments).toBe(1)
        expect((yield* (yield* Inspect).payments()).map((x) => x.status)).toEqual([2, 4])
        expect((yield* Effect.flip(p.revokePayment(google("tok", "nope"), T)))._tag).toBe("PaymentError")
      })))

    it.effect("D4f: restoreChain brings a refunded payment back with a fresh gen index; FLAG-17 no crash", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const p = yield* Payments
        const proofs = yield* Proofs
        yield* addApple(apple("orig", "t1", "w1"), T + 30 * DAY_MS)
        yield* proofs.addProPayment(u.add({ provider: 2, appleTxId: "t1" }))
        yield* p.revokeChain({ provider: 2, chainId: "orig", revokedAtMs: T + 1000 })
        // FLAG-17: a revoked chain head flipped to auto-renewing by a renewal-info update.
        yield* p.updateRenewalInfo(apple("orig", "t1", "w1"), { autoRenewing: true })
        const ent = yield* (yield* Entitlement).lookup(u.masterPkey)
        expect(ent.best).toEqual({ expiry: T + 1000, grace: 0, refund: 0, auto: false })
        expect(rejected(yield* Effect.flip(proofs.generateProProof(u.generate(T))))).toMatchObject({ status: 1 })
        expect(yield* p.restoreChain({ provider: 2, chainId: "orig" })).toEqual({ restoredPayments: 1 })
        const [row] = yield* (yield* Inspect).payments()
        expect(row).toMatchObject({ status: 2, revoked_unix_ts_ms: null })
        const proof = yield* proofs.generateProProof(u.generate(T))
        expect(proof.expiryUnixTsMs).toBe(T + 30 * DAY_MS)
        expect((yield* (yield* Inspect).users())[0]!.gen_index).toBe(1)
        expect(yield* p.restorePayment(apple("orig", "t1", "w1"))).toEqual({ restoredPayments: 0 })
      })))

    it.effect("admin revocations hit the user's current gen index; generate refuses", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        yield* addGoogle(google("tok", "o"), u, T + 30 * DAY_MS)
        yield* (yield* Proofs).addProPayment(u.add(google("tok", "o")))
        const revs = yield* Revocations
        expect(yield* revs.setForMaster(u.masterPkey, { creationUnixTsMs: T, expiryUnixTsMs: T + 30 * DAY_MS })).toBe("Created")
        expect(yield* revs.all).toEqual([{ gen_index: 0, creation_unix_ts_ms: T, expiry_unix_ts_ms: T + 30 * DAY_MS }])
        expect(rejected(yield* Effect.flip((yield* Proofs).generateProProof(u.generate(T))))).toMatchObject({
          status: 1,
          errors: [`User ${hex(u.masterPkey)} payment has been revoked`]
        })
        const details = yield* (yield* ProDetails).get(u.details(T, 1))
        expect(details.status).toBe(2) // revoked current gen index → Expired
      })))
  })

  describe("Payments.updateExpiry (Apple RENEWAL_EXTENDED)", () => {
    it.effect("moves a redeemed payment's expiry and refund deadline later; the owner is refreshed and proofs reach further", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const p = yield* Payments
        const proofs = yield* Proofs
        yield* addApple(apple("orig", "t1", "w1"), T + DAY_MS)
        yield* proofs.addProPayment(u.add({ provider: 2, appleTxId: "t1" }))
        expect((yield* proofs.generateProProof(u.generate(T))).expiryUnixTsMs).toBe(T + DAY_MS)
        const r = yield* p.updateExpiry(apple("orig", "t1", "w1"), { expiryUnixTsMs: T + 20 * DAY_MS, platformRefundExpiryUnixTsMs: T + 20 * DAY_MS })
        expect(r).toEqual({ changed: true, expiryUnixTsMs: T + 20 * DAY_MS, platformRefundExpiryUnixTsMs: T + 20 * DAY_MS })
        const [row] = yield* (yield* Inspect).payments()
        expect(row).toMatchObject({ status: 2, expiry_unix_ts_ms: T + 20 * DAY_MS, platform_refund_expiry_unix_ts_ms: T + 20 * DAY_MS })
        expect((yield* (yield* Inspect).users())[0]!.expiry_unix_ts_ms).toBe(T + 20 * DAY_MS)
        expect((yield* proofs.generateProProof(u.generate(T))).expiryUnixTsMs).toBe(T + 20 * DAY_MS)
        // Without a refund deadline only the expiry moves.
        expect(yield* p.updateExpiry(apple("orig", "t1", "w1"), { expiryUnixTsMs: T + 25 * DAY_MS })).toEqual({
          changed: true,
          expiryUnixTsMs: T + 25 * DAY_MS,
          platformRefundExpiryUnixTsMs: T + 20 * DAY_MS
        })
        // The same value again (a redelivery) writes nothing.
        expect((yield* p.updateExpiry(apple("orig", "t1", "w1"), { expiryUnixTsMs: T + 25 * DAY_MS })).changed).toBe(false)
      })))

    it.effect("never earlier unless asked; allowEarlier shortens and keeps the proof watermark (D4e)", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const p = yield* Payments
        const proofs = yield* Proofs
        const tx = apple("orig", "t1", "w1")
        yield* addApple(tx, T + 20 * DAY_MS)
        yield* proofs.addProPayment(u.add({ provider: 2, appleTxId: "t1" }))
        const proof = yield* proofs.generateProProof(u.generate(T))
        expect(proof.expiryUnixTsMs).toBe(T + 20 * DAY_MS)
        const before = yield* (yield* Inspect).payments()
        // A stale / out-of-order extension: both values stay where they are.
        expect(yield* p.updateExpiry(tx, { expiryUnixTsMs: T + 5 * DAY_MS, platformRefundExpiryUnixTsMs: T + 5 * DAY_MS })).toEqual({
          changed: false,
          expiryUnixTsMs: T + 20 * DAY_MS,
          platformRefundExpiryUnixTsMs: T + 20 * DAY_MS
        })
        expect(yield* (yield* Inspect).payments()).toEqual(before)
        // Later expiry but earlier refund deadline: each value is kept at its maximum separately.
        expect(yield* p.updateExpiry(tx, { expiryUnixTsMs: T + 21 * DAY_MS, platformRefundExpiryUnixTsMs: T + 5 * DAY_MS })).toEqual({
          changed: true,
          expiryUnixTsMs: T + 21 * DAY_MS,
          platformRefundExpiryUnixTsMs: T + 20 * DAY_MS
        })
        // Explicitly asked: stored as given, the user follows, the issued proof stays covered.
        expect(yield* p.updateExpiry(tx, { expiryUnixTsMs: T + 5 * DAY_MS, platformRefundExpiryUnixTsMs: T + 5 * DAY_MS, allowEarlier: true }))
          .toEqual({ changed: true, expiryUnixTsMs: T + 5 * DAY_MS, platformRefundExpiryUnixTsMs: T + 5 * DAY_MS })
        const [user] = yield* (yield* Inspect).users()
        expect(user!.expiry_unix_ts_ms).toBe(T + 5 * DAY_MS)
        expect(yield* (yield* GenerationIndex).maxProofExpiry(user!.gen_index)).toBeGreaterThanOrEqual(proof.expiryUnixTsMs)
        expect((yield* proofs.generateProProof(u.generate(T))).expiryUnixTsMs).toBe(T + 5 * DAY_MS)
      })))

    it.effect("unredeemed and swept (Expired) payments: no owner to refresh; an extension past the sweep point un-expires", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const [u, v] = [account(), account()]
        const p = yield* Payments
        const inspect = yield* Inspect
        // Unredeemed: moved, still unredeemed, claimable with the new expiry.
        yield* addApple(apple("a", "a1"), T + DAY_MS)
        expect((yield* p.updateExpiry(apple("a", "a1"), { expiryUnixTsMs: T + 10 * DAY_MS })).changed).toBe(true)
        expect((yield* p.get(apple("a", "a1"))).pipe(Option.getOrThrow)).toMatchObject({ status: 1, expiry_unix_ts_ms: T + 10 * DAY_MS })
        // Swept while unclaimed, then extended past the sweep point: Unredeemed again, and claimable.
        yield* addApple(apple("b", "b1"), T + 3_600_000)
        // A claimed one swept as well: back to Redeemed, the owner's expiry follows.
        yield* addApple(apple("c", "c1"), T + 3_600_000)
        yield* (yield* Proofs).addProPayment(v.add({ provider: 2, appleTxId: "c1" }))
        yield* (yield* ExpirySweep).run(D)
        const status = (tx: ReturnType<typeof apple>) => Effect.map(p.get(tx), (o) => Option.getOrThrow(o).status)
        expect([yield* status(apple("b", "b1")), yield* status(apple("c", "c1"))]).toEqual([3, 3])
        // Still at or before the sweep point: expiry moves, status stays Expired.
        expect((yield* p.updateExpiry(apple("b", "b1"), { expiryUnixTsMs: D })).changed).toBe(true)
        expect(yield* status(apple("b", "b1"))).toBe(3)
        yield* p.updateExpiry(apple("b", "b1"), { expiryUnixTsMs: D + 5 * DAY_MS })
        yield* p.updateExpiry(apple("c", "c1"), { expiryUnixTsMs: D + 5 * DAY_MS })
        expect([yield* status(apple("b", "b1")), yield* status(apple("c", "c1"))]).toEqual([1, 2])
        const users = yield* inspect.users()
        expect(users.find((x) => hex(x.master_pkey) === hex(v.masterPkey))!.expiry_unix_ts_ms).toBe(D + 5 * DAY_MS)
        yield* TestClock.setTime(D + 1000)
        const proof = yield* (yield* Proofs).addProPayment(u.add({ provider: 2, appleTxId: "b1" }))
        expect(proof.expiryUnixTsMs).toBeGreaterThan(D)
      })))

    it.effect("revoked, unknown or malformed: PaymentError and nothing written; rolls back with an outer transaction", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const p = yield* Payments
        const inspect = yield* Inspect
        yield* addApple(apple("r", "r1", "w"), T + 10 * DAY_MS)
        yield* (yield* Proofs).addProPayment(u.add({ provider: 2, appleTxId: "r1" }))
        yield* p.revokeChain({ provider: 2, chainId: "r", revokedAtMs: T + 1000 })
        yield* addGoogle(google("tok", "GPA.1"), u, T + 10 * DAY_MS)
        const before = { payments: yield* inspect.payments(), users: yield* inspect.users() }
        const failures = [
          p.updateExpiry(apple("r", "r1", "w"), { expiryUnixTsMs: T + 40 * DAY_MS }), // revoked stays ended
          p.updateExpiry(apple("r", "r1", ""), { expiryUnixTsMs: T + 40 * DAY_MS }), // not the exact identity
          p.updateExpiry(apple("nope", "nope"), { expiryUnixTsMs: T + 40 * DAY_MS }),
          p.updateExpiry(google("tok", "GPA.2"), { expiryUnixTsMs: T + 40 * DAY_MS }),
          p.updateExpiry(apple("", "r1"), { expiryUnixTsMs: T + 40 * DAY_MS }),
          p.updateExpiry({ provider: 0 } as any, { expiryUnixTsMs: T + 40 * DAY_MS }),
          p.updateExpiry(google("tok", "GPA.1"), { expiryUnixTsMs: -1 }),
          p.updateExpiry(google("tok", "GPA.1"), { expiryUnixTsMs: T + 40 * DAY_MS, platformRefundExpiryUnixTsMs: 1.5 })
        ]
        for (const f of failures) expect((yield* Effect.flip(f))._tag).toBe("PaymentError")
        // Composed into a store transaction that then fails: the extension is rolled back too.
        const db = yield* Database
        yield* Effect.flip(db.transaction(Effect.zipRight(
          p.updateExpiry(google("tok", "GPA.1"), { expiryUnixTsMs: T + 40 * DAY_MS }),
          p.updateExpiry(apple("nope", "nope"), { expiryUnixTsMs: T + 40 * DAY_MS })
        )))
        expect({ payments: yield* inspect.payments(), users: yield* inspect.users() }).toEqual(before)
        // Google (and Rangeproof) payments move the same way.
        expect((yield* p.updateExpiry(google("tok", "GPA.1"), { expiryUnixTsMs: T + 40 * DAY_MS })).changed).toBe(true)
      })))
  })

  describe("refund requests", () => {
    it.effect("D4d: only the owner's Apple payment is flagged (FLAG-13 fixed); bad signature is status 2", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const [u, other] = [account(), account()]
        const p = yield* Payments
        yield* addApple(apple("a", "a"), T + 30 * DAY_MS)
        yield* (yield* Proofs).addProPayment(u.add({ provider: 2, appleTxId: "a" }))
        expect(yield* p.setRefundRequested(other.refund(T, T, "a"))).toEqual({ updated: false })
        expect(yield* p.setRefundRequested(u.refund(T, T + 5, "a"))).toEqual({ updated: true })
        expect((yield* (yield* Inspect).users())[0]!.refund_requested_unix_ts_ms).toBe(T + 5)
        const req = u.refund(T, T + 6, "a")
        expect(rejected(yield* Effect.flip(p.setRefundRequested({ ...req, refundRequestedUnixTsMs: T + 7 })))).toMatchObject({
          status: 2,
          errors: ["Signature failed to be verified"]
        })
        expect(rejected(yield* Effect.flip(p.setRefundRequested({ ...req, refundRequestedUnixTsMs: -1 })))).toMatchObject({ status: 2 })
        // D4f REFUND_DECLINED clears it; FLAG-14: on an unredeemed payment it simply works.
        expect(yield* p.clearRefundRequested(apple("a", "a"))).toBe(true)
        expect((yield* (yield* Inspect).users())[0]!.refund_requested_unix_ts_ms).toBe(0)
        yield* addApple(apple("b", "b"), T + DAY_MS)
        expect(yield* p.clearRefundRequested(apple("b", "b"))).toBe(true)
        expect(yield* p.clearRefundRequested(apple("c", "c"))).toBe(false)
      })))
  })

  describe("ProDetails.get", () => {
    it.effect("never-pro, counts, error_report, count bounds", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const details = yield* ProDetails
        expect(yield* details.get(u.details(T, 5))).toEqual({
          version: 0, status: 0, auto_renewing: false, expiry_unix_ts_ms: 0, grace_period_duration_ms: 0,
          refund_requested_unix_ts_ms: 0, payments_total: 0, error_report: 0, items: []
        })
        yield* addGoogle(google("tok", "o"), u, T + DAY_MS)
        yield* (yield* Proofs).addProPayment(u.add(google("tok", "o")))
        yield* (yield* UserErrors).add({ provider: 1, paymentId: "tok", unixTsMs: T })
        const r = yield* details.get(u.details(T + DAY_MS + 1, 0))
        expect(r).toMatchObject({ status: 2, payments_total: 1, error_report: 1, items: [] })
        expect(rejected(yield* Effect.flip(details.get({ ...u.details(T, 1), count: 2 ** 32 })))).toMatchObject({ status: 2 })
        expect(rejected(yield* Effect.flip(details.get({ ...u.details(T, 1), count: 2 })))).toMatchObject({
          status: 2,
          errors: ["Signature failed to be verified"]
        })
      })))
  })

  describe("ExpirySweep", () => {
    it.effect("expires without grace, prunes revocations/notifications, NOT EXISTS user prune (FLAG-6 fixed), FLAG-34 count", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        yield* addGoogle(google("t1", "o1"), u, T + DAY_MS)
        yield* addGoogle(google("t2", "o2"), u, T + DAY_MS)
        yield* addGoogle(google("t3", "o3"), account(), T + 90 * DAY_MS) // stays unredeemed: NULL master
        const proofs = yield* Proofs
        yield* proofs.addProPayment(u.add(google("t1", "o1")))
        yield* proofs.addProPayment(u.add(google("t2", "o2")))
        const db = yield* Database
        yield* db.sql`INSERT INTO users VALUES (${Buffer.alloc(32, 9)}, 99, 0, 0, ${db.bool(false)}, 0, ${Buffer.alloc(32, 1)}, '')`
        const apple = yield* AppleNotificationHistory
        yield* apple.add("uuid-1", T + 1000)
        yield* apple.add("uuid-2", T + 10 * DAY_MS)
        const r = yield* (yield* ExpirySweep).run(T + 2 * DAY_MS)
        expect(r).toMatchObject({ alreadyDone: false, payments: 1, paymentRows: 2, users: 1, appleNotifications: 1 })
        expect(yield* apple.has("uuid-1")).toBe(false)
        expect(yield* apple.has("uuid-2")).toBe(true)
        expect((yield* (yield* Inspect).users()).length).toBe(1)
        expect((yield* (yield* Inspect).payments()).map((p) => p.status)).toEqual([3, 3, 1])
      })))
  })

  describe("UserErrors, notification history, outbox", () => {
    it.effect("user errors: idempotent add, has, delete, hasForMaster ignores the provider (FLAG-35)", () =>
      provide(Effect.gen(function*() {
        const ue = yield* UserErrors
        expect(yield* ue.add({ provider: 2, paymentId: "orig", unixTsMs: 1 })).toBe(true)
        expect(yield* ue.add({ provider: 2, paymentId: "orig", unixTsMs: 2 })).toBe(false)
        expect(yield* ue.has({ provider: 2, paymentId: "orig" })).toBe(true)
        expect(yield* ue.has({ provider: 1, paymentId: "orig" })).toBe(false)
        expect((yield* Effect.flip(ue.add({ provider: 3, paymentId: "x", unixTsMs: 1 })))._tag).toBe("PaymentError")
        expect((yield* Effect.flip(ue.add({ provider: 1, paymentId: "", unixTsMs: 1 })))._tag).toBe("PaymentError")
        expect(yield* ue.list).toEqual([{ payment_id: "orig", payment_provider: 2, unix_ts_ms: 1 }])
        expect(yield* ue.delete({ provider: 2, paymentId: "orig" })).toBe(true)
        expect(yield* ue.delete({ provider: 2, paymentId: "orig" })).toBe(false)
      })))

    it.effect("Apple history and catch-up checkpoint", () =>
      provide(Effect.gen(function*() {
        const h = yield* AppleNotificationHistory
        expect(yield* h.has("u")).toBe(false)
        yield* h.add("u", 5)
        expect(yield* h.has("u")).toBe(true)
        expect(yield* h.checkpoint).toBe(0)
        yield* h.setCheckpoint(T)
        expect(yield* h.checkpoint).toBe(T)
      })))

    it.effect("Google ack outbox: due, markFailed with backoff and optional user error, markDone, prune", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const o = yield* GoogleAckOutbox
        expect(yield* o.enqueue({ purchaseToken: "tok", orderId: "o", subscriptionId: "sub" })).toBe(true)
        expect(yield* o.enqueue({ purchaseToken: "tok", orderId: "o" })).toBe(false)
        const [row] = yield* o.due(T)
        expect(row).toMatchObject({ purchaseToken: "tok", orderId: "o", subscriptionId: "sub", attempts: 0, doneUnixTsMs: null })
        expect(yield* o.markFailed(row!.id, { error: "503" })).toBe(true)
        expect(yield* o.due(T)).toEqual([])
        expect((yield* o.due(T + 1000))[0]).toMatchObject({ attempts: 1, lastError: "503" })
        yield* o.markFailed(row!.id, { nextAttemptUnixTsMs: T + 60_000, recordUserError: true })
        expect((yield* o.due(T + 59_999)).length).toBe(0)
        expect(yield* (yield* UserErrors).has({ provider: 1, paymentId: "tok" })).toBe(true)
        expect(yield* o.markDone(row!.id)).toBe(true)
        expect(yield* o.markDone(row!.id)).toBe(false)
        expect(yield* o.pending).toEqual([])
        expect(yield* o.pruneDone(T)).toBe(1)
      })))
  })

  describe("Payments.redeemVoucher (CLI)", () => {
    it.effect("creates and redeems a Rangeproof payment with a proof", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T)
        const u = account()
        const v = yield* (yield* Payments).redeemVoucher({ masterPkey: u.masterPkey, plan: 2 })
        expect(v.proof.expiryUnixTsMs).toBe(ceilDay(T + MONTH_MS))
        expect(v.rotatingSeed?.length).toBe(32)
        const [row] = yield* (yield* Inspect).payments()
        expect(row).toMatchObject({ payment_provider: 3, rangeproof_order_id: v.orderId, status: 2, expiry_unix_ts_ms: T + 90 * DAY_MS, redeemed_unix_ts_ms: D })
      })))
  })
  })
}

describe("D4b: inputs the reference crashes on are refused, never thrown", () => {
  it.effect("short keys, out-of-range integers", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T)
      const u = account()
      const short = u.masterPkey.subarray(0, 31) // what bytes.fromhex makes of a key with whitespace
      expect(rejected(yield* Effect.flip((yield* ProDetails).get({ ...u.details(T, 1), masterPkey: short })))).toMatchObject({
        status: 2,
        errors: ["Signature failed to be verified"]
      })
      expect(rejected(yield* Effect.flip((yield* Proofs).generateProProof({ ...u.generate(T), unixTsMs: 2n ** 64n })))).toMatchObject({ status: 2 })
      expect(rejected(yield* Effect.flip((yield* Proofs).addProPayment({ ...u.add(google("t", "o")), version: 256 })))).toMatchObject({ status: 2 })
      expect(rejected(yield* Effect.flip((yield* Payments).setRefundRequested({ ...u.refund(T, 1, "a"), refundRequestedUnixTsMs: 2n ** 64n })))).toMatchObject({ status: 2 })
      expect(rejected(yield* Effect.flip((yield* ProDetails).get({ ...u.details(T, 1), count: -1 })))).toMatchObject({ status: 2 })
    }).pipe(Effect.provide(Backend.layerSqlite(":memory:"))))
})

describe("computeEntitlement (§5.9)", () => {
  const row = (o: Partial<Parameters<typeof computeEntitlement>[0][number]>) => ({
    expiry_unix_ts_ms: 0, grace_period_duration_ms: 0, auto_renewing: false, status: 2, refund_requested_unix_ts_ms: 0,
    payment_provider: 1, apple_original_tx_id: null, google_order_id: "GPA.1", rangeproof_order_id: null, revoked_unix_ts_ms: null,
    ...o
  })
  it("max not sum; newest chain member wins; Google prefix dedupe", () => {
    expect(computeEntitlement([row({ expiry_unix_ts_ms: 31, google_order_id: "B" }), row({ expiry_unix_ts_ms: 30, google_order_id: "A" })]).best.expiry).toBe(31)
    // newest of chain GPA.1 is ..1 (expired, shorter); the older ..0 is skipped
    const r = computeEntitlement([row({ expiry_unix_ts_ms: 10, status: 3, google_order_id: "GPA.1..1" }), row({ expiry_unix_ts_ms: 50, google_order_id: "GPA.1..0" })])
    expect(r.best.expiry).toBe(10)
    expect(r.fromRedeemed.expiry).toBe(0)
    // grace counts only while auto-renewing
    expect(computeEntitlement([row({ expiry_unix_ts_ms: 10, grace_period_duration_ms: 5, auto_renewing: true })]).best).toEqual({ expiry: 15, grace: 5, refund: 0, auto: true })
    expect(computeEntitlement([row({ expiry_unix_ts_ms: 10, grace_period_duration_ms: 5 })]).best).toEqual({ expiry: 10, grace: 5, refund: 0, auto: false })
    // unknown provider rows are skipped
    expect(computeEntitlement([row({ payment_provider: 0, expiry_unix_ts_ms: 99 })]).best.expiry).toBe(0)
  })
})

describe("openBackend (Promise facade)", () => {
  it("runs operations as promises and closes", async () => {
    const b = await openBackend({ sqlite: ":memory:" })
    const u = account()
    await b.payments.addUnredeemed({
      tx: { provider: 1, googlePaymentToken: "t", googleOrderId: "o" },
      plan: 1,
      unredeemedUnixTsMs: Date.now(),
      expiryUnixTsMs: Date.now() + 30 * DAY_MS,
      platformRefundExpiryUnixTsMs: 0,
      googleObfuscatedAccountId: u.accountId
    })
    const proof = await b.proofs.addProPayment(u.add(google("t", "o")))
    expect(proof.version).toBe(0)
    await expect(b.proofs.addProPayment(u.add(google("t", "o")))).rejects.toMatchObject({ _tag: "RequestRejected", status: 100 })
    expect((await b.revocations.list(0)).ticket).toBe(0)
    expect((await b.inspect.payments()).length).toBe(1)
    await b.close()
  })

  it("over a host-provided SqlClient", async () => {
    const host = ManagedRuntime.make(SqliteDriver.layer({ filename: ":memory:" }))
    const sqlClient = await host.runPromise(SqlClient.SqlClient)
    const b = await openBackend({ sqlClient, dialect: "sqlite" }, {}, { salt: new Uint8Array(16).fill(1) })
    expect((await b.inspect.runtime()).gen_index_salt).toEqual(new Uint8Array(16).fill(1))
    expect(await b.userErrors.add({ provider: 1, paymentId: "x", unixTsMs: 1 })).toBe(true)
    expect(await b.userErrors.list()).toEqual([{ payment_id: "x", payment_provider: 1, unix_ts_ms: 1 }])
    await b.close()
    // The host still owns (and can use) its connection.
    expect((await host.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT COUNT(*) AS n FROM user_errors`)))[0]).toEqual({ n: 1 })
    await host.dispose()
  })
})
