/**
 * Bad input, every route, plain and through onion requests (D4b), extending routes.test.ts's
 * property test (which only checks plain in-process status codes) with: byte-level corpus
 * mutation of the recorded requests, hostile JSON (deep nesting, huge numbers, NaN, invalid
 * UTF-8), onion frames that are garbage / truncated / bit-flipped / wrongly ciphered / carry bad
 * bencode, oversized bodies, a slice over real loopback HTTP, and three invariants per request:
 * never a 500, the documented answer shape, and no row written unless the answer was status 0
 * (checked with SQLite's total_changes() on the single in-memory connection, plus a full snapshot
 * comparison for every pure-garbage run). Logs are captured through the server's own logger
 * (unsafe_logging off) and scanned for secrets.
 *
 * PRO_RELIABILITY_SCALE (set by `npm run soak`) multiplies the run counts.
 */
import { HttpServer } from "@effect/platform"
import { hex as toHex } from "@session-pro/core"
import * as fc from "fast-check"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, describe, expect, it } from "vitest"
import { Keys } from "../../src/client/index.js"
import { fixedClock, runSetup } from "../../src/Conformance/Runner.js"
import { encrypt, type EncType } from "../../src/OnionRequests/Cipher.js"
import { buildRequest, decryptReply, jsonRequest } from "../../src/OnionRequests/Client.js"
import { BAD_REQUEST_HTML } from "../../src/OnionRequests/Handler.js"
import { encodeOuterFrame, MAX_BODY_BYTES as ONION_MAX } from "../../src/OnionRequests/Outer.js"
import { dispatch, MAX_JSON_BODY_BYTES, ONION_PATH } from "../../src/Routes/ClientRoutes.js"
import * as Server from "../../src/Server.js"
import {
  allExchanges,
  BACKEND_PUBLIC,
  BACKEND_SEED,
  capturedLogger,
  CLIENT_PATHS,
  ctx,
  post,
  Secrets,
  services,
  snapshot,
  text,
  totalChanges,
  utf8
} from "./harness.js"

const SCALE = Number(process.env.PRO_RELIABILITY_SCALE ?? 1)
const SERVER_X25519 = Keys.onionKeyFromBackendKey(BACKEND_PUBLIC)
const clock = fixedClock(ctx.server_now_ms)

const logLines: Array<string> = []
const secrets = new Secrets().add(BACKEND_SEED)
for (const k of Object.values((ctx as any).keys ?? {}) as Array<any>) if (k?.seed) secrets.add(k.seed)
// Every full public key, purchase token and order id of the recorded requests (what the fuzzers mutate).
for (const e of allExchanges) {
  try {
    const b = JSON.parse(e.request_body ?? "")
    for (const k of ["master_pkey", "rotating_pkey"]) if (typeof b?.[k] === "string") secrets.add(b[k])
    for (const k of ["google_payment_token", "google_order_id", "apple_tx_id"]) {
      if (typeof b?.payment_tx?.[k] === "string" && b.payment_tx[k].length >= 12) secrets.add(b.payment_tx[k])
    }
  } catch {
    // not JSON
  }
}

const stats = { plain: 0, onion: 0, http: 0, devSelfRegistered: 0 }
afterAll(() => {
  const total = stats.plain + stats.onion + stats.http
  console.log(`reliability fuzz: ${total} requests (${stats.plain} plain in-process, ${stats.onion} onion in-process, ${stats.http} loopback HTTP; ${stats.devSelfRegistered} rejected dev DEV. adds wrote (FLAG-16))`)
  // with the default scale the three suites together must reach 10,000
  if (SCALE >= 1 && stats.plain > 0 && stats.onion > 0 && stats.http > 0) expect(total).toBeGreaterThanOrEqual(10_000)
})

// ---------------------------------------------------------------------------------------------
// generators

