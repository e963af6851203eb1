/**
 * Group commit of /add_pro_payment on SQLite (Proofs.makeGroupCommit): redemptions that arrive in the same
 * event-loop turn share one transaction. Whatever the grouping, every reply and the final database must be
 * those of the same requests run one by one.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Backend,
  Database,
  DAY_MS,
  ExpirySweep,
  hex,
  Inspect,
  type PaymentTx,
  Payments,
  proofToJson,
  Proofs
} from "@session-pro/core"
import { Effect, Fiber, TestClock } from "effect"
import { tempDbPath } from "./engines.js"
import { account } from "./helpers.js"

const T = 1767237945500
const SEED = new Uint8Array(32).fill(7)
const SALT = new Uint8Array(16).fill(9)

const google = (token: string, order: string): PaymentTx & { provider: 1 } => ({ provider: 1, googlePaymentToken: token, googleOrderId: order })
const appleTx = (id: string): PaymentTx & { provider: 2 } => ({ provider: 2, appleOriginalTxId: id, appleTxId: id, appleWebLineOrderTxId: "" })

// Fixed keys, so both runs sign the same requests.
const users = Array.from({ length: 8 }, (_, i) => account(0x20 + 2 * i))
const shadowed = account(0x60)

/** Payments (and one shadowed claim, FLAG-18) set up one by one; the requests to run afterwards. */
const setup = Effect.gen(function*() {
  yield* TestClock.setTime(T)
  const payments = yield* Payments
  const proofs = yield* Proofs
  for (let i = 0; i < 6; i++) {
    yield* payments.addUnredeemed({ tx: appleTx(`apple-${i}`), plan: 1, unredeemedUnixTsMs: T, expiryUnixTsMs: T + (30 + i) * DAY_MS, platformRefundExpiryUnixTsMs: T })
  }
  const g = users[6]!
  yield* payments.addUnredeemed({
    tx: google("tok", "GPA.1"), plan: 1, unredeemedUnixTsMs: T, expiryUnixTsMs: T + 30 * DAY_MS,
    platformRefundExpiryUnixTsMs: T + 2 * DAY_MS, googleObfuscatedAccountId: g.accountId
  })
  // FLAG-18: claiming the older row of this chain redeems it, then finds it shadowed: a refusal after writes.
  const s = google("stok", "GPA.7..0")
  yield* payments.addUnredeemed({
    tx: s, plan: 1, unredeemedUnixTsMs: T, expiryUnixTsMs: T + 60 * DAY_MS, platformRefundExpiryUnixTsMs: T, googleObfuscatedAccountId: shadowed.accountId
  })
  yield* payments.addUnredeemed({
    tx: google("stok", "GPA.7..1"), plan: 1, unredeemedUnixTsMs: T, expiryUnixTsMs: T + 2 * DAY_MS, platformRefundExpiryUnixTsMs: T,
    googleObfuscatedAccountId: shadowed.accountId
  })
  yield* proofs.addProPayment(shadowed.add({ provider: 1, googlePaymentToken: "stok", googleOrderId: "GPA.7..1" }))
  yield* (yield* ExpirySweep).run(T + 3 * DAY_MS)
  yield* TestClock.setTime(T + 3 * DAY_MS)
  const claim = (i: number) => users[i]!.add({ provider: 2, appleTxId: `apple-${i}` })
  return {
    plain: [claim(0), claim(1), claim(2)],
    refusals: [
      users[3]!.add({ provider: 2, appleTxId: "apple-unknown" }), // 101, writes nothing
      claim(3),
      claim(3), // the same claim again in the same group: 100 (already redeemed by this key)
      users[4]!.add({ provider: 2, appleTxId: "apple-3" }), // someone else's: 101
      claim(4),
      g.add({ provider: 1, googlePaymentToken: "tok", googleOrderId: "GPA.1" }) // Google: an outbox row at the request's clock
    ],
    afterWrites: [claim(5), shadowed.add({ provider: 1, googlePaymentToken: "stok", googleOrderId: "GPA.7..0" }), users[7]!.add({ provider: 2, appleTxId: "apple-5" })]
  }
})

type Req = ReturnType<(typeof users)[number]["add"]>
const outcome = (e: Effect.Effect<Parameters<typeof proofToJson>[0], unknown>) =>
  Effect.map(Effect.either(e), (r) => (r._tag === "Right" ? { proof: proofToJson(r.right) } : { refused: r.left }))

