/**
 * Request parsing for the five client routes with the reference's order of checks and messages
 * (protocol.md §2.1–2.5). Each parser is a pure function of the body bytes, the server time and
 * the settings; it returns the typed request for the core or a status-2 rejection.
 *
 * Deviations (README D4): booleans are not integers (D4a); inputs on which the reference crashes
 * (whitespace in keys, `count` ≥ 2^32, refund provider outside 0–3, refund timestamp outside u64,
 * timestamps beyond float range, top-level scalars) are status-2 errors (D4b).
 */
import * as Either from "effect/Either"
import { decodeHex, EMPTY_DICT, Errors, has, HexLabel, readBool, readInt, readObject, readStr, type ReadOptions } from "./Fields.js"
import { parse, type PyValue } from "./PyJson.js"
import { pyFloatRepr } from "./PyFormat.js"

export const TIMESTAMP_TOLERANCE_MS = 70_000
export const DEV_MAX_DURATION_MS = 31_536_000_000n
export const DEV_DEFAULT_DURATION_MS = 86_400_000
const U32_MAX = 0xffff_ffffn
const U64_MAX = 0xffff_ffff_ffff_ffffn

/** A request refused while parsing (always status 2, protocol.md §1.4). */
export interface ParseRejection {
  readonly status: 2
  readonly errors: ReadonlyArray<string>
}

export interface ParseContext extends ReadOptions {
  /** Server clock, integer ms. */
  readonly nowMs: number
  readonly dev: boolean
}

export type ParseResult<A> = Either.Either<A, ParseRejection>

const reject = (errors: ReadonlyArray<string>): ParseResult<never> => Either.left({ status: 2, errors })

/** Step 1 of every route: the body as JSON. */
export const parseBody = (body: Uint8Array): ParseResult<PyValue> => {
  const r = parse(body)
  if (Either.isLeft(r)) return reject([`JSON failed to be parsed: ${r.left.message}`])
  // `if not data:` in the reference: JSON null is "not parsed" without a reason.
  if (r.right.type === "null") return reject(["JSON failed to be parsed"])
  return Either.right(r.right)
}

// ---------------------------------------------------------------------------------------------
// shapes handed to the core

export type UserPaymentTx =
  | { readonly provider: 1; readonly googlePaymentToken: string; readonly googleOrderId: string }
  | { readonly provider: 2; readonly appleTxId: string }

export interface DevOptions {
  /** ProPlan integer (FLAG-31 replicated: "Nil" is accepted). */
  readonly plan: number
  readonly durationMs: number
  readonly autoRenewing: boolean
}

export interface AddProPaymentRequest {
  readonly version: 0
  readonly masterPkey: Uint8Array
  readonly rotatingPkey: Uint8Array
  readonly masterSig: Uint8Array
  readonly rotatingSig: Uint8Array
  readonly paymentTx: UserPaymentTx
  /** Present only in dev mode (defaults filled in). */
  readonly dev?: DevOptions
}

export interface GenerateProProofRequest {
  readonly version: 0
  readonly masterPkey: Uint8Array
  readonly rotatingPkey: Uint8Array
  readonly masterSig: Uint8Array
  readonly rotatingSig: Uint8Array
  readonly unixTsMs: number
}

export interface GetProRevocationsRequest {
  readonly version: 0
  /** Any integer; bigint only when beyond ±2^53. */
  readonly ticket: number | bigint
}

export interface GetProDetailsRequest {
  readonly version: 0
  readonly masterPkey: Uint8Array
  readonly masterSig: Uint8Array
  readonly unixTsMs: number
  readonly count: number
}

export interface SetPaymentRefundRequestedRequest {
  readonly version: 0
  readonly masterPkey: Uint8Array
  readonly masterSig: Uint8Array
  readonly unixTsMs: number
  readonly refundRequestedUnixTsMs: number | bigint
  readonly paymentTx: { readonly provider: 2; readonly appleTxId: string }
}

