import * as NodeFs from "node:fs"
import * as NodeHttp from "node:http"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Backend } from "@session-pro/core"
import { Cause, Context, Deferred, Effect, Exit, HashMap, Layer, List, LogLevel, ManagedRuntime, Metric, Ref, Scope, TestClock } from "effect"
import { AndroidPublisherFake } from "@session-pro/stores"
import { PubSubFake } from "../../stores/test/fakes/PubSubFake.js"
import type { ServerConfigShape } from "../src/Config/ServerConfig.js"
import * as Platforms from "../src/Workers/Platforms.js"
import {
  Backup,
  BackgroundWorkers,
  backupFileName,
  ExpirySweep,
  Maintenance,
  MaintenanceEvents,
  planRotation,
  Reports,
  track,
  WorkerHealth,
  type SweepSummary
} from "../src/Workers/index.js"
import * as Logging from "../src/Observability/Logging.js"
import { formatEntry } from "../src/Observability/Logging.js"
import * as OpsRoutes from "../src/Observability/OpsRoutes.js"
import { obfuscate, scrubText } from "../src/Observability/Mask.js"
import * as Metrics from "../src/Observability/Metrics.js"
import { openSqlite } from "../src/Workers/SqliteFile.js"
import { webhookBody, WebhookSink } from "../src/Observability/Webhooks.js"

const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 1, 23, 0, 0) // Thursday 2026-01-01 23:00 UTC
const JAN1 = Date.UTC(2026, 0, 1) // the boundary before T0: swept at start-up (catch-up)

const summary = (over: Partial<SweepSummary> = {}): SweepSummary => ({
  alreadyDone: false,
  payments: 3,
  revocations: 2,
  users: 1,
  appleNotifications: 4,
  googleNotifications: 0,
  ...over
})

/**
 * Stubbed core + a webhook sink that records what is pushed. The start-up catch-up for JAN1 finds
 * it already done (the deployment was up that midnight) unless `catchUp` says otherwise.
 */
const harness = (
  sweepNext: (ts: number, n: number) => Effect.Effect<SweepSummary, unknown>,
  catchUp: Effect.Effect<SweepSummary, unknown> = Effect.succeed(summary({ alreadyDone: true }))
) =>
  Effect.gen(function*() {
    const calls = yield* Ref.make<Array<number>>([])
    const pushed = yield* Ref.make<Array<string>>([])
    const reports = yield* Ref.make<Array<string>>([])
    const sweep = (ts: number, n: number) => (ts === JAN1 ? catchUp : sweepNext(ts, n))
    const maintenance = Layer.succeed(Maintenance, {
      sweep: (ts) =>
        Ref.updateAndGet(calls, (c) => [...c, ts]).pipe(Effect.flatMap((c) => sweep(ts, c.filter((x) => x === ts).length))),
      report: (period, count) => Effect.as(Ref.update(reports, (r) => [...r, `${period}:${count}`]), `${period} report`),
      ping: Effect.void,
      outboxDepth: Effect.succeed(2)
    })
    const sink = Layer.succeed(WebhookSink, {
      offer: () => true,
      push: (text) => Ref.update(pushed, (p) => [...p, text]),
      dropped: Effect.succeed(0),
      configured: true,
      flush: Effect.void
    })
    const layer = BackgroundWorkers.pipe(
      Layer.provideMerge(Layer.mergeAll(
        maintenance,
        sink,
        WorkerHealth.layer,
        Layer.effect(MaintenanceEvents, MaintenanceEvents.make),
        Backup.BackupTarget.fromDatabase({ _tag: "Sqlite", filename: ":memory:", url: "sqlite://" })
      ))
    )
    return { calls, pushed, reports, layer }
  })

