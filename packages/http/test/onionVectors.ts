/** Shared fixtures for the onion tests: the golden vectors and the dev server key pair. */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const path = fileURLToPath(new URL("../../../test-vectors/vectors.json", import.meta.url))
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const vectors: any = JSON.parse(readFileSync(path, "utf8"))

export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"))
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex")
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
export const text = (b: Uint8Array): string => new TextDecoder().decode(b)

export const devServer = {
  privateKey: fromHex(vectors.dev_server_keys.x25519_priv),
  publicKey: fromHex(vectors.dev_server_keys.x25519_pub)
}
