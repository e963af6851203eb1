import { describe, expect, it } from "@effect/vitest"
import {
  addProPaymentHash,
  blake2b256,
  Ed25519,
  fromHex,
  generateProProofHash,
  genIndexHash,
  getProDetailsHash,
  hex,
  proofHash,
  setPaymentRefundRequestedHash,
  x25519KeyPairFromEd25519Seed
} from "@session-pro/core"
import { vectors } from "./vectors.js"

describe("dev_server_keys", () => {
  const k = vectors.dev_server_keys
  it("derives the Ed25519 and X25519 keys from the 0xCD seed", () => {
    const seed = fromHex(k.ed25519_seed)
    expect(hex(Ed25519.publicKeyFromSeed(seed))).toBe(k.ed25519_pub)
    const x = x25519KeyPairFromEd25519Seed(seed)
    expect(hex(x.privateKey)).toBe(k.x25519_priv)
    expect(hex(x.publicKey)).toBe(k.x25519_pub)
  })
})

describe("hash_vectors", () => {
  const { keys, vectors: hv } = vectors.hash_vectors
  for (const [name, key] of Object.entries<any>(keys)) {
    it(`key ${name} derives its public key`, () => {
      expect(hex(Ed25519.publicKeyFromSeed(fromHex(key.seed)))).toBe(key.pub)
    })
  }
  for (const v of hv) {
    it(`${v.name}: message, hash and signatures`, () => {
      const msg = fromHex(v.message_hex)
      const h = blake2b256(msg, {
        personalisation: v.personalisation ?? undefined,
        salt: v.salt ? fromHex(v.salt) : undefined
      })
      expect(hex(h)).toBe(v.hash)
      // recompute from the structured inputs with the typed builders
      const i = v.inputs ?? {}
      const tx = (p: any) =>
        p === undefined ? undefined : p.provider === 1
          ? { provider: 1 as const, googlePaymentToken: p.google_payment_token, googleOrderId: p.google_order_id }
          : p.provider === 2
          ? { provider: 2 as const, appleTxId: p.apple_tx_id }
          : { provider: 0 as const }
      let typed: Uint8Array | undefined
      switch (v.personalisation) {
        case "ProAddPayment___":
          typed = addProPaymentHash(i.version, fromHex(i.master_pkey), fromHex(i.rotating_pkey), tx(i.payment_tx)!)
          break
        case "ProGenerateProof":
          typed = generateProProofHash(i.version, fromHex(i.master_pkey), fromHex(i.rotating_pkey), i.unix_ts_ms)
          break
        case "ProGetProDetReq_":
          typed = getProDetailsHash(i.version, fromHex(i.master_pkey), i.unix_ts_ms, i.count)
          break
        case "ProSetRefundReq_":
          typed = setPaymentRefundRequestedHash(
            i.version,
            fromHex(i.master_pkey),
            i.unix_ts_ms,
            i.refund_requested_unix_ts_ms,
            tx(i.payment_tx)!
          )
          break
        case "ProProof________":
          typed = proofHash(i.version, fromHex(i.gen_index_hash), fromHex(i.rotating_pkey), i.expiry_unix_ts_ms)
          break
        default:
          if (i.gen_index !== undefined) typed = genIndexHash(i.gen_index, fromHex(v.salt))
      }
      if (typed) expect(hex(typed)).toBe(v.hash)
      for (const [who, sig] of Object.entries<string>(v.signatures ?? {})) {
        const seed = who.startsWith("master") ? keys.master.seed : who.startsWith("rotating") ? keys.rotating.seed : keys.dev.seed
        const sk = Ed25519.signingKeyFromSeed(fromHex(seed))
        expect(hex(sk.sign(h))).toBe(sig)
        expect(Ed25519.verify(fromHex(sig), h, sk.publicKey)).toBe(true)
        expect(Ed25519.verifyPortable(fromHex(sig), h, sk.publicKey)).toBe(true)
      }
    })
  }
})

describe("ed25519_edge_cases (D6)", () => {
  for (const c of vectors.ed25519_edge_cases.cases) {
    it(`${c.name}: ${c.reference_libsodium}`, () => {
      const expected = c.reference_libsodium === "accept"
      expect(Ed25519.verify(fromHex(c.sig), fromHex(c.message), fromHex(c.pubkey))).toBe(expected)
      expect(Ed25519.verifyPortable(fromHex(c.sig), fromHex(c.message), fromHex(c.pubkey))).toBe(expected)
    })
  }
})

