/** Reference scenarios reachable at the core level (scenarios.md T1, T2, core side of T3, T5). */
import { describe, expect, it } from "@effect/vitest"
import {
  Backend,
  BackupRotation,
  DAY_MS,
  Durations,
  Ed25519,
  generateProProofHash,
  proofHash,
  ExpirySweep,
  hex,
  Inspect,
  Payments,
  ProDetails,
  Proofs,
  type RequestRejected,
  Revocations
} from "@session-pro/core"
import { Effect, Either, TestClock } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { account, ceilDay, randomHex } from "./helpers.js"

const T = 1767237945500
const D = ceilDay(T)

describe("T1 backup rotation dry run", () => {
  it("keeps 8, deletes 3, ignores invalid.txt", () => {
    const names = [
      "2025-05-30_100000_a.sql", "2025-01-01_000000_b.sql", "2024-12-15_235959_c.sql", "2024-12-01_000000_d.sql",
      "2024-12-30_235959_e.sql", "2024-11-05_080000_f.sql", "2024-11-20_150000_g.sql", "2025-01-10_090000_h.sql",
      "2025-01-20_100000_i.sql", "2024-11-01_000000_j.sql", "2024-11-15_000000_k.sql", "invalid.txt"
    ].map((n) => `/backups/${n}`)
    const plan = BackupRotation.plan(names, Date.UTC(2025, 5, 1, 12, 0, 0))
    const short = (xs: ReadonlyArray<string>) => xs.map((x) => x.slice("/backups/".length, "/backups/".length + 19)).sort()
    expect(short(plan.keep)).toEqual([
      "2024-11-01_000000_j", "2024-12-01_000000_d", "2024-12-15_235959_c", "2024-12-30_235959_e",
      "2025-01-01_000000_b", "2025-01-10_090000_h", "2025-01-20_100000_i", "2025-05-30_100000_a"
    ])
    expect(short(plan.delete)).toEqual(["2024-11-05_080000_f", "2024-11-15_000000_k", "2024-11-20_150000_g"])
    expect(plan.ignored).toEqual(["/backups/invalid.txt"])
  })
})

describe("T5 Google ISO-8601 duration parser", () => {
  const fixture = JSON.parse(readFileSync(fileURLToPath(new URL("../../../test-vectors/fixtures/google/duration_parser_cases.json", import.meta.url)), "utf8"))
  for (const c of fixture.cases) {
    it(`${c.iso8601} = ${c.seconds} s`, () => {
      expect(Durations.parseIso8601Seconds(c.iso8601)).toEqual(Either.right(c.seconds))
      expect(Durations.parseIso8601(c.iso8601)).toEqual(Either.right(c.milliseconds))
    })
  }
  it("rejects what the reference rejects", () => {
    for (const r of fixture.reference_rejects_untested) expect(Either.isLeft(Durations.parseIso8601(r.input)), r.input).toBe(true)
    for (const bad of ["P", "PT", "P1", "PTT1S", "P1W1X", `P${315_576_000_001}S`, `PT${315_576_000_001}S`]) {
      expect(Either.isLeft(Durations.parseIso8601(bad)), bad).toBe(true)
    }
    expect(Durations.parseIso8601("P2W")).toEqual(Either.right(14 * DAY_MS))
    expect(Durations.parseIso8601(fixture.also_used_by_the_google_test.gracePeriodDuration)).toEqual(
      Either.right(fixture.also_used_by_the_google_test.grace_period_ms)
    )
  })
})

