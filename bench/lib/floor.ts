/**
 * The pure crypto floor of each route, measured in this process with the fastest primitives the
 * server can use: native Ed25519 verify (libsodium prechecks + JWK import of the raw client key, as
 * every request must), native sign with a cached KeyObject, BLAKE2b/SHA-256, native X25519 and the
 * native AEAD. A route's floor is the sum of the operations its work cannot avoid.
 */
import * as nodeCrypto from "node:crypto"
import * as Either from "effect/Either"
import { blake2b256, accountIdForMaster, Personalisation } from "../../packages/core/src/Crypto/Hashes.js"
import * as Ed25519 from "../../packages/core/src/Crypto/Ed25519.js"
import { DEV_BACKEND_SEED } from "../../packages/core/src/Domain/Constants.js"
import { decrypt, encrypt } from "../../packages/http/src/OnionRequests/Cipher.js"
import { keyOf } from "./keys.js"
import type { RouteName } from "./bodies.js"

export interface OpCosts {
  readonly verifyMs: number
  readonly signMs: number
  readonly blake2bMs: number
  readonly sha256Ms: number
  readonly x25519Ms: number
  readonly aeadMs: number
}

/** Mean ms per call of `f` over `n` calls after a warm-up; `f(i)` may vary its input by `i`. */
const time = (n: number, f: (i: number) => unknown): number => {
  for (let i = 0; i < Math.min(n, 200); i++) f(i)
  const t0 = performance.now()
  for (let i = 0; i < n; i++) f(i)
  return (performance.now() - t0) / n
}

/** Median of `reps` measurements, to shrug off other processes on the shared cores. */
const median = (reps: number, m: () => number): number => {
  const xs = Array.from({ length: reps }, m).sort((a, b) => a - b)
  return xs[Math.floor(xs.length / 2)]!
}

export const measureOps = (): OpCosts => {
  const signers = Array.from({ length: 64 }, (_, i) => keyOf(`floor-${i}`))
  const msg = nodeCrypto.randomBytes(96)
  const hashes = signers.map((_, i) => blake2b256(Buffer.concat([msg, Buffer.from([i])]), { personalisation: Personalisation.GenerateProof }))
  const sigs = signers.map((s, i) => s.sign(hashes[i]!))
  const backend = Ed25519.signingKeyFromSeed(DEV_BACKEND_SEED)
  const x = nodeCrypto.generateKeyPairSync("x25519")
  const peers = Array.from({ length: 64 }, () =>
    nodeCrypto.generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x as string)
  const aeadKey = nodeCrypto.randomBytes(32)
  const plain = nodeCrypto.randomBytes(400)
  const sealed = encrypt("xchacha20", aeadKey, plain)
  const reps = 5
  return {
    verifyMs: median(reps, () => time(1000, (i) => {
      if (!Ed25519.verify(sigs[i % 64]!, hashes[i % 64]!, signers[i % 64]!.publicKey)) throw new Error("verify failed")
    })),
    signMs: median(reps, () => time(2000, (i) => backend.sign(hashes[i % 64]!))),
    blake2bMs: median(reps, () => time(5000, (i) => blake2b256(hashes[i % 64]!, { personalisation: Personalisation.Proof }))),
    sha256Ms: median(reps, () => time(5000, (i) => accountIdForMaster(hashes[i % 64]!))),
    x25519Ms: median(reps, () => time(1000, (i) =>
      nodeCrypto.diffieHellman({
        privateKey: x.privateKey,
        publicKey: nodeCrypto.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: peers[i % 64]! }, format: "jwk" })
      }))),
    aeadMs: median(reps, () => time(2000, () => {
      Either.getOrThrow(decrypt("xchacha20", aeadKey, sealed))
      encrypt("xchacha20", aeadKey, plain)
    }))
  }
}

export interface RouteFloor {
  readonly plainMs: number
  readonly onionMs: number
  readonly formula: string
}

/** Per-route floors; `revocationItems` gen-index hashes for `/get_pro_revocations`. */
export const routeFloors = (c: OpCosts, revocationItems: number): Record<RouteName, RouteFloor> => {
  // Onion adds: X25519 + BLAKE2b key derivation + AEAD open of the request and seal of the reply.
  const onion = c.x25519Ms + c.blake2bMs + c.aeadMs
  const mk = (plainMs: number, formula: string): RouteFloor => ({ plainMs, onionMs: plainMs + onion, formula })
  return {
    generate_pro_proof: mk(2 * c.verifyMs + c.signMs + 3 * c.blake2bMs, "2 verify + 1 sign + 3 BLAKE2b"),
    add_pro_payment: mk(2 * c.verifyMs + c.signMs + 3 * c.blake2bMs + c.sha256Ms, "2 verify + 1 sign + 3 BLAKE2b + SHA-256"),
    get_pro_details: mk(c.verifyMs + c.blake2bMs, "1 verify + 1 BLAKE2b"),
    set_payment_refund_requested: mk(c.verifyMs + c.blake2bMs, "1 verify + 1 BLAKE2b"),
    // The server caches gen_index hashes per index, so a request does no crypto of its own.
    get_pro_revocations: mk(0, `no crypto (the ${revocationItems} gen_index hashes are cached; uncached they would be ${(revocationItems * c.blake2bMs).toFixed(3)} ms)`)
  }
}