describe("ExpirySweepWorker", () => {
  it("nextBoundary: the next UTC midnight; a start on a boundary runs at once; never the same day twice", () => {
    expect(ExpirySweep.nextBoundary(T0, undefined)).toBe(Date.UTC(2026, 0, 2))
    expect(ExpirySweep.nextBoundary(Date.UTC(2026, 0, 2), undefined)).toBe(Date.UTC(2026, 0, 2))
    expect(ExpirySweep.nextBoundary(Date.UTC(2026, 0, 2), Date.UTC(2026, 0, 2))).toBe(Date.UTC(2026, 0, 3))
  })

  it("summary line as §7", () => {
    expect(ExpirySweep.summaryLine(Date.UTC(2026, 0, 2), summary())).toBe(
      "Daily pruning for 2026-01-01 completed on 01-02. Expired payments/revocations/users/apple notifs=3/2/1/4"
    )
  })

  it.scoped("under TestClock it runs exactly at the UTC day boundary, once", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const h = yield* harness(() => Effect.succeed(summary()))
      yield* Layer.build(h.layer)
      yield* TestClock.adjust("59 minutes")
      yield* TestClock.adjust("59 seconds")
      yield* TestClock.adjust("999 millis")
      expect(yield* Ref.get(h.calls)).toEqual([JAN1]) // only the start-up catch-up (already done)
      yield* TestClock.adjust("1 millis")
      expect(yield* Ref.get(h.calls)).toEqual([JAN1, Date.UTC(2026, 0, 2)])
      yield* TestClock.adjust("23 hours")
      expect(yield* Ref.get(h.calls)).toEqual([JAN1, Date.UTC(2026, 0, 2)])
      const pushed = yield* Ref.get(h.pushed)
      expect(pushed).toContain("Daily pruning for 2026-01-01 completed on 01-02. Expired payments/revocations/users/apple notifs=3/2/1/4")
      // webhooks configured -> the daily report follows (2026-01-02 is a Friday, not the 1st)
      expect(yield* Ref.get(h.reports)).toEqual(["daily:7"])
      yield* TestClock.adjust("1 hours")
      expect(yield* Ref.get(h.calls)).toEqual([JAN1, Date.UTC(2026, 0, 2), Date.UTC(2026, 0, 3)])
    }))

  it.scoped("a boundary missed while the deployment was down is swept at start-up, then the next one at midnight", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const h = yield* harness(() => Effect.succeed(summary()), Effect.succeed(summary({ payments: 9 })))
      yield* Layer.build(h.layer)
      yield* TestClock.adjust("1 millis")
      expect(yield* Ref.get(h.calls)).toEqual([JAN1])
      expect(yield* Ref.get(h.pushed)).toContain(
        "Daily pruning for 2025-12-31 completed on 01-01. Expired payments/revocations/users/apple notifs=9/2/1/4"
      )
      // 2026-01-01 is the 1st (and a Thursday): daily + monthly reports follow the catch-up
      expect(yield* Ref.get(h.reports)).toEqual(["daily:7", "monthly:3"])
      yield* TestClock.adjust("1 hours")
      expect(yield* Ref.get(h.calls)).toEqual([JAN1, Date.UTC(2026, 0, 2)])
    }))

  it.scoped("alreadyDone (another process swept): no summary, no reports", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const h = yield* harness(() => Effect.succeed(summary({ alreadyDone: true })))
      yield* Layer.build(h.layer)
      yield* TestClock.adjust("1 hours")
      expect(yield* Ref.get(h.calls)).toEqual([JAN1, Date.UTC(2026, 0, 2)])
      expect(yield* Ref.get(h.pushed)).toEqual([])
      expect(yield* Ref.get(h.reports)).toEqual([])
    }))

  it.scoped("a failing sweep is retried with back-off; a day that keeps failing does not kill the loop (FLAG-11)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const day1 = Date.UTC(2026, 0, 2)
      const h = yield* harness((ts, n) =>
        ts === day1
          ? Effect.die(new Error(`database is locked (attempt ${n})`))
          : Effect.succeed(summary())
      )
      const ctx = yield* Layer.build(h.layer)
      yield* TestClock.adjust("1 hours")
      yield* TestClock.adjust("2 hours") // past the 1 h retry budget
      const day1Calls = (yield* Ref.get(h.calls)).filter((t) => t === day1).length
      expect(day1Calls).toBeGreaterThan(3)
      const health = yield* WorkerHealth.pipe(Effect.provide(ctx))
      const snap = yield* health.snapshot
      expect(snap["expiry-sweep"]).toMatchObject({ alive: true, failures: 1 })
      yield* TestClock.adjust("24 hours")
      expect((yield* Ref.get(h.calls)).filter((t) => t === day1 + DAY)).toEqual([day1 + DAY])
      expect(yield* Ref.get(h.pushed)).toContain(
        "Daily pruning for 2026-01-02 completed on 01-03. Expired payments/revocations/users/apple notifs=3/2/1/4"
      )
    }))

  it.scoped("transient failures: retried until the sweep succeeds, once", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const h = yield* harness((_ts, n) => (n < 3 ? Effect.fail("busy") : Effect.succeed(summary())))
      yield* Layer.build(h.layer)
      yield* TestClock.adjust("1 hours")
      yield* TestClock.adjust("10 seconds")
      expect((yield* Ref.get(h.calls)).filter((t) => t !== JAN1).length).toBe(3)
      expect((yield* Ref.get(h.pushed)).filter((p) => p.startsWith("Daily pruning")).length).toBe(1)
    }))
})