/** Recorded JSON request bodies (the corpus), by route. */
const corpus = allExchanges
  .filter((e) => e.path !== undefined && (CLIENT_PATHS as ReadonlyArray<string>).includes(e.path) && e.request_body !== undefined)
  .map((e) => [e.path!, e.request_body!] as const)

const hostileScalars = [
  "NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0", "0.0", "1.5", "9".repeat(5000),
  "18446744073709551616", "-9223372036854775809", "9007199254740993", "true", "false", "null", '""', '"\\ud800"',
  '"\\u0000"', "[]", "{}", '"' + "a".repeat(10_000) + '"', "[".repeat(2000) + "]".repeat(2000), "0x10", "01", "+1", ".5"
]
const structural = fc.constantFrom(
  "", " ", "null", "[]", "5", "{", "}", '{"version":0', "\ufeff{}", '{"version":0,}', "{'version':0}", "[".repeat(100_000),
  "{" + '"a":{'.repeat(50_000) + "}".repeat(50_001), '{"version":0}'.repeat(1000), "\u0000", "\ud800", "{\"\\ud800\":1}"
)
/** Invalid UTF-8: stray continuation bytes, overlongs, CESU surrogates, truncated sequences, 0xff. */
const invalidUtf8 = fc.tuple(
  // (no CESU surrogates ED A0 80 here: json.loads decodes bytes with 'surrogatepass', so the
  // reference accepts them; they are in `mutated` instead)
  fc.constantFrom([0x80], [0xc0, 0x80], [0xe2, 0x82], [0xff], [0xf5, 0x80, 0x80, 0x80], [0xf0, 0x9f, 0x98]),
  fc.nat(60)
).map(([bad, at]) => {
  const base = Buffer.from('{"version":0,"ticket":0,"master_pkey":"' + "ab".repeat(32) + '"}')
  const i = Math.min(at, base.length)
  return new Uint8Array(Buffer.concat([base.subarray(0, i), Buffer.from(bad), base.subarray(i)]))
})
/** A recorded body with a top-level or payment_tx field replaced by a hostile literal. */
const fieldSwap = fc.tuple(
  fc.constantFrom(...corpus),
  fc.constantFrom("version", "master_pkey", "rotating_pkey", "master_sig", "rotating_sig", "unix_ts_ms", "count", "ticket",
    "refund_requested_unix_ts_ms", "payment_tx", "provider", "google_payment_token", "apple_tx_id", "dev_plan", "dev_duration_ms"),
  fc.constantFrom(...hostileScalars)
).map(([[path, body], key, lit]) => {
  const re = new RegExp(`("${key}"\\s*:\\s*)("(?:[^"\\\\]|\\\\.)*"|[^,}\\]]+|\\{[^}]*\\})`)
  return [path, utf8(re.test(body) ? body.replace(re, (_m, k) => k + lit) : body.replace(/^\{/, `{"${key}":${lit},`))] as const
})
/** Byte-level mutation of a recorded body: flips, truncation, insertion, duplication. */
const byteMutation = fc.tuple(
  fc.constantFrom(...corpus),
  fc.array(fc.tuple(fc.constantFrom("flip", "cut", "insert", "dup", "delete"), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })
).map(([[path, body], ops]) => {
  let b = Buffer.from(body)
  for (const [op, pos, byte] of ops) {
    const i = b.length === 0 ? 0 : pos % b.length
    if (op === "flip") {
      b = Buffer.from(b)
      if (b.length > 0) b[i] = b[i]! ^ (1 << (byte % 8))
    } else if (op === "cut") b = b.subarray(0, i)
    else if (op === "insert") b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)])
    else if (op === "dup") b = Buffer.concat([b.subarray(0, i), b.subarray(i, i + 16), b.subarray(i)])
    else b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + (byte % 8))])
  }
  return [path, new Uint8Array(b)] as const
})
/** Bodies that can never be a valid request (must be status 2, nothing written). */
const garbage = fc.tuple(
  fc.constantFrom(...CLIENT_PATHS),
  fc.oneof(
    structural.map(utf8),
    invalidUtf8,
    fc.uint8Array({ maxLength: 256 }),
    fc.json({ depthSize: "medium" }).map(utf8),
    fc.string({ unit: "binary", maxLength: 64 }).map((s) => utf8(JSON.stringify({ version: 0, ticket: s, master_pkey: s })))
  )
)
/** Close to valid: can reach the core, so any documented status is fine (but never a write unless 0). */
const surrogates = fc.tuple(fc.constantFrom(...corpus), fc.nat()).map(([[path, body], at]) => {
  const b = Buffer.from(body)
  const i = at % (b.length + 1)
  return [path, new Uint8Array(Buffer.concat([b.subarray(0, i), Buffer.from([0xed, 0xa0, 0x80]), b.subarray(i)]))] as const
})
const mutated = fc.oneof(fieldSwap, byteMutation, byteMutation, surrogates)

