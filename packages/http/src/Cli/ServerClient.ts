/**
 * A client for a running Session Pro server: builds the five v0 requests (protocol.md §2), signs them
 * with the core crypto helpers exactly as Session clients do (§3.2), sends them as plain JSON POSTs,
 * and verifies returned proofs (§5). Everything request-shaped lives here so a generated SDK can
 * replace this one module later; the `server` commands only print what it returns.
 */
import { HttpClient, HttpClientRequest, FetchHttpClient } from "@effect/platform"
import {
  addProPaymentHash,
  Ed25519,
  fromHex,
  generateProProofHash,
  getProDetailsHash,
  hex,
  proofHash,
  setPaymentRefundRequestedHash
} from "@session-pro/core"
import { Effect } from "effect"
import * as NodeCrypto from "node:crypto"
import { cliError, type CliError, oneLine } from "./Errors.js"

export type KeyPair = Ed25519.SigningKey

/** A 32-byte seed, or a 64-byte libsodium secret key (seed ‖ public key), as hex with optional `0x`. */
export const keyFromHex = (label: string, text: string): KeyPair | string => {
  const t = text.trim().replace(/^0x/i, "")
  if (!/^[0-9a-fA-F]*$/.test(t) || (t.length !== 64 && t.length !== 128)) {
    return `${label} must be a 32-byte seed (64 hex) or a 64-byte secret key (128 hex)`
  }
  const raw = fromHex(t)
  const key = Ed25519.signingKeyFromSeed(raw.subarray(0, 32))
  if (raw.length === 64 && hex(raw.subarray(32)) !== hex(key.publicKey)) {
    return `${label}: the last 32 bytes are not the public key of the first 32`
  }
  return key
}

export const randomKey = (): KeyPair => Ed25519.signingKeyFromSeed(Ed25519.randomSeed())

export type StoreProvider = "google" | "apple" | "rangeproof"
export const PROVIDER_NUMBER: Record<StoreProvider, 1 | 2 | 3> = { google: 1, apple: 2, rangeproof: 3 }
export const DEV_PLAN_NAMES = { "1M": "OneMonth", "3M": "ThreeMonth", "12M": "TwelveMonth" } as const
export type DevPlan = keyof typeof DEV_PLAN_NAMES

export interface PaymentIds {
  readonly googlePaymentToken?: string | undefined
  readonly googleOrderId?: string | undefined
  readonly appleTxId?: string | undefined
  readonly rangeproofOrderId?: string | undefined
}

type WireTx =
  | { provider: 1; google_payment_token: string; google_order_id: string }
  | { provider: 2; apple_tx_id: string }
  | { provider: 3; rangeproof_order_id: string }

const identity = (tx: WireTx) =>
  tx.provider === 1
    ? { provider: 1 as const, googlePaymentToken: tx.google_payment_token, googleOrderId: tx.google_order_id }
    : tx.provider === 2
    ? { provider: 2 as const, appleTxId: tx.apple_tx_id }
    : { provider: 3 as const, rangeproofOrderId: tx.rangeproof_order_id }

const randomHex = (bytes: number) => NodeCrypto.randomBytes(bytes).toString("hex")

/**
 * The payment to redeem: the given ids, or fresh `DEV.` ones that a dev-mode server creates on the
 * fly (§3.7). The Google token is 16 random hex characters, as in the reference CLI.
 */
export const wireTx = (provider: StoreProvider, ids: PaymentIds): WireTx => {
  switch (provider) {
    case "google":
      return {
        provider: 1,
        google_payment_token: ids.googlePaymentToken ?? randomHex(8),
        google_order_id: ids.googleOrderId ?? `DEV.${NodeCrypto.randomUUID()}`
      }
    case "apple":
      return { provider: 2, apple_tx_id: ids.appleTxId ?? `DEV.${NodeCrypto.randomUUID()}` }
    case "rangeproof":
      return { provider: 3, rangeproof_order_id: ids.rangeproofOrderId ?? `DEV.${NodeCrypto.randomUUID()}` }
  }
}

// ---------------------------------------------------------------------------------------------
// Request builders (pure apart from the random ids above)

export const buildAddProPayment = (input: {
  readonly version: number
  readonly master: KeyPair
  readonly rotating: KeyPair
  readonly tx: WireTx
  readonly devPlan?: DevPlan | undefined
  readonly devDurationMs?: number | undefined
  readonly devAutoRenewing?: boolean | undefined
}): Record<string, unknown> => {
  const h = addProPaymentHash(input.version, input.master.publicKey, input.rotating.publicKey, identity(input.tx))
  return {
    version: input.version,
    master_pkey: hex(input.master.publicKey),
    rotating_pkey: hex(input.rotating.publicKey),
    master_sig: hex(input.master.sign(h)),
    rotating_sig: hex(input.rotating.sign(h)),
    payment_tx: input.tx,
    ...(input.devPlan !== undefined ? { dev_plan: DEV_PLAN_NAMES[input.devPlan] } : {}),
    ...(input.devDurationMs !== undefined ? { dev_duration_ms: input.devDurationMs } : {}),
    ...(input.devAutoRenewing !== undefined ? { dev_auto_renewing: input.devAutoRenewing } : {})
  }
}

export const buildGenerateProProof = (input: {
  readonly version: number
  readonly master: KeyPair
  readonly rotating: KeyPair
  readonly unixTsMs: number
}): Record<string, unknown> => {
  const h = generateProProofHash(input.version, input.master.publicKey, input.rotating.publicKey, input.unixTsMs)
  return {
    version: input.version,
    master_pkey: hex(input.master.publicKey),
    rotating_pkey: hex(input.rotating.publicKey),
    unix_ts_ms: input.unixTsMs,
    master_sig: hex(input.master.sign(h)),
    rotating_sig: hex(input.rotating.sign(h))
  }
}