describe("reports schedule", () => {
  it("daily always, weekly on Monday, monthly on the 1st (UTC)", () => {
    expect(Reports.reportsFor(Date.UTC(2026, 0, 2))).toEqual([["daily", 7]])
    expect(Reports.reportsFor(Date.UTC(2026, 0, 5))).toEqual([["daily", 7], ["weekly", 4]]) // Monday
    expect(Reports.reportsFor(Date.UTC(2026, 5, 1))).toEqual([["daily", 7], ["weekly", 4], ["monthly", 3]]) // Monday 1 June
    expect(Reports.reportsFor(Date.UTC(2026, 1, 1))).toEqual([["daily", 7], ["monthly", 3]])
  })
})

describe("backup rotation", () => {
  it("the worked example of §7 (test_dry_run_backup_rotation)", () => {
    const names = [
      "2024-11-01_000000_backend.db.bak",
      "2024-11-05_000000_backend.db.bak",
      "2024-11-15_000000_backend.db.bak",
      "2024-11-20_000000_backend.db.bak",
      "2024-12-15_000000_backend.db.bak",
      "2024-12-01_000000_backend.db.bak",
      "2024-12-30_000000_backend.db.bak",
      "2025-01-01_000000_backend.db.bak",
      "2025-01-10_000000_backend.db.bak",
      "2025-01-20_000000_backend.db.bak",
      "2025-05-30_000000_backend.db.bak",
      "invalid.txt"
    ]
    const plan = planRotation(names, Date.UTC(2025, 5, 1, 12))
    expect(plan.delete).toEqual([
      "2024-11-05_000000_backend.db.bak",
      "2024-11-15_000000_backend.db.bak",
      "2024-11-20_000000_backend.db.bak"
    ])
    expect(plan.keep).toEqual([
      "2024-11-01_000000_backend.db.bak",
      "2024-12-01_000000_backend.db.bak",
      "2024-12-15_000000_backend.db.bak",
      "2024-12-30_000000_backend.db.bak",
      "2025-01-01_000000_backend.db.bak",
      "2025-01-10_000000_backend.db.bak",
      "2025-01-20_000000_backend.db.bak",
      "2025-05-30_000000_backend.db.bak"
    ])
  })

  it("names are <YYYY-mm-dd_HHMMSS>_<dbname>.bak in UTC", () => {
    expect(backupFileName(Date.UTC(2026, 0, 2), "session-pro.db")).toBe("2026-01-02_000000_session-pro.db.bak")
  })

  it.live("online backup of a SQLite file plus rotation; in-memory databases are never backed up (FLAG-42)", () =>
    Effect.gen(function*() {
      const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "pro-backup-"))
      const file = NodePath.join(dir, "pro.db")
      const db = openSqlite(file)
      db.exec("PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42);")
      NodeFs.writeFileSync(NodePath.join(dir, "2025-01-01_000000_pro.db.bak"), "")
      NodeFs.writeFileSync(NodePath.join(dir, "2025-01-02_000000_pro.db.bak"), "")
      NodeFs.writeFileSync(NodePath.join(dir, "2025-01-01_000000_other.db.bak"), "")
      const pushed: Array<string> = []
      const sink = Layer.succeed(WebhookSink, {
        offer: () => true,
        push: (t) => Effect.sync(() => void pushed.push(t)),
        dropped: Effect.succeed(0),
        configured: true,
        flush: Effect.void
      })
      const dest = yield* Backup.runBackup(file, Date.UTC(2026, 0, 2)).pipe(Effect.provide(sink))
      db.close()
      expect(NodePath.basename(dest)).toBe("2026-01-02_000000_pro.db.bak")
      const copy = openSqlite(dest, { readonly: true })
      expect(copy.prepare("SELECT x FROM t").all()).toEqual([{ x: 42 }])
      copy.close()
      expect(NodeFs.readdirSync(dir).sort()).toEqual([
        "2025-01-01_000000_other.db.bak",
        "2025-01-01_000000_pro.db.bak",
        "2026-01-02_000000_pro.db.bak",
        "pro.db",
        "pro.db-shm",
        "pro.db-wal"
      ].filter((n) => NodeFs.existsSync(NodePath.join(dir, n))))
      expect(NodeFs.existsSync(NodePath.join(dir, "2025-01-02_000000_pro.db.bak"))).toBe(false)
      expect(pushed[0]).toContain("2025-01-02_000000_pro.db.bak")
      expect(pushed[1]).toBe(`Backed up DB successfully ${file} -> ${dest}`)

      const memory = yield* Backup.BackupTarget.pipe(
        Effect.provide(Backup.BackupTarget.fromDatabase({ _tag: "Sqlite", filename: ":memory:", url: "sqlite://" }))
      )
      expect(memory.file).toBeUndefined()
      const pg = yield* Backup.BackupTarget.pipe(
        Effect.provide(Backup.BackupTarget.fromDatabase({ _tag: "Postgres", url: "postgresql://x/y" }))
      )
      expect(pg.file).toBeUndefined()
    }))
})