// ---------------------------------------------------------------------------------------------
// invariants

interface Envelope {
  readonly status: number
  readonly errors?: ReadonlyArray<string>
  readonly result?: unknown
}
const parseEnvelope = (b: Uint8Array): Envelope => JSON.parse(text(b))

const checkEnvelope = (env: Envelope, garbageInput: boolean, label: string) => {
  expect([0, 1, 2, 100, 101], label).toContain(env.status)
  if (env.status !== 0) {
    expect(env.errors?.length, label).toBeGreaterThan(0)
    expect(env.errors!.every((e) => typeof e === "string"), label).toBe(true)
    // "Internal error" would mean an input escaped the parser's D4b handling
    expect(env.errors!.join(" "), label).not.toContain("Internal error")
  }
  if (garbageInput) expect(env.status, label).toBe(2)
}

type Svc = Layer.Layer.Success<ReturnType<typeof services>>

/** A live backend + runtime for fast-check's async properties; seeded with the recorded init rows. */
let currentDev = false
const runtimeFor = (dev: boolean) => {
  guard.changes = -1
  currentDev = dev
  return ManagedRuntime.make(Layer.merge(services({ dev }), capturedLogger(logLines)))
}

const runWith = <A>(rt: ManagedRuntime.ManagedRuntime<Svc, unknown>, eff: Effect.Effect<A, unknown, Svc>) =>
  rt.runPromise(eff.pipe(Effect.withClock(clock)))

/**
 * "Nothing written unless status 0": SQLite's total_changes() on the single in-memory connection
 * is the cheap test; when it moved (e.g. a dev-mode DEV. re-registration's no-op upsert still
 * counts), the full snapshot must equal the one taken after the last write.
 */
const guard = { changes: -1, snap: undefined as unknown }
const beginWrite = Effect.gen(function*() {
  const c = yield* totalChanges
  if (c !== guard.changes) {
    guard.snap = yield* snapshot
    guard.changes = c
  }
})
const endWrite = (status: number | "none", label: string, devAdd = false) =>
  Effect.gen(function*() {
    const c = yield* totalChanges
    if (c === guard.changes || status === 0) return
    // Dev mode registers a DEV. payment (and sets its renewal info) *before* the signature checks,
    // committed on its own (FLAG-16, "Replicate (dev only)"); through §6.1 a Google one can even be
    // auto-redeemed to the user its account id names. So a rejected dev add with a DEV. id may
    // write; every other rejected request may not.
    if (devAdd) {
      stats.devSelfRegistered++
      return
    }
    const now = yield* snapshot
    const before = guard.snap as typeof now
    {
      const diff = Object.keys(now).flatMap((t) => {
        const add = now[t]!.filter((r) => !before[t]?.includes(r))
        const del = (before[t] ?? []).filter((r) => !now[t]!.includes(r))
        return add.length + del.length > 0 ? [`${t}: +${add.join(" +")} -${del.join(" -")}`] : []
      })
      if (diff.length > 0) throw new Error(`wrote rows (status ${status}): ${label.slice(0, 3000)}\n${diff.join("\n")}`)
    }
  })