const toNumberOrBigint = (v: bigint): number | bigint =>
  v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v

const checkVersion = (version: bigint, errs: Errors) => {
  if (version !== 0n) errs.add(`Unrecognised version passed: ${version}`)
}

/** §2.4/§2.5 window: `abs(now − ts) < 70000` on floats; returns false (and reports) outside. */
const checkFloatWindow = (ts: bigint, nowMs: number, what: string, errs: Errors): boolean => {
  // Python: float ms minus int; an int beyond float range makes float() raise (D4b: -inf/inf here).
  const delta = nowMs - Number(ts)
  if (Math.abs(delta) >= TIMESTAMP_TOLERANCE_MS) {
    errs.add(`Timestamp is too old to permit ${what}, delta was ${pyFloatRepr(delta)}ms`)
    return false
  }
  return true
}

const PLAN_NAMES: ReadonlyArray<readonly [string, number]> = [
  ["nil", 0],
  ["onemonth", 1],
  ["threemonth", 2],
  ["twelvemonth", 3]
]

// ---------------------------------------------------------------------------------------------
// §2.1 /add_pro_payment

export const parseAddProPayment = (body: Uint8Array, ctx: ParseContext): ParseResult<AddProPaymentRequest> =>
  Either.flatMap(parseBody(body), (root) => {
    // step 2: required fields in the reference's order
    const e2 = new Errors(ctx)
    const version = readInt(root, "version", e2)
    const masterPkey = readStr(root, "master_pkey", e2)
    const rotatingPkey = readStr(root, "rotating_pkey", e2)
    const masterSig = readStr(root, "master_sig", e2)
    const rotatingSig = readStr(root, "rotating_sig", e2)
    const paymentTx = readObject(root, "payment_tx", e2)
    const provider = readInt(paymentTx ?? EMPTY_DICT, "provider", e2)
    if (e2.any) return reject(e2.messages)

    // step 3: version and provider range
    const e3 = new Errors(ctx)
    checkVersion(version!, e3)
    const p = provider!
    if (p < 0n || p > 3n) e3.add(`Unrecognised payment provider: ${p}`)
    else if (p === 0n && !e3.any) e3.add("Nil payment provider is invalid, must be set to a provider")
    if (e3.any) return reject(e3.messages)

    // step 4: only Google and Apple can be redeemed here
    if (p !== 1n && p !== 2n) return reject(["Bad payment provider given"])
    const e4 = new Errors(ctx)
    let tx: UserPaymentTx | undefined
    if (p === 1n) {
      const token = readStr(paymentTx!, "google_payment_token", e4)
      const order = readStr(paymentTx!, "google_order_id", e4)
      if (token !== undefined && order !== undefined) tx = { provider: 1, googlePaymentToken: token, googleOrderId: order }
    } else {
      const txId = readStr(paymentTx!, "apple_tx_id", e4)
      if (txId !== undefined) tx = { provider: 2, appleTxId: txId }
    }
    // step 5: hex
    const mp = decodeHex(masterPkey!, HexLabel.masterPkey, 64, e4, true)
    const rp = decodeHex(rotatingPkey!, HexLabel.rotatingPkey, 64, e4, true)
    const ms = decodeHex(masterSig!, HexLabel.masterSig, 128, e4, false)
    const rs = decodeHex(rotatingSig!, HexLabel.rotatingSig, 128, e4, false)
    if (e4.any) return reject(e4.messages)

    // step 6: dev extras, read only in dev mode
    let dev: DevOptions | undefined
    if (ctx.dev) {
      const e6 = new Errors(ctx)
      let plan = 1
      let durationMs = DEV_DEFAULT_DURATION_MS
      let autoRenewing = false
      if (has(root, "dev_plan")) {
        // The reference crashes on a non-string dev_plan (D4b: reported instead).
        const s = readStr(root, "dev_plan", e6)
        if (s !== undefined) {
          const hit = PLAN_NAMES.find(([n]) => n === s.toLowerCase())
          if (hit === undefined) {
            e6.add(`dev_plan must be specified as "OneMonth", "ThreeMonth" or "TwelveMonth", received: ${s}`)
          } else plan = hit[1]
        }
      }
      if (has(root, "dev_duration_ms")) {
        const d = readInt(root, "dev_duration_ms", e6)
        if (d !== undefined) {
          if (d <= 0n || d > DEV_MAX_DURATION_MS) {
            e6.add(`dev_duration_ms must be > 0 and <= year ind duration, received: ${pyFloatRepr(Number(d) / 1000)}s`)
          } else durationMs = Number(d)
        }
      }
      if (has(root, "dev_auto_renewing")) {
        const b = readBool(root, "dev_auto_renewing", e6)
        if (b !== undefined) autoRenewing = b
      }
      if (e6.any) return reject(e6.messages)
      dev = { plan, durationMs, autoRenewing }
    }

    return Either.right({
      version: 0 as const,
      masterPkey: mp!,
      rotatingPkey: rp!,
      masterSig: ms!,
      rotatingSig: rs!,
      paymentTx: tx!,
      ...(dev !== undefined ? { dev } : {})
    })
  })