describe("Session webhook sink", () => {
  it.live("POSTs the reference payload; a full queue drops and counts without blocking", () =>
    Effect.gen(function*() {
      const bodies: Array<{ text: string; display_name: string }> = []
      let release!: () => void
      const gate = new Promise<void>((r) => (release = r))
      const server = NodeHttp.createServer((req, res) => {
        let data = ""
        req.on("data", (c) => (data += c))
        req.on("end", () => {
          expect(req.headers["content-type"]).toBe("application/json")
          bodies.push(JSON.parse(data))
          void gate.then(() => res.end("ok"))
        })
      })
      yield* Effect.promise(() => new Promise<void>((r) => server.listen(0, "127.0.0.1", r)))
      const port = (server.address() as { port: number }).port
      yield* Effect.gen(function*() {
        const sink = yield* WebhookSink.make([{ name: "Ops", url: `http://127.0.0.1:${port}/hook` }], { capacity: 4 })
        expect(sink.offer("first")).toBe(true)
        yield* Effect.sleep("50 millis") // the drainer takes "first" and waits on the gated POST
        const accepted = [1, 2, 3, 4, 5, 6].map((i) => sink.offer(`m${i}`))
        expect(accepted).toEqual([true, true, true, true, false, false])
        expect(yield* sink.dropped).toBe(2)
        const counted = yield* Effect.promise(() => Metrics.webhookDropped.get())
        expect(counted.values[0]?.value).toBeGreaterThanOrEqual(2)
        release()
        yield* sink.flush
        expect(bodies.map((b) => b.text)).toEqual([
          "```\nfirst\n```",
          "```\n2 message(s) dropped: the webhook queue was full\n```",
          "```\nm1\n```",
          "```\nm2\n```",
          "```\nm3\n```",
          "```\nm4\n```"
        ])
        expect(bodies.every((b) => b.display_name === "Ops")).toBe(true)
      }).pipe(Effect.scoped, Effect.ensuring(Effect.sync(() => server.close())))
    }))

  it("truncates messages to 2000 characters", () => {
    expect(JSON.parse(webhookBody("n", "x".repeat(2500))).text).toBe("```\n" + "x".repeat(2000) + "\n```")
  })
})