/** Dispatches one plain request and checks the invariants; returns the envelope status. */
const plainCheck = (path: string, body: Uint8Array, garbageInput: boolean) =>
  Effect.gen(function*() {
    yield* beginWrite
    const r = yield* dispatch({ method: "POST", path, headers: {}, body })
    stats.plain++
    const label = `${path} ${Buffer.from(body.subarray(0, 300)).toString("latin1")}`
    expect(r.status, label).toBe(body.length > MAX_JSON_BODY_BYTES ? 413 : 200)
    expect(r.headers["content-type"], label).toBe("application/json")
    const env = parseEnvelope(r.body)
    checkEnvelope(env, garbageInput, label)
    const devAdd = currentDev && path === "/add_pro_payment" && Buffer.from(body).includes("DEV.")
    yield* endWrite(env.status, `${JSON.stringify(env.errors ?? [])} ← ${Buffer.from(body).toString("hex")}`, devAdd)
    return env.status
  })

const onionBody = (inner: Uint8Array | { path: string; body: Uint8Array }, encType: EncType, label: string | null) => {
  const built = buildRequest({
    serverPublicKey: SERVER_X25519,
    encType,
    encTypeLabel: label,
    request: inner instanceof Uint8Array ? jsonRequest("/", "") : jsonRequest(inner.path, Buffer.from(inner.body).toString("latin1"))
  })
  if (Either.isLeft(built)) throw new Error("client build failed")
  if (!(inner instanceof Uint8Array)) {
    // latin1 round trip would corrupt bytes ≥ 0x80: put the exact body bytes in a bencoded list instead
    const meta = JSON.stringify({ method: "POST", endpoint: inner.path, headers: { "Content-Type": "application/json" } })
    const plain = Buffer.concat([Buffer.from(`l${Buffer.byteLength(meta)}:${meta}${inner.body.length}:`), Buffer.from(inner.body), Buffer.from("e")])
    return { ...built.right, body: reframe(built.right, new Uint8Array(plain), label) }
  }
  return { ...built.right, body: reframe(built.right, inner, label) }
}
/** Re-encrypts `plaintext` under the session of a built request (raw inner bytes, e.g. bad bencode). */
const reframe = (s: { encType: EncType; key: Uint8Array; ephemeralPublicKey: Uint8Array }, plaintext: Uint8Array, label: string | null) =>
  encodeOuterFrame(encrypt(s.encType, s.key, plaintext), {
    ephemeral_key: toHex(s.ephemeralPublicKey),
    ...(label === null ? {} : { enc_type: label })
  })

/**
 * One onion request. `expectOuter`: 400 (outer failure), 200 (decryptable), or either (a mutated
 * frame may still be valid). Inner JSON replies are checked like plain ones.
 */
const onionCheck = (
  body: Uint8Array,
  session: { encType: EncType; key: Uint8Array } | undefined,
  expectOuter: 200 | 400 | "either",
  garbageInner: boolean
) =>
  Effect.gen(function*() {
    yield* beginWrite
    const r = yield* dispatch({ method: "POST", path: ONION_PATH, headers: {}, body })
    stats.onion++
    expect(r.status).not.toBe(500)
    if (expectOuter !== "either") expect(r.status).toBe(expectOuter)
    else expect([200, 400]).toContain(r.status)
    if (r.status === 400) {
      expect(text(r.body)).toBe(BAD_REQUEST_HTML)
      yield* endWrite("none", "onion 400")
      return
    }
    if (session === undefined) return
    const reply = decryptReply(session, r.body)
    if (Either.isLeft(reply)) {
      // a mutated-but-still-valid frame under another key: nothing we can read, but nothing written
      expect(expectOuter).toBe("either")
      return
    }
    const inner = reply.right
    expect(inner.code).not.toBe(500)
    if (inner.code === 200) {
      const env = parseEnvelope(inner.body)
      checkEnvelope(env, garbageInner, "onion inner")
      yield* endWrite(env.status, "onion inner")
    } else {
      // documented: 400 "Invalid v4 onion request" (bad inner), 404/405 for inner paths/methods, 413
      expect([400, 404, 405, 413]).toContain(inner.code)
      yield* endWrite("none", `onion inner ${inner.code}`)
    }
  })

