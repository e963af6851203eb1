/**
 * A third-party Session Pro proof verifier (protocol.md §5), self-contained: only @noble/ed25519 and
 * @noble/hashes, so it can be copied into any JS/TS code base that receives proofs.
 *
 *   npm run example:verify-proof                                   # demo on recorded proofs
 *   npm run example:verify-proof -- --proof '<json>|@file' --backend-key <64 hex> \
 *       [--revocations '<json>|@file'] [--rotating-pkey <64 hex>] [--now <unix ms>]
 *
 * Exit code 0 = valid, 1 = not valid, 2 = bad usage.
 *
 * Why not the reference's examples/verify_pro_proof.py: it hashes with the personalisation
 * "SeshProBackend__" used before 2025-11-24, so it rejects every proof the current backend issues
 * (its own embedded example only passes because it was captured from an old server), and its
 * usage text names flags the parser does not define. The current personalisation is
 * "ProProof________".
 */
import * as ed from "@noble/ed25519"
import { blake2b } from "@noble/hashes/blake2.js"
import { sha512 } from "@noble/hashes/sha2.js"
import { readFileSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"

ed.hashes.sha512 = sha512

export interface Proof {
  readonly version: number
  readonly gen_index_hash: string
  readonly rotating_pkey: string
  readonly expiry_unix_ts_ms: number
  readonly sig: string
}

export interface RevocationItem {
  readonly gen_index_hash: string
  readonly effective_unix_ts_ms: number
  readonly expiry_unix_ts_ms: number
}

export type Verdict = { readonly valid: true; readonly reason: string } | { readonly valid: false; readonly reason: string }

const PERSONALISATION = new TextEncoder().encode("ProProof________") // 16 bytes

const hexBytes = (s: unknown, bytes: number, label: string): Uint8Array => {
  // Clients tolerate a 0x prefix (libsession's parser does); the server never sends one.
  const t = typeof s === "string" ? s.replace(/^0x/i, "") : ""
  if (t.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(t)) throw new Error(`${label} must be ${bytes * 2} hex characters`)
  return Uint8Array.from(Buffer.from(t, "hex"))
}

const u64le = (n: number): Uint8Array => {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error("expiry_unix_ts_ms must be a non-negative integer")
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true)
  return b
}

/** BLAKE2b-256(personal = "ProProof________", u8(version) ‖ gen_index_hash ‖ rotating_pkey ‖ u64le(expiry)). */
export const proofDigest = (p: Proof): Uint8Array => {
  if (!Number.isInteger(p.version) || p.version < 0 || p.version > 255) throw new Error("version must fit in a byte")
  const message = new Uint8Array([
    p.version,
    ...hexBytes(p.gen_index_hash, 32, "gen_index_hash"),
    ...hexBytes(p.rotating_pkey, 32, "rotating_pkey"),
    ...u64le(p.expiry_unix_ts_ms)
  ])
  return blake2b(message, { dkLen: 32, personalization: PERSONALISATION, salt: new Uint8Array(16) })
}

/**
 * §5: (1) the backend signature verifies — strict RFC 8032 (`zip215: false`) like the libsodium the
 * apps use; (2) now ≤ expiry, inclusive; (3) not revoked by a list item already effective.
 * (4) — the message signed by `rotating_pkey` — is the messenger's job; pass the key to pin it.
 */
export const verify = (
  proof: Proof,
  options: { backendPublicKey: string; nowMs: number; revocations?: ReadonlyArray<RevocationItem>; rotatingPublicKey?: string }
): Verdict => {
  let digest: Uint8Array
  let sig: Uint8Array
  let key: Uint8Array
  try {
    digest = proofDigest(proof)
    sig = hexBytes(proof.sig, 64, "sig")
    key = hexBytes(options.backendPublicKey, 32, "backend public key")
  } catch (e) {
    return { valid: false, reason: `malformed: ${(e as Error).message}` }
  }
  let signed = false
  try {
    signed = ed.verify(sig, digest, key, { zip215: false })
  } catch {
    signed = false
  }
  if (!signed) return { valid: false, reason: "the backend signature does not verify" }
  if (options.rotatingPublicKey !== undefined && options.rotatingPublicKey.toLowerCase() !== proof.rotating_pkey.toLowerCase()) {
    return { valid: false, reason: "the proof is for another rotating key" }
  }
  if (options.nowMs > proof.expiry_unix_ts_ms) {
    return { valid: false, reason: `expired at ${new Date(proof.expiry_unix_ts_ms).toISOString()}` }
  }
  const revoked = options.revocations?.find((r) =>
    r.gen_index_hash.toLowerCase() === proof.gen_index_hash.toLowerCase() && r.effective_unix_ts_ms <= options.nowMs
  )
  if (revoked) return { valid: false, reason: `revoked since ${new Date(revoked.effective_unix_ts_ms).toISOString()}` }
  return { valid: true, reason: `valid until ${new Date(proof.expiry_unix_ts_ms).toISOString()}` }
}

