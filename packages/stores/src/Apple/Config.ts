/**
 * Configuration of the Apple integration (`[apple]` of the INI; stores.md §2.1).
 *
 * Plain data, so hosts (the http server, the replay runner, tests, embedders) can build it however they
 * like; `fromConfig` reads it through Effect's `Config` (provider-agnostic: INI, env, a map in tests).
 */
import { APPLE_NOTIFICATION_RETRY_MS, ProPlan } from "@session-pro/core"
import { Config, Effect, Option } from "effect"
import * as fs from "node:fs/promises"

export type AppleEnvironment = "Sandbox" | "Production"

export interface AppleNotificationsConfig {
  readonly bundleId: string
  /** Required (and checked) in production; ignored by the library in sandbox. */
  readonly appAppleId: number | undefined
  readonly environment: AppleEnvironment
  /** DER trust anchors (Apple Inc. Root, Apple Root CA - G2, Apple Root CA - G3). */
  readonly rootCertificates: ReadonlyArray<Uint8Array>
  /**
   * OCSP + verification at the current time (the reference's setting). Off: certificate dates are
   * checked at each JWS's own signedDate and no network is used (replays, tests).
   */
  readonly enableOnlineChecks: boolean
  /** productId → plan. Anything else is an error for the notification types that add payments. */
  readonly productPlans: Readonly<Record<string, ProPlan>>
  /** How long a handled notificationUUID is remembered (sandbox 0, production Apple's retry window). */
  readonly retryWindowMs: number
}

/** stores.md §2.4. */
export const DEFAULT_PRODUCT_PLANS: Readonly<Record<string, ProPlan>> = {
  "com.getsession.org.pro_sub_1_month": ProPlan.OneMonth,
  "com.getsession.org.pro_sub_3_months": ProPlan.ThreeMonth,
  "com.getsession.org.pro_sub_12_months": ProPlan.TwelveMonth
}

/**
 * The retired 1-week debug product the recorded sandbox fixtures carry; the reference test rewrote it to
 * the 1-month id before handling. Only for replays/tests: pass it in `extraProductPlans`, never default.
 */
export const FIXTURE_TEST_PRODUCT_PLANS: Readonly<Record<string, ProPlan>> = {
  "com.getsession.org.pro_sub": ProPlan.OneMonth
}

/** Retry window of §2.5/§2.10: 0 in sandbox (UUIDs pruned at the next sweep), 157.5 h in production. */
export const defaultRetryWindowMs = (env: AppleEnvironment): number => (env === "Sandbox" ? 0 : APPLE_NOTIFICATION_RETRY_MS)

/** Accepts DER or PEM ("-----BEGIN CERTIFICATE-----") bytes; returns DER. */
export const toDer = (bytes: Uint8Array): Uint8Array => {
  const text = Buffer.from(bytes).toString("latin1")
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text)
  return m ? new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")) : bytes
}

export const readRootCertificates = (paths: ReadonlyArray<string>) =>
  Effect.forEach(paths, (p) =>
    Effect.tryPromise({
      try: () => fs.readFile(p),
      catch: (e) => new Error(`Failed to read Apple root certificate ${p}: ${String(e)}`)
    }).pipe(Effect.map((b) => toDer(new Uint8Array(b)))))

/** "1M"/"3M"/"12M" or enum names. */
const planOf = (s: string): ProPlan | undefined => {
  switch (s.trim().toUpperCase()) {
    case "1M":
    case "ONEMONTH":
      return ProPlan.OneMonth
    case "3M":
    case "THREEMONTH":
      return ProPlan.ThreeMonth
    case "12M":
    case "TWELVEMONTH":
      return ProPlan.TwelveMonth
  }
  return undefined
}

/** `a=1M,b=3M` → record; used for `[apple] extra_product_plans` (e.g. the fixtures' debug product). */
export const parseProductPlans = (s: string): Record<string, ProPlan> => {
  const out: Record<string, ProPlan> = {}
  for (const item of s.split(",").map((x) => x.trim()).filter((x) => x !== "")) {
    const [id, plan] = item.split("=").map((x) => x.trim())
    const p = plan === undefined ? undefined : planOf(plan)
    if (!id || p === undefined) throw new Error(`Bad product plan mapping "${item}" (expected <productId>=1M|3M|12M)`)
    out[id] = p
  }
  return out
}

/**
 * Reads the `apple` namespace: bundle_id, app_id, sandbox_env, root_cert_path, root_cert_ca_g2_path,
 * root_cert_ca_g3_path, online_checks (default true), extra_product_plans, retry_window_ms.
 */
export const fromConfig = Effect.gen(function*() {
  const c = yield* Config.all({
    bundleId: Config.string("bundle_id"),
    appId: Config.option(Config.integer("app_id")),
    sandbox: Config.withDefault(Config.boolean("sandbox_env"), false),
    roots: Config.all([
      Config.option(Config.string("root_cert_path")),
      Config.option(Config.string("root_cert_ca_g2_path")),
      Config.option(Config.string("root_cert_ca_g3_path"))
    ]),
    onlineChecks: Config.withDefault(Config.boolean("online_checks"), true),
    extra: Config.withDefault(Config.string("extra_product_plans"), ""),
    retryWindowMs: Config.option(Config.integer("retry_window_ms"))
  }).pipe(Config.nested("apple"))
  const environment: AppleEnvironment = c.sandbox ? "Sandbox" : "Production"
  const paths = c.roots.flatMap((o) => (Option.isSome(o) && o.value !== "" ? [o.value] : []))
  const rootCertificates = yield* readRootCertificates(paths)
  const extra = yield* Effect.try(() => parseProductPlans(c.extra))
  const cfg: AppleNotificationsConfig = {
    bundleId: c.bundleId,
    appAppleId: Option.getOrUndefined(c.appId),
    environment,
    rootCertificates,
    enableOnlineChecks: c.onlineChecks,
    productPlans: { ...DEFAULT_PRODUCT_PLANS, ...extra },
    retryWindowMs: Option.getOrElse(c.retryWindowMs, () => defaultRetryWindowMs(environment))
  }
  return cfg
})
