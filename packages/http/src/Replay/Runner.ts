/**
 * Fixture replay (`fixture_format: 1`): each scenario runs on a fresh in-memory database (or, with
 * `dbUrl`, a fresh PostgreSQL schema) bootstrapped
 * with the fixture's backend seed and gen-index salt, behind the real HTTP app on loopback (client
 * routes + Apple webhook) whose clock is pinned per step. Each step's client-visible expectations
 * are checked, then the DB is compared with the step's `state_after` (Deviations.ts lists the only
 * tolerated differences). One line per step, then `N passed, N failed`.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Backend, fromHex, Inspect, type ProPlan, proPlanFromString } from "@session-pro/core"
import { AppleConfig, AppleNotifications } from "@session-pro/stores"
import { Clock, Context, Effect, Layer, Logger, LogLevel } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as path from "node:path"
import * as AppleWebhook from "../AppleWebhook.js"
import * as OnionRequests from "../OnionRequests/OnionRequests.js"
import { isPgUrl, scratchSchema } from "../PgScratchSchema.js"
import * as Server from "../Server.js"
import { diffSnapshot, toSnapshotValue } from "./Compare.js"
import { corePlugin } from "./CoreSteps.js"
import { type Fixture, load } from "./Fixture.js"
import { googlePlugin } from "./GooglePlugin.js"
import type { ClientRequestHook, HttpReply, PluginInstance, ReplayContext, ReplayPlugin, StepRun } from "./Registry.js"

/** Apple's published SHA-256 fingerprint of Apple Root CA - G3: the only trust anchor a replay accepts. */
export const APPLE_ROOT_CA_G3_SHA256 = "63:34:3A:BF:B8:9A:6A:03:EB:B5:7E:9B:3F:5F:A7:BE:7C:4F:5C:75:6F:30:17:B3:A8:C4:88:C3:65:3E:91:79"

export interface StepLine {
  readonly scenario: string
  readonly index: number
  readonly label: string
  readonly ok: boolean
  readonly problems: ReadonlyArray<string>
}

export interface ReplaySummary {
  readonly passed: number
  readonly failed: number
  readonly lines: ReadonlyArray<StepLine>
}

export interface ReplayOptions {
  /** Extra plugins (after the core and Google ones). */
  readonly plugins?: ReadonlyArray<ReplayPlugin> | undefined
  /** Print Effect logs at this level and above (default: none). */
  readonly logLevel?: LogLevel.LogLevel | undefined
  /** Called with each finished step (the CLI prints it). */
  readonly onStep?: ((line: StepLine) => void) | undefined
  /** `postgresql://…`: run each scenario in a fresh schema of that database (dropped afterwards) instead of in memory. */
  readonly dbUrl?: string | undefined
}

/** A clock the replay sets per step; sleeping still uses real time. */
const settableClock = () => {
  const real = Clock.make()
  let now = 0
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: (d) => real.sleep(d)
  }
  return { clock, set: (ms: number) => void (now = ms), get: () => now }
}

/** Finds `certs/AppleRootCA-G3.cer` next to the fixture (or in ../apple/certs) and checks its fingerprint. */
export const pinnedAppleRoot = (fixtureFile: string): Uint8Array => {
  const dir = path.dirname(path.resolve(fixtureFile))
  const candidates = [path.join(dir, "certs", "AppleRootCA-G3.cer"), path.join(dir, "..", "apple", "certs", "AppleRootCA-G3.cer")]
  const found = candidates.find((p) => fs.existsSync(p))
  if (found === undefined) throw new Error(`Apple Root CA - G3 not found (looked in ${candidates.join(", ")})`)
  const der = AppleConfig.toDer(new Uint8Array(fs.readFileSync(found)))
  const fp = new crypto.X509Certificate(Buffer.from(der)).fingerprint256
  if (fp !== APPLE_ROOT_CA_G3_SHA256) throw new Error(`${found} is not Apple Root CA - G3 (SHA-256 ${fp})`)
  return der
}

