import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import { pyFromHex } from "../src/Protocol/Fields.js"
import { keyDump, obfuscate, pyFloatRepr, pyRepr } from "../src/Protocol/PyFormat.js"
import { parse, parseString, type PyValue, toPlain } from "../src/Protocol/PyJson.js"
import {
  parseAddProPayment,
  parseGenerateProProof,
  parseGetProDetails,
  parseGetProRevocations,
  type ParseContext,
  parseSetPaymentRefundRequested
} from "../src/Protocol/Requests.js"
import * as Schemas from "../src/Protocol/Schemas.js"
import { jsonify, rawJsonList, RawJson } from "../src/Protocol/Wire.js"

const utf8 = (s: string) => new TextEncoder().encode(s)
const err = (body: string | Uint8Array) => {
  const r = parse(typeof body === "string" ? utf8(body) : body)
  return Either.isLeft(r) ? r.left.message : `parsed: ${JSON.stringify(toPlain(r.right), (_, v) => (typeof v === "bigint" ? `${v}n` : v))}`
}
const ok = (body: string | Uint8Array): PyValue => Either.getOrThrow(parse(typeof body === "string" ? utf8(body) : body))

describe("PyJson: Python json.loads semantics", () => {
  it("CPython's error texts and positions", () => {
    expect(err("")).toBe("Expecting value: line 1 column 1 (char 0)")
    expect(err("hello")).toBe("Expecting value: line 1 column 1 (char 0)")
    expect(err("{")).toBe("Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")
    expect(err('{"a" 1}')).toBe("Expecting ':' delimiter: line 1 column 6 (char 5)")
    expect(err("[1 2]")).toBe("Expecting ',' delimiter: line 1 column 4 (char 3)")
    expect(err('"abc')).toBe("Unterminated string starting at: line 1 column 1 (char 0)")
    expect(err('{"a":1}x')).toBe("Extra data: line 1 column 8 (char 7)")
    expect(err("\n\n x")).toBe("Expecting value: line 3 column 2 (char 3)")
    expect(err("[1,]")).toBe("Expecting value: line 1 column 4 (char 3)")
    expect(err("01")).toBe("Extra data: line 1 column 2 (char 1)")
    expect(err("-")).toBe("Expecting value: line 1 column 1 (char 0)")
    expect(err('"a\u0001"')).toBe("Invalid control character at: line 1 column 3 (char 2)")
    expect(err('"\\x"')).toBe("Invalid \\escape: line 1 column 2 (char 1)")
    expect(err(new Uint8Array([0xff]))).toBe("'utf-8' codec can't decode byte 0xff in position 0: invalid start byte")
  })

  it("NaN/Infinity are floats; integers keep every digit", () => {
    expect(toPlain(ok("[NaN, Infinity, -Infinity, 1.0, 1e2]"))).toEqual([NaN, Infinity, -Infinity, 1, 100])
    expect(ok("[1.0]")).toEqual({ type: "list", items: [{ type: "float", value: 1 }] })
    expect(toPlain(ok("18446744073709551617"))).toBe(18446744073709551617n)
    expect(toPlain(ok("-123456789012345678901234567890"))).toBe(-123456789012345678901234567890n)
    expect(err("1".repeat(4301))).toContain("Exceeds the limit (4300 digits)")
  })

  it("duplicate keys: last value wins, first position kept", () => {
    const v = ok('{"version":1,"ticket":0,"version":0}')
    expect(toPlain(v)).toEqual({ version: 0n, ticket: 0n })
    expect(keyDump(v)).toBe("dictionary w/ keys: {version, ticket}")
  })

  it("detects UTF-8 BOM, UTF-16 and UTF-32 in both byte orders", () => {
    const doc = '{"k":"é✓😀"}'
    const expected = { k: "é✓😀" }
    const u16le = Buffer.from(doc, "utf16le")
    const u16be = Buffer.from(u16le).swap16()
    const u32 = (le: boolean) => {
      const cps = Array.from(doc, (c) => c.codePointAt(0)!)
      const b = Buffer.alloc(cps.length * 4)
      cps.forEach((cp, i) => (le ? b.writeUInt32LE(cp, i * 4) : b.writeUInt32BE(cp, i * 4)))
      return b
    }
    for (
      const bytes of [
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc)]),
        u16le,
        u16be,
        Buffer.concat([Buffer.from([0xff, 0xfe]), u16le]),
        Buffer.concat([Buffer.from([0xfe, 0xff]), u16be]),
        u32(true),
        u32(false),
        Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), u32(true)]),
        Buffer.concat([Buffer.from([0, 0, 0xfe, 0xff]), u32(false)])
      ]
    ) expect(toPlain(ok(new Uint8Array(bytes)))).toEqual(expected)
  })

  it("surrogate escapes combine; lone surrogates survive", () => {
    expect(toPlain(ok('"\\ud83d\\ude00"'))).toBe("😀")
    expect(toPlain(ok('"\\ud83d"'))).toBe("\ud83d")
  })

  it("deep nesting is an error, not a stack overflow", () => {
    expect(err("[".repeat(100_000))).toContain("maximum recursion depth exceeded")
  })

  it("a \"__proto__\" key is an own property (as JSON.parse), never the prototype", () => {
    const o = toPlain(ok('{"__proto__":{"polluted":1}}')) as Record<string, unknown>
    expect(Object.keys(o)).toEqual(["__proto__"])
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype)
    expect((o as { polluted?: unknown }).polluted).toBeUndefined()
  })

  it("agrees with JSON.parse on ordinary documents (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        const text = JSON.stringify(v)
        const plain = toPlain(ok(text))
        const norm = (x: unknown): unknown =>
          typeof x === "bigint"
            ? Number(x)
            : Array.isArray(x)
            ? x.map(norm)
            : x && typeof x === "object"
            ? Object.fromEntries(Object.entries(x).map(([k, y]) => [k, norm(y)]))
            : x
        expect(norm(plain)).toEqual(JSON.parse(text))
      }),
      { numRuns: 300 }
    )
  })
})