describe("T2 same user stacks subscriptions, auto-redeem", () => {
  it.effect("T2.1–T2.8", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T)
      const payments = yield* Payments
      const proofs = yield* Proofs
      const inspect = yield* Inspect
      const user = account()
      const injectGoogle = (token: string, order: string, plan: 1 | 2 | 3, expiry: number, who = user) =>
        payments.addUnredeemed({
          tx: { provider: 1, googlePaymentToken: token, googleOrderId: order },
          plan,
          unredeemedUnixTsMs: T,
          expiryUnixTsMs: expiry,
          platformRefundExpiryUnixTsMs: 0,
          googleObfuscatedAccountId: who.accountId
        })
      // T2.1
      const A = { token: randomHex(), order: `DEV.${randomHex()}` }
      expect((yield* injectGoogle(A.token, A.order, 1, D + 30 * DAY_MS)).inserted).toBe(true)
      const un = yield* payments.listUnredeemed
      expect(un.length).toBe(1)
      expect(un[0]).toMatchObject({
        status: 1, payment_provider: 1, unredeemed_unix_ts_ms: T, redeemed_unix_ts_ms: null, expiry_unix_ts_ms: D + 30 * DAY_MS,
        revoked_unix_ts_ms: null, google_payment_token: A.token, google_order_id: A.order, plan: 1
      })
      // T2.2
      const claimA = user.add({ provider: 1, googlePaymentToken: A.token, googleOrderId: A.order })
      const pA = yield* proofs.addProPayment(claimA)
      expect(pA.expiryUnixTsMs).toBe(D + 30 * DAY_MS)
      expect((yield* payments.listUnredeemed).length).toBe(0)
      const again = yield* Effect.flip(proofs.addProPayment(claimA))
      expect((again as RequestRejected).status).toBe(100)
      // T2.3
      const B = { token: randomHex(), order: `DEV.${randomHex()}` }
      yield* injectGoogle(B.token, B.order, 3, D + 31 * DAY_MS)
      const claimB = user.add({ provider: 1, googlePaymentToken: B.token, googleOrderId: B.order })
      const pB = yield* proofs.addProPayment(claimB)
      expect(pB.expiryUnixTsMs).toBe(D + 30 * DAY_MS) // clamped to ceil_day(T + 30 d)
      expect(((yield* Effect.flip(proofs.addProPayment(claimB))) as RequestRejected).status).toBe(100)
      expect(hex(pA.genIndexHash)).not.toBe(hex(pB.genIndexHash))
      // T2.4
      expect((yield* inspect.runtime()).gen_index).toBe(2)
      const users = yield* inspect.users()
      expect(users.length).toBe(1)
      expect(users[0]).toMatchObject({ master_pkey: user.masterPkey, gen_index: 1, expiry_unix_ts_ms: D + 31 * DAY_MS })
      const ps = yield* inspect.payments()
      expect(ps.map((p) => [p.google_order_id, p.plan, p.auto_renewing, p.redeemed_unix_ts_ms, p.revoked_unix_ts_ms, p.apple_tx_id]))
        .toEqual([[A.order, 1, true, D, null, null], [B.order, 3, true, D, null, null]])
      expect(yield* inspect.revocations()).toEqual([])
      const details = yield* (yield* ProDetails).get(user.details(T, 10))
      expect(details).toMatchObject({ status: 1, expiry_unix_ts_ms: D + 31 * DAY_MS, payments_total: 2 })
      expect(details.items.length).toBe(2)
      // T2.5
      const sweep = yield* (yield* ExpirySweep).run(D + 30 * DAY_MS)
      expect(sweep).toMatchObject({ alreadyDone: false, payments: 1, revocations: 0, users: 0 })
      expect((yield* inspect.payments())[0]!.status).toBe(3)
      expect((yield* inspect.runtime()).last_expire_unix_ts_ms).toBe(D + 30 * DAY_MS)
      expect((yield* (yield* ExpirySweep).run(D + 30 * DAY_MS)).alreadyDone).toBe(true)
      // T2.6
      expect(yield* payments.updateRenewalInfo({ provider: 1, googlePaymentToken: B.token, googleOrderId: B.order }, {
        gracePeriodDurationMs: 10_000,
        autoRenewing: false
      })).toBe(true)
      const [a2, b2] = yield* inspect.payments()
      expect([a2!.auto_renewing, a2!.grace_period_duration_ms]).toEqual([true, 0])
      expect([b2!.auto_renewing, b2!.grace_period_duration_ms]).toEqual([false, 10_000])
      expect((yield* inspect.users())[0]).toMatchObject({ auto_renewing: false, grace_period_duration_ms: 10_000, expiry_unix_ts_ms: D + 31 * DAY_MS })
      const d2 = yield* (yield* ProDetails).get(user.details(T, 10))
      expect(d2).toMatchObject({ auto_renewing: false, grace_period_duration_ms: 0 })
      expect(d2.items.find((i) => i.google_order_id === B.order)!.grace_period_duration_ms).toBe(10_000)
      // T2.8
      const user2 = account()
      const A2 = { token: "fake_auto_redeem_token", order: `DEV.${randomHex()}` }
      yield* injectGoogle(A2.token, A2.order, 1, D + 30 * DAY_MS, user2)
      yield* proofs.addProPayment(user2.add({ provider: 1, googlePaymentToken: A2.token, googleOrderId: A2.order }))
      expect((yield* payments.listUnredeemed).length).toBe(0)
      const B2order = `DEV.${randomHex()}`
      const r = yield* injectGoogle(A2.token, B2order, 3, D + 31 * DAY_MS, user2)
      expect(r.autoRedeemedFor).toEqual(user2.masterPkey)
      expect((yield* payments.listUnredeemed).length).toBe(0)
      const all = yield* inspect.payments()
      expect(all.length).toBe(4)
      for (const [p, order] of [[all[2]!, A2.order], [all[3]!, B2order]] as const) {
        expect(p).toMatchObject({
          status: 2, google_order_id: order, google_payment_token: A2.token, master_pkey: user2.masterPkey,
          unredeemed_unix_ts_ms: T, auto_renewing: true, grace_period_duration_ms: 0
        })
      }
      expect(all[3]!.redeemed_unix_ts_ms).toBe(D)
      const u2 = (yield* inspect.users()).find((u) => hex(u.master_pkey) === hex(user2.masterPkey))!
      expect(u2).toMatchObject({ gen_index: 3, expiry_unix_ts_ms: D + 31 * DAY_MS })
      // The repeated (duplicate) notification of B' is a quiet no-op (FLAG-19).
      expect(yield* injectGoogle(A2.token, B2order, 3, D + 31 * DAY_MS, user2)).toEqual({ inserted: false, autoRedeemedFor: undefined })
    }).pipe(Effect.provide(Backend.layerSqlite(":memory:"))))
})