const encTypes = fc.constantFrom<[EncType, string | null]>(["xchacha20", "xchacha20"], ["aes-gcm", "aes-gcm"], ["aes-gcm", null], ["xchacha20", "xchacha20-poly1305"])

// ---------------------------------------------------------------------------------------------

describe("bad input, plain, in-process (D4b)", () => {
  for (const dev of [false, true]) {
    it(`garbage → status 2, nothing written, DB identical (dev=${dev})`, async () => {
      const rt = runtimeFor(dev)
      try {
        await runWith(rt, runSetup("init", ctx, dev ? "dev" : "prod"))
        const before = await runWith(rt, snapshot)
        await fc.assert(
          fc.asyncProperty(garbage, ([path, body]) => runWith(rt, plainCheck(path, body, true)).then(() => undefined)),
          { numRuns: 2000 * SCALE }
        )
        expect(await runWith(rt, snapshot)).toEqual(before)
      } finally {
        await rt.dispose()
      }
    })

    it(`mutated recorded requests: documented statuses, writes only with status 0 (dev=${dev})`, async () => {
      const rt = runtimeFor(dev)
      try {
        await runWith(rt, runSetup("init", ctx, dev ? "dev" : "prod"))
        const seen = new Set<number>()
        await fc.assert(
          fc.asyncProperty(mutated, ([path, body]) => runWith(rt, plainCheck(path, body, false)).then((s) => void seen.add(s))),
          { numRuns: 2000 * SCALE }
        )
        // the corpus mutations get past the parser into the core
        expect([...seen].some((s) => s !== 2)).toBe(true)
      } finally {
        await rt.dispose()
      }
    })
  }

  it("huge bodies: > 1 MiB JSON → 413 envelope, 1 MiB of valid-but-huge JSON → status 2; still answering", async () => {
    const rt = runtimeFor(false)
    try {
      await runWith(rt, Effect.gen(function*() {
        const before = yield* snapshot
        const pad = (n: number) => utf8(`{"version":0,"ticket":0,"x":"${"a".repeat(n)}"}`)
        for (const path of CLIENT_PATHS) {
          yield* plainCheck(path, pad(MAX_JSON_BODY_BYTES + 1), true)
          yield* plainCheck(path, utf8("[".repeat(MAX_JSON_BODY_BYTES)), true)
          yield* plainCheck(path, utf8(`{"version":${"9".repeat(MAX_JSON_BODY_BYTES - 20)}}`), true)
        }
        // exactly at the limit is parsed (and /get_pro_revocations ignores the extra key)
        const exact = pad(MAX_JSON_BODY_BYTES - pad(0).length)
        expect(exact.length).toBe(MAX_JSON_BODY_BYTES)
        const r = yield* dispatch({ method: "POST", path: "/get_pro_revocations", headers: {}, body: exact })
        expect(parseEnvelope(r.body).status).toBe(0)
        expect(yield* snapshot).toEqual(before)
      }))
    } finally {
      await rt.dispose()
    }
  })
})

