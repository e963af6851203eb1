import {
  accountIdForMaster,
  addProPaymentHash,
  DAY_MS,
  Ed25519,
  generateProProofHash,
  getProDetailsHash,
  hex,
  setPaymentRefundRequestedHash,
  type UserPaymentTx
} from "@session-pro/core"
import * as crypto from "node:crypto"

/** A Session account: master + rotating key pair, and signed request builders. */
export const account = (seedByte?: number) => {
  const seed = (b?: number) => (b === undefined ? new Uint8Array(crypto.randomBytes(32)) : new Uint8Array(32).fill(b))
  const master = Ed25519.signingKeyFromSeed(seed(seedByte))
  const rotating = Ed25519.signingKeyFromSeed(seed(seedByte === undefined ? undefined : seedByte + 1))
  return {
    master,
    rotating,
    masterPkey: master.publicKey,
    accountId: accountIdForMaster(master.publicKey),
    add: (paymentTx: UserPaymentTx) => {
      const h = addProPaymentHash(0, master.publicKey, rotating.publicKey, paymentTx)
      return { version: 0, masterPkey: master.publicKey, rotatingPkey: rotating.publicKey, masterSig: master.sign(h), rotatingSig: rotating.sign(h), paymentTx }
    },
    generate: (unixTsMs: number) => {
      const h = generateProProofHash(0, master.publicKey, rotating.publicKey, unixTsMs)
      return { version: 0, masterPkey: master.publicKey, rotatingPkey: rotating.publicKey, masterSig: master.sign(h), rotatingSig: rotating.sign(h), unixTsMs }
    },
    details: (unixTsMs: number, count: number) => ({
      masterPkey: master.publicKey,
      masterSig: master.sign(getProDetailsHash(0, master.publicKey, unixTsMs, count)),
      unixTsMs,
      count
    }),
    refund: (unixTsMs: number, refundRequestedUnixTsMs: number, appleTxId: string) => ({
      masterPkey: master.publicKey,
      masterSig: master.sign(setPaymentRefundRequestedHash(0, master.publicKey, unixTsMs, refundRequestedUnixTsMs, { provider: 2, appleTxId })),
      unixTsMs,
      refundRequestedUnixTsMs,
      paymentTx: { provider: 2 as const, appleTxId }
    })
  }
}
export type Account = ReturnType<typeof account>

export const randomHex = (n = 32) => hex(new Uint8Array(crypto.randomBytes(n)))
export const ceilDay = (t: number) => Math.ceil(t / DAY_MS) * DAY_MS
