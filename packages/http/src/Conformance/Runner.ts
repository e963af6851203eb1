/**
 * Conformance runner: replays the `http_exchanges` of a vectors file (vectors.json format) against
 * the real HTTP server on loopback and compares what clients depend on (D2): HTTP status,
 * Content-Type, envelope `status`, deep-equal `result`, non-empty `errors` (exact text is
 * reported, not required). Onion exchanges are decrypted with the request's key and the inner
 * reply compared the same way. Exchanges listed in `conformance-deviations.json` are checked
 * against their own expected outcome (D4).
 *
 * Per set (`prod` with dev=false, `dev` with dev=true): a fresh SQLite database in a temp dir,
 * the context's backend seed and salt, and a fixed clock at `server_now_ms` for the server, the
 * core and the setup steps.
 */
import { HttpServer } from "@effect/platform"
import { Backend, Payments, type PaymentTx, accountIdForMaster, fromHex as coreFromHex } from "@session-pro/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { decrypt } from "../OnionRequests/Cipher.js"
import { parseInnerReply } from "../OnionRequests/Inner.js"
import * as OnionRequests from "../OnionRequests/OnionRequests.js"
import { isPgUrl, scratchSchema } from "../PgScratchSchema.js"
import { parseString, type PyValue } from "../Protocol/PyJson.js"
import * as Server from "../Server.js"

// ---------------------------------------------------------------------------------------------
// vectors file shapes (only what the runner reads)

interface ExchangeResponse {
  readonly http_status: number
  readonly content_type?: string
  readonly body?: string
  readonly decrypted_inner?: string
}

export interface Exchange {
  readonly id: string
  readonly setup?: string
  readonly method?: string
  readonly path?: string
  readonly request_body?: string
  readonly request_body_hex?: string
  readonly request_headers?: Readonly<Record<string, string>>
  readonly response?: ExchangeResponse
}

export interface Context {
  readonly server_now_ms: number
  readonly backend_ed25519_seed: string
  readonly gen_index_salt: string
  readonly keys?: { readonly master?: { readonly pub: string } }
  readonly [key: string]: unknown
}

export interface VectorsFile {
  readonly http_exchanges: { readonly context: Context; readonly [set: string]: unknown }
}

export interface Deviation {
  readonly decision: string
  readonly reason: string
  readonly expected: {
    readonly http_status: number
    readonly status?: number
    readonly inner_code?: number
    readonly errors?: ReadonlyArray<string>
  }
}

export interface Summary {
  readonly passed: number
  readonly failed: number
  readonly lines: ReadonlyArray<string>
}

export interface RunOptions {
  /** Called for every output line as it is produced (the CLI prints them). */
  readonly onLine?: (line: string) => void
  /** Override the deviations (default: `conformance-deviations.json` next to this package's src). */
  readonly deviations?: Readonly<Record<string, Deviation>>
  /** `postgresql://…`: run each set in a fresh schema of that database (dropped afterwards) instead of a temp SQLite file. */
  readonly dbUrl?: string | undefined
}

export const loadDeviations = (): Readonly<Record<string, Deviation>> =>
  JSON.parse(readFileSync(new URL("../conformance-deviations.json", import.meta.url), "utf8")).deviations

// ---------------------------------------------------------------------------------------------
// helpers

const hexToBytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"))
const utf8 = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8")

/** A clock frozen at `ms` (sleeps still use real time, so timeouts keep working). */
export const fixedClock = (ms: number): Clock.Clock => {
  const live = Clock.make()
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => ms,
    currentTimeMillis: Effect.succeed(ms),
    unsafeCurrentTimeNanos: () => BigInt(ms) * 1_000_000n,
    currentTimeNanos: Effect.succeed(BigInt(ms) * 1_000_000n),
    sleep: (d: Duration.Duration) => live.sleep(d)
  }
}

interface RawResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: Uint8Array
}

