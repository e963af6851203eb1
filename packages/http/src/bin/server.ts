/**
 * The server binary: `npm start` / `tsx packages/http/src/bin/server.ts`.
 *
 * Configuration: the INI file named by SESH_PRO_BACKEND_INI_PATH plus SESH_PRO_BACKEND_* overrides
 * (see Config/ServerConfig.ts). With nothing configured it runs in dev mode on
 * ./data/session-pro.db at 127.0.0.1:8000. A bad configuration lists every problem and exits 1.
 *
 * Processes: `workers = 1` (default) runs everything here. `workers = N > 1` makes this process a
 * node:cluster primary that bootstraps the database, applies the start-up edits and logs the
 * banner once, then forks N HTTP workers sharing the port; background work runs in worker 1 only
 * (Workers/Cluster.ts). SIGTERM/SIGINT stop accepting connections, let in-flight requests finish
 * (up to 10 s), stop the background fibers and close the database.
 */
import * as NodeFs from "node:fs"
import * as NodeHttp from "node:http"
import * as NodePath from "node:path"
// Modules by path, not the "@effect/platform" barrel: that one also loads the bundled API-docs UIs
// (HttpApiScalar / HttpApiSwagger, ~20 MiB of strings on the heap) the server never serves.
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer } from "effect"
import { loadConfig, ServerConfig, type ServerConfigShape } from "../Config/ServerConfig.js"
import * as Logging from "../Observability/Logging.js"
import { formatTime } from "../Observability/Logging.js"
import * as Metrics from "../Observability/Metrics.js"
import { metricsMiddleware, opsRouter } from "../Observability/OpsRoutes.js"
import { WebhookSink } from "../Observability/Webhooks.js"
import { Backup, BackgroundWorkers, MaintenanceEvents, OutboxDepthWorker, WorkerHealth } from "../Workers/index.js"
import * as Cluster from "../Workers/Cluster.js"
import * as Platforms from "../Workers/Platforms.js"
import { CoreMaintenance } from "../Workers/CoreMaintenance.js"
import * as Startup from "../Workers/Startup.js"
import * as Server from "../Server.js"
import * as DevClock from "../DevClock.js"
import * as ExpirySweepWorker from "../Workers/ExpirySweepWorker.js"
import * as BackupWorker from "../Workers/BackupWorker.js"
import * as ReportWorker from "../Workers/ReportWorker.js"

const DRAIN_TIMEOUT_MS = 10_000

const logPro = <A, E, R>(e: Effect.Effect<A, E, R>) => Effect.annotateLogs(e, "logger", "PRO")

const ensureDbDir = (config: ServerConfigShape) =>
  Effect.sync(() => {
    if (config.database._tag === "Sqlite" && config.database.filename !== ":memory:") {
      NodeFs.mkdirSync(NodePath.dirname(config.database.filename), { recursive: true })
    }
  })

/** Logger + webhook sink, provided to everything else. */
const observability = (config: ServerConfigShape, processTag?: string) =>
  Logging.layer({ unsafeLogging: config.unsafeLogging, logPath: config.logPath, process: processTag }).pipe(
    Layer.provideMerge(WebhookSink.layer(config.webhooks))
  )

const backend = (config: ServerConfigShape) =>
  Layer.unwrapEffect(
    Effect.as(
      ensureDbDir(config),
      // Backend services + the onion service: what the client routes need.
      Server.servicesLayer({
        url: config.database.url,
        settings: { dev: config.dev, platformTestingEnv: config.platformTestingEnv, unsafeLogging: config.unsafeLogging }
      })
    )
  )

