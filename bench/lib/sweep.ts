/** The daily expiry sweep (core ExpirySweep.run) timed on seeded SQLite file DBs. */
import { ManagedRuntime } from "effect"
import * as Backend from "../../packages/core/src/Backend.js"
import { ExpirySweep, type ExpirySweepResult } from "../../packages/core/src/ExpirySweep.js"
import { removeDb, seedSweep } from "./seed.js"

export interface SweepTiming {
  readonly payments: number
  readonly seedSeconds: number
  readonly wallMs: number
  readonly cpuMs: number
  readonly result: ExpirySweepResult
  /** Pending user-prune candidates the DB was seeded with (see `SweepSeed.candidates`). */
  readonly candidates: "daily" | "all"
}

/** BENCH_SWEEP_CANDIDATES=all: every user pending (the first sweep after a bulk user import). */
const candidatesMode = (): "daily" | "all" => (process.env.BENCH_SWEEP_CANDIDATES === "all" ? "all" : "daily")

export const timeSweep = async (file: string, payments: number): Promise<SweepTiming> => {
  const now = Date.now()
  const s0 = performance.now()
  const candidates = candidatesMode()
  await seedSweep(file, { payments, now, candidates })
  const seedSeconds = (performance.now() - s0) / 1000
  const runtime = ManagedRuntime.make(Backend.layerSqlite(file, { dev: true }))
  try {
    const sweep = await runtime.runPromise(ExpirySweep)
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    const result = await runtime.runPromise(sweep.run(now))
    const wallMs = performance.now() - t0
    const c = process.cpuUsage(c0)
    return { payments, seedSeconds, wallMs, cpuMs: (c.user + c.system) / 1000, result, candidates }
  } finally {
    await runtime.dispose()
    removeDb(file)
  }
}

