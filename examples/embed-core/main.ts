/**
 * Embedding the core in a plain TypeScript program (no HTTP): SQLite in memory, Effect's TestClock
 * driving a year of one Apple subscription — purchase, redemption, eleven monthly renewals,
 * the daily sweep, a refund that revokes the subscription, the revocation list clients sync, and
 * the sweep pruning everything once it has expired. Prints the timeline.
 *
 *   npm run example:embed-core
 *
 * Everything time-dependent in the core reads Effect's `Clock`, so `TestClock.adjust` is all it
 * takes to move a year in milliseconds.
 */
import {
  addProPaymentHash,
  Backend,
  DAY_MS,
  Ed25519,
  ExpirySweep,
  generateProProofHash,
  getProDetailsHash,
  hex,
  Inspect,
  Payments,
  ProDetails,
  Proofs,
  RequestRejected,
  Revocations
} from "@session-pro/core"
import { Clock, Effect, TestClock, TestContext } from "effect"
import { pathToFileURL } from "node:url"

const START = Date.parse("2026-01-05T09:30:00.000Z")
const MONTH = 30 * DAY_MS

const program = (print: (line: string) => void) =>
  Effect.gen(function*() {
    const proofs = yield* Proofs
    const payments = yield* Payments
    const revocations = yield* Revocations
    const details = yield* ProDetails
    const sweep = yield* ExpirySweep
    const inspect = yield* Inspect

    yield* TestClock.setTime(START)
    const now = Clock.currentTimeMillis
    const line = (text: string) => Effect.map(now, (t) => print(`${new Date(t).toISOString().slice(0, 16).replace("T", " ")}  ${text}`))
    /** The daily job for the last midnight; the core's guard makes repeats no-ops. */
    const dailySweep = Effect.gen(function*() {
      const midnight = Math.floor((yield* now) / DAY_MS) * DAY_MS
      const r = yield* sweep.run(midnight)
      if (!r.alreadyDone && r.paymentRows + r.revocations + r.users > 0) {
        yield* line(`daily sweep: ${r.paymentRows} payment(s) expired, ${r.revocations} revocation(s) pruned, ${r.users} user(s) removed`)
      }
    })

    // The Session account: master key from the account seed, one rotating key.
    const master = Ed25519.signingKeyFromSeed(new Uint8Array(32).fill(7))
    const rotating = Ed25519.signingKeyFromSeed(new Uint8Array(32).fill(8))
    const originalTxId = "2000000123456789"
    yield* line(`account ${hex(master.publicKey).slice(0, 16)}…, rotating key ${hex(rotating.publicKey).slice(0, 16)}…`)

    // 1. Apple tells us about the purchase (what the stores package does on a notification).
    const purchase = (n: number) =>
      Effect.gen(function*() {
        const t = yield* now
        return yield* payments.addUnredeemed({
          tx: { provider: 2, appleOriginalTxId: originalTxId, appleTxId: `${BigInt(originalTxId) + BigInt(n)}`, appleWebLineOrderTxId: `web-${n}` },
          plan: 1,
          unredeemedUnixTsMs: t,
          expiryUnixTsMs: t + MONTH,
          platformRefundExpiryUnixTsMs: 0,
          appleAppAccountToken: ""
        })
      })
    yield* purchase(0)
    yield* line(`Apple notification: one-month subscription bought (tx ${originalTxId})`)

    // 2. The app redeems it with a request signed by both keys (protocol.md §3.2).
    const txId = originalTxId
    const h = addProPaymentHash(0, master.publicKey, rotating.publicKey, { provider: 2, appleTxId: txId })
    const proof = yield* proofs.addProPayment({
      version: 0,
      masterPkey: master.publicKey,
      rotatingPkey: rotating.publicKey,
      masterSig: master.sign(h),
      rotatingSig: rotating.sign(h),
      paymentTx: { provider: 2, appleTxId: txId }
    })
    yield* line(`redeemed: proof for gen_index_hash ${hex(proof.genIndexHash).slice(0, 16)}…, expires ${new Date(proof.expiryUnixTsMs).toISOString().slice(0, 10)}`)

    const generate = Effect.gen(function*() {
      const t = yield* now
      const g = generateProProofHash(0, master.publicKey, rotating.publicKey, t)
      return yield* proofs.generateProProof({
        version: 0,
        masterPkey: master.publicKey,
        rotatingPkey: rotating.publicKey,
        masterSig: master.sign(g),
        rotatingSig: rotating.sign(g),
        unixTsMs: t
      })
    })
    const status = Effect.gen(function*() {
      const t = yield* now
      const d = yield* details.get({ masterPkey: master.publicKey, masterSig: master.sign(getProDetailsHash(0, master.publicKey, t, 0)), unixTsMs: t, count: 0 })
      return `${["never pro", "active", "expired"][d.status]}, ${d.payments_total} payment(s), expiry ${new Date(d.expiry_unix_ts_ms).toISOString().slice(0, 10)}`
    })

    // 3. Eleven renewals, a day before each period ends; the app refreshes its proof monthly.
    for (let month = 1; month <= 11; month++) {
      yield* TestClock.adjust(MONTH - DAY_MS)
      yield* dailySweep
      const r = yield* purchase(month)
      yield* line(`renewal ${month}: ${r.autoRedeemedFor ? "auto-redeemed for the same account" : "stored, waiting for redemption"}`)
      yield* TestClock.adjust(DAY_MS)
      yield* dailySweep
      const p = yield* generate
      yield* line(`  new proof valid until ${new Date(p.expiryUnixTsMs).toISOString().slice(0, 16)}; ${yield* status}`)

      // 4. Month 9: the user gets a refund from Apple → the subscription chain is revoked.
      if (month === 9) {
        const revoked = yield* payments.revokeChain({ provider: 2, chainId: originalTxId, revokedAtMs: yield* now })
        yield* line(`REFUND: ${revoked.revokedPayments} payment(s) revoked, generation index(es) ${revoked.revokedGenIndexes.join(", ")} revoked`)
        const list = yield* revocations.list(0)
        for (const item of list.items) {
          yield* line(`  revocation list (ticket ${list.ticket}): ${item.gen_index_hash.slice(0, 16)}… effective ${new Date(item.effective_unix_ts_ms).toISOString().slice(0, 16)}, listed until ${new Date(item.expiry_unix_ts_ms).toISOString().slice(0, 10)}`)
        }
        const refused = yield* Effect.flip(generate)
        yield* line(`  a new proof is refused: ${refused instanceof RequestRejected ? `status ${refused.status}, ${refused.errors[0]}` : String(refused)}`)
        yield* line(`  ${yield* status}`)
        break
      }
    }

    // 5. Two months pass day by day: the daily sweep expires the payments and drops the revocation.
    for (let day = 0; day < 60; day++) {
      yield* TestClock.adjust(DAY_MS)
      yield* dailySweep
    }
    const list = yield* revocations.list(0)
    yield* line(`revocation list now: ticket ${list.ticket}, ${list.items.length} item(s)`)
    const rows = yield* inspect.payments()
    yield* line(`payments table: ${rows.length} row(s), statuses ${[...new Set(rows.map((r: any) => r.status))].join(", ")} (3 = expired, 4 = revoked)`)
    yield* line(`account: ${yield* status}`)
    return { rows: rows.length, ticket: list.ticket, items: list.items.length }
  })

export const run = (print: (line: string) => void = console.log) =>
  Effect.runPromise(
    program(print).pipe(
      Effect.provide(Backend.layerSqlite(":memory:")),
      Effect.provide(TestContext.TestContext)
    )
  )

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  run().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
