/**
 * Several processes on one port (`workers = N`) with node:cluster.
 *
 * The primary validates the config, bootstraps the database and applies the start-up edits once,
 * logs the banner, then forks N workers that share the listening socket. **Background workers
 * run in worker 1 only**: the primary elects it by environment variable and, if it dies, re-forks
 * it with the same identity (so there is never a second sweeper for long). The sweep's atomic
 * database guard covers the gap anyway (D4g). A crashed worker is re-forked after a short delay;
 * on SIGTERM/SIGINT the primary forwards SIGTERM and waits for every worker to drain and exit.
 * `/metrics` in a worker asks the primary for the aggregate of all processes over IPC.
 */
import cluster, { type Worker } from "node:cluster"
import { Deferred, Duration, Effect, Layer, Runtime } from "effect"
import * as Prom from "prom-client"
import { registry, syncEffectMetrics } from "../Observability/Metrics.js"

export const WORKER_ID_ENV = "SESH_PRO_INTERNAL_WORKER_ID"
export const BACKGROUND_ENV = "SESH_PRO_INTERNAL_BACKGROUND"
const METRICS_REQ = "session-pro:cluster-metrics"
const METRICS_RES = "session-pro:cluster-metrics-res"

export interface WorkerIdentity {
  readonly id: number
  readonly count: number
  readonly background: boolean
}

/** This process's place in the cluster, or undefined for a single-process server / the primary. */
export const identity = (): WorkerIdentity | undefined =>
  cluster.isWorker
    ? {
      id: Number(process.env[WORKER_ID_ENV] ?? "0"),
      count: Number(process.env.SESH_PRO_BACKEND_WORKERS ?? "1"),
      background: process.env[BACKGROUND_ENV] === "1"
    }
    : undefined

/** The primary: forks, re-forks and finally stops the workers. Lives as long as the layer. */
export const primaryLayer = (count: number) =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const aggregator = new Prom.AggregatorRegistry()
      // Node callbacks log through this layer's runtime, so they get the configured logger.
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      let stopping = false
      const live = new Map<number, Worker>()
      const allExited = yield* Deferred.make<void>()
      const fork = (id: number) => {
        const w = cluster.fork({
          [WORKER_ID_ENV]: String(id),
          [BACKGROUND_ENV]: id === 1 ? "1" : "0",
          SESH_PRO_BACKEND_WORKERS: String(count)
        })
        live.set(id, w)
        w.on("exit", (code, signal) => {
          live.delete(id)
          if (stopping) {
            if (live.size === 0) Deferred.unsafeDone(allExited, Effect.void)
            return
          }
          runFork(
            Effect.logError(`Worker ${id} exited (code ${code}, signal ${signal}); starting it again`).pipe(
              Effect.annotateLogs("logger", "PRO")
            )
          )
          setTimeout(() => !stopping && fork(id), 1000)
        })
      }
      const onMessage = (w: Worker, msg: unknown) => {
        const m = msg as { type?: string; id?: number }
        if (m?.type !== METRICS_REQ) return
        aggregator.clusterMetrics().then(
          (body) => w.send({ type: METRICS_RES, id: m.id, body }),
          (e) => w.send({ type: METRICS_RES, id: m.id, error: String(e) })
        )
      }
      cluster.on("message", onMessage)
      for (let id = 1; id <= count; id++) fork(id)
      yield* Effect.logInfo(`Started ${count} worker processes; background work runs in worker 1`).pipe(
        Effect.annotateLogs("logger", "PRO")
      )
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          stopping = true
          cluster.off("message", onMessage)
          if (live.size === 0) return
          for (const w of live.values()) w.process.kill("SIGTERM")
          yield* Deferred.await(allExited).pipe(
            Effect.timeout(Duration.seconds(30)),
            Effect.catchAll(() =>
              Effect.sync(() => {
                for (const w of live.values()) w.process.kill("SIGKILL")
              })
            )
          )
        })
      )
    })
  )

/** In a worker: metrics of every process, through the primary. */
export const workerMetricsSource = () => {
  Prom.AggregatorRegistry.setRegistries([registry])
  // constructing one installs prom-client's worker-side IPC listener
  new Prom.AggregatorRegistry()
  // The primary collects registries directly, so bridge the Effect metrics into ours periodically.
  setInterval(syncEffectMetrics, 5000).unref()
  let next = 0
  return () =>
    new Promise<{ contentType: string; body: string }>((resolve, reject) => {
      const id = next++
      const onMsg = (msg: { type?: string; id?: number; body?: string; error?: string }) => {
        if (msg?.type !== METRICS_RES || msg.id !== id) return
        process.off("message", onMsg)
        clearTimeout(timer)
        if (msg.error) reject(new Error(msg.error))
        else resolve({ contentType: registry.contentType, body: msg.body ?? "" })
      }
      const timer = setTimeout(() => {
        process.off("message", onMsg)
        reject(new Error("cluster metrics timed out"))
      }, 5000)
      process.on("message", onMsg)
      process.send!({ type: METRICS_REQ, id })
    })
}
