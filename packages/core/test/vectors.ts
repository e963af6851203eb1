import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** The repo's byte-identical copy of the shared golden vectors. */
export const vectorsPath = fileURLToPath(new URL("../../../test-vectors/vectors.json", import.meta.url))
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const vectors: any = JSON.parse(readFileSync(vectorsPath, "utf8"))