/** Once per deployment start: warnings, start-up edits, print_tables, banner. */
const startup = (config: ServerConfigShape, listening: string) =>
  Layer.effectDiscard(
    logPro(Effect.gen(function*() {
      const sink = yield* WebhookSink
      for (const w of config.warnings) yield* Effect.logWarning(w)
      if (config.setUserErrors.length > 0) yield* Effect.logInfo(yield* Startup.applyUserErrorEdits(config.setUserErrors))
      if (config.setGoogleNotifications.length > 0) {
        yield* Effect.logInfo(yield* Startup.applyGoogleNotificationEdits(config.setGoogleNotifications))
      }
      if (config.printTables) {
        process.stdout.write((yield* Startup.printTables(config.unsafeLogging)) + "\n")
        // print_tables prints every table and exits, as in the reference (but with status 0).
        return yield* Effect.interrupt
      }
      const text = Startup.banner(config, yield* Startup.dbInfo(config), listening)
      yield* Effect.logInfo(text)
      yield* sink.push(`Starting up instance: ${text}`)
    }))
  )

/** Background workers (sweep, backup, reports, outbox depth) and the store platforms' background work. */
const background = (config: ServerConfigShape) =>
  Layer.mergeAll(
    BackgroundWorkers.pipe(
      Layer.provide(Layer.mergeAll(
        Layer.effect(MaintenanceEvents, MaintenanceEvents.make),
        Backup.BackupTarget.fromDatabase(config.database)
      ))
    ),
    Platforms.platformWorkers(config),
    // the outbox only fills when Google is on
    config.google ? OutboxDepthWorker : Layer.empty
  )

/** The HTTP server with the client routes, the ops routes and request metrics; drains on shutdown. */
const http = (config: ServerConfigShape, role: { expectedWorkers: ReadonlyArray<string>; label: string; clustered: boolean }) =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const server = NodeHttp.createServer()
      let inFlight = 0
      const ops = opsRouter({
        expectedWorkers: role.expectedWorkers,
        role: role.label,
        ...(role.clustered ? { metrics: Cluster.workerMetricsSource() } : {})
      })
      // The ops routes and the Apple webhook go in through the app's seam (tried before the client routes).
      const app = Server.makeApp({
        extraRoutes: HttpRouter.concat(ops, Platforms.appleRouter(config)),
        middleware: (inner) => metricsMiddleware(HttpMiddleware.xForwardedHeaders(inner))
      })
      // Built last, released first: stop accepting, wait for in-flight requests, then let the
      // platform remove its handler and the database close.
      const drain = Layer.scopedDiscard(
        Effect.addFinalizer(() =>
          logPro(Effect.gen(function*() {
            yield* Effect.logInfo(`Shutting down: draining ${inFlight} in-flight request(s)`)
            server.close()
            server.closeIdleConnections()
            const deadline = Date.now() + DRAIN_TIMEOUT_MS
            while (inFlight > 0 && Date.now() < deadline) yield* Effect.sleep("20 millis")
            server.closeAllConnections()
          }))
        )
      )
      const serve = HttpServer.serve(app).pipe(
        Layer.provideMerge(NodeHttpServer.layer(() => server, { port: config.port, host: config.host }))
      )
      // Once the platform's handler is registered, one listener takes over "request": it counts
      // in-flight requests (drain), answers POSTs on the client routes + /oxen/v4/lsrpc itself on a
      // prebuilt runtime (Server.clientHandler: same bytes, metrics, body limits and clock), and
      // hands everything else to the platform's handler (ops routes, webhook, /dev/clock, 404s, …).
      const fastPath = Layer.scopedDiscard(
        Effect.gen(function*() {
          yield* HttpServer.HttpServer
          const runtime = yield* Effect.runtime<Server.ClientRuntimeServices>()
          const fast = Server.clientHandler(runtime, {
            observe: (url, method, status, seconds) => Metrics.observeHttp(Metrics.routeLabel(url), method, status, seconds)
          })
          const platform = server.listeners("request") as Array<(req: NodeHttp.IncomingMessage, res: NodeHttp.ServerResponse) => void>
          const listener = (req: NodeHttp.IncomingMessage, res: NodeHttp.ServerResponse) => {
            inFlight++
            res.once("close", () => inFlight--)
            if (fast(req, res)) return
            for (const l of platform) l.call(server, req, res)
          }
          yield* Effect.acquireRelease(
            Effect.sync(() => {
              server.removeAllListeners("request")
              server.on("request", listener)
            }),
            () =>
              Effect.sync(() => {
                server.off("request", listener)
                for (const l of platform) server.on("request", l)
              })
          )
        })
      )
      const served = fastPath.pipe(Layer.provideMerge(serve), Layer.provide(Platforms.appleHttpLayer(config)))
      const announce = Layer.effectDiscard(
        logPro(Effect.gen(function*() {
          const srv = yield* HttpServer.HttpServer
          const a = srv.address
          const where = a._tag === "TcpAddress" ? `http://${a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname}:${a.port}` : a.path
          yield* Effect.logInfo(`Listening on ${where}${role.clustered ? ` (${role.label})` : ""}`)
        }))
      )
      return drain.pipe(Layer.provideMerge(announce), Layer.provideMerge(served))
    })
  )

