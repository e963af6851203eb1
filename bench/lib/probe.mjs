/**
 * Preloaded into the benchmarked server (`node --import bench/lib/probe.mjs …`, see server.ts): every
 * BENCH_PROBE_MS (default 1000) ms appends one JSON line to BENCH_PROBE_FILE with what only the
 * process itself can see — event-loop delay (mean/p99/max since the previous line), GC pauses,
 * memory (RSS, V8 heap, external/array buffers, the heap left by the latest mark-compact) and CPU. Observes only: no server code is touched.
 * Cost: one unref'd timer per interval, a 10 ms-resolution event-loop histogram and a GC observer.
 */
import * as NodeFs from "node:fs"
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"

const file = process.env.BENCH_PROBE_FILE
if (file) {
  const interval = Math.max(50, Number(process.env.BENCH_PROBE_MS ?? 1000))
  const MiB = 1024 * 1024
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  let gcMs = 0
  let gcCount = 0
  let gcMaxMs = 0
  let majorGcs = 0
  /** Heap used just after the latest mark-compact: the live heap, the number a leak raises. */
  let liveHeapMiB = null
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration
      gcCount++
      if (e.duration > gcMaxMs) gcMaxMs = e.duration
      if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        majorGcs++
        liveHeapMiB = process.memoryUsage().heapUsed / MiB
      }
    }
  })
  gc.observe({ entryTypes: ["gc"] })
  let cpu = process.cpuUsage()
  const sample = () => {
    const m = process.memoryUsage()
    const c = process.cpuUsage(cpu)
    cpu = process.cpuUsage()
    const line = {
      t: Date.now(),
      // histogram values are ns; the 10 ms sampling resolution is included in every value
      lagMeanMs: loop.count > 0 ? loop.mean / 1e6 : 0,
      lagP99Ms: loop.count > 0 ? loop.percentile(99) / 1e6 : 0,
      lagMaxMs: loop.count > 0 ? loop.max / 1e6 : 0,
      gcMs,
      gcCount,
      gcMaxMs,
      majorGcs,
      liveHeapMiB,
      rssMiB: m.rss / MiB,
      heapUsedMiB: m.heapUsed / MiB,
      heapTotalMiB: m.heapTotal / MiB,
      externalMiB: m.external / MiB,
      arrayBuffersMiB: m.arrayBuffers / MiB,
      cpuMs: (c.user + c.system) / 1000
    }
    loop.reset()
    gcMs = 0
    gcCount = 0
    gcMaxMs = 0
    majorGcs = 0
    try {
      NodeFs.appendFileSync(file, JSON.stringify(line) + "\n")
    } catch {
      // the bench removed its tmp dir; nothing to report to
    }
  }
  setInterval(sample, interval).unref()
}
