/** Deterministic bench identities: Ed25519 signing keys derived from a label, so runs are repeatable. */
import { createHash } from "node:crypto"
import { Ed25519 } from "../../packages/core/src/Crypto/index.js"

export type SigningKey = Ed25519.SigningKey

export const seedOf = (label: string): Uint8Array => new Uint8Array(createHash("sha256").update(label).digest())

export const keyOf = (label: string): SigningKey => Ed25519.signingKeyFromSeed(seedOf(label))

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

/** A driven user: real master + rotating keys and the Apple tx id of its redeemed payment. */
export interface BenchUser {
  readonly index: number
  readonly master: SigningKey
  readonly rotating: SigningKey
  readonly appleTxId: string
}

export const benchUser = (index: number): BenchUser => ({
  index,
  master: keyOf(`bench-master-${index}`),
  rotating: keyOf(`bench-rotating-${index}`),
  appleTxId: `bench-user-${index}`
})