// ---------------------------------------------------------------------------------------------
// command line

const jsonArg = (v: string) => JSON.parse(v.startsWith("@") ? readFileSync(v.slice(1), "utf8") : v)
/** Accepts a bare proof, a `{result: proof}` envelope, or a `/get_pro_revocations` envelope/result for the list. */
const unwrap = (j: any) => (j && typeof j === "object" && "result" in j ? j.result : j)

export const run = (argv: ReadonlyArray<string>, print: (line: string) => void = console.log): number => {
  const get = (flag: string) => {
    const i = argv.indexOf(flag)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const proofArg = get("--proof")
  if (proofArg === undefined) return demo(print)
  const backendPublicKey = get("--backend-key")
  if (backendPublicKey === undefined) {
    print("usage: verify-proof --proof <json|@file> --backend-key <hex> [--revocations <json|@file>] [--rotating-pkey <hex>] [--now <ms>]")
    return 2
  }
  const revArg = get("--revocations")
  const revs = revArg === undefined ? undefined : unwrap(jsonArg(revArg))
  const verdict = verify(unwrap(jsonArg(proofArg)), {
    backendPublicKey,
    nowMs: get("--now") !== undefined ? Number(get("--now")) : Date.now(),
    revocations: Array.isArray(revs) ? revs : revs?.items,
    rotatingPublicKey: get("--rotating-pkey")
  })
  print(`${verdict.valid ? "VALID" : "INVALID"}: ${verdict.reason}`)
  return verdict.valid ? 0 : 1
}

/** No arguments: verify recorded proofs from the golden vectors (reference server, dev key). */
const demo = (print: (line: string) => void): number => {
  const vectors = JSON.parse(readFileSync(fileURLToPath(new URL("../../test-vectors/vectors.json", import.meta.url)), "utf8"))
  const ctx = vectors.http_exchanges.context
  const key: string = ctx.backend_ed25519_pub
  const exchange = (id: string) => JSON.parse(vectors.http_exchanges.prod.find((e: any) => e.id === id).response.body)
  const google: Proof = exchange("add_google_ok").result
  const apple: Proof = exchange("add_apple_ok").result
  const revocations: ReadonlyArray<RevocationItem> = exchange("revocations_ticket0").result.items
  const now: number = ctx.server_now_ms
  const show = (label: string, v: Verdict) => print(`${v.valid ? "VALID  " : "INVALID"} ${label}: ${v.reason}`)
  print(`backend key ${key} (dev), now = ${new Date(now).toISOString()}`)
  print(`proof: ${JSON.stringify(google)}`)
  show("add_google_ok proof", verify(google, { backendPublicKey: key, nowMs: now, revocations }))
  show("same proof, one day after its expiry", verify(google, { backendPublicKey: key, nowMs: google.expiry_unix_ts_ms + 86_400_000 }))
  show("same proof, another backend key", verify(google, { backendPublicKey: ctx.keys.master.pub, nowMs: now }))
  const item = revocations.find((r) => r.gen_index_hash === apple.gen_index_hash)!
  show("add_apple_ok proof, revocation listed but not yet effective", verify(apple, { backendPublicKey: key, nowMs: now, revocations }))
  show("add_apple_ok proof, at the revocation's effective time", verify(apple, { backendPublicKey: key, nowMs: item.effective_unix_ts_ms, revocations }))
  const old = vectors.reference_docstring_examples.find((x: any) => x.name.startsWith("examples/verify_pro_proof.py"))
  show("the reference example's proof (old SeshProBackend__ personalisation)", verify(old.response.result ?? old.response, { backendPublicKey: key, nowMs: 0 }))
  return 0
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) process.exitCode = run(process.argv.slice(2))