describe("T3 core side: add payment, generate proof, revocation list", () => {
  it.effect("a claimed Google payment yields proofs; its refund lists the gen index", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T)
      const payments = yield* Payments
      const proofs = yield* Proofs
      const user = account(0x11)
      const tx = { provider: 1 as const, googlePaymentToken: "tok-t3", googleOrderId: "GPA.3" }
      yield* payments.addUnredeemed({
        tx, plan: 1, unredeemedUnixTsMs: T, expiryUnixTsMs: T + 30 * DAY_MS, platformRefundExpiryUnixTsMs: T + 2 * DAY_MS,
        googleObfuscatedAccountId: user.accountId
      })
      const p1 = yield* proofs.addProPayment(user.add(tx))
      const p2 = yield* proofs.generateProProof(user.generate(T))
      expect(hex(p2.genIndexHash)).toBe(hex(p1.genIndexHash))
      expect(p2.expiryUnixTsMs).toBe(T + 30 * DAY_MS) // FLAG-5: unrounded user expiry
      const revs = yield* Revocations
      expect((yield* revs.list(0)).items).toEqual([])
      yield* TestClock.adjust("1 hour")
      yield* payments.revokeChain({ provider: 1, chainId: "tok-t3", revokedAtMs: T + 3_600_000 })
      const list = yield* revs.list(0)
      expect(list.ticket).toBe(1)
      expect(list.items.map((i) => i.gen_index_hash)).toEqual([hex(p1.genIndexHash)])
      // D4e / FLAG-1: listed until the proofs it revokes have expired, not pruned tonight.
      expect(list.items[0]!.expiry_unix_ts_ms).toBeGreaterThanOrEqual(p1.expiryUnixTsMs)
      const gen = yield* Effect.flip(proofs.generateProProof(user.generate(T + 3_600_000)))
      expect((gen as RequestRejected).errors[0]).toMatch(/payment has been revoked/)
    }).pipe(Effect.provide(Backend.layerSqlite(":memory:"))))
})

