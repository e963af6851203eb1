/**
 * The one place this module imports the core from (its crypto helpers and `BackendKeys`), so
 * the specifier can follow the core's public entry point.
 */
export { blake2b256, concat, x25519KeyPairFromEd25519Seed, x25519SharedSecret } from "../../../core/src/Crypto/index.js"