// ---------------------------------------------------------------------------------------------
// §2.2 /generate_pro_proof

export const parseGenerateProProof = (body: Uint8Array, ctx: ParseContext): ParseResult<GenerateProProofRequest> =>
  Either.flatMap(parseBody(body), (root) => {
    const e1 = new Errors(ctx)
    const version = readInt(root, "version", e1)
    const masterPkey = readStr(root, "master_pkey", e1)
    const rotatingPkey = readStr(root, "rotating_pkey", e1)
    const ts = readInt(root, "unix_ts_ms", e1)
    const masterSig = readStr(root, "master_sig", e1)
    const rotatingSig = readStr(root, "rotating_sig", e1)
    if (e1.any) return reject(e1.messages)

    const e2 = new Errors(ctx)
    checkVersion(version!, e2)
    const mp = decodeHex(masterPkey!, HexLabel.masterPkey, 64, e2, true)
    const rp = decodeHex(rotatingPkey!, HexLabel.rotatingPkey, 64, e2, true)
    const ms = decodeHex(masterSig!, HexLabel.masterSig, 128, e2, false)
    const rs = decodeHex(rotatingSig!, HexLabel.rotatingSig, 128, e2, false)
    // Inclusive window on the floored integer clock (FLAG-25: differs from details/refund).
    const now = BigInt(Math.floor(ctx.nowMs))
    const min = now - BigInt(TIMESTAMP_TOLERANCE_MS)
    const max = now + BigInt(TIMESTAMP_TOLERANCE_MS)
    if (ts! < min) e2.add(`Nonce timestamp is too far in the past: ${ts} (min ${min})`)
    if (ts! > max) e2.add(`Nonce timestamp is too far in the future: ${ts} (max ${max})`)
    if (e2.any) return reject(e2.messages)

    return Either.right({
      version: 0 as const,
      masterPkey: mp!,
      rotatingPkey: rp!,
      masterSig: ms!,
      rotatingSig: rs!,
      unixTsMs: Number(ts!)
    })
  })

// ---------------------------------------------------------------------------------------------
// §2.3 /get_pro_revocations

export const parseGetProRevocations = (body: Uint8Array, ctx: ParseContext): ParseResult<GetProRevocationsRequest> =>
  Either.flatMap(parseBody(body), (root) => {
    const e1 = new Errors(ctx)
    const version = readInt(root, "version", e1)
    const ticket = readInt(root, "ticket", e1)
    if (e1.any) return reject(e1.messages)
    const e2 = new Errors(ctx)
    checkVersion(version!, e2)
    if (e2.any) return reject(e2.messages)
    return Either.right({ version: 0 as const, ticket: toNumberOrBigint(ticket!) })
  })