export const buildGetProDetails = (input: {
  readonly version: number
  readonly master: KeyPair
  readonly unixTsMs: number
  readonly count: number
}): Record<string, unknown> => {
  const h = getProDetailsHash(input.version, input.master.publicKey, input.unixTsMs, input.count)
  return {
    version: input.version,
    master_pkey: hex(input.master.publicKey),
    master_sig: hex(input.master.sign(h)),
    unix_ts_ms: input.unixTsMs,
    count: input.count
  }
}

export const buildGetProRevocations = (input: { readonly version: number; readonly ticket: number }) => ({
  version: input.version,
  ticket: input.ticket
})

/** FLAG-45 fixed: the payment is sent as its wire object (the reference put a dataclass in the JSON). */
export const buildSetPaymentRefundRequested = (input: {
  readonly version: number
  readonly master: KeyPair
  readonly unixTsMs: number
  readonly refundRequestedUnixTsMs: number
  readonly tx: WireTx
}): Record<string, unknown> => {
  const h = setPaymentRefundRequestedHash(
    input.version,
    input.master.publicKey,
    input.unixTsMs,
    input.refundRequestedUnixTsMs,
    identity(input.tx)
  )
  return {
    version: input.version,
    master_pkey: hex(input.master.publicKey),
    master_sig: hex(input.master.sign(h)),
    unix_ts_ms: input.unixTsMs,
    refund_requested_unix_ts_ms: input.refundRequestedUnixTsMs,
    payment_tx: input.tx
  }
}

// ---------------------------------------------------------------------------------------------
// Transport

export const ROUTES = {
  addProPayment: "add_pro_payment",
  generateProProof: "generate_pro_proof",
  getProDetails: "get_pro_details",
  getProRevocations: "get_pro_revocations",
  setPaymentRefundRequested: "set_payment_refund_requested"
} as const

export interface Envelope {
  readonly status: number
  readonly result?: Record<string, unknown>
  readonly errors?: ReadonlyArray<string>
}

/** An error body as one line: an HTML page's title, else the text with whitespace collapsed (capped). */
const bodySummary = (text: string): string => {
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1]
  const line = (title ?? text).replace(/\s+/g, " ").trim()
  return line.length > 300 ? `${line.slice(0, 300)}…` : line
}

/** POST one request; a non-200 answer or a body that is not an envelope is a CliError. */
export const post = (baseUrl: string, route: string, body: unknown): Effect.Effect<Envelope, CliError> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const url = `${baseUrl.replace(/\/+$/, "")}/${route}`
    const response = yield* client.execute(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyText(JSON.stringify(body), "application/json"))).pipe(
      Effect.mapError((e) => cliError(`could not reach ${url}: ${oneLine(e.cause ?? e)}`))
    )
    const text = yield* Effect.mapError(response.text, (e) => cliError(`could not read the answer of ${url}: ${oneLine(e)}`))
    if (response.status !== 200) return yield* Effect.fail(cliError(`Server returned ${response.status}: ${bodySummary(text)}`))
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      return yield* Effect.fail(cliError(`${url} did not answer JSON: ${text.slice(0, 200)}`))
    }
    if (typeof json !== "object" || json === null || typeof (json as Envelope).status !== "number") {
      return yield* Effect.fail(cliError(`${url} answered JSON that is not a {status, result|errors} envelope`))
    }
    return json as Envelope
  }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer))

// ---------------------------------------------------------------------------------------------
// Proof verification (protocol.md §5, steps 1-2)

export interface ProofCheck {
  readonly ok: boolean
  readonly problems: ReadonlyArray<string>
}

export const verifyProof = (
  proof: Record<string, unknown> | undefined,
  serverPubkey: Uint8Array,
  expectedRotatingPkey: Uint8Array | undefined,
  nowMs: number
): ProofCheck => {
  const problems: Array<string> = []
  if (!proof) return { ok: false, problems: ["the response has no proof"] }
  const { version, gen_index_hash, rotating_pkey, expiry_unix_ts_ms, sig } = proof
  const isHex = (v: unknown, n: number): v is string => typeof v === "string" && v.length === n * 2 && /^[0-9a-fA-F]*$/.test(v)
  if (version !== 0) problems.push(`proof version is ${JSON.stringify(version)}, expected 0`)
  if (!isHex(gen_index_hash, 32)) problems.push("gen_index_hash is not 64 hex characters")
  if (!isHex(rotating_pkey, 32)) problems.push("rotating_pkey is not 64 hex characters")
  if (!isHex(sig, 64)) problems.push("sig is not 128 hex characters")
  if (typeof expiry_unix_ts_ms !== "number" || !Number.isSafeInteger(expiry_unix_ts_ms) || expiry_unix_ts_ms < 0) {
    problems.push("expiry_unix_ts_ms is not a non-negative integer")
  }
  if (problems.length > 0) return { ok: false, problems }
  const rot = fromHex(rotating_pkey as string)
  if (expectedRotatingPkey && hex(rot) !== hex(expectedRotatingPkey)) {
    problems.push(`the proof is for rotating key ${hex(rot)}, not the one sent (${hex(expectedRotatingPkey)})`)
  }
  const h = proofHash(0, fromHex(gen_index_hash as string), rot, expiry_unix_ts_ms as number)
  if (!Ed25519.verify(fromHex(sig as string), h, serverPubkey)) {
    problems.push(`the signature does not verify under backend key ${hex(serverPubkey)}`)
  }
  if ((expiry_unix_ts_ms as number) < nowMs) problems.push(`the proof already expired at ${expiry_unix_ts_ms}`)
  return { ok: problems.length === 0, problems }
}
