/**
 * `server …`: talk to a running server over plain JSON POSTs (domain.md §12.13) — sign real requests
 * from hex secret keys, print request and response, verify returned proofs. FLAG-45 fixed:
 * `set-payment-refund-requested` works. All request building lives in ServerClient.ts.
 */
import { Command, Options } from "@effect/cli"
import { BackendKeys, DEV_BACKEND_SEED, Ed25519, hex, readableTimestamp } from "@session-pro/core"
import { Clock, Console, Effect, Option } from "effect"
import { cliError } from "./Errors.js"
import { parseKeyHex } from "./Format.js"
import { dbOptions, type DbOptionValues, help, withDatabase } from "./Runtime.js"
import * as Client from "./ServerClient.js"

const fail = (message: string) => Effect.fail(cliError(message))

const common = {
  url: Options.text("url").pipe(Options.withDescription("Base URL of the server, e.g. http://127.0.0.1:8000")),
  // `--version` is @effect/cli's built-in (prints the tool's version), so the protocol version has its own name.
  protocolVersion: Options.integer("protocol-version").pipe(
    Options.withDescription("Request `version` field (the server accepts 0)"),
    Options.withDefault(0)
  )
}

const verifyOptions = {
  serverPubkey: Options.text("server-pubkey").pipe(
    Options.withDescription(
      "Backend Ed25519 public key (64 hex) to verify proofs with. Default: read from the server's database when --config/--db-url is given, else the dev-mode key"
    ),
    Options.optional
  ),
  ...dbOptions
}

const masterOpt = Options.text("master-skey").pipe(
  Options.withDescription("Master Ed25519 secret key: 32-byte seed (64 hex) or 64-byte libsodium key (128 hex)")
)
const rotatingOpt = Options.text("rotating-skey").pipe(
  Options.withDescription("Rotating Ed25519 secret key (default: a new random key, printed)"),
  Options.optional
)

const loadKey = (label: string, text: Option.Option<string>, generate: boolean) =>
  Effect.gen(function*() {
    if (Option.isNone(text)) {
      if (!generate) return yield* fail(`${label} is required`)
      const k = Client.randomKey()
      yield* Console.log(`${label} (generated): ${hex(k.seed)}`)
      yield* Console.log(`${label.replace("secret", "public")}: ${hex(k.publicKey)}`)
      return k
    }
    const k = Client.keyFromHex(label, text.value)
    if (typeof k === "string") return yield* fail(k)
    yield* Console.log(`${label.replace("secret", "public")}: ${hex(k.publicKey)}`)
    return k
  })

/** The backend key proofs are checked against: given, read from the server's DB, or the dev key (assumed). */
const serverKey = (o: { readonly serverPubkey: Option.Option<string> } & DbOptionValues) =>
  Effect.gen(function*() {
    if (Option.isSome(o.serverPubkey)) {
      const k = parseKeyHex("--server-pubkey", o.serverPubkey.value)
      if (typeof k === "string") return yield* fail(k)
      return { key: k, source: "--server-pubkey", assumed: false }
    }
    if (Option.isSome(o.config) || Option.isSome(o.dbUrl)) {
      const key = yield* withDatabase(o, () => Effect.map(BackendKeys, (k) => k.publicKey))
      return { key, source: "the server's database", assumed: false }
    }
    return { key: Ed25519.publicKeyFromSeed(DEV_BACKEND_SEED), source: "the dev-mode key (assumed)", assumed: true }
  })

const show = (label: string, value: unknown) => Console.log(`${label}\n${JSON.stringify(value, null, 1)}`)

/** POST, print both sides, and turn a rejected request into a one-line error after printing it. */
const exchange = (url: string, route: string, body: Record<string, unknown>) =>
  Effect.gen(function*() {
    yield* show(`Request: POST ${url.replace(/\/+$/, "")}/${route}`, body)
    const env = yield* Client.post(url, route, body)
    yield* show("Response:", env)
    return env
  })

const requireSuccess = (env: Client.Envelope) =>
  env.status === 0
    ? Effect.void
    : fail(`server rejected the request with status ${env.status}: ${(env.errors ?? []).join("; ") || "(no errors given)"}`)

const checkProof = (
  env: Client.Envelope,
  key: { readonly key: Uint8Array; readonly source: string; readonly assumed: boolean },
  rotating: Uint8Array
) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const check = Client.verifyProof(env.result, key.key, rotating, now)
    if (check.ok) {
      return yield* Console.log(
        `Proof: valid, signed by backend key ${hex(key.key)} (${key.source}); expires ${readableTimestamp(env.result!.expiry_unix_ts_ms as number)}`
      )
    }
    const text = `proof verification failed against ${hex(key.key)} (${key.source}): ${check.problems.join("; ")}`
    // Against a key we only assumed, a mismatch is information, not a failure.
    if (key.assumed) return yield* Console.log(`Proof: not verified — ${text}; pass --server-pubkey or --config`)
    return yield* fail(text)
  })

