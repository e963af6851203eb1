/** The daily expiry sweep (core ExpirySweep.run) timed on seeded SQLite file DBs. */
import { ManagedRuntime } from "effect"
import * as Backend from "../../packages/core/src/Backend.js"
import { ExpirySweep, type ExpirySweepResult } from "../../packages/core/src/ExpirySweep.js"
import { removeDb, seedSweep, type SweepSeeded, type SweepSeedKind } from "./seed.js"

export type { SweepSeedKind } from "./seed.js"

export interface SweepTiming {
  readonly payments: number
  /** Which seed (bench/README.md): "realistic" (default) or "scattered" (the worst case). */
  readonly seed: SweepSeedKind
  readonly seedSeconds: number
  readonly wallMs: number
  readonly cpuMs: number
  readonly result: ExpirySweepResult
  /** Pending user-prune candidates the DB was seeded with (see `SweepSeed.candidates`). */
  readonly candidates: "daily" | "all"
  /** Row counts of the seeded DB and the sweep's `ts`. */
  readonly seeded: SweepSeeded
}

/** BENCH_SWEEP_CANDIDATES=all: every user pending (the first sweep after a bulk user import). */
const candidatesMode = (): "daily" | "all" => (process.env.BENCH_SWEEP_CANDIDATES === "all" ? "all" : "daily")

/**
 * BENCH_SWEEP_SEED: `realistic`, `scattered` or `both` (each payment count timed on both seeds). Default:
 * both, except `BENCH_QUICK=1`, where it is realistic only. Read when the sweeps start (after the route
 * cases), so an unknown value falls back to both instead of failing a long run at its end.
 */
export const sweepSeedKinds = (): ReadonlyArray<SweepSeedKind> => {
  const v = process.env.BENCH_SWEEP_SEED ?? (process.env.BENCH_QUICK === "1" ? "realistic" : "both")
  if (v === "both") return ["realistic", "scattered"]
  if (v === "realistic" || v === "scattered") return [v]
  process.stderr.write(`BENCH_SWEEP_SEED=${JSON.stringify(v)} is not realistic, scattered or both: using both\n`)
  return ["realistic", "scattered"]
}

export const timeSweep = async (file: string, payments: number, seed: SweepSeedKind = "realistic"): Promise<SweepTiming> => {
  const s0 = performance.now()
  const candidates = candidatesMode()
  const seeded = await seedSweep(file, { payments, now: Date.now(), kind: seed, candidates })
  const seedSeconds = (performance.now() - s0) / 1000
  const runtime = ManagedRuntime.make(Backend.layerSqlite(file, { dev: true }))
  try {
    const sweep = await runtime.runPromise(ExpirySweep)
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    const result = await runtime.runPromise(sweep.run(seeded.sweepAt))
    const wallMs = performance.now() - t0
    const c = process.cpuUsage(c0)
    return { payments, seed, seedSeconds, wallMs, cpuMs: (c.user + c.system) / 1000, result, candidates, seeded }
  } finally {
    await runtime.dispose()
    removeDb(file)
  }
}