describe("x25519SharedSecret (native path)", () => {
  it("agrees with noble on random and edge-case peer keys, and rejects small-order keys", async () => {
    const { x25519 } = await import("@noble/curves/ed25519.js")
    const { randomBytes } = await import("node:crypto")
    const { x25519SharedSecret } = await import("../src/Crypto/X25519.js")
    const priv = new Uint8Array(randomBytes(32))
    const peers: Array<Uint8Array> = Array.from({ length: 50 }, () => new Uint8Array(randomBytes(32)))
    // high bit set, u ≥ p (non-canonical), and all-0xff: all must match noble's reduction rules
    const hi = new Uint8Array(randomBytes(32))
    hi[31]! |= 0x80
    peers.push(hi, new Uint8Array(32).fill(0xff), Uint8Array.from([0xee, ...new Array(30).fill(0xff), 0x7f]))
    for (const p of peers) {
      let expected: Uint8Array | undefined
      try {
        expected = x25519.getSharedSecret(priv, p)
        if (expected.every((b) => b === 0)) expected = undefined
      } catch {
        expected = undefined
      }
      if (expected === undefined) expect(() => x25519SharedSecret(priv, p)).toThrow()
      else expect(Buffer.from(x25519SharedSecret(priv, p)).toString("hex")).toBe(Buffer.from(expected).toString("hex"))
    }
    for (const small of [new Uint8Array(32), Uint8Array.from([1, ...new Array(31).fill(0)])]) {
      expect(() => x25519SharedSecret(priv, small)).toThrow()
    }
  })
})

describe("scalarIsCanonical (byte-wise)", () => {
  it("matches S < L as a BigInt on random scalars and around L", async () => {
    const { randomBytes } = await import("node:crypto")
    const { scalarIsCanonical } = await import("../src/Crypto/Ed25519.js")
    const L = 0x1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3edn
    const le = (v: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn))
    const big = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n)
    const samples = [0n, 1n, L - 2n, L - 1n, L, L + 1n, 2n ** 252n, 2n ** 253n, 2n ** 256n - 1n].map(le)
    for (let i = 0; i < 500; i++) {
      const r = new Uint8Array(randomBytes(32))
      if (i % 2 === 0) r[31]! &= 0x1f // near the size of L
      samples.push(r)
    }
    for (const s of samples) expect(scalarIsCanonical(s)).toBe(big(s) < L)
  })
})

describe("blake2b256 (cached initial states)", () => {
  it("matches a fresh noble state for interleaved personalisations, salts and message sizes", async () => {
    const { blake2b } = await import("@noble/hashes/blake2.js")
    const { randomBytes } = await import("node:crypto")
    const pad16 = (b: Uint8Array) => {
      const o = new Uint8Array(16)
      o.set(b)
      return o
    }
    const salts = [undefined, new Uint8Array(randomBytes(16)), new Uint8Array(randomBytes(8))]
    const perss = [undefined, "ProProof________", "ProGenerateProof", "short", new Uint8Array(randomBytes(16))]
    for (let i = 0; i < 300; i++) {
      const msg = new Uint8Array(randomBytes(i % 7 === 0 ? 0 : (i * 37) % 400))
      const salt = salts[i % salts.length]
      const pers = perss[i % perss.length]
      const expected = blake2b(msg, {
        dkLen: 32,
        personalization: pad16(typeof pers === "string" ? new TextEncoder().encode(pers) : pers ?? new Uint8Array()),
        salt: pad16(salt ?? new Uint8Array())
      })
      const got = blake2b256(msg, { personalisation: pers, salt })
      expect(hex(got)).toBe(hex(expected))
      // the result is the caller's own copy: hashing again does not change it
      blake2b256(new Uint8Array([1, 2, 3]))
      expect(hex(got)).toBe(hex(expected))
    }
  })

  it("still refuses a personalisation or salt longer than 16 bytes, every time", () => {
    for (let i = 0; i < 2; i++) {
      expect(() => blake2b256(new Uint8Array(1), { personalisation: "seventeen bytes!!" })).toThrow(RangeError)
      expect(() => blake2b256(new Uint8Array(1), { salt: new Uint8Array(17) })).toThrow(RangeError)
    }
  })
})
