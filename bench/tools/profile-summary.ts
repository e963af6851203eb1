/**
 * Summarises a `node --cpu-prof` profile: top functions by self time, and self time grouped by file.
 * Usage: npx tsx bench/tools/profile-summary.ts <file.cpuprofile> [topN] [lastSeconds]
 * `lastSeconds` keeps only the samples of that many seconds before the profile ended minus 1 s (the
 * load case just before shutdown), leaving out start-up module compilation.
 */
import * as NodeFs from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const [file, topArg, lastArg] = process.argv.slice(2)
if (!file) throw new Error("usage: profile-summary <file.cpuprofile> [topN]")
const top = Number(topArg ?? 40)
const p = JSON.parse(NodeFs.readFileSync(file, "utf8")) as Profile
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const self = new Map<number, number>()
const times: Array<number> = []
let t = 0
for (const d of p.timeDeltas) times.push((t += d))
const end = t - 1e6
const from = lastArg ? end - Number(lastArg) * 1e6 : -Infinity
p.samples.forEach((id, i) => {
  if (times[i]! < from || (lastArg && times[i]! > end)) return
  self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0))
})
const total = [...self.values()].reduce((a, b) => a + b, 0)
const short = (url: string) => url.replace(/^file:\/\//, "").replace(/.*node_modules\//, "nm:").replace(/.*\/work\/main\//, "")
const fnAgg = new Map<string, number>()
const fileAgg = new Map<string, number>()
for (const [id, us] of self) {
  const n = byId.get(id)!
  const key = `${n.callFrame.functionName || "(anon)"} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
  fnAgg.set(key, (fnAgg.get(key) ?? 0) + us)
  const f = short(n.callFrame.url) || `(${n.callFrame.functionName})`
  fileAgg.set(f, (fileAgg.get(f) ?? 0) + us)
}
const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`
console.log(`total sampled ${(total / 1000).toFixed(0)} ms`)
console.log("\n== self time by function ==")
for (const [k, us] of [...fnAgg].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`)
console.log("\n== self time by file ==")
for (const [k, us] of [...fileAgg].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`)

// Inclusive time per function (a frame counted once per stack even under recursion).
const parent = new Map<number, number>()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const incl = new Map<string, number>()
for (const [id, us] of self) {
  const seen = new Set<string>()
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur)!
    const key = `${n.callFrame.functionName || "(anon)"} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
    if (seen.has(key)) continue
    seen.add(key)
    incl.set(key, (incl.get(key) ?? 0) + us)
  }
}
console.log("\n== inclusive time, project + selected frames ==")
for (const [k, us] of [...incl].filter(([k]) => /packages\/|httpServer|httpMiddleware|better-sqlite3|crypto|blake2|statement|client\.js|Stream|stream/.test(k)).sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${pct(us)}  ${k}`)
}