/** `config.apple` of a fixture → the notifications config: offline verification at each JWS's signedDate. */
export const appleConfigFor = (fixture: Fixture, file: string): AppleConfig.AppleNotificationsConfig => {
  const a = fixture.config.apple as Record<string, any> | null | undefined
  if (a === null || a === undefined) {
    // Not an Apple scenario: a verifier that trusts nothing (the webhook is mounted but never used).
    return {
      bundleId: "-",
      appAppleId: undefined,
      environment: "Sandbox",
      rootCertificates: [],
      enableOnlineChecks: false,
      productPlans: {},
      retryWindowMs: 0
    }
  }
  const plans: Record<string, ProPlan> = { ...AppleConfig.DEFAULT_PRODUCT_PLANS }
  for (const [id, name] of Object.entries((a.product_id_to_plan ?? {}) as Record<string, string>)) {
    const p = proPlanFromString(name)
    if (p !== undefined) plans[id] = p
  }
  const environment: AppleConfig.AppleEnvironment = a.environment === "Production" ? "Production" : "Sandbox"
  const retries = fixture.steps.flatMap((s) => (typeof s.notification_retry_duration_ms === "number" ? [s.notification_retry_duration_ms] : []))
  return {
    bundleId: String(a.bundle_id),
    appAppleId: typeof a.app_apple_id === "number" ? a.app_apple_id : undefined,
    environment,
    rootCertificates: [pinnedAppleRoot(file)],
    enableOnlineChecks: false,
    // The recorded sandbox transactions carry the retired debug product (fixtures README caveat 1).
    productPlans: { ...plans, ...AppleConfig.FIXTURE_TEST_PRODUCT_PLANS },
    retryWindowMs: retries[0] ?? AppleConfig.defaultRetryWindowMs(environment)
  }
}

const snapshot = Effect.gen(function*() {
  const inspect = yield* Inspect
  const rows = (rs: ReadonlyArray<object>) =>
    rs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, toSnapshotValue(v)])))
  const runtime = yield* inspect.runtime()
  return {
    payments: rows(yield* inspect.payments()),
    users: rows(yield* inspect.users()),
    revocations: rows(yield* inspect.revocations()),
    runtime: rows([runtime])[0],
    user_errors: rows(yield* inspect.userErrors()),
    apple_notification_uuid_history: rows(yield* inspect.appleHistory()),
    google_notification_history: rows(yield* inspect.googleHistory())
  } as Record<string, unknown>
})

