/**
 * The one place this module imports the core from (its crypto helpers and `BackendKeys`), so
 * the rest of the onion code does not care how the core is packaged.
 */
export { BackendKeys, blake2b256, concat, x25519KeyPairFromEd25519Seed, x25519SharedSecret } from "@session-pro/core"
