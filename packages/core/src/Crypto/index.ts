export * from "./Bytes.js"
export * as Ed25519 from "./Ed25519.js"
export * from "./Hashes.js"
export * from "./X25519.js"