describe("PyFormat", () => {
  it("float repr like Python", () => {
    expect(pyFloatRepr(70000)).toBe("70000.0")
    expect(pyFloatRepr(-70000)).toBe("-70000.0")
    expect(pyFloatRepr(0)).toBe("0.0")
    expect(pyFloatRepr(1.5)).toBe("1.5")
    expect(pyFloatRepr(0.0001)).toBe("0.0001")
    expect(pyFloatRepr(0.00001)).toBe("1e-05")
    expect(pyFloatRepr(1e16)).toBe("1e+16")
    expect(pyFloatRepr(1234567890123456.7)).toBe("1234567890123456.8")
    expect(pyFloatRepr(1.7976931348623157e308)).toBe("1.7976931348623157e+308")
    expect(pyFloatRepr(-Infinity)).toBe("-inf")
    expect(pyFloatRepr(NaN)).toBe("nan")
    expect(pyFloatRepr(31536000.001)).toBe("31536000.001")
  })

  it("obfuscation of a 64-char key keeps 19 characters each side", () => {
    expect(obfuscate("8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c")).toBe(
      "8a88e3dd7409f195fd5\u202621bf3748801b40f6f5c"
    )
    expect(obfuscate("ab")).toBe("ab")
    expect(obfuscate("abc")).toBe("a\u2026c")
  })

  it("key dump and repr", () => {
    expect(keyDump(ok('{"foo":{"bar":1},"x":[]}'))).toBe("dictionary w/ keys: {foo: {bar}, x}")
    expect(keyDump(ok("[1]"))).toBe("dictionary w/ keys: {FAILED TO EXTRACT KEYS}")
    expect(pyRepr(ok(`{"a":[true,null,1.0,"it's"]}`))).toBe(`{'a': [True, None, 1.0, "it's"]}`)
  })
})

describe("bytes.fromhex", () => {
  it("accepts case-insensitive hex and whitespace between pairs, reports positions", () => {
    expect(pyFromHex("0aFf")).toEqual({ ok: true, bytes: Uint8Array.from([0x0a, 0xff]) })
    expect(pyFromHex(" 0a ff ")).toEqual({ ok: true, bytes: Uint8Array.from([0x0a, 0xff]) })
    expect(pyFromHex("0x12")).toEqual({ ok: false, error: "non-hexadecimal number found in fromhex() arg at position 1" })
    expect(pyFromHex("0 a")).toEqual({ ok: false, error: "non-hexadecimal number found in fromhex() arg at position 1" })
    expect(pyFromHex("abc")).toEqual({ ok: false, error: "non-hexadecimal number found in fromhex() arg at position 3" })
    expect(pyFromHex("aé")).toEqual({ ok: false, error: "non-hexadecimal number found in fromhex() arg at position 1" })
  })
})