const post = (baseUrl: string) => (p: string, body: unknown): Effect.Effect<HttpReply> =>
  Effect.promise(async () => {
    const res = await fetch(`${baseUrl}${p}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body)
    })
    const text = await res.text()
    let json: unknown = undefined
    try {
      json = JSON.parse(text)
    } catch {
      // not JSON (e.g. the webhook's empty 200)
    }
    return { status: res.status, text, json }
  })

/** Replays one scenario file; never fails (a broken file is one failed line). */
export const runFile = (file: string, options: ReplayOptions = {}): Effect.Effect<ReadonlyArray<StepLine>> =>
  Effect.scoped(Effect.gen(function*() {
    const fixture = yield* load(file)
    const scenario = fixture.scenario
    const clock = settableClock()
    const level = options.logLevel ?? LogLevel.None

    const hooks: Array<ClientRequestHook> = []
    const plugins: ReadonlyArray<ReplayPlugin> = [corePlugin(() => hooks), googlePlugin, ...(options.plugins ?? [])]
    const instances: Array<PluginInstance> = []
    for (const p of plugins) {
      const inst = yield* p.setup(fixture)
      if (inst === undefined) continue
      instances.push(inst)
      if (inst.clientRequest) hooks.push(inst.clientRequest)
    }
    const steps: Record<string, StepRun> = {}
    for (const inst of instances) Object.assign(steps, inst.steps ?? {})

    const settings = { platformTestingEnv: fixture.config.platform_testing_env, dev: false, unsafeLogging: false }
    const bootstrap = { backendSeed: fromHex(fixture.keys.runtime.backend_key_seed_hex), salt: fromHex(fixture.keys.runtime.gen_index_salt_hex) }
    const core = isPgUrl(options.dbUrl)
      // A schema of this scenario's own; acquired before the runtime is built, so it is dropped after it closes.
      ? Backend.layer({ url: yield* scratchSchema(options.dbUrl, `replay_${scenario}`), settings, bootstrap })
      : Backend.layerSqlite(":memory:", settings, bootstrap)
    const appleConfig = yield* Effect.try(() => appleConfigFor(fixture, file))
    const extra = instances.flatMap((i) => (i.layer ? [i.layer] : []))
    const services = Layer.mergeAll(AppleNotifications.layer(appleConfig), OnionRequests.layer(), ...extra).pipe(Layer.provideMerge(core))
    // The real app; every request sees the replay clock.
    const app = Server.makeApp({ extraRoutes: AppleWebhook.router, middleware: (a) => Effect.withClock(a, clock.clock) })
    const server = HttpServer.serve(app).pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
    )
    // Plugin layers are typed loosely at the registry boundary; their needs are the core services above.
    const full = server.pipe(Layer.provideMerge(services), Layer.provide(Logger.minimumLogLevel(level))) as Layer.Layer<any, unknown, never>
    const context = yield* Layer.build(full).pipe(Effect.mapError((e) => new Error(`replay runtime for ${scenario}: ${String(e)}`)))
    const address = Context.get(context, HttpServer.HttpServer).address
    const baseUrl = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""

    const provide = <A, E, R>(eff: Effect.Effect<A, E, R>): Effect.Effect<A, E> =>
      eff.pipe(
        Effect.withClock(clock.clock),
        Effect.provide(context as Context.Context<R>),
        Logger.withMinimumLogLevel(level)
      ) as Effect.Effect<A, E>
    const ctx: ReplayContext = { fixture, file, baseUrl, setNow: clock.set, now: clock.get, post: post(baseUrl), provide }

    const lines: Array<StepLine> = []
    for (const step of fixture.steps) {
      const run = steps[step.kind]
      const result = run === undefined
        ? { label: step.kind, problems: [`no replay handler is registered for step kind "${step.kind}"`] }
        : yield* run(step, ctx).pipe(
          Effect.catchAllCause((c) => Effect.succeed({ label: step.kind, problems: [`step crashed: ${String(c).split("\n")[0]}`] }))
        )
      const problems = [...result.problems]
      if (step.state_after !== undefined) {
        const actual = yield* provide(snapshot).pipe(Effect.orDie)
        problems.push(...diffSnapshot(step.state_after, actual).map((d) => `state_after ${d}`))
      }
      const line: StepLine = { scenario, index: step.index, label: result.label, ok: problems.length === 0, problems }
      options.onStep?.(line)
      lines.push(line)
    }
    return lines as ReadonlyArray<StepLine>
  })).pipe(
    Effect.catchAllCause((c) => {
      const line: StepLine = { scenario: file, index: -1, label: "load", ok: false, problems: [String(c).split("\n")[0]!] }
      options.onStep?.(line)
      return Effect.succeed([line] as ReadonlyArray<StepLine>)
    })
  )

export const runFiles = (files: ReadonlyArray<string>, options: ReplayOptions = {}): Effect.Effect<ReplaySummary> =>
  Effect.gen(function*() {
    const lines: Array<StepLine> = []
    for (const f of files) lines.push(...(yield* runFile(f, options)))
    const passed = lines.filter((l) => l.ok).length
    return { passed, failed: lines.length - passed, lines }
  })

export const formatLine = (l: StepLine): string =>
  `${l.ok ? "PASS" : "FAIL"} ${l.scenario} #${l.index} ${l.label}` + (l.ok ? "" : l.problems.map((p) => `\n       ${p}`).join(""))

export const summaryLine = (s: { readonly passed: number; readonly failed: number }) => `${s.passed} passed, ${s.failed} failed`