const allBackgroundWorkers = (config: ServerConfigShape) => [
  ExpirySweepWorker.NAME,
  ...(config.database._tag === "Sqlite" && config.database.filename !== ":memory:" ? [BackupWorker.NAME] : []),
  ...(config.webhooks.length > 0 ? [ReportWorker.NAME] : []),
  // Apple catch-up, Google consumer and acknowledgement outbox, when those platforms are on
  ...Platforms.platformWorkerNames(config)
]

const listenText = (config: ServerConfigShape) =>
  `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${config.port}${
    config.workers > 1 ? ` (${config.workers} worker processes)` : ""
  }`

/** workers = 1: everything in this process. */
const base = (config: ServerConfigShape) =>
  Layer.mergeAll(CoreMaintenance, WorkerHealth.layer, ServerConfig.layer(config)).pipe(Layer.provideMerge(backend(config)))

const single = (config: ServerConfigShape) => {
  const app = Layer.mergeAll(
    background(config),
    http(config, { expectedWorkers: allBackgroundWorkers(config), label: "single process", clustered: false })
  ).pipe(Layer.provide(startup(config, listenText(config))))
  return app.pipe(Layer.provide(base(config)))
}

/** The cluster primary: start-up once, then the workers. */
const primary = (config: ServerConfigShape) =>
  Cluster.primaryLayer(config.workers).pipe(
    Layer.provide(startup(config, listenText(config))),
    Layer.provide(backend(config))
  )

/** A cluster worker: HTTP, plus background work in worker 1. */
const worker = (config: ServerConfigShape, me: Cluster.WorkerIdentity) => {
  const label = `worker ${me.id} of ${me.count}`
  const h = http(config, { expectedWorkers: me.background ? allBackgroundWorkers(config) : [], label, clustered: true })
  return (me.background ? Layer.merge(background(config), h) : h).pipe(Layer.provide(base(config)))
}

const reportConfigProblems = (problems: ReadonlyArray<string>) =>
  Effect.sync(() => {
    process.stderr.write(
      `${formatTime(new Date())} ERROR PRO Failed to start up, invalid configuration (${problems.length} problem${
        problems.length === 1 ? "" : "s"
      }):\n  ${problems.join("\n  ")}\n`
    )
    process.exitCode = 1
  })

const main = Effect.gen(function*() {
  // SIGQUIT stops the server like SIGTERM, as in the reference (runMain handles SIGINT/SIGTERM).
  process.once("SIGQUIT", () => process.kill(process.pid, "SIGTERM"))
  const parsed = loadConfig(process.env)
  if (parsed._tag === "Left") {
    yield* reportConfigProblems(parsed.problems)
    return yield* Effect.fail("invalid configuration" as const)
  }
  const config = parsed.config
  const me = Cluster.identity()
  const role = me ? worker(config, me) : config.workers > 1 ? primary(config) : single(config)
  const withClock = config.fakeClockMs !== undefined ? Layer.provide(role, DevClock.layer(config.fakeClockMs)) : role
  yield* Layer.launch(withClock.pipe(Layer.provide(observability(config, me ? `w${me.id}` : undefined)))).pipe(
    Effect.tapErrorCause((cause) =>
      logPro(Effect.logError("The server stopped with an error", cause)).pipe(
        Effect.provide(observability(config, me ? `w${me.id}` : undefined))
      )
    )
  )
})

NodeRuntime.runMain(main, { disableErrorReporting: true, disablePrettyLogger: true })
