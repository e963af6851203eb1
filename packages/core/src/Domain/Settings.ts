import { Context, Layer } from "effect"

export interface BackendSettingsShape {
  /** Dev mode (§5.14): dev seed on a fresh DB, raw redeemed timestamps, `DEV.` fake payments. */
  readonly dev: boolean
  /** §5.13: Google "days" are 10 s; default Google grace 10 s. */
  readonly platformTestingEnv: boolean
  /** Print identifiers unmasked in messages and logs. */
  readonly unsafeLogging: boolean
}

/** How this deployment behaves. Provided by the host (http reads config; tests set it). */
export class BackendSettings extends Context.Tag("@session-pro/core/BackendSettings")<
  BackendSettings,
  BackendSettingsShape
>() {
  static readonly defaults: BackendSettingsShape = { dev: false, platformTestingEnv: false, unsafeLogging: false }
  static layer(s?: Partial<BackendSettingsShape>): Layer.Layer<BackendSettings> {
    return Layer.succeed(BackendSettings, { ...BackendSettings.defaults, ...s })
  }
}
