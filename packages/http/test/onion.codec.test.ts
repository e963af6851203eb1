/**
 * Codec pieces (bencode, ephemeral_key encodings, enc_type aliases, RMETA) and property tests:
 * garbage, truncated and mutated frames never throw — the handler always answers a plain 400
 * or an encrypted reply.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import fc from "fast-check"
import * as OnionRequests from "../src/OnionRequests/index.js"
import { devServer, text, toHex, utf8 } from "./onionVectors.js"

const { Bencode } = OnionRequests

describe("Bencode", () => {
  it("encodes and decodes the four types", () => {
    const v = [utf8("spam"), -42n, new Map<string, OnionRequests.Bencode.Value>([["b", 1n], ["a", [utf8("")]]])]
    const bytes = Bencode.encode(v)
    expect(text(bytes)).toBe("l4:spami-42ed1:al0:e1:bi1eee")
    expect(Either.getOrThrow(Bencode.decode(bytes))).toEqual(v)
  })

  it("rejects non-canonical or malformed input without throwing", () => {
    for (const bad of ["", "i01e", "i-0e", "ie", "03:abc", "4:abc", "l", "d1:bi1e1:ai2ee", "d1:ai1e1:ai2ee", "di1ei2ee", "x", "1:ab", "l1:ae1:b"]) {
      expect(Either.isLeft(Bencode.decode(utf8(bad))), bad).toBe(true)
    }
    expect(Either.isLeft(Bencode.decode(utf8("l".repeat(10_000))))).toBe(true)
  })

  it("decodeStringList accepts only lists of strings", () => {
    expect(Either.getOrThrow(Bencode.decodeStringList(utf8("l1:a2:bce"))).map(text)).toEqual(["a", "bc"])
    expect(Either.isLeft(Bencode.decodeStringList(utf8("li1ee")))).toBe(true)
  })

  const value: fc.Arbitrary<OnionRequests.Bencode.Value> = fc.letrec<{ v: OnionRequests.Bencode.Value }>((tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      fc.uint8Array({ maxLength: 20 }),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
      fc.array(tie("v"), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 6 }), tie("v"), { maxKeys: 4 }).map((o) => new Map(Object.entries(o)))
    )
  })).v

  it("property: decode(encode(v)) = v and encode is canonical", () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = Bencode.encode(v)
        const back = Either.getOrThrow(Bencode.decode(bytes))
        expect(toHex(Bencode.encode(back))).toBe(toHex(bytes))
      })
    )
  })

  it("property: decode never throws on arbitrary bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void Bencode.decode(b)))
  })
})

describe("ephemeral_key encodings (§4.1)", () => {
  const pk = OnionRequests.x25519PublicKey(new Uint8Array(32).fill(0x42))
  const hex = toHex(pk)

  it("hex (either case), base64 (43 / 44 with '='), base32z (either case), raw 32 bytes", () => {
    const b64 = Buffer.from(pk).toString("base64")
    expect(b64).toHaveLength(44)
    for (const s of [hex, hex.toUpperCase(), b64, b64.slice(0, 43)]) expect(toHex(OnionRequests.parseEphemeralKey(s)), s).toBe(hex)
    const built = Either.getOrThrow(
      OnionRequests.Client.buildRequest({ serverPublicKey: devServer.publicKey, ephemeralKey: new Uint8Array(32).fill(0x42), ephemeralKeyEncoding: "base32z", request: { method: "GET", endpoint: "/" } })
    )
    const b32z = Either.getOrThrow(OnionRequests.parseOuterFrame(built.body)).metadata.ephemeral_key as string
    expect(b32z).toHaveLength(52)
    expect(toHex(OnionRequests.parseEphemeralKey(b32z))).toBe(hex)
    expect(toHex(OnionRequests.parseEphemeralKey(b32z.toUpperCase()))).toBe(hex)
    expect(text(OnionRequests.parseEphemeralKey("0123456789abcdef0123456789abcdef"))).toBe("0123456789abcdef0123456789abcdef")
  })

  it("anything else is the all-zero key", () => {
    const zero = "00".repeat(32)
    for (const s of ["", hex.slice(2), hex + "00", "g".repeat(64), Buffer.from(pk).toString("base64url").slice(0, 43).replace(/[A-Za-z0-9]/, "-"), "!".repeat(52), "0x" + hex.slice(2)]) {
      expect(toHex(OnionRequests.parseEphemeralKey(s)), s).toBe(zero)
    }
  })

  it("property: always 32 bytes, never throws", () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => void expect(OnionRequests.parseEphemeralKey(s)).toHaveLength(32)))
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
      expect(toHex(OnionRequests.parseEphemeralKey(Buffer.from(b).toString("base64")))).toBe(toHex(b))
      expect(toHex(OnionRequests.parseEphemeralKey(toHex(b)))).toBe(toHex(b))
    }))
  })
})

describe("native AEADs agree with @noble/ciphers", () => {
  it("property: same ciphertext for the same key/nonce, and each decrypts the other", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<OnionRequests.EncType>("xchacha20", "aes-gcm"),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.uint8Array({ maxLength: 600 }),
        (encType, key, nonce24, pt) => {
          const nonce = nonce24.subarray(0, OnionRequests.NONCE_BYTES[encType])
          const ours = OnionRequests.encrypt(encType, key, pt, nonce)
          const noble = OnionRequests.nobleAead(encType, key, nonce).encrypt(pt)
          expect(toHex(ours.subarray(nonce.length))).toBe(toHex(noble))
          expect(toHex(OnionRequests.nobleAead(encType, key, nonce).decrypt(ours.subarray(nonce.length)))).toBe(toHex(pt))
          expect(toHex(Either.getOrThrow(OnionRequests.decrypt(encType, key, ours)))).toBe(toHex(pt))
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe("the encrypted reply built in pieces (encodeInnerReplyParts + encryptParts)", () => {
  it("property: the same bytes as encrypting encodeInnerReply's plaintext", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<OnionRequests.EncType>("xchacha20", "aes-gcm"),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.integer({ min: 100, max: 599 }),
        fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
        fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 4000, maxLength: 20000 })),
        (encType, key, nonce24, status, headers, body) => {
          const nonce = nonce24.subarray(0, OnionRequests.NONCE_BYTES[encType])
          const response = { status, headers, body }
          const parts = OnionRequests.encodeInnerReplyParts(response)
          expect(toHex(Buffer.concat(parts))).toBe(toHex(OnionRequests.encodeInnerReply(response)))
          const whole = OnionRequests.encrypt(encType, key, OnionRequests.encodeInnerReply(response), nonce)
          expect(toHex(OnionRequests.encryptParts(encType, key, parts, nonce))).toBe(toHex(whole))
          expect(toHex(OnionRequests.encryptReply({ encType, key }, response, nonce))).toBe(toHex(whole))
        }
      ),
      { numRuns: 200 }
    )
  })
})

describe("enc_type aliases and RMETA", () => {
  it("maps the four spellings and nothing else", () => {
    expect(["xchacha20", "xchacha20-poly1305", "aes-gcm", "gcm", "AES-GCM", "xchacha", ""].map(OnionRequests.parseEncType)).toEqual([
      "xchacha20",
      "xchacha20",
      "aes-gcm",
      "aes-gcm",
      undefined,
      undefined,
      undefined
    ])
  })

  it("RMETA is Python json.dumps: spaces, ensure_ascii (incl. 0x7f and surrogate pairs)", () => {
    expect(OnionRequests.encodeReplyMeta(200, { "Content-Type": "application/json", "Content-Length": "5" })).toBe(
      '{"code": 200, "headers": {"content-type": "application/json"}}'
    )
    expect(OnionRequests.encodeReplyMeta(200, {})).toBe('{"code": 200, "headers": {}}')
    expect(OnionRequests.pythonJsonString("a\u007f\u0001😀/")).toBe('"a\\u007f\\u0001\\ud83d\\ude00/"')
    expect(OnionRequests.encodeReplyMeta(200, { "content-type": "application/json" })).toHaveLength(62)
  })
})

describe("property: the handler never throws and never answers anything but 400 or an encrypted 200", () => {
  const layer = OnionRequests.layer(devServer)
  const dispatch = (req: OnionRequests.InnerRequest) =>
    Effect.succeed({ status: 200, headers: { "content-type": "application/json" }, body: utf8(JSON.stringify({ path: req.path }) + "\n") })
  // thousands of runs: keep the handler's warnings out of the test output
  const quiet = Logger.withMinimumLogLevel(LogLevel.None)
  const handle = (body: Uint8Array) => Effect.runPromise(OnionRequests.handle(body, dispatch).pipe(Effect.provide(layer), quiet))
  const client = { privateKey: new Uint8Array(32).fill(0x42), publicKey: OnionRequests.x25519PublicKey(new Uint8Array(32).fill(0x42)) }
  const keyFor = (encType: OnionRequests.EncType) => Either.getOrThrow(OnionRequests.deriveClientKey(encType, client, devServer.publicKey))
  const encTypeArb = fc.constantFrom<OnionRequests.EncType>("xchacha20", "aes-gcm")
  const valid = (encType: OnionRequests.EncType) =>
    Either.getOrThrow(
      OnionRequests.Client.buildRequest({
        serverPublicKey: devServer.publicKey,
        encType,
        ephemeralKey: client.privateKey,
        request: OnionRequests.Client.jsonRequest("/get_pro_revocations", { version: 0, ticket: 0 })
      })
    ).body

  const classify = (res: OnionRequests.InnerResponse, encType?: OnionRequests.EncType) => {
    if (res.status === 400) {
      expect(text(res.body)).toBe(OnionRequests.BAD_REQUEST_HTML)
      return "400"
    }
    expect(res.status).toBe(200)
    if (encType !== undefined) {
      const reply = Either.getOrThrow(OnionRequests.Client.decryptReply({ encType, key: keyFor(encType) }, res.body))
      expect([200, 400]).toContain(reply.code)
    }
    return "200"
  }

  it("random bytes → 400", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (b) => {
        expect(classify(await handle(b))).toBe("400")
      }),
      { numRuns: 300 }
    )
  })

  it("random bytes after a plausible length prefix and metadata → 400", async () => {
    const pkHex = toHex(client.publicKey)
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 120 }), encTypeArb, fc.boolean(), async (ct, encType, withEnc) => {
        const body = OnionRequests.encodeOuterFrame(ct, withEnc ? { ephemeral_key: pkHex, enc_type: encType } : { ephemeral_key: pkHex })
        expect(classify(await handle(body))).toBe("400")
      }),
      { numRuns: 300 }
    )
  })

  it("a valid frame truncated anywhere → 400", async () => {
    await fc.assert(
      fc.asyncProperty(encTypeArb, fc.nat(), async (encType, n) => {
        const body = valid(encType)
        expect(classify(await handle(body.subarray(0, n % body.length)))).toBe("400")
      }),
      { numRuns: 300 }
    )
  })

  it("a valid frame with one byte changed → 400 or a reply that decrypts", async () => {
    await fc.assert(
      fc.asyncProperty(encTypeArb, fc.nat(), fc.integer({ min: 1, max: 255 }), async (encType, i, x) => {
        const body = new Uint8Array(valid(encType))
        body[i % body.length] ^= x
        classify(await handle(body), encType)
      }),
      { numRuns: 300 }
    )
  })

  it("any inner plaintext (correctly encrypted) → encrypted 200 carrying either the route reply or 'Invalid v4 onion request'", async () => {
    const structured = fc
      .tuple(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.record({ method: fc.oneof(fc.constantFrom("POST", "GET", "post"), fc.jsonValue()), endpoint: fc.oneof(fc.string(), fc.string().map((s) => "/" + s), fc.jsonValue()), headers: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue()) }, { requiredKeys: [] }).map((o) => JSON.stringify(o))
        ),
        fc.option(fc.string(), { nil: undefined }),
        fc.nat({ max: 3 })
      )
      .map(([meta, body, extra]) => {
        const items = [meta, ...(body === undefined ? [] : [body])]
        const bytes = OnionRequests.Bencode.encodeStringList(items)
        // sometimes corrupt the framing
        return extra === 0 ? bytes.subarray(0, Math.max(0, bytes.length - 1)) : extra === 1 ? Buffer.concat([bytes.subarray(0, bytes.length - 1), utf8("x1:ye")]) : bytes
      })
    await fc.assert(
      fc.asyncProperty(fc.oneof(structured, fc.uint8Array({ maxLength: 200 })), encTypeArb, async (plaintext, encType) => {
        const key = keyFor(encType)
        const body = OnionRequests.encodeOuterFrame(OnionRequests.encrypt(encType, key, plaintext), { ephemeral_key: toHex(client.publicKey), enc_type: encType })
        const res = await handle(body)
        expect(res.status).toBe(200)
        const reply = Either.getOrThrow(OnionRequests.Client.decryptReply({ encType, key }, res.body))
        const parsed = OnionRequests.parseInnerRequest(plaintext)
        if (Either.isLeft(parsed)) {
          expect(reply.code).toBe(400)
          expect(text(reply.body)).toBe("Invalid v4 onion request")
        } else {
          expect(reply.code).toBe(200)
          expect(JSON.parse(text(reply.body)).path).toBe(parsed.right.path)
        }
      }),
      { numRuns: 400 }
    )
  })

  it("a multi-megabyte run of length digits is rejected, not a stack overflow", async () => {
    const digits = new Uint8Array(2 * 1024 * 1024).fill(0x31)
    expect(Either.isLeft(OnionRequests.Bencode.decode(digits))).toBe(true)
    const pt = new Uint8Array(digits.length + 2)
    pt.set(digits, 1)
    pt[0] = 0x6c
    pt[pt.length - 1] = 0x65
    expect(Either.isLeft(OnionRequests.parseInnerRequest(pt))).toBe(true)
    const key = keyFor("aes-gcm")
    const res = await handle(OnionRequests.encodeOuterFrame(OnionRequests.encrypt("aes-gcm", key, pt), { ephemeral_key: toHex(client.publicKey) }))
    expect(text(Either.getOrThrow(OnionRequests.Client.decryptReply({ encType: "aes-gcm", key }, res.body)).body)).toBe("Invalid v4 onion request")
  })

  it("pure parsers are total on arbitrary input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        OnionRequests.parseOuterFrame(b)
        OnionRequests.decryptRequest(devServer, b)
        OnionRequests.parseInnerRequest(b)
        OnionRequests.parseInnerReply(b)
        OnionRequests.Client.decryptReply({ encType: "aes-gcm", key: new Uint8Array(32) }, b)
      }),
      { numRuns: 1000 }
    )
  })

  it("client → server → client round trip for arbitrary requests, both ciphers", async () => {
    await fc.assert(
      fc.asyncProperty(
        encTypeArb,
        fc.constantFrom("POST", "GET", "PUT"),
        fc.string({ maxLength: 30 }).map((s) => "/" + s),
        fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 4 }), { nil: undefined }),
        fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
        async (encType, method, endpoint, headers, body) => {
          const built = Either.getOrThrow(OnionRequests.Client.buildRequest({ serverPublicKey: devServer.publicKey, encType, request: { method, endpoint, headers, body } }))
          const seen: Array<OnionRequests.InnerRequest> = []
          const res = await Effect.runPromise(
            OnionRequests.handle(built.body, (req) => {
              seen.push(req)
              return Effect.succeed({ status: 201, headers: { "X-Echo": "1" }, body: req.body })
            }).pipe(Effect.provide(layer), quiet)
          )
          const reply = Either.getOrThrow(OnionRequests.Client.decryptReply(built, res.body))
          expect(reply.code).toBe(201)
          expect(reply.headers).toEqual({ "x-echo": "1" })
          expect(toHex(reply.body)).toBe(toHex(body ?? new Uint8Array(0)))
          const q = endpoint.indexOf("?")
          expect(seen[0].path).toBe(q < 0 ? endpoint : endpoint.slice(0, q))
          expect(seen[0].method).toBe(method)
        }
      ),
      { numRuns: 200 }
    )
  })
})