describe("Wire: Flask jsonify", () => {
  it("sorted keys, compact, ASCII-only lowercase escapes incl. 0x7f, trailing newline", () => {
    expect(jsonify({ status: 0, result: { b: true, a: [1, "é✓\u007f\n\t\"\\/😀"] } })).toBe(
      '{"result":{"a":[1,"\\u00e9\\u2713\\u007f\\n\\t\\"\\\\/\\ud83d\\ude00"],"b":true},"status":0}\n'
    )
    expect(jsonify({ big: 18446744073709551617n, n: 1767237945500 })).toBe('{"big":18446744073709551617,"n":1767237945500}\n')
  })

  it("rawJsonList: same bytes as the plain list; a frozen list is encoded once, a mutable one every time", () => {
    const items = Array.from({ length: 10 }, (_, i) => Object.freeze({ gen_index_hash: `h${i}`, expiry_unix_ts_ms: i }))
    const frozen = Object.freeze(items.slice())
    const once = rawJsonList(frozen)
    expect(once).toBeInstanceOf(RawJson)
    expect(rawJsonList(frozen)).toBe(once)
    expect(jsonify({ items: once })).toBe(jsonify({ items }))
    const mutable = items.slice()
    expect(rawJsonList(mutable)).toBe(mutable)
  })

  it("reproduces every recorded JSON response body byte for byte", () => {
    const v = JSON.parse(readFileSync(new URL("../../../test-vectors/vectors.json", import.meta.url), "utf8"))
    const toWire = (x: PyValue): any =>
      x.type === "list"
        ? x.items.map(toWire)
        : x.type === "dict"
        ? Object.fromEntries(Array.from(x.entries, ([k, y]) => [k, toWire(y)]))
        : x.type === "null"
        ? null
        : x.value
    let n = 0
    for (const set of ["prod", "dev"]) {
      for (const ex of v.http_exchanges[set]) {
        if (ex.response?.content_type !== "application/json") continue
        const body: string = ex.response.body
        expect(jsonify(toWire(Either.getOrThrow(parseString(body))))).toBe(body)
        n++
      }
    }
    expect(n).toBeGreaterThan(50)
  })
})

const ctx: ParseContext = { nowMs: 1767237945500, dev: false, unsafeLogging: false }
const MASTER = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
const ROT = "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"
const SIG = "11".repeat(64)
const body = (o: Record<string, unknown>) => utf8(JSON.stringify(o))
const rejected = <A>(r: Either.Either<A, { status: 2; errors: ReadonlyArray<string> }>) =>
  Either.isLeft(r) ? r.left.errors : ["<accepted>"]