describe("logging", () => {
  const entry = (message: unknown, annotations: Record<string, unknown> = {}) => ({
    logLevel: LogLevel.Warning,
    message: [message],
    cause: Cause.empty,
    annotations: HashMap.fromIterable(Object.entries(annotations)),
    date: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
    spans: List.empty()
  })
  const key = "ab".repeat(32)

  it("obfuscate as §11.2", () => {
    expect(obfuscate("ab")).toBe("ab")
    expect(obfuscate("abcdefghij")).toBe("abc\u2026hij")
    expect(obfuscate("abc")).toBe("a\u2026c")
  })

  it("masks keys, tokens, order ids and sensitive annotations unless unsafe_logging", () => {
    const msg = `master ${key} order GPA.1234-5678-9012-34567 tx 2000000123456789 at 1767225600000 db postgresql://u:secret@h/db`
    const safe = formatEntry({ unsafeLogging: false }, entry(msg, { logger: "BACKEND", google_token: "tok-123456" }))
    expect(safe.logger).toBe("BACKEND")
    expect(safe.line.startsWith("26-01-02 03:04:05.006 WARNING BACKEND ")).toBe(true)
    expect(safe.line).not.toContain(key)
    expect(safe.line).not.toContain("GPA.1234-5678-9012-34567")
    expect(safe.line).not.toContain("2000000123456789")
    expect(safe.line).not.toContain("secret")
    expect(safe.line).not.toContain("tok-123456")
    expect(safe.line).toContain("1767225600000") // timestamps stay readable
    const unsafe = formatEntry({ unsafeLogging: true }, entry(msg, { google_token: "tok-123456" }))
    expect(unsafe.line).toContain(key)
    expect(unsafe.line).toContain("google_token=tok-123456")
  })

  it("scrubText leaves ordinary text alone", () => {
    expect(scrubText("Daily pruning for 2026-01-01 completed on 01-02. Expired payments/revocations/users/apple notifs=3/2/1/4"))
      .toBe("Daily pruning for 2026-01-01 completed on 01-02. Expired payments/revocations/users/apple notifs=3/2/1/4")
  })
})

describe("metrics", () => {
  it.effect("Prometheus text with HTTP, sweep and bridged store metrics", () =>
    Effect.gen(function*() {
      Metrics.observeHttp("/get_pro_revocations", "POST", 200, 0.003)
      Metrics.observeHttp("/apple_notifications_v2", "POST", 200, 0.01)
      Metrics.observeHttp("/apple_notifications_v2", "POST", 503, 0.01)
      yield* Effect.asVoid(Metric.counter("session_pro_test_bridged_total").pipe(Metric.tagged("k", "v"))(Effect.succeed(1)))
      const { body, contentType } = yield* Metrics.render
      expect(contentType).toContain("text/plain")
      expect(body).toContain('session_pro_http_requests_total{route="/get_pro_revocations",method="POST",status="200"} 1')
      expect(body).toContain("session_pro_http_request_duration_seconds_bucket")
      expect(body).toContain('session_pro_store_notifications_processed_total{store="apple"} 1')
      expect(body).toContain('session_pro_store_notifications_failed_total{store="apple"} 1')
      expect(body).toContain('session_pro_test_bridged_total{k="v"} 1')
      expect(body).toContain("session_pro_sweep_runs_total")
      expect(body).toContain("session_pro_google_ack_outbox_depth")
      expect(Metrics.routeLabel("/wp-admin")).toBe("other")
    }))
})

