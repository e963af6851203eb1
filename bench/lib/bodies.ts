/**
 * Valid request bodies for each client route, plain and wrapped in a v4 onion request, built the way
 * a client does it (core hashes + Ed25519 signatures; OnionRequests.Client's cipher/frame helpers).
 */
import * as Either from "effect/Either"
import {
  addProPaymentHash,
  generateProProofHash,
  getProDetailsHash,
  setPaymentRefundRequestedHash
} from "../../packages/core/src/Crypto/Hashes.js"
import { deriveClientKey, encrypt, type EncType, randomX25519KeyPair } from "../../packages/http/src/OnionRequests/Cipher.js"
import { decryptReply } from "../../packages/http/src/OnionRequests/Client.js"
import { encodeInnerRequest } from "../../packages/http/src/OnionRequests/Inner.js"
import { encodeOuterFrame } from "../../packages/http/src/OnionRequests/Outer.js"
import { type BenchUser, hex, type SigningKey } from "./keys.js"

export type RouteName = "add_pro_payment" | "generate_pro_proof" | "get_pro_details" | "set_payment_refund_requested" | "get_pro_revocations"
export const ROUTES: ReadonlyArray<RouteName> = [
  "generate_pro_proof",
  "add_pro_payment",
  "get_pro_details",
  "set_payment_refund_requested",
  "get_pro_revocations"
]

export const generateBody = (u: BenchUser, ts: number): string => {
  const h = generateProProofHash(0, u.master.publicKey, u.rotating.publicKey, ts)
  return JSON.stringify({
    version: 0,
    master_pkey: hex(u.master.publicKey),
    rotating_pkey: hex(u.rotating.publicKey),
    unix_ts_ms: ts,
    master_sig: hex(u.master.sign(h)),
    rotating_sig: hex(u.rotating.sign(h))
  })
}

export const addBody = (master: SigningKey, rotating: SigningKey, appleTxId: string): string => {
  const h = addProPaymentHash(0, master.publicKey, rotating.publicKey, { provider: 2, appleTxId })
  return JSON.stringify({
    version: 0,
    master_pkey: hex(master.publicKey),
    rotating_pkey: hex(rotating.publicKey),
    master_sig: hex(master.sign(h)),
    rotating_sig: hex(rotating.sign(h)),
    payment_tx: { provider: 2, apple_tx_id: appleTxId }
  })
}

export const detailsBody = (u: BenchUser, ts: number, count = 10): string =>
  JSON.stringify({
    version: 0,
    master_pkey: hex(u.master.publicKey),
    master_sig: hex(u.master.sign(getProDetailsHash(0, u.master.publicKey, ts, count))),
    unix_ts_ms: ts,
    count
  })

export const refundBody = (u: BenchUser, ts: number, refundTs: number): string =>
  JSON.stringify({
    version: 0,
    master_pkey: hex(u.master.publicKey),
    master_sig: hex(u.master.sign(setPaymentRefundRequestedHash(0, u.master.publicKey, ts, refundTs, { provider: 2, appleTxId: u.appleTxId }))),
    unix_ts_ms: ts,
    refund_requested_unix_ts_ms: refundTs,
    payment_tx: { provider: 2, apple_tx_id: u.appleTxId }
  })

export const revocationsBody = (): string => JSON.stringify({ version: 0, ticket: 0 })

/** What a client keeps to read the reply. */
export interface OnionSession {
  readonly encType: EncType
  readonly key: Uint8Array
}

/**
 * Onion wrapping with a pool of client ephemeral keys whose symmetric keys are derived once here:
 * the server still does the full X25519 + AEAD work per request, the bench process does not.
 */
export const onionWrapper = (serverPublicKey: Uint8Array, poolSize = 64, encType: EncType = "xchacha20") => {
  const pool = Array.from({ length: poolSize }, () => {
    const pair = randomX25519KeyPair()
    const key = Either.getOrThrow(deriveClientKey(encType, pair, serverPublicKey))
    return { pair, key, ek: hex(pair.publicKey) }
  })
  let next = 0
  return (path: string, json: string): { readonly body: Buffer; readonly session: OnionSession } => {
    const p = pool[next++ % pool.length]!
    const inner = encodeInnerRequest({ method: "POST", endpoint: path, headers: { "Content-Type": "application/json" }, body: json })
    const frame = encodeOuterFrame(encrypt(encType, p.key, inner), { ephemeral_key: p.ek, enc_type: encType })
    return { body: Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), session: { encType, key: p.key } }
  }
}

/** `"status":0` envelope check of a plain JSON reply. */
export const plainOk = (httpStatus: number, body: Buffer): boolean => {
  if (httpStatus !== 200) return false
  try {
    return JSON.parse(body.toString("utf8")).status === 0
  } catch {
    return false
  }
}

/** Decrypts an onion reply and checks the inner HTTP 200 + status-0 envelope. */
export const onionOk = (httpStatus: number, body: Buffer, session: OnionSession): boolean => {
  if (httpStatus !== 200) return false
  const r = decryptReply(session, new Uint8Array(body.buffer, body.byteOffset, body.byteLength))
  return Either.isRight(r) && r.right.code === 200 && plainOk(200, Buffer.from(r.right.body))
}

/** First error text of a reply, for diagnostics. */
export const describe = (httpStatus: number, body: Buffer, session?: OnionSession): string => {
  if (session !== undefined && httpStatus === 200) {
    const r = decryptReply(session, new Uint8Array(body.buffer, body.byteOffset, body.byteLength))
    return Either.isRight(r) ? `inner ${r.right.code}: ${Buffer.from(r.right.body).toString("utf8").slice(0, 300)}` : `undecryptable reply`
  }
  return `${httpStatus}: ${body.toString("utf8").slice(0, 300)}`
}
