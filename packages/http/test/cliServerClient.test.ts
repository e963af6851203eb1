/** ServerClient builds byte-exact signed requests (the golden hash vectors) and verifies proofs. */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import * as Client from "../src/Cli/ServerClient.js"

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const vectors: any = JSON.parse(readFileSync(fileURLToPath(new URL("../../../test-vectors/vectors.json", import.meta.url)), "utf8"))
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const vec = (name: string): any => vectors.hash_vectors.vectors.find((v: { name: string }) => v.name === name)
const keyOf = (hexSeed: string) => {
  const k = Client.keyFromHex("key", hexSeed)
  if (typeof k === "string") throw new Error(k)
  return k
}
const master = keyOf(vectors.hash_vectors.keys.master.seed)
const rotating = keyOf(vectors.hash_vectors.keys.rotating.seed)

describe("ServerClient request builders", () => {
  it("add_pro_payment (Google and Apple) carries the reference's signatures", () => {
    for (const name of ["add_pro_payment/google", "add_pro_payment/apple"]) {
      const v = vec(name)
      const body = Client.buildAddProPayment({ version: 0, master, rotating, tx: v.inputs.payment_tx })
      expect(body).toEqual({
        version: 0,
        master_pkey: v.inputs.master_pkey,
        rotating_pkey: v.inputs.rotating_pkey,
        master_sig: v.signatures.master_sig,
        rotating_sig: v.signatures.rotating_sig,
        payment_tx: v.inputs.payment_tx
      })
    }
  })

  it("dev fields are the wire names the dev server reads", () => {
    const body = Client.buildAddProPayment({
      version: 0, master, rotating, tx: Client.wireTx("google", {}), devPlan: "12M", devDurationMs: 5000, devAutoRenewing: true
    })
    expect(body).toMatchObject({ dev_plan: "TwelveMonth", dev_duration_ms: 5000, dev_auto_renewing: true })
    const tx = body.payment_tx as { google_payment_token: string; google_order_id: string }
    expect(tx.google_payment_token).toMatch(/^[0-9a-f]{16}$/)
    expect(tx.google_order_id).toMatch(/^DEV\./)
    expect((Client.wireTx("apple", {}) as { apple_tx_id: string }).apple_tx_id).toMatch(/^DEV\./)
    expect(Client.wireTx("apple", { appleTxId: "2000000000000001" })).toEqual({ provider: 2, apple_tx_id: "2000000000000001" })
  })

  it("generate_pro_proof, get_pro_details and set_payment_refund_requested match the vectors", () => {
    let v = vec("generate_pro_proof")
    expect(Client.buildGenerateProProof({ version: 0, master, rotating, unixTsMs: v.inputs.unix_ts_ms })).toMatchObject({
      master_sig: v.signatures.master_sig,
      rotating_sig: v.signatures.rotating_sig,
      unix_ts_ms: v.inputs.unix_ts_ms
    })
    v = vec("get_pro_details")
    expect(Client.buildGetProDetails({ version: 0, master, unixTsMs: v.inputs.unix_ts_ms, count: v.inputs.count })).toEqual({
      ...v.inputs,
      master_sig: v.signatures.master_sig
    })
    for (const name of ["set_payment_refund_requested/apple", "set_payment_refund_requested/apple-utf8"]) {
      v = vec(name)
      // FLAG-45 fixed: payment_tx is a plain JSON object.
      expect(
        Client.buildSetPaymentRefundRequested({
          version: 0, master, unixTsMs: v.inputs.unix_ts_ms, refundRequestedUnixTsMs: v.inputs.refund_requested_unix_ts_ms, tx: v.inputs.payment_tx
        })
      ).toEqual({ ...v.inputs, master_sig: v.signatures.master_sig })
    }
  })

  it("secret keys: 32-byte seeds or 64-byte libsodium keys, 0x allowed", () => {
    const sk64 = vectors.hash_vectors.keys.master.seed + vectors.hash_vectors.keys.master.pub
    expect(Buffer.from(keyOf(`0x${sk64}`).publicKey).toString("hex")).toBe(vectors.hash_vectors.keys.master.pub)
    expect(Client.keyFromHex("k", vectors.hash_vectors.keys.master.seed + vectors.hash_vectors.keys.rotating.pub)).toMatch(/not the public key/)
    expect(Client.keyFromHex("k", "abcd")).toMatch(/must be a 32-byte seed/)
  })
})

describe("ServerClient proof verification", () => {
  const v = vec("pro_proof")
  const proof = {
    version: 0,
    gen_index_hash: v.inputs.gen_index_hash,
    rotating_pkey: v.inputs.rotating_pkey,
    expiry_unix_ts_ms: v.inputs.expiry_unix_ts_ms,
    sig: v.signatures["sig (dev backend key 0xcd*32)"]
  }
  const backend = Buffer.from(v.inputs.backend_pubkey, "hex")
  const now = v.inputs.expiry_unix_ts_ms - 1000

  it("accepts the reference's proof", () => {
    expect(Client.verifyProof(proof, backend, rotating.publicKey, now)).toEqual({ ok: true, problems: [] })
  })

  it("rejects a tampered proof, another backend key, another rotating key, an expired proof", () => {
    expect(Client.verifyProof({ ...proof, expiry_unix_ts_ms: proof.expiry_unix_ts_ms + 1 }, backend, undefined, now).ok).toBe(false)
    expect(Client.verifyProof(proof, master.publicKey, undefined, now).problems[0]).toMatch(/does not verify/)
    expect(Client.verifyProof(proof, backend, master.publicKey, now).problems[0]).toMatch(/not the one sent/)
    expect(Client.verifyProof(proof, backend, undefined, proof.expiry_unix_ts_ms + 1).problems[0]).toMatch(/expired/)
    expect(Client.verifyProof({ ...proof, sig: "zz" }, backend, undefined, now).ok).toBe(false)
    expect(Client.verifyProof(undefined, backend, undefined, now).ok).toBe(false)
  })
})