describe("/healthz", () => {
  const deps = (ping: Effect.Effect<void, unknown>) =>
    Layer.mergeAll(
      Layer.succeed(Maintenance, {
        sweep: () => Effect.die("unused"),
        report: () => Effect.die("unused"),
        ping,
        outboxDepth: Effect.succeed(0)
      }),
      WorkerHealth.layer
    )

  it.effect("200 when the database answers and every expected worker is alive; 503 otherwise", () =>
    Effect.gen(function*() {
      const health = yield* WorkerHealth
      yield* health.register("expiry-sweep")
      const ok = yield* OpsRoutes.health({ expectedWorkers: ["expiry-sweep"], role: "single process" })
      expect(ok.status).toBe(200)
      expect(ok.body).toMatchObject({ status: "ok", database: "ok", workers: { "expiry-sweep": { alive: true } } })

      const missing = yield* OpsRoutes.health({ expectedWorkers: ["expiry-sweep", "backup"], role: "single process" })
      expect(missing.status).toBe(503)
      expect(missing.body).toMatchObject({ status: "unavailable", workers_down: ["backup"] })

      yield* health.stopped("expiry-sweep")
      const dead = yield* OpsRoutes.health({ expectedWorkers: ["expiry-sweep"], role: "single process" })
      expect(dead.status).toBe(503)
    }).pipe(Effect.provide(deps(Effect.void))))

  it.effect("Health.track: a layer's background fiber is a worker, alive while it runs; its end or failure is reported", () =>
    Effect.gen(function*() {
      const health = yield* WorkerHealth
      const stopLoop = yield* Deferred.make<void, string>()
      // Like the stores' layers: a service whose loop is forked while the layer is built.
      class Svc extends Context.Tag("test/Svc")<Svc, { readonly n: number }>() {}
      class Quiet extends Context.Tag("test/Quiet")<Quiet, number>() {}
      const looping = Layer.scoped(Svc, Effect.as(Effect.forkScoped(Deferred.await(stopLoop)), { n: 1 }))
      const scope = yield* Scope.make()
      const ctx = yield* Layer.buildWithScope(
        Layer.mergeAll(track("loop", looping), track("nothing", Layer.succeed(Quiet, 0))),
        scope
      )
      expect(Context.get(ctx, Svc).n).toBe(1) // the layer's services pass through
      const up = yield* OpsRoutes.health({ expectedWorkers: ["loop"], role: "single process" })
      expect(up.status).toBe(200)
      expect(up.body).toMatchObject({ workers: { loop: { alive: true, failures: 0 } } })
      expect((yield* health.snapshot)["nothing"]).toBeUndefined() // forks nothing: never reported alive
      yield* Deferred.fail(stopLoop, "stream broke")
      yield* Effect.repeat(Effect.zipRight(Effect.yieldNow(), health.snapshot), { until: (snap) => snap["loop"]?.alive === false })
      const down = yield* OpsRoutes.health({ expectedWorkers: ["loop"], role: "single process" })
      expect(down.status).toBe(503)
      expect(down.body).toMatchObject({ workers: { loop: { alive: false, failures: 1 } }, workers_down: ["loop"] })
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(deps(Effect.void))))

  it("lists the Google consumer and acknowledgement outbox fibers while they run (Platforms.platformWorkers)", async () => {
    const pubsub = await PubSubFake.start()
    const api = await AndroidPublisherFake.AndroidPublisherFake.start()
    const config = {
      apple: undefined,
      google: {
        credentialsPath: "",
        projectId: "test-project",
        subscriptionName: "session-pro-sub",
        packageName: "network.loki.messenger",
        subscriptionProductId: "session_pro"
      },
      database: { _tag: "Sqlite", filename: ":memory:", url: "sqlite://:memory:" }
    } as unknown as ServerConfigShape
    expect(Platforms.platformWorkerNames(config)).toEqual([Platforms.GOOGLE_CONSUMER, Platforms.GOOGLE_ACK_OUTBOX])
    expect(Platforms.platformWorkerNames({ ...config, apple: {} } as unknown as ServerConfigShape)).toEqual([
      Platforms.APPLE_CATCH_UP,
      Platforms.GOOGLE_CONSUMER,
      Platforms.GOOGLE_ACK_OUTBOX
    ])
    expect(Platforms.platformWorkerNames({ ...config, google: undefined } as unknown as ServerConfigShape)).toEqual([])
    const rt = ManagedRuntime.make(
      Platforms.platformWorkers(config, { pubsubApiEndpoint: pubsub.endpoint, androidPublisherApiRoot: api.apiRoot }).pipe(
        Layer.provideMerge(deps(Effect.void)),
        Layer.provideMerge(Backend.layerSqlite(":memory:"))
      )
    )
    try {
      const h = await rt.runPromise(OpsRoutes.health({ expectedWorkers: Platforms.platformWorkerNames(config), role: "single process" }))
      expect(h.status).toBe(200)
      expect(h.body).toMatchObject({
        workers: { [Platforms.GOOGLE_CONSUMER]: { alive: true }, [Platforms.GOOGLE_ACK_OUTBOX]: { alive: true } }
      })
    } finally {
      await rt.dispose()
      await pubsub.stop()
      await api.stop()
    }
  })

  it.effect("503 when the database does not answer", () =>
    Effect.gen(function*() {
      const down = yield* OpsRoutes.health({ expectedWorkers: [], role: "worker 2 of 2" })
      expect(down.status).toBe(503)
      expect(String((down.body as { database: string }).database)).toContain("unreachable")
    }).pipe(Effect.provide(deps(Effect.fail(new Error("SQLITE_CANTOPEN"))))))
})

describe("logging layer", () => {
  it.live("stdout and log_path get every line; webhooks get warnings and errors only", () =>
    Effect.gen(function*() {
      const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "pro-log-"))
      const file = NodePath.join(dir, "logs", "pro.log")
      const out: Array<string> = []
      const offered: Array<string> = []
      const sink = Layer.succeed(WebhookSink, {
        offer: (t) => (offered.push(t), true),
        push: () => Effect.void,
        dropped: Effect.succeed(0),
        configured: true,
        flush: Effect.void
      })
      const layer = Logging.layer({ unsafeLogging: false, logPath: file, stdout: (l) => out.push(l) }).pipe(Layer.provide(sink))
      yield* Effect.gen(function*() {
        yield* Effect.logInfo("hello").pipe(Effect.annotateLogs("logger", "BACKEND"))
        yield* Effect.logWarning(`careful with ${"ef".repeat(32)}`)
        yield* Effect.logError("boom", new Error("kaput"))
      }).pipe(Effect.provide(layer))
      expect(out.length).toBe(3)
      expect(out[0]).toMatch(/^\d\d-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO BACKEND hello$/)
      expect(out[1]).toContain("WARNING PRO careful with")
      expect(out[1]).not.toContain("ef".repeat(32))
      expect(offered.length).toBe(2)
      expect(offered[1]).toContain("ERROR PRO boom")
      expect(NodeFs.readFileSync(file, "utf8").trim().split("\n").length).toBeGreaterThanOrEqual(3)
    }))

  it("RotatingFile keeps two backups", () => {
    const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "pro-rot-"))
    const f = new Logging.RotatingFile(NodePath.join(dir, "x.log"), 100, 2)
    for (let i = 0; i < 20; i++) f.write(`line ${String(i).padStart(2, "0")} ${"x".repeat(30)}`)
    f.close()
    expect(NodeFs.readdirSync(dir).sort()).toEqual(["x.log", "x.log.1", "x.log.2"])
    expect(NodeFs.readFileSync(NodePath.join(dir, "x.log"), "utf8")).toContain("line 19")
  })
})

describe("webhook delivery failures", () => {
  it.live("a failing POST is reported on stderr and the sink keeps going", () =>
    Effect.gen(function*() {
      const sent: Array<string> = []
      let calls = 0
      const post = async (_url: string, body: string) => {
        if (calls++ === 0) throw new Error("connection refused")
        sent.push(JSON.parse(body).text)
      }
      const errors: Array<string> = []
      const write = process.stderr.write.bind(process.stderr)
      process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write
      try {
        yield* Effect.gen(function*() {
          const sink = yield* WebhookSink.make([{ name: "Ops", url: "http://127.0.0.1:9/x" }], { post })
          sink.offer("one")
          sink.offer("two")
          yield* sink.flush
        }).pipe(Effect.scoped)
      } finally {
        process.stderr.write = write
      }
      expect(errors.join("")).toContain('Session webhook "Ops" POST failed')
      expect(sent).toEqual(["```\ntwo\n```"])
    }))
})
