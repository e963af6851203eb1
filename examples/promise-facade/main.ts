/**
 * The core from a non-Effect host: plain async/await through `openBackend` (the Promise facade).
 * No Effect code here at all — this is what an Express/Fastify service or a script would write.
 *
 *   npm run example:promise-facade [-- --db ./pro.db]     # default: SQLite in memory
 *
 * Failures reject with the core's tagged errors (`RequestRejected` carries the protocol status),
 * and time is the real clock.
 */
import {
  accountIdForMaster,
  addProPaymentHash,
  Ed25519,
  generateProProofHash,
  getProDetailsHash,
  hex,
  openBackend,
  RequestRejected
} from "@session-pro/core"
import { pathToFileURL } from "node:url"

const DAY = 86_400_000

export const run = async (options: { db?: string; print?: (line: string) => void } = {}) => {
  const print = options.print ?? console.log
  const backend = await openBackend({ sqlite: options.db ?? ":memory:" })
  try {
    print(`backend public key: ${hex(backend.payments.backendPublicKey)}`)

    const master = Ed25519.signingKeyFromSeed(Ed25519.randomSeed())
    const rotating = Ed25519.signingKeyFromSeed(Ed25519.randomSeed())
    const now = Date.now()

    // A Google purchase arrives (the stores package would do this from an RTDN); the Play Billing
    // obfuscatedAccountId binds it to the account: SHA-256 of the master public key.
    const tx = { provider: 1 as const, googlePaymentToken: `token-${now}`, googleOrderId: `GPA.${now}` }
    const stored = await backend.payments.addUnredeemed({
      tx,
      plan: 3,
      unredeemedUnixTsMs: now,
      expiryUnixTsMs: now + 365 * DAY,
      platformRefundExpiryUnixTsMs: now + 2 * DAY,
      googleObfuscatedAccountId: accountIdForMaster(master.publicKey)
    })
    print(`payment stored: ${stored.inserted}`)

    // The app redeems it (the same call the HTTP route makes after parsing).
    const h = addProPaymentHash(0, master.publicKey, rotating.publicKey, tx)
    const proof = await backend.proofs.addProPayment({
      version: 0,
      masterPkey: master.publicKey,
      rotatingPkey: rotating.publicKey,
      masterSig: master.sign(h),
      rotatingSig: rotating.sign(h),
      paymentTx: tx
    })
    print(`proof: ${JSON.stringify(backend.proofs.proofToJson(proof))}`)

    // Redeeming twice is refused with the protocol status (100 = already redeemed by this key).
    try {
      await backend.proofs.addProPayment({
        version: 0,
        masterPkey: master.publicKey,
        rotatingPkey: rotating.publicKey,
        masterSig: master.sign(h),
        rotatingSig: rotating.sign(h),
        paymentTx: tx
      })
    } catch (e) {
      if (e instanceof RequestRejected) print(`second redemption refused: status ${e.status}: ${e.errors.join("; ")}`)
      else throw e
    }

    const g = generateProProofHash(0, master.publicKey, rotating.publicKey, now)
    const again = await backend.proofs.generateProProof({
      version: 0,
      masterPkey: master.publicKey,
      rotatingPkey: rotating.publicKey,
      masterSig: master.sign(g),
      rotatingSig: rotating.sign(g),
      unixTsMs: now
    })
    print(`generated proof expires ${new Date(again.expiryUnixTsMs).toISOString()}`)

    const details = await backend.proDetails.get({
      masterPkey: master.publicKey,
      masterSig: master.sign(getProDetailsHash(0, master.publicKey, now, 5)),
      unixTsMs: now,
      count: 5
    })
    print(`details: status ${details.status}, plan ${details.items[0]?.plan}, ${details.payments_total} payment(s)`)

    // Google voids the purchase: revoke the chain; the revocation list grows.
    const revoked = await backend.payments.revokeChain({ provider: 1, chainId: tx.googlePaymentToken, revokedAtMs: now })
    const list = await backend.revocations.list(0)
    print(`revoked ${revoked.revokedPayments} payment(s); revocation list ticket ${list.ticket}: ${JSON.stringify(list.items)}`)

    const sweep = await backend.expirySweep.run(Math.floor(now / DAY) * DAY)
    print(`daily sweep: ${JSON.stringify({ alreadyDone: sweep.alreadyDone, payments: sweep.paymentRows, revocations: sweep.revocations })}`)
    return { proof: backend.proofs.proofToJson(proof), details, ticket: list.ticket }
  } finally {
    await backend.close()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const i = process.argv.indexOf("--db")
  run({ db: i >= 0 ? process.argv[i + 1] : undefined }).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