describe("bad input through onion requests, in-process", () => {
  it("valid onion frames around garbage and mutated inner requests", async () => {
    const rt = runtimeFor(false)
    try {
      await runWith(rt, runSetup("init", ctx, "prod"))
      const before = await runWith(rt, snapshot)
      await fc.assert(
        fc.asyncProperty(garbage, encTypes, ([path, body], [enc, label]) => {
          const req = onionBody({ path, body }, enc, label)
          return runWith(rt, onionCheck(req.body, req, 200, true))
        }),
        { numRuns: 1000 * SCALE }
      )
      expect(await runWith(rt, snapshot)).toEqual(before)
      await fc.assert(
        fc.asyncProperty(mutated, encTypes, ([path, body], [enc, label]) => {
          const req = onionBody({ path, body }, enc, label)
          return runWith(rt, onionCheck(req.body, req, 200, false))
        }),
        { numRuns: 500 * SCALE }
      )
    } finally {
      await rt.dispose()
    }
  })

  it("bad bencode / bad inner metadata → encrypted 400, nothing written", async () => {
    const rt = runtimeFor(false)
    const innerGarbage = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom("", "l", "le", "l0:e", "li5ee", "d1:a1:be", "l9999999999:xe", "l3:abce", "l-1:e", "l01:ae", "l2:{}e",
        'l17:{"method":"POST"}e', 'l44:{"method":"POST","endpoint":"no-slash","x":1}e', "l4:nulle", "l5:[1,2]e",
        'l39:{"method":"POST","endpoint":"/x\\ud800"}2:{}e').map(utf8),
      // truncated valid inner request
      fc.nat(80).map((n) => utf8(`l54:{"method":"POST","endpoint":"/get_pro_revocations"}24:{"version":0,"ticket":0}e`).subarray(0, n))
    )
    try {
      const before = await runWith(rt, snapshot)
      await fc.assert(
        fc.asyncProperty(innerGarbage, encTypes, (plain, [enc, label]) => {
          const req = onionBody(plain, enc, label)
          return runWith(rt, onionCheck(req.body, req, 200, true))
        }),
        { numRuns: 600 * SCALE }
      )
      expect(await runWith(rt, snapshot)).toEqual(before)
    } finally {
      await rt.dispose()
    }
  })

  it("garbage, truncated, bit-flipped and wrongly ciphered outer frames → 400 (or a valid reply), nothing written", async () => {
    const rt = runtimeFor(false)
    const valid = () => onionBody({ path: "/get_pro_revocations", body: utf8('{"version":0,"ticket":0}') }, "xchacha20", "xchacha20")
    const frames = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => ({ body: b, expect: "either" as const })),
      fc.nat().map((n) => {
        const v = valid()
        return { body: v.body.subarray(0, n % v.body.length), expect: 400 as const }
      }),
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([n, bit]) => {
        const v = valid()
        const b = new Uint8Array(v.body)
        b[n % b.length] ^= 1 << bit
        // a flip can leave the frame valid (e.g. hex case in ephemeral_key): then it is the real request
        return { body: b, expect: "either" as const, session: v, valid: true }
      }),
      // the cipher named in the metadata is not the one used / an unknown one / a wrong server key
      fc.constantFrom<[EncType, string | null]>(["xchacha20", "aes-gcm"], ["aes-gcm", "xchacha20"], ["xchacha20", null], ["xchacha20", "rot13"], ["aes-gcm", "AES-GCM-256"])
        .map(([enc, label]) => ({ body: onionBody({ path: "/get_pro_revocations", body: utf8("{}") }, enc, label).body, expect: 400 as const })),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((k) => {
        const b = buildRequest({ serverPublicKey: k, request: jsonRequest("/get_pro_revocations", "{}") })
        return { body: Either.isRight(b) ? b.right.body : new Uint8Array([1]), expect: 400 as const }
      }),
      // a frame whose length prefix lies
      fc.integer({ min: 0, max: 0xffffffff }).map((len) => {
        const v = valid().body
        const b = new Uint8Array(v)
        new DataView(b.buffer).setUint32(0, len, true)
        return { body: b, expect: "either" as const }
      })
    )
    try {
      const before = await runWith(rt, snapshot)
      await fc.assert(
        fc.asyncProperty(frames, (f) => runWith(rt, onionCheck(f.body, "session" in f ? f.session : undefined, f.expect, !("valid" in f)))),
        { numRuns: 1000 * SCALE }
      )
      // > 10 MiB onion body → 400
      const big = await runWith(rt, dispatch({ method: "POST", path: ONION_PATH, headers: {}, body: new Uint8Array(ONION_MAX + 1) }))
      stats.onion++
      expect(big.status).toBe(400)
      expect(await runWith(rt, snapshot)).toEqual(before)
    } finally {
      await rt.dispose()
    }
  })
})