/** A raw HTTP request (exact bytes, no implicit Content-Type). */
const send = (port: number, method: string, path: string, headers: Readonly<Record<string, string>>, body: Uint8Array) =>
  Effect.async<RawResponse, Error>((resume) => {
    const req = http.request(
      { host: "127.0.0.1", port, method, path, headers: { ...headers, "content-length": String(body.length) } },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () =>
          resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) })))
        res.on("error", (e) => resume(Effect.fail(e)))
      }
    )
    req.on("error", (e) => resume(Effect.fail(e)))
    req.end(Buffer.from(body))
  })

/** Deep equality of parsed JSON that keeps Python's types apart (bool ≠ int ≠ float). */
export const pyEqual = (a: PyValue, b: PyValue): boolean => {
  if (a.type !== b.type) return false
  switch (a.type) {
    case "null":
      return true
    case "bool":
    case "int":
    case "str":
      return a.value === (b as typeof a).value
    case "float":
      return Object.is(a.value, (b as typeof a).value) || a.value === (b as typeof a).value
    case "list": {
      const bl = (b as typeof a).items
      return a.items.length === bl.length && a.items.every((x, i) => pyEqual(x, bl[i]))
    }
    case "dict": {
      const bd = (b as typeof a).entries
      if (a.entries.size !== bd.size) return false
      for (const [k, v] of a.entries) {
        const w = bd.get(k)
        if (w === undefined || !pyEqual(v, w)) return false
      }
      return true
    }
  }
}

const field = (v: PyValue, key: string): PyValue | undefined => (v.type === "dict" ? v.entries.get(key) : undefined)
const strings = (v: PyValue | undefined): Array<string> | undefined =>
  v?.type === "list" && v.items.every((x) => x.type === "str") ? v.items.map((x) => (x as { value: string }).value) : undefined

interface Verdict {
  readonly problems: Array<string>
  readonly notes: Array<string>
}

/**
 * Compares an envelope body. `expected` is either the recorded body or the deviation's outcome.
 */
const compareEnvelope = (
  actualBody: Uint8Array,
  expected: { readonly body?: string; readonly status?: number; readonly errors?: ReadonlyArray<string>; readonly exactErrors: boolean },
  v: Verdict
) => {
  const actual = parseString(text(actualBody))
  if (Either.isLeft(actual)) {
    v.problems.push(`body is not JSON: ${actual.left.message}`)
    return
  }
  const a = actual.right
  let expStatus = expected.status
  let expResult: PyValue | undefined
  let expErrors = expected.errors
  if (expected.body !== undefined) {
    const e = parseString(expected.body)
    if (Either.isLeft(e)) {
      v.problems.push(`expected body is not JSON: ${e.left.message}`)
      return
    }
    const st = field(e.right, "status")
    expStatus = st?.type === "int" ? Number(st.value) : undefined
    expResult = field(e.right, "result")
    expErrors = strings(field(e.right, "errors"))
  }
  if (expected.body !== undefined && expected.body !== text(actualBody)) v.notes.push("body bytes differ from the recording (JSON-equivalent parts compared below)")
  const st = field(a, "status")
  const actualStatus = st?.type === "int" ? Number(st.value) : undefined
  if (actualStatus !== expStatus) v.problems.push(`status ${actualStatus} != expected ${expStatus}`)
  if (expStatus === 0) {
    const r = field(a, "result")
    if (r === undefined) v.problems.push("no result")
    else if (expResult !== undefined && !pyEqual(r, expResult)) {
      v.problems.push(`result differs:\n      expected ${expected.body?.trim()}\n      actual   ${text(actualBody).trim()}`)
    }
  } else {
    const errs = strings(field(a, "errors"))
    if (errs === undefined || errs.length === 0) v.problems.push("errors is not a non-empty string array")
    else if (expErrors !== undefined && JSON.stringify(errs) !== JSON.stringify(expErrors)) {
      const msg = `error text differs:\n      expected ${JSON.stringify(expErrors)}\n      actual   ${JSON.stringify(errs)}`
      if (expected.exactErrors) v.problems.push(msg)
      else v.notes.push(msg)
    }
  }
}

const contentTypeOf = (h: http.IncomingHttpHeaders): string | undefined => h["content-type"]

// ---------------------------------------------------------------------------------------------
// setup steps through the core API