describe("T3 core side, with the scenario's values", () => {
  it.effect("T3.2–T3.14 (T3.13 deviates by design: FLAG-1 fixed keeps the revocation until P1's entitlement ends)", () =>
    Effect.gen(function*() {
      const T0 = T
      yield* TestClock.setTime(T0)
      const payments = yield* Payments
      const proofs = yield* Proofs
      const inspect = yield* Inspect
      const revs = yield* Revocations
      const user = account()
      const P1 = { provider: 1 as const, googlePaymentToken: randomHex(), googleOrderId: `DEV.${randomHex()}` }
      yield* payments.addUnredeemed({
        tx: P1, plan: 1, unredeemedUnixTsMs: T0, expiryUnixTsMs: D + 90 * DAY_MS, platformRefundExpiryUnixTsMs: 0,
        googleObfuscatedAccountId: user.accountId
      })
      // T3.1
      expect(yield* (yield* ProDetails).get(user.details(T0, 10000))).toMatchObject({ status: 0, items: [], payments_total: 0 })
      // T3.2
      const p1 = yield* proofs.addProPayment(user.add(P1))
      expect(p1.expiryUnixTsMs).toBe(D + 30 * DAY_MS)
      expect((yield* inspect.users())[0]!.gen_index).toBe(0)
      // T3.3: a new rotating key, same gen index
      const rot2 = Ed25519.signingKeyFromSeed(new Uint8Array(32).fill(0x42))
      const h3 = generateProProofHash(0, user.masterPkey, rot2.publicKey, T0)
      const p3 = yield* proofs.generateProProof({
        version: 0, masterPkey: user.masterPkey, rotatingPkey: rot2.publicKey, masterSig: user.master.sign(h3), rotatingSig: rot2.sign(h3), unixTsMs: T0
      })
      expect(p3.expiryUnixTsMs).toBe(D + 30 * DAY_MS)
      expect(hex(p3.rotatingPkey)).toBe(hex(rot2.publicKey))
      expect(hex(p3.genIndexHash)).toBe(hex(p1.genIndexHash))
      expect(Ed25519.verify(p3.sig, proofHash(0, p3.genIndexHash, p3.rotatingPkey, p3.expiryUnixTsMs), (yield* Payments).backendPublicKey)).toBe(true)
      // T3.4
      const T2 = T0
      const P2 = { provider: 1 as const, googlePaymentToken: randomHex(), googleOrderId: `DEV.${randomHex()}` }
      yield* payments.addUnredeemed({
        tx: P2, plan: 1, unredeemedUnixTsMs: T2, expiryUnixTsMs: T2 + 30 * DAY_MS, platformRefundExpiryUnixTsMs: 0,
        googleObfuscatedAccountId: user.accountId
      })
      const p4 = yield* proofs.addProPayment(user.add(P2))
      expect(p4.expiryUnixTsMs).toBe(D + 30 * DAY_MS)
      expect(hex(p4.genIndexHash)).not.toBe(hex(p1.genIndexHash))
      // T3.5
      expect(yield* revs.list(0)).toEqual({ ticket: 0, items: [] })
      expect((yield* inspect.users())[0]!.gen_index).toBe(1)
      // T3.6
      yield* payments.revokeChain({ provider: 1, chainId: P2.googlePaymentToken, revokedAtMs: T2 })
      const l6 = yield* revs.list(0)
      expect(l6).toEqual({
        ticket: 1,
        items: [{ gen_index_hash: hex(p4.genIndexHash), expiry_unix_ts_ms: D + 90 * DAY_MS, effective_unix_ts_ms: T2 + DAY_MS }]
      })
      expect(yield* inspect.revocations()).toEqual([{ gen_index: 1, creation_unix_ts_ms: T2, expiry_unix_ts_ms: D + 90 * DAY_MS }])
      expect((yield* inspect.users())[0]!.gen_index).toBe(2)
      expect((yield* inspect.payments())[1]).toMatchObject({ status: 4, revoked_unix_ts_ms: T2, auto_renewing: false })
      // T3.7
      expect((yield* revs.list(1)).items).toEqual([])
      // T3.8
      const d8 = yield* (yield* ProDetails).get(user.details(T0, 10000))
      expect(d8).toMatchObject({ status: 1, auto_renewing: true, expiry_unix_ts_ms: D + 90 * DAY_MS, grace_period_duration_ms: 0, payments_total: 2 })
      expect(d8.items.map((i) => [i.status, i.revoked_unix_ts_ms, i.auto_renewing, i.redeemed_unix_ts_ms, i.expiry_unix_ts_ms])).toEqual([
        [4, T2, false, D, T2 + 30 * DAY_MS],
        [2, 0, true, D, D + 90 * DAY_MS]
      ])
      expect(Object.keys(d8.items[0]!).sort()).toEqual([
        "auto_renewing", "expiry_unix_ts_ms", "google_order_id", "google_payment_token", "grace_period_duration_ms", "payment_provider",
        "plan", "platform_refund_expiry_unix_ts_ms", "redeemed_unix_ts_ms", "refund_requested_unix_ts_ms", "revoked_unix_ts_ms", "status",
        "unredeemed_unix_ts_ms"
      ])
      // T3.11
      expect(yield* (yield* ProDetails).get(user.details(T0, 0))).toMatchObject({ status: 1, payments_total: 2, items: [] })
      // T3.12
      yield* payments.updateRenewalInfo(P1, { gracePeriodDurationMs: 10_000, autoRenewing: true })
      const deadline = D + 90 * DAY_MS + 10_000
      expect((yield* inspect.users())[0]!.expiry_unix_ts_ms).toBe(deadline)
      const p12 = yield* proofs.generateProProof(user.generate(deadline))
      expect(p12.expiryUnixTsMs).toBe(deadline)
      expect(((yield* Effect.flip(proofs.generateProProof(user.generate(deadline + 1)))) as RequestRejected).errors[0]).toMatch(/entitlement expired at/)
      // T3.13
      yield* payments.revokeChain({ provider: 1, chainId: P1.googlePaymentToken, revokedAtMs: T0 })
      const e13 = (yield* Effect.flip(proofs.generateProProof(user.generate(T0)))) as RequestRejected
      expect(e13).toMatchObject({ status: 1, errors: [`User ${hex(user.masterPkey)} payment has been revoked`] })
      expect((yield* inspect.runtime()).revocation_ticket).toBe(2)
      expect((yield* inspect.users())[0]).toMatchObject({ gen_index: 2, expiry_unix_ts_ms: T2 })
      // Reference: expiry = T2 (FLAG-1). Ours: the proofs issued under gen 2 run to `deadline`, so does the revocation.
      expect((yield* inspect.revocations())[1]).toEqual({ gen_index: 2, creation_unix_ts_ms: T0, expiry_unix_ts_ms: deadline })
      // T3.14
      const id = randomHex(16)
      yield* payments.addUnredeemed({
        tx: { provider: 2, appleOriginalTxId: id, appleTxId: id, appleWebLineOrderTxId: id }, plan: 1,
        unredeemedUnixTsMs: deadline + 1, expiryUnixTsMs: deadline + 1 + 30 * DAY_MS, platformRefundExpiryUnixTsMs: 0, appleAppAccountToken: ""
      })
      const p14 = yield* proofs.addProPayment(user.add({ provider: 2, appleTxId: id }))
      expect(p14.expiryUnixTsMs).toBe(ceilDay(T0 + 30 * DAY_MS))
      expect((yield* inspect.users())[0]!.gen_index).toBe(3)
      expect(yield* payments.setRefundRequested(user.refund(T0, T0, id))).toEqual({ updated: true })
    }).pipe(Effect.provide(Backend.layerSqlite(":memory:"))))
})