/** Everything the requests can have written. */
const dump = Effect.gen(function*() {
  const inspect = yield* Inspect
  const db = yield* Database
  return {
    payments: yield* inspect.payments(),
    users: (yield* inspect.users()).map((u) => ({ ...u, master_pkey: hex(u.master_pkey) })),
    runtime: yield* inspect.runtime(),
    outbox: yield* inspect.googleAckOutbox(),
    watermarks: yield* db.q`SELECT gen_index, max_expiry_unix_ts_ms FROM gen_index_proof_expiry ORDER BY gen_index`,
    candidates: (yield* db.q`SELECT master_pkey FROM user_prune_candidates ORDER BY master_pkey`).map((r: any) => hex(r.master_pkey))
  }
})

const layer = () => Backend.layerSqlite(tempDbPath("group"), {}, { backendSeed: SEED, salt: SALT })

const runBoth = (pick: (r: Effect.Effect.Success<typeof setup>) => ReadonlyArray<Req>) =>
  Effect.gen(function*() {
    const one = yield* Effect.gen(function*() {
      const proofs = yield* Proofs
      const reqs = pick(yield* setup)
      const results = yield* Effect.forEach(reqs, (r) => outcome(proofs.addProPayment(r)))
      return { results, state: yield* dump }
    }).pipe(Effect.provide(layer()))
    const grouped = yield* Effect.gen(function*() {
      const proofs = yield* Proofs
      const reqs = pick(yield* setup)
      // All started in this turn: they join one group, in this order.
      const results = yield* Effect.all(reqs.map((r) => outcome(proofs.addProPayment(r))), { concurrency: "unbounded" })
      return { results, state: yield* dump }
    }).pipe(Effect.provide(layer()))
    return { one, grouped }
  })

describe("group commit (SQLite)", () => {
  it.effect("concurrent redemptions: the replies and the database of one-by-one execution", () =>
    Effect.gen(function*() {
      const { grouped, one } = yield* runBoth((r) => r.plain)
      expect(grouped.results.every((r) => "proof" in r)).toBe(true)
      expect(new Set(grouped.results.map((r: any) => r.proof.gen_index_hash)).size).toBe(3)
      expect(grouped).toEqual(one)
    }))

  it.effect("refusals without writes stay in the group; a second claim in the same group sees the first", () =>
    Effect.gen(function*() {
      const { grouped, one } = yield* runBoth((r) => r.refusals)
      expect(grouped.results.map((r: any) => r.refused?.status ?? 0)).toEqual([101, 0, 100, 101, 0, 0])
      expect(grouped.state.outbox.map((o) => [o.purchase_token, o.created_unix_ts_ms])).toEqual([["stok", T], ["tok", T + 3 * DAY_MS]])
      expect(grouped).toEqual(one)
    }))

  it.effect("a refusal after writes (FLAG-18) rolls the group back; every member runs again on its own", () =>
    Effect.gen(function*() {
      const { grouped, one } = yield* runBoth((r) => r.afterWrites)
      expect(grouped.results.map((r: any) => r.refused?.status ?? 0)).toEqual([0, 1, 101])
      expect(grouped.state.payments.find((p) => p.google_order_id === "GPA.7..0")!.status).toBe(1) // still claimable
      expect(grouped).toEqual(one)
    }))

  it.effect("a request interrupted before its group runs redeems nothing", () =>
    Effect.gen(function*() {
      const proofs = yield* Proofs
      const reqs = (yield* setup).plain
      // The first redemption of a turn runs at once on its own; the second waits for the turn's group.
      const first = yield* Effect.fork(proofs.addProPayment(reqs[0]!))
      const second = yield* Effect.fork(proofs.addProPayment(reqs[1]!))
      // Let both reach the group commit (microtasks only: the group waits for the next event-loop turn).
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      expect(first.unsafePoll()?._tag).toBe("Success")
      expect(second.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(second)
      const after = yield* proofs.addProPayment(reqs[2]!)
      expect(after.version).toBe(0)
      const payments = yield* (yield* Inspect).payments()
      expect(payments.find((p) => p.apple_tx_id === "apple-0")!.status).toBe(2)
      expect(payments.find((p) => p.apple_tx_id === "apple-1")!.status).toBe(1)
      expect(payments.find((p) => p.apple_tx_id === "apple-2")!.status).toBe(2)
    }).pipe(Effect.provide(layer())))
})