interface PaymentSpec {
  readonly provider?: number
  readonly [key: string]: unknown
}

const isApple = (p: PaymentSpec) => p.provider === 2 || typeof p.apple_tx_id === "string"

const txOf = (p: PaymentSpec): PaymentTx =>
  isApple(p)
    ? {
      provider: 2,
      appleOriginalTxId: String(p.apple_original_tx_id ?? p.apple_tx_id),
      appleTxId: String(p.apple_tx_id),
      appleWebLineOrderTxId: String(p.apple_web_line_order_tx_id ?? p.apple_web_line_order_id ?? "")
    }
    : { provider: 1, googlePaymentToken: String(p.google_payment_token), googleOrderId: String(p.google_order_id) }

/** The `db_setup_<set>` object (a string like "same init; …" reuses `db_setup_prod`). */
const setupFor = (ctx: Context, set: string): Readonly<Record<string, unknown>> => {
  const own = ctx[`db_setup_${set}`]
  if (own !== undefined && typeof own === "object" && own !== null) return own as Record<string, unknown>
  const prod = ctx["db_setup_prod"]
  return typeof prod === "object" && prod !== null ? (prod as Record<string, unknown>) : {}
}

const paymentsOf = (setup: Readonly<Record<string, unknown>>): Array<[string, PaymentSpec]> =>
  Object.entries(setup).filter((e): e is [string, PaymentSpec] => typeof e[1] === "object" && e[1] !== null)

/** One `setup` step of a set (`init`, `revoke_<payment>`) through the core API. */
export const runSetup = (step: string, ctx: Context, set: string) =>
  Effect.gen(function*() {
    const payments = yield* Payments
    const setup = setupFor(ctx, set)
    if (step === "init") {
      for (const [, p] of paymentsOf(setup)) {
        const tx = txOf(p)
        const account = p.google_obfuscated_account_id
        yield* payments.addUnredeemed({
          tx,
          plan: Number(p.plan ?? 1) as 1,
          unredeemedUnixTsMs: Number(p.unredeemed_unix_ts_ms),
          expiryUnixTsMs: Number(p.expiry_unix_ts_ms),
          platformRefundExpiryUnixTsMs: Number(p.platform_refund_expiry_unix_ts_ms ?? 0),
          ...(tx.provider === 1
            ? {
              googleObfuscatedAccountId: account === undefined || account === "sha256(master_pkey)"
                ? accountIdForMaster(coreFromHex(String(ctx.keys?.master?.pub)))
                : coreFromHex(String(account))
            }
            : { appleAppAccountToken: String(p.apple_app_account_token ?? "") })
        })
        if (p.auto_renewing !== undefined || p.grace_period_duration_ms !== undefined) {
          yield* payments.updateRenewalInfo(tx, {
            autoRenewing: p.auto_renewing === undefined ? undefined : Boolean(p.auto_renewing),
            gracePeriodDurationMs: p.grace_period_duration_ms === undefined ? undefined : Number(p.grace_period_duration_ms)
          })
        }
      }
      return "seeded " + paymentsOf(setup).map(([n]) => n).join(", ")
    }
    const revoke = /^revoke_(.+)$/.exec(step)
    if (revoke) {
      const spec = setup[revoke[1]] as PaymentSpec | undefined
      if (spec === undefined) return yield* Effect.fail(new Error(`unknown payment ${revoke[1]} in db_setup`))
      const tx = txOf(spec)
      const r = yield* payments.revokeChain({
        provider: tx.provider === 2 ? 2 : 1,
        chainId: tx.provider === 2 ? tx.appleOriginalTxId : (tx as { googlePaymentToken: string }).googlePaymentToken,
        revokedAtMs: yield* Clock.currentTimeMillis
      })
      return `revoked ${r.revokedPayments} payment(s)`
    }
    return yield* Effect.fail(new Error(`unknown setup step "${step}"`))
  })

// ---------------------------------------------------------------------------------------------
// one exchange

