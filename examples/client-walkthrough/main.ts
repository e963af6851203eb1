/**
 * Client walkthrough: every client route of a dev-mode server, called with the typed client SDK,
 * printing each request and response.
 *
 *   npm run example:client-walkthrough                      # starts an in-memory dev server on a free port
 *   npm run example:client-walkthrough -- --url http://127.0.0.1:8000 [--backend-key <hex>] [--onion]
 *
 * A dev-mode server creates payments whose order/transaction id starts with `DEV.` on the fly
 * (protocol.md §3.7), so no store is needed. With `--onion` every call goes through
 * `/oxen/v4/lsrpc`, encrypted to the server's X25519 key (derived from its Ed25519 key).
 */
import { FetchHttpClient, HttpServer } from "@effect/platform"
import { type Exchange, Keys, ProClient } from "@session-pro/http/client"
import * as Server from "@session-pro/http/Server"
import { Effect, Layer } from "effect"
import { pathToFileURL } from "node:url"

export interface Options {
  readonly url?: string | undefined
  readonly backendKey?: string | undefined
  readonly onion?: boolean | undefined
  readonly print?: (line: string) => void
}

const parseArgs = (argv: ReadonlyArray<string>): Options => {
  const get = (flag: string) => {
    const i = argv.indexOf(flag)
    return i >= 0 ? argv[i + 1] : undefined
  }
  return { url: get("--url") ?? process.env.PRO_SERVER_URL, backendKey: get("--backend-key"), onion: argv.includes("--onion") }
}

const pretty = (text: string) => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}

/** The walk itself, against whatever server `baseUrl` is. */
const walk = (baseUrl: string, options: Options) =>
  Effect.gen(function*() {
    const print = options.print ?? console.log
    const step = (title: string) => print(`\n=== ${title}`)
    const client = yield* ProClient.make(baseUrl, {
      backendPublicKey: options.backendKey ?? Keys.DEV_BACKEND_PUBLIC_KEY,
      onion: options.onion,
      onExchange: (e: Exchange) => {
        print(`--> POST ${e.path}${e.onion ? " (inside an onion request to /oxen/v4/lsrpc)" : ""}\n${JSON.stringify(e.request, null, 2)}`)
        print(`<-- ${e.httpStatus}\n${pretty(e.response)}`)
      }
    })
    print(`Server: ${client.target}`)

    // Key material: the account's master key (from its seed) and two rotating keys.
    const master = Keys.randomKey()
    const rotating1 = Keys.randomKey()
    const rotating2 = Keys.randomKey()
    const appleTx = `DEV.walkthrough-${Date.now()}`

    step("1. dev payment + /add_pro_payment: redeem an Apple payment (created on the fly in dev mode)")
    const proof1 = yield* client.addProPayment({
      master,
      rotating: rotating1,
      payment: { provider: "apple", transactionId: appleTx },
      dev: { plan: "ThreeMonth", durationMs: 7 * 86_400_000, autoRenewing: true }
    })
    print(`proof verified: ${(yield* client.verifyProof(proof1)).reason}`)

    step("2. /generate_pro_proof: authorise a second rotating key")
    const proof2 = yield* client.generateProProof({ master, rotating: rotating2 })
    print(`proof verified: ${(yield* client.verifyProof(proof2, { rotatingPublicKey: rotating2.publicKey })).reason}`)

    step("3. /get_pro_details")
    const details = yield* client.getProDetails({ master, count: 10 })
    print(`status ${details.status} (1 = active), ${details.payments_total} payment(s)`)

    step("4. /set_payment_refund_requested: flag the Apple payment")
    const refund = yield* client.setPaymentRefundRequested({ master, appleTransactionId: appleTx })
    print(`updated: ${refund.updated}`)
    const after = yield* client.getProDetails({ master, count: 1 })
    print(`refund_requested_unix_ts_ms is now ${after.refund_requested_unix_ts_ms}`)

    step("5. /get_pro_revocations")
    const revocations = yield* client.getProRevocations({ ticket: 0 })
    print(`ticket ${revocations.ticket}, ${revocations.items.length} item(s); proof 1 against this list: ${
      (yield* client.verifyProof(proof1, { revocations: revocations.items })).status
    }`)

    step("6. an error envelope: /add_pro_payment again for the same payment")
    const again = yield* Effect.either(client.addProPayment({ master, rotating: rotating1, payment: { provider: "apple", transactionId: appleTx } }))
    if (again._tag === "Left") print(`rejected as expected: ${again.left._tag} ${"status" in again.left ? `status ${again.left.status}` : ""}`)

    step("7. /get_pro_revocations again, inside an onion request (xchacha20, to the key derived from the backend key)")
    const onionClient = yield* ProClient.make(baseUrl, {
      backendPublicKey: options.backendKey ?? Keys.DEV_BACKEND_PUBLIC_KEY,
      onion: true,
      onExchange: (e: Exchange) => print(`--> onion ${e.path} ${JSON.stringify(e.request)}\n<-- inner ${e.httpStatus} ${e.response.trim()}`)
    })
    const viaOnion = yield* onionClient.getProRevocations({ ticket: 0 })
    return { proof1, proof2, details, refund, revocations, viaOnion }
  })

/** Runs against `options.url`, or starts an in-memory dev server for the duration. */
export const run = (options: Options = {}) => {
  if (options.url) return Effect.runPromise(walk(options.url, options).pipe(Effect.provide(FetchHttpClient.layer)))
  const print = options.print ?? console.log
  const server = Server.layer({ port: 0 }).pipe(
    Layer.provide(Server.servicesLayer({ url: "sqlite://:memory:", settings: { dev: true } }))
  )
  const program = Effect.gen(function*() {
    const address = (yield* HttpServer.HttpServer).address as HttpServer.TcpAddress
    print(`Started an in-memory dev server on port ${address.port}`)
    return yield* walk(`http://127.0.0.1:${address.port}`, options)
  })
  return Effect.runPromise(program.pipe(Effect.provide(Layer.merge(server, FetchHttpClient.layer)), Effect.scoped))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  run(parseArgs(process.argv.slice(2))).then(
    () => process.exit(0),
    (e) => {
      console.error(e)
      process.exit(1)
    }
  )
}
