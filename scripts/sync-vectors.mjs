// Refreshes the repo's byte-identical copies of the shared vectors and store fixtures.
// Usage: npm run vectors:sync [-- <path to shared/>]   (default ../shared)
import { cpSync, existsSync } from "node:fs"
import { resolve } from "node:path"

const shared = resolve(process.argv[2] ?? "../shared")
if (!existsSync(shared)) {
  console.error(`no shared folder at ${shared}`)
  process.exit(1)
}
cpSync(`${shared}/spec/vectors.json`, "test-vectors/vectors.json")
cpSync(`${shared}/fixtures`, "test-vectors/fixtures", { recursive: true })
console.log(`synced test-vectors/ from ${shared}`)