const paymentIdOptions = {
  paymentToken: Options.text("payment-token").pipe(Options.withDescription("Google purchase token"), Options.optional),
  orderId: Options.text("order-id").pipe(Options.withDescription("Google order id"), Options.optional),
  txId: Options.text("tx-id").pipe(Options.withDescription("Apple transaction id"), Options.optional)
}

const addProPayment = Command.make(
  "add-pro-payment",
  {
    ...common,
    ...verifyOptions,
    ...paymentIdOptions,
    provider: Options.choice("provider", ["google", "apple", "rangeproof"]).pipe(Options.withDefault("google" as const)),
    master: masterOpt.pipe(Options.optional),
    rotating: rotatingOpt,
    rangeproofOrderId: Options.text("rangeproof-order-id").pipe(Options.optional),
    devPlan: Options.choice("dev-plan", ["1M", "3M", "12M"]).pipe(Options.optional),
    devDurationMs: Options.integer("dev-duration-ms").pipe(Options.optional),
    devAutoRenewing: Options.boolean("dev-auto-renewing")
  },
  (o) =>
    Effect.gen(function*() {
      const master = yield* loadKey("Master secret key", o.master, true)
      const rotating = yield* loadKey("Rotating secret key", o.rotating, true)
      const tx = Client.wireTx(o.provider, {
        googlePaymentToken: Option.getOrUndefined(o.paymentToken),
        googleOrderId: Option.getOrUndefined(o.orderId),
        appleTxId: Option.getOrUndefined(o.txId),
        rangeproofOrderId: Option.getOrUndefined(o.rangeproofOrderId)
      })
      const body = Client.buildAddProPayment({
        version: o.protocolVersion,
        master,
        rotating,
        tx,
        devPlan: Option.getOrUndefined(o.devPlan),
        devDurationMs: Option.getOrUndefined(o.devDurationMs),
        devAutoRenewing: o.devAutoRenewing ? true : undefined
      })
      const key = yield* serverKey(o)
      const env = yield* exchange(o.url, Client.ROUTES.addProPayment, body)
      yield* requireSuccess(env)
      yield* checkProof(env, key, rotating.publicKey)
    })
).pipe(
  Command.withDescription(
    help(
      "Redeem a payment and get a first proof (POST /add_pro_payment). Without payment ids a DEV.-prefixed payment is sent, which a dev-mode server creates on the fly.",
      [
        "session-pro-admin server add-pro-payment --url http://127.0.0.1:8000 --provider apple --dev-plan 3M",
        "session-pro-admin server add-pro-payment --url http://127.0.0.1:8000 --provider google --master-skey 0101…01 --dev-duration-ms 600000 --dev-auto-renewing",
        "session-pro-admin server add-pro-payment --url https://pro.example --provider apple --tx-id 2000000123456789 --master-skey <hex> --server-pubkey <hex>"
      ]
    )
  )
)

const generateProProof = Command.make(
  "generate-pro-proof",
  {
    ...common,
    ...verifyOptions,
    master: masterOpt,
    rotating: rotatingOpt,
    unixTsMs: Options.integer("unix-ts-ms").pipe(Options.withDescription("Request time (default: now)"), Options.optional)
  },
  (o) =>
    Effect.gen(function*() {
      const master = yield* loadKey("Master secret key", Option.some(o.master), false)
      const rotating = yield* loadKey("Rotating secret key", o.rotating, true)
      const now = yield* Clock.currentTimeMillis
      const body = Client.buildGenerateProProof({
        version: o.protocolVersion,
        master,
        rotating,
        unixTsMs: Option.getOrElse(o.unixTsMs, () => now)
      })
      const key = yield* serverKey(o)
      const env = yield* exchange(o.url, Client.ROUTES.generateProProof, body)
      yield* requireSuccess(env)
      yield* checkProof(env, key, rotating.publicKey)
    })
).pipe(
  Command.withDescription(
    help("Get a new proof for another rotating key of an entitled master key (POST /generate_pro_proof).", [
      "session-pro-admin server generate-pro-proof --url http://127.0.0.1:8000 --master-skey <hex> --rotating-skey <hex>"
    ])
  )
)

const getProDetails = Command.make(
  "get-pro-details",
  {
    ...common,
    master: masterOpt,
    count: Options.integer("count").pipe(Options.withDescription("Maximum payment history items"), Options.withDefault(10)),
    unixTsMs: Options.integer("unix-ts-ms").pipe(Options.withDescription("Request time (default: now)"), Options.optional)
  },
  (o) =>
    Effect.gen(function*() {
      const master = yield* loadKey("Master secret key", Option.some(o.master), false)
      if (o.count < 0 || o.count > 0xffff_ffff) return yield* fail("--count must be between 0 and 4294967295")
      const now = yield* Clock.currentTimeMillis
      const body = Client.buildGetProDetails({
        version: o.protocolVersion,
        master,
        count: o.count,
        unixTsMs: Option.getOrElse(o.unixTsMs, () => now)
      })
      const env = yield* exchange(o.url, Client.ROUTES.getProDetails, body)
      yield* requireSuccess(env)
    })
).pipe(
  Command.withDescription(
    help("Entitlement status and payment history of a master key (POST /get_pro_details).", [
      "session-pro-admin server get-pro-details --url http://127.0.0.1:8000 --master-skey <hex> --count 5"
    ])
  )
)