describe("bad input over real loopback HTTP", () => {
  it("a slice of the fuzzers plus oversized bodies; the server keeps answering, nothing written", async () => {
    const program = Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const port = (server.address as HttpServer.TcpAddress).port
      yield* runSetup("init", ctx, "prod")
      const before = yield* snapshot
      const send = (path: string, body: Uint8Array | string, headers: Record<string, string> = {}) =>
        Effect.promise(() => post(port, path, body, headers)).pipe(Effect.tap(() => Effect.sync(() => void stats.http++)))
      const samples = fc.sample(garbage, 500 * SCALE)
      // 16 in flight at a time over keep-alive connections
      yield* Effect.forEach(samples, ([path, body]) =>
        Effect.gen(function*() {
          const r = yield* send(path, body, { "content-type": "application/json" })
          expect(r.status).toBe(200)
          expect(r.headers["content-type"]).toBe("application/json")
          checkEnvelope(JSON.parse(r.body.toString("utf8")), true, path)
        }), { concurrency: 16, discard: true })
      const onions = fc.sample(fc.tuple(garbage, encTypes), 100 * SCALE)
      yield* Effect.forEach(onions, ([[path, body], [enc, label]]) =>
        Effect.gen(function*() {
          const req = onionBody({ path, body }, enc, label)
          const r = yield* send(ONION_PATH, req.body)
          expect(r.status).toBe(200)
          const reply = decryptReply(req, new Uint8Array(r.body))
          expect(Either.isRight(reply)).toBe(true)
          if (Either.isRight(reply)) checkEnvelope(parseEnvelope(reply.right.body), true, `onion ${path}`)
        }), { concurrency: 16, discard: true })
      // oversized: JSON (with and without Content-Length), onion > 10 MiB
      const bigJson = utf8(`{"version":0,"x":"${"a".repeat(MAX_JSON_BODY_BYTES)}"}`)
      for (const path of CLIENT_PATHS) {
        const r = yield* send(path, bigJson)
        expect(r.status).toBe(413)
        expect(JSON.parse(r.body.toString("utf8")).status).toBe(2)
      }
      expect((yield* send("/add_pro_payment", bigJson, { "transfer-encoding": "chunked" })).status).toBe(413)
      const bigOnion = yield* send(ONION_PATH, new Uint8Array(ONION_MAX + 1024))
      expect(bigOnion.status).toBe(400)
      expect(bigOnion.body.toString("utf8")).toBe(BAD_REQUEST_HTML)
      // invalid UTF-8 in the path, odd methods
      expect((yield* send("/%ff%fe", "{}")).status).toBe(404)
      // still answering, and nothing was written
      const ok = yield* send("/get_pro_revocations", '{"version":0,"ticket":0}')
      expect(JSON.parse(ok.body.toString("utf8")).status).toBe(0)
      expect(yield* snapshot).toEqual(before)
    })
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function*() {
          const env = yield* Layer.build(Layer.provideMerge(Server.layer({ port: 0 }), Layer.merge(services(), capturedLogger(logLines))))
          return yield* program.pipe(Effect.provide(env))
        })
      ).pipe(Effect.withClock(clock)) as Effect.Effect<void, unknown, never>
    )
  })
})

describe("secrets in logs (unsafe_logging off)", () => {
  it("no captured log line contains a seed, full public key, purchase token or order id", () => {
    expect(logLines.length).toBeGreaterThan(0)
    expect(secrets.leaks(logLines)).toEqual([])
  })
})

