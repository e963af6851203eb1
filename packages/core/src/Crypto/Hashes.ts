import { blake2b } from "@noble/hashes/blake2.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { PaymentProvider } from "../Domain/Enums.js"
import { concat, hex, u32le, u64le, u8, utf8 } from "./Bytes.js"

/** The five personalisations of the signed messages (protocol.md §3.2), 16 ASCII bytes each. */
export const Personalisation = {
  AddPayment: "ProAddPayment___",
  GenerateProof: "ProGenerateProof",
  GetProDetails: "ProGetProDetReq_",
  SetRefundRequested: "ProSetRefundReq_",
  Proof: "ProProof________"
} as const
export type Personalisation = (typeof Personalisation)[keyof typeof Personalisation]

const pad16 = (b: Uint8Array): Uint8Array => {
  if (b.length > 16) throw new RangeError("personalisation/salt longer than 16 bytes")
  const out = new Uint8Array(16)
  out.set(b)
  return out
}

type Blake2bState = ReturnType<typeof blake2b.create>

/**
 * Hash states with the parameter block (length, personalisation, salt) already absorbed, by
 * personalisation and salt: the routes use a handful of fixed ones. Building a state per call
 * (option checks, padding, copies) cost more than hashing a short message.
 */
const initialStates = new Map<string, Blake2bState>()
/** Every hash runs in this one state (copied from an initial state); hashing is synchronous. */
const scratch: Blake2bState = blake2b.create({ dkLen: 32 })

const initialState = (personalisation: string | Uint8Array | undefined, salt: Uint8Array | undefined): Blake2bState => {
  const id = `${typeof personalisation === "string" ? `s${personalisation}` : personalisation === undefined ? "" : `b${hex(personalisation)}`}|${salt === undefined ? "" : hex(salt)}`
  let state = initialStates.get(id)
  if (state === undefined) {
    state = blake2b.create({
      dkLen: 32,
      personalization: pad16(typeof personalisation === "string" ? utf8(personalisation) : personalisation ?? new Uint8Array()),
      salt: pad16(salt ?? new Uint8Array())
    })
    if (initialStates.size >= 64) initialStates.clear()
    initialStates.set(id, state)
  }
  return state
}

/** BLAKE2b-256 with a 16-byte personalisation and salt, zero-padded like Python's hashlib and libsodium. */
export const blake2b256 = (
  data: Uint8Array,
  options: { readonly personalisation?: string | Uint8Array; readonly salt?: Uint8Array } = {}
): Uint8Array => {
  initialState(options.personalisation, options.salt)._cloneInto(scratch)
  return scratch.update(data).digest() // digest() returns a copy
}

/** The provider-dependent tail `ID` of the add-payment and refund messages. */
export type PaymentIdentity =
  | { readonly provider: typeof PaymentProvider.Nil }
  | { readonly provider: typeof PaymentProvider.GooglePlayStore; readonly googlePaymentToken: string; readonly googleOrderId: string }
  | { readonly provider: typeof PaymentProvider.iOSAppStore; readonly appleTxId: string }
  | { readonly provider: typeof PaymentProvider.Rangeproof; readonly rangeproofOrderId: string }

const identityBytes = (tx: PaymentIdentity): Uint8Array => {
  switch (tx.provider) {
    case PaymentProvider.GooglePlayStore:
      return concat(utf8(tx.googlePaymentToken), utf8(tx.googleOrderId))
    case PaymentProvider.iOSAppStore:
      return utf8(tx.appleTxId)
    case PaymentProvider.Rangeproof:
      return utf8(tx.rangeproofOrderId)
    case PaymentProvider.Nil:
      return new Uint8Array()
  }
}

export const addProPaymentMessage = (
  version: number,
  masterPkey: Uint8Array,
  rotatingPkey: Uint8Array,
  tx: PaymentIdentity
): Uint8Array => concat(u8(version), masterPkey, rotatingPkey, u8(tx.provider), identityBytes(tx))

export const addProPaymentHash = (version: number, masterPkey: Uint8Array, rotatingPkey: Uint8Array, tx: PaymentIdentity) =>
  blake2b256(addProPaymentMessage(version, masterPkey, rotatingPkey, tx), { personalisation: Personalisation.AddPayment })

export const generateProProofHash = (
  version: number,
  masterPkey: Uint8Array,
  rotatingPkey: Uint8Array,
  unixTsMs: number | bigint
) =>
  blake2b256(concat(u8(version), masterPkey, rotatingPkey, u64le(unixTsMs)), {
    personalisation: Personalisation.GenerateProof
  })

export const getProDetailsHash = (version: number, masterPkey: Uint8Array, unixTsMs: number | bigint, count: number) =>
  blake2b256(concat(u8(version), masterPkey, u64le(unixTsMs), u32le(count)), {
    personalisation: Personalisation.GetProDetails
  })

export const setPaymentRefundRequestedHash = (
  version: number,
  masterPkey: Uint8Array,
  unixTsMs: number | bigint,
  refundRequestedUnixTsMs: number | bigint,
  tx: PaymentIdentity
) =>
  blake2b256(
    concat(u8(version), masterPkey, u64le(unixTsMs), u64le(refundRequestedUnixTsMs), u8(tx.provider), identityBytes(tx)),
    { personalisation: Personalisation.SetRefundRequested }
  )

export const proofHash = (version: number, genIndexHash: Uint8Array, rotatingPkey: Uint8Array, expiryUnixTsMs: number) =>
  blake2b256(concat(u8(version), genIndexHash, rotatingPkey, u64le(expiryUnixTsMs)), {
    personalisation: Personalisation.Proof
  })

/** `gen_index_hash`: unlinkable public identifier of a generation index (salted, no personalisation). */
export const genIndexHash = (genIndex: number, salt: Uint8Array): Uint8Array => blake2b256(u64le(genIndex), { salt })

/** Google `obfuscatedAccountId` binding: SHA-256 of the master public key. */
export const accountIdForMaster = (masterPkey: Uint8Array): Uint8Array => sha256(masterPkey)
