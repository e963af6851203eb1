/** Subpath entry `@session-pro/http/client` (vitest/tsconfig map `@session-pro/http/<x>` to `src/<x>.ts`). */
export * from "./client/index.js"