// ---------------------------------------------------------------------------------------------
// §2.4 /get_pro_details

export const parseGetProDetails = (body: Uint8Array, ctx: ParseContext): ParseResult<GetProDetailsRequest> =>
  Either.flatMap(parseBody(body), (root) => {
    const e1 = new Errors(ctx)
    const version = readInt(root, "version", e1)
    const masterPkey = readStr(root, "master_pkey", e1)
    const masterSig = readStr(root, "master_sig", e1)
    const ts = readInt(root, "unix_ts_ms", e1)
    const count = readInt(root, "count", e1)
    if (e1.any) return reject(e1.messages)

    const e2 = new Errors(ctx)
    checkVersion(version!, e2)
    const mp = decodeHex(masterPkey!, HexLabel.masterPkey, 64, e2, true)
    const ms = decodeHex(masterSig!, HexLabel.masterSig, 128, e2, false)
    if (count! < 0n) e2.add(`Count was negative: ${count}`)
    // D4b: the reference hashes count as u32 and crashes (OverflowError) beyond it.
    else if (count! > U32_MAX) e2.add(`Count was too large: ${count} (max ${U32_MAX})`)
    checkFloatWindow(ts!, ctx.nowMs, "retrieval of payments", e2)
    if (e2.any) return reject(e2.messages)

    return Either.right({
      version: 0 as const,
      masterPkey: mp!,
      masterSig: ms!,
      unixTsMs: Number(ts!),
      count: Number(count!)
    })
  })

// ---------------------------------------------------------------------------------------------
// §2.5 /set_payment_refund_requested

export const parseSetPaymentRefundRequested = (
  body: Uint8Array,
  ctx: ParseContext
): ParseResult<SetPaymentRefundRequestedRequest> =>
  Either.flatMap(parseBody(body), (root) => {
    const e1 = new Errors(ctx)
    const version = readInt(root, "version", e1)
    const masterPkey = readStr(root, "master_pkey", e1)
    const masterSig = readStr(root, "master_sig", e1)
    const paymentTx = readObject(root, "payment_tx", e1)
    const ts = readInt(root, "unix_ts_ms", e1)
    const refundTs = readInt(root, "refund_requested_unix_ts_ms", e1)
    const provider = readInt(paymentTx ?? EMPTY_DICT, "provider", e1)
    if (e1.any) return reject(e1.messages)

    const e2 = new Errors(ctx)
    checkVersion(version!, e2)
    const mp = decodeHex(masterPkey!, HexLabel.masterPkey, 64, e2, true)
    const ms = decodeHex(masterSig!, HexLabel.masterSig, 128, e2, false)
    if (e2.any) return reject(e2.messages)

    // D4b (FLAG-33 fixed): the reference crashes on a provider outside 0–3.
    const p = provider!
    if (p < 0n || p > 3n) return reject([`Unrecognised payment provider: ${p}`])
    if (p !== 2n) return reject(["Bad payment provider given"])

    const e4 = new Errors(ctx)
    const appleTxId = readStr(paymentTx!, "apple_tx_id", e4)
    checkFloatWindow(ts!, ctx.nowMs, "refund request update", e4)
    // D4b: the reference hashes this as u64 and crashes (OverflowError) outside it.
    if (refundTs! < 0n) e4.add(`Refund requested timestamp was negative: ${refundTs}`)
    else if (refundTs! > U64_MAX) e4.add(`Refund requested timestamp was too large: ${refundTs} (max ${U64_MAX})`)
    if (e4.any) return reject(e4.messages)

    return Either.right({
      version: 0 as const,
      masterPkey: mp!,
      masterSig: ms!,
      unixTsMs: Number(ts!),
      refundRequestedUnixTsMs: toNumberOrBigint(refundTs!),
      paymentTx: { provider: 2 as const, appleTxId: appleTxId! }
    })
  })
