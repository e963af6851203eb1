/**
 * Prometheus metrics (prom-client) for `GET /metrics`.
 *
 * Everything the server measures is a prom-client object owned here: HTTP requests and latency
 * (middleware), sweep/backup outcomes (workers), store notifications processed/failed (the Apple
 * webhook's answers, the Google consumer's stats sampled by the background process) and the
 * acknowledgement outbox depth. Code in other packages can also count with plain Effect metrics:
 * every Effect counter/gauge whose name starts with `session_pro_` and is not one of the names
 * here is bridged into this registry at scrape time.
 */
import { Effect, Metric, MetricState } from "effect"
import * as Prom from "prom-client"

export const registry = new Prom.Registry()
Prom.collectDefaultMetrics({ register: registry, prefix: "session_pro_process_" })

export const KNOWN_ROUTES = new Set([
  "/add_pro_payment",
  "/generate_pro_proof",
  "/get_pro_revocations",
  "/get_pro_details",
  "/set_payment_refund_requested",
  "/oxen/v4/lsrpc",
  "/apple_notifications_v2",
  "/healthz",
  "/metrics"
])
/** Unknown paths share one label so scanners cannot blow up the series count. */
export const routeLabel = (path: string): string => {
  const p = path.split("?")[0]!
  return KNOWN_ROUTES.has(p) ? p : "other"
}

export const httpRequests = new Prom.Counter({
  name: "session_pro_http_requests_total",
  help: "HTTP requests by route, method and status code",
  labelNames: ["route", "method", "status"] as const,
  registers: [registry]
})
export const httpDuration = new Prom.Histogram({
  name: "session_pro_http_request_duration_seconds",
  help: "HTTP request latency by route",
  labelNames: ["route", "method"] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry]
})
export const sweepRuns = new Prom.Counter({
  name: "session_pro_sweep_runs_total",
  help: "Daily expiry sweeps by outcome (done, already_done = another process did it, failed)",
  labelNames: ["outcome"] as const,
  registers: [registry]
})
export const sweepExpired = new Prom.Counter({
  name: "session_pro_sweep_expired_total",
  help: "Rows expired or pruned by the daily sweep",
  labelNames: ["kind"] as const,
  registers: [registry]
})
export const sweepLast = new Prom.Gauge({
  name: "session_pro_sweep_last_success_timestamp_seconds",
  help: "The UTC day boundary of the last sweep that completed (in this or another process)",
  registers: [registry]
})
export const backupRuns = new Prom.Counter({
  name: "session_pro_backup_runs_total",
  help: "SQLite backups by outcome",
  labelNames: ["outcome"] as const,
  registers: [registry]
})
export const backupsDeleted = new Prom.Counter({
  name: "session_pro_backup_files_deleted_total",
  help: "Backup files removed by the rotation rule",
  registers: [registry]
})
export const workerFailures = new Prom.Counter({
  name: "session_pro_background_worker_failures_total",
  help: "Background worker iterations that failed (the loop carries on)",
  labelNames: ["worker"] as const,
  registers: [registry]
})
export const outboxDepth = new Prom.Gauge({
  name: "session_pro_google_ack_outbox_depth",
  help: "Google acknowledgements waiting in the outbox (measured by the background process)",
  registers: [registry]
})
export const webhookDropped = new Prom.Counter({
  name: "session_pro_webhook_messages_dropped_total",
  help: "Webhook log messages dropped because a queue was full",
  registers: [registry]
})

export const storeProcessed = new Prom.Counter({
  name: "session_pro_store_notifications_processed_total",
  help: "Store notifications applied (or recognised as duplicates)",
  labelNames: ["store"] as const,
  registers: [registry]
})
export const storeFailed = new Prom.Counter({
  name: "session_pro_store_notifications_failed_total",
  help: "Store notifications rejected or not applied (left for redelivery)",
  labelNames: ["store"] as const,
  registers: [registry]
})

// Bridge: Effect counters and gauges named session_pro_* become prom-client metrics.
const bridged = new Map<string, Prom.Gauge<string> | Prom.Counter<string>>()
export const syncEffectMetrics = () => {
  const pairs = Metric.unsafeSnapshot()
  const byName = new Map<string, Array<{ labels: Record<string, string>; value: number; kind: "counter" | "gauge"; help: string }>>()
  for (const pair of pairs) {
    const key = pair.metricKey
    if (!key.name.startsWith("session_pro_")) continue
    const state = pair.metricState
    const kind = MetricState.isCounterState(state) ? "counter" : MetricState.isGaugeState(state) ? "gauge" : undefined
    if (!kind) continue
    const value = Number(MetricState.isCounterState(state) ? state.count : (state as MetricState.MetricState.Gauge<number>).value)
    const labels = Object.fromEntries(key.tags.map((t) => [t.key, t.value]))
    const list = byName.get(key.name) ?? []
    list.push({ labels, value, kind, help: key.description._tag === "Some" ? key.description.value : key.name })
    byName.set(key.name, list)
  }
  for (const [name, series] of byName) {
    if (registry.getSingleMetric(name) && !bridged.has(name)) continue // owned by prom-client here
    let metric = bridged.get(name)
    const labelNames = [...new Set(series.flatMap((s) => Object.keys(s.labels)))]
    if (!metric) {
      metric = series[0]!.kind === "counter"
        ? new Prom.Counter({ name, help: series[0]!.help, labelNames, registers: [registry] })
        : new Prom.Gauge({ name, help: series[0]!.help, labelNames, registers: [registry] })
      bridged.set(name, metric)
    }
    metric.reset()
    for (const s of series) {
      if (metric instanceof Prom.Counter) metric.inc(s.labels, s.value)
      else metric.set(s.labels, s.value)
    }
  }
}

/** Prometheus text exposition of this process. */
export const render: Effect.Effect<{ readonly contentType: string; readonly body: string }> = Effect.promise(async () => {
  syncEffectMetrics()
  return { contentType: registry.contentType, body: await registry.metrics() }
})

export const observeHttp = (route: string, method: string, status: number, seconds: number) => {
  httpRequests.inc({ route, method, status: String(status) })
  httpDuration.observe({ route, method }, seconds)
  // The Apple webhook's answer is the notification's outcome (200 applied; 4xx/5xx not).
  if (route === "/apple_notifications_v2" && method === "POST") {
    if (status === 200) storeProcessed.inc({ store: "apple" })
    else storeFailed.inc({ store: "apple" })
  }
}