describe("request parsers", () => {
  it("D4a: booleans are not integers", () => {
    expect(rejected(parseGetProRevocations(body({ version: false, ticket: 0 }), ctx))).toEqual([
      `Key "version" value was not an integer: "<class 'bool'>"`
    ])
    expect(
      rejected(parseAddProPayment(
        body({ version: 0, master_pkey: MASTER, rotating_pkey: ROT, master_sig: SIG, rotating_sig: SIG, payment_tx: { provider: true } }),
        ctx
      ))
    ).toEqual([`Key "provider" value was not an integer: "<class 'bool'>"`])
  })

  it("unsafe_logging prints dumps and values", () => {
    const u = { ...ctx, unsafeLogging: true }
    expect(rejected(parseGetProRevocations(body({ version: "0", x: 1 }), u))).toEqual([
      `Key "version" value was not an integer: "(<class 'str'>) 0"`,
      `Required key "ticket" is missing from JSON: {"version": "0", "x": 1}`
    ])
  })

  it("top-level scalars and arrays report every key missing (no crash)", () => {
    for (const b of ["5", '"version ticket"', "[1]", "true"]) {
      expect(rejected(parseGetProRevocations(utf8(b), ctx))).toEqual([
        `Required key "version" is missing from JSON: dictionary w/ keys: {FAILED TO EXTRACT KEYS}`,
        `Required key "ticket" is missing from JSON: dictionary w/ keys: {FAILED TO EXTRACT KEYS}`
      ])
    }
  })

  it("ticket: any integer, big ones stay exact", () => {
    expect(parseGetProRevocations(body({ version: 0, ticket: -5 }), ctx)).toEqual(Either.right({ version: 0, ticket: -5 }))
    expect(parseGetProRevocations(utf8('{"version":0,"ticket":99999999999999999999}'), ctx)).toEqual(
      Either.right({ version: 0, ticket: 99999999999999999999n })
    )
  })

  const gen = (ts: number | string) =>
    utf8(`{"version":0,"master_pkey":"${MASTER}","rotating_pkey":"${ROT}","unix_ts_ms":${ts},"master_sig":"${SIG}","rotating_sig":"${SIG}"}`)

  it("generate: inclusive ±70 s window on the integer clock", () => {
    expect(Either.isRight(parseGenerateProProof(gen(ctx.nowMs - 70000), ctx))).toBe(true)
    expect(Either.isRight(parseGenerateProProof(gen(ctx.nowMs + 70000), ctx))).toBe(true)
    expect(rejected(parseGenerateProProof(gen(ctx.nowMs - 70001), ctx))).toEqual([
      "Nonce timestamp is too far in the past: 1767237875499 (min 1767237875500)"
    ])
    expect(rejected(parseGenerateProProof(gen(ctx.nowMs + 70001), ctx))).toEqual([
      "Nonce timestamp is too far in the future: 1767238015501 (max 1767238015500)"
    ])
    expect(rejected(parseGenerateProProof(gen("1" + "0".repeat(400)), ctx))[0]).toContain("too far in the future")
  })

  const details = (ts: number | string, count: number | string, pkey = MASTER) =>
    utf8(`{"version":0,"master_pkey":"${pkey}","master_sig":"${SIG}","unix_ts_ms":${ts},"count":${count}}`)

  it("details: exclusive float window, count checks (D4b: count >= 2^32)", () => {
    expect(Either.isRight(parseGetProDetails(details(ctx.nowMs + 69999, 1), ctx))).toBe(true)
    expect(rejected(parseGetProDetails(details(ctx.nowMs + 70000, 1), ctx))).toEqual([
      "Timestamp is too old to permit retrieval of payments, delta was -70000.0ms"
    ])
    expect(rejected(parseGetProDetails(details(ctx.nowMs, -1), ctx))).toEqual(["Count was negative: -1"])
    expect(rejected(parseGetProDetails(details(ctx.nowMs, 4294967296), ctx))).toEqual([
      "Count was too large: 4294967296 (max 4294967295)"
    ])
    expect(Either.isRight(parseGetProDetails(details(ctx.nowMs, 4294967295), ctx))).toBe(true)
    // D4b: beyond float range the reference crashes in float(); here it is a window error.
    expect(rejected(parseGetProDetails(details("1" + "0".repeat(400), 1), ctx))).toEqual([
      "Timestamp is too old to permit retrieval of payments, delta was -infms"
    ])
    // D4b: whitespace inside a key
    expect(rejected(parseGetProDetails(details(ctx.nowMs, 1, "  " + MASTER.slice(0, 62)), ctx))).toEqual([
      "Master public key was not valid hex: contains whitespace, decoded to 31 bytes instead of 32"
    ])
  })

  const refund = (provider: unknown, refundTs: string | number = 0, extra = `,"apple_tx_id":"t"`) =>
    utf8(
      `{"version":0,"master_pkey":"${MASTER}","master_sig":"${SIG}","unix_ts_ms":${ctx.nowMs},"refund_requested_unix_ts_ms":${refundTs},"payment_tx":{"provider":${provider}${extra}}}`
    )

  it("refund: provider rules and u64 range (D4b)", () => {
    expect(rejected(parseSetPaymentRefundRequested(refund(99), ctx))).toEqual(["Unrecognised payment provider: 99"])
    expect(rejected(parseSetPaymentRefundRequested(refund(1), ctx))).toEqual(["Bad payment provider given"])
    expect(rejected(parseSetPaymentRefundRequested(refund(2, -1), ctx))).toEqual(["Refund requested timestamp was negative: -1"])
    expect(rejected(parseSetPaymentRefundRequested(refund(2, "18446744073709551616"), ctx))).toEqual([
      "Refund requested timestamp was too large: 18446744073709551616 (max 18446744073709551615)"
    ])
    expect(rejected(parseSetPaymentRefundRequested(refund(2, 0, ""), ctx))).toEqual([
      `Required key "apple_tx_id" is missing from JSON: dictionary w/ keys: {provider}`
    ])
    expect(parseSetPaymentRefundRequested(refund(2, "18446744073709551615"), ctx)).toMatchObject(
      Either.right({ refundRequestedUnixTsMs: 18446744073709551615n, paymentTx: { provider: 2, appleTxId: "t" } })
    )
  })

  const add = (extra: Record<string, unknown>) =>
    body({
      version: 0,
      master_pkey: MASTER,
      rotating_pkey: ROT,
      master_sig: SIG,
      rotating_sig: SIG,
      payment_tx: { provider: 2, apple_tx_id: "DEV.x" },
      ...extra
    })

  it("dev fields are read only in dev mode", () => {
    const devCtx = { ...ctx, dev: true }
    expect(parseAddProPayment(add({ dev_plan: "Weekly" }), ctx)).toMatchObject(Either.right({ paymentTx: { provider: 2 } }))
    expect(Either.getOrThrow(parseAddProPayment(add({}), ctx)).dev).toBeUndefined()
    expect(Either.getOrThrow(parseAddProPayment(add({}), devCtx)).dev).toEqual({ plan: 1, durationMs: 86400000, autoRenewing: false })
    expect(Either.getOrThrow(parseAddProPayment(add({ dev_plan: "twelvemonth", dev_duration_ms: 5, dev_auto_renewing: true }), devCtx)).dev)
      .toEqual({ plan: 3, durationMs: 5, autoRenewing: true })
    // FLAG-31 replicated: "Nil" is accepted
    expect(Either.getOrThrow(parseAddProPayment(add({ dev_plan: "Nil" }), devCtx)).dev?.plan).toBe(0)
    expect(rejected(parseAddProPayment(add({ dev_plan: 3, dev_duration_ms: 31536000001, dev_auto_renewing: 1 }), devCtx))).toEqual([
      `Key "dev_plan" value was not a string: "<class 'int'>"`,
      "dev_duration_ms must be > 0 and <= year ind duration, received: 31536000.001s",
      `Key "dev_auto_renewing" value was not a bool: "<class 'int'>"`
    ])
  })

  it("add: step order — version/provider before provider-specific fields and hex", () => {
    expect(rejected(parseAddProPayment(add({ version: 1, payment_tx: { provider: 0 } }), ctx))).toEqual([
      "Unrecognised version passed: 1"
    ])
    expect(rejected(parseAddProPayment(add({ master_pkey: "zz", payment_tx: { provider: 1 } }), ctx))).toEqual([
      `Required key "google_payment_token" is missing from JSON: dictionary w/ keys: {provider}`,
      `Required key "google_order_id" is missing from JSON: dictionary w/ keys: {provider}`,
      "Master public key was not 64 characters, was 2 characters"
    ])
  })

  it("parsed requests are valid against the Schema descriptions", () => {
    const decode = (s: Schema.Schema<any, any>, b: Uint8Array) => Schema.decodeUnknownEither(s)(JSON.parse(new TextDecoder().decode(b)))
    expect(Either.isRight(decode(Schemas.GenerateProProofRequest, gen(ctx.nowMs)))).toBe(true)
    expect(Either.isRight(decode(Schemas.GetProDetailsRequest, details(ctx.nowMs, 3)))).toBe(true)
    expect(Either.isRight(decode(Schemas.SetPaymentRefundRequestedRequest, refund(2)))).toBe(true)
    expect(Either.isRight(decode(Schemas.AddProPaymentRequest, add({})))).toBe(true)
    expect(Either.isLeft(decode(Schemas.GetProRevocationsRequest, body({ version: false, ticket: 0 })))).toBe(true)
  })
})