const getProRevocations = Command.make(
  "get-pro-revocations",
  {
    ...common,
    ticket: Options.integer("ticket").pipe(Options.withDescription("The client's cached ticket (0 = everything)"), Options.withDefault(0))
  },
  (o) =>
    Effect.gen(function*() {
      const env = yield* exchange(o.url, Client.ROUTES.getProRevocations, Client.buildGetProRevocations({ version: o.protocolVersion, ticket: o.ticket }))
      yield* requireSuccess(env)
    })
).pipe(
  Command.withDescription(
    help("The revocation list (POST /get_pro_revocations, unauthenticated).", [
      "session-pro-admin server get-pro-revocations --url http://127.0.0.1:8000",
      "session-pro-admin server get-pro-revocations --url http://127.0.0.1:8000 --ticket 3"
    ])
  )
)

const setPaymentRefundRequested = Command.make(
  "set-payment-refund-requested",
  {
    ...common,
    ...paymentIdOptions,
    provider: Options.choice("provider", ["google", "apple"]).pipe(
      Options.withDescription("The server only accepts apple; google is sent as asked (and refused)"),
      Options.withDefault("apple" as const)
    ),
    master: masterOpt,
    refundRequestedUnixTsMs: Options.integer("refund-requested-unix-ts-ms").pipe(
      Options.withDescription("When the refund was requested (default: now + 1 s); 0 clears the flag"),
      Options.optional
    ),
    unixTsMs: Options.integer("unix-ts-ms").pipe(Options.withDescription("Request time (default: now)"), Options.optional)
  },
  (o) =>
    Effect.gen(function*() {
      const master = yield* loadKey("Master secret key", Option.some(o.master), false)
      const now = yield* Clock.currentTimeMillis
      let tx: Parameters<typeof Client.buildSetPaymentRefundRequested>[0]["tx"]
      if (o.provider === "apple") {
        if (Option.isNone(o.txId)) return yield* fail("--tx-id is required for --provider apple")
        tx = { provider: 2, apple_tx_id: o.txId.value }
      } else {
        if (Option.isNone(o.paymentToken) || Option.isNone(o.orderId)) {
          return yield* fail("--payment-token and --order-id are required for --provider google")
        }
        tx = { provider: 1, google_payment_token: o.paymentToken.value, google_order_id: o.orderId.value }
      }
      const refundTs = Option.getOrElse(o.refundRequestedUnixTsMs, () => now + 1000)
      if (refundTs < 0) return yield* fail("--refund-requested-unix-ts-ms must not be negative")
      const body = Client.buildSetPaymentRefundRequested({
        version: o.protocolVersion,
        master,
        unixTsMs: Option.getOrElse(o.unixTsMs, () => now),
        refundRequestedUnixTsMs: refundTs,
        tx
      })
      const env = yield* exchange(o.url, Client.ROUTES.setPaymentRefundRequested, body)
      yield* requireSuccess(env)
      yield* Console.log(
        env.result?.updated === true
          ? `Updated: refund requested ${refundTs === 0 ? "cleared" : `at ${readableTimestamp(refundTs)}`}`
          : "Not updated: the server has no such payment owned by this master key"
      )
    })
).pipe(
  Command.withDescription(
    help("Flag (or clear with 0) a refund request on an Apple payment owned by the master key (POST /set_payment_refund_requested).", [
      "session-pro-admin server set-payment-refund-requested --url http://127.0.0.1:8000 --master-skey <hex> --tx-id DEV.7f6c…",
      "session-pro-admin server set-payment-refund-requested --url http://127.0.0.1:8000 --master-skey <hex> --tx-id 2000000123456789 --refund-requested-unix-ts-ms 0"
    ])
  )
)

export const serverCommand = Command.make("server").pipe(
  Command.withDescription(
    help(
      "A client for a running server: builds and signs the v0 requests from hex secret keys (random ones when omitted), prints request and response, verifies returned proofs.",
      [
        "session-pro-admin server add-pro-payment --url http://127.0.0.1:8000 --provider google --dev-plan 1M",
        "session-pro-admin server get-pro-details --url http://127.0.0.1:8000 --master-skey <hex>"
      ]
    )
  ),
  Command.withSubcommands([addProPayment, generateProProof, getProDetails, getProRevocations, setPaymentRefundRequested])
)