const checkExchange = (
  ex: Exchange,
  port: number,
  deviation: Deviation | undefined,
  serverKeys: OnionRequests.Service
) =>
  Effect.gen(function*() {
    const v: Verdict = { problems: [], notes: [] }
    if (ex.response === undefined) return yield* Effect.fail(new Error("exchange has no response"))
    const exp = ex.response
    const body = ex.request_body_hex !== undefined ? hexToBytes(ex.request_body_hex) : utf8(ex.request_body ?? "")
    const res = yield* send(port, ex.method ?? "POST", ex.path ?? "/", ex.request_headers ?? {}, body)
    const wantHttp = deviation?.expected.http_status ?? exp.http_status
    if (res.status !== wantHttp) v.problems.push(`HTTP ${res.status} != expected ${wantHttp}`)
    const isOnion = exp.decrypted_inner !== undefined || (deviation?.expected.inner_code !== undefined)

    if (isOnion) {
      // Decrypt our reply with the key of the request (server side of the same agreement).
      const dec = serverKeys.decryptRequest(body)
      if (Either.isLeft(dec)) {
        v.problems.push(`cannot decrypt the request: ${dec.left._tag}`)
        return v
      }
      const plain = decrypt(dec.right.encType, dec.right.key, res.body)
      if (Either.isLeft(plain)) {
        v.problems.push("cannot decrypt the reply")
        return v
      }
      const reply = parseInnerReply(plain.right)
      if (Either.isLeft(reply)) {
        v.problems.push(`bad inner reply: ${reply.left.reason}`)
        return v
      }
      const expReply = exp.decrypted_inner !== undefined ? parseInnerReply(utf8(exp.decrypted_inner)) : undefined
      const expCode = deviation?.expected.inner_code ?? (expReply && Either.isRight(expReply) ? expReply.right.code : undefined)
      if (reply.right.code !== expCode) v.problems.push(`inner code ${reply.right.code} != expected ${expCode}`)
      const expHeaders = expReply && Either.isRight(expReply) ? expReply.right.headers : undefined
      const actualCt = reply.right.headers["content-type"]
      if (deviation === undefined && expHeaders !== undefined && actualCt !== expHeaders["content-type"]) {
        v.problems.push(`inner content-type ${actualCt} != expected ${expHeaders["content-type"]}`)
      }
      if (actualCt === "application/json") {
        compareEnvelope(reply.right.body, deviation !== undefined
          ? { status: deviation.expected.status, errors: deviation.expected.errors, exactErrors: true }
          : { body: expReply && Either.isRight(expReply) ? text(expReply.right.body) : undefined, exactErrors: false }, v)
      } else if (expReply && Either.isRight(expReply) && text(expReply.right.body) !== text(reply.right.body)) {
        v.notes.push(`inner body text differs`)
      }
      return v
    }

    const ct = contentTypeOf(res.headers)
    if (deviation !== undefined) {
      if (ct !== "application/json") v.problems.push(`Content-Type ${JSON.stringify(ct)} != "application/json"`)
      compareEnvelope(res.body, { status: deviation.expected.status, errors: deviation.expected.errors, exactErrors: true }, v)
      return v
    }
    if (exp.content_type !== undefined && ct !== exp.content_type) {
      v.problems.push(`Content-Type ${JSON.stringify(ct)} != expected ${JSON.stringify(exp.content_type)}`)
    }
    if (exp.content_type === "application/json") {
      compareEnvelope(res.body, { body: exp.body, exactErrors: false }, v)
    } else {
      if (exp.http_status === 405 && res.headers["allow"] !== "POST, OPTIONS") {
        v.problems.push(`Allow ${JSON.stringify(res.headers["allow"])} != "POST, OPTIONS"`)
      }
      if (exp.body !== undefined && exp.body !== text(res.body)) v.notes.push("body text differs")
    }
    return v
  })

// ---------------------------------------------------------------------------------------------
// a set

const runSet = (
  file: VectorsFile,
  set: string,
  deviations: Readonly<Record<string, Deviation>>,
  emit: (l: string) => void,
  pgUrl?: string
) =>
  Effect.gen(function*() {
    const ctx = file.http_exchanges.context
    const exchanges = file.http_exchanges[set] as ReadonlyArray<Exchange>
    const dir = mkdtempSync(join(tmpdir(), `conformance-${set}-`))
    let passed = 0
    let failed = 0
    const program = Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const port = (server.address as HttpServer.TcpAddress).port
      const onion = yield* OnionRequests.OnionRequests
      for (const ex of exchanges) {
        const label = `${set}/${ex.id}`
        if (ex.setup !== undefined) {
          const r = yield* Effect.either(runSetup(ex.setup, ctx, set).pipe(Effect.catchAllDefect(Effect.fail)))
          if (Either.isLeft(r)) {
            failed++
            emit(`FAIL  ${label} (setup ${ex.setup}): ${String(r.left)}`)
          } else emit(`SETUP ${label}: ${r.right}`)
          continue
        }
        const deviation = deviations[ex.id]
        // A malformed exchange (or a bug) fails this line only, not the whole run.
        const r = yield* Effect.either(checkExchange(ex, port, deviation, onion).pipe(Effect.catchAllDefect(Effect.fail)))
        const tag = deviation ? ` [deviation ${deviation.decision}]` : ""
        if (Either.isLeft(r)) {
          failed++
          emit(`FAIL  ${label}${tag}: ${String(r.left)}`)
          continue
        }
        if (r.right.problems.length === 0) {
          passed++
          emit(`PASS  ${label}${tag}`)
        } else {
          failed++
          emit(`FAIL  ${label}${tag}: ${r.right.problems.join("; ")}`)
        }
        for (const n of r.right.notes) emit(`      note: ${n}`)
      }
    })
    const services = Server.servicesLayer({
      // "sqlite:////abs" = absolute path; on PostgreSQL a schema of this set's own (dropped when the set ends)
      url: pgUrl !== undefined ? yield* scratchSchema(pgUrl, `conformance_${set}`) : `sqlite:///${join(dir, "conformance.db")}`,
      settings: { dev: set === "dev" },
      bootstrap: { backendSeed: hexToBytes(ctx.backend_ed25519_seed), salt: hexToBytes(ctx.gen_index_salt) }
    })
    const clock = fixedClock(ctx.server_now_ms)
    const serverLayer = Server.layer({ port: 0, host: "127.0.0.1", middleware: (app) => Effect.withClock(app, clock) })
    const all = Layer.provideMerge(serverLayer, services)
    yield* program.pipe(Effect.provide(all), Effect.scoped, Effect.withClock(clock), Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
    return { passed, failed }
  }).pipe(Effect.scoped)

/** Replays every set of `http_exchanges` in `file`. */
export const run = (file: VectorsFile, options: RunOptions = {}): Effect.Effect<Summary, unknown> =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const emit = (l: string) => {
      lines.push(l)
      options.onLine?.(l)
    }
    const deviations = options.deviations ?? loadDeviations()
    const sets = Object.keys(file.http_exchanges).filter((k) => k !== "context" && Array.isArray(file.http_exchanges[k]))
    let passed = 0
    let failed = 0
    for (const set of sets) {
      const r = yield* runSet(file, set, deviations, emit, isPgUrl(options.dbUrl) ? options.dbUrl : undefined)
      passed += r.passed
      failed += r.failed
    }
    // A deviation naming an exchange that is not in the file is stale: say so, don't fail.
    const ids = new Set(sets.flatMap((s) => (file.http_exchanges[s] as ReadonlyArray<Exchange>).map((e) => e.id)))
    for (const id of Object.keys(deviations)) if (!ids.has(id)) emit(`      note: deviation ${id} matches no exchange`)
    emit(`${passed} passed, ${failed} failed`)
    return { passed, failed, lines }
  })

/** Reads and runs a vectors file. */
export const runFile = (path: string, options: RunOptions = {}) =>
  Effect.try({
    try: () => JSON.parse(readFileSync(path, "utf8")) as VectorsFile,
    catch: (e) => new Error(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`)
  }).pipe(
    Effect.filterOrFail(
      (f) => typeof f?.http_exchanges?.context?.server_now_ms === "number",
      () => new Error(`${path} has no http_exchanges.context (not a vectors.json-format file)`)
    ),
    Effect.flatMap((f) => run(f, options))
  )
