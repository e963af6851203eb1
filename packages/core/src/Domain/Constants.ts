/** Fixed durations and limits of the v0 protocol (all times are integer milliseconds, UTC). */
export const SECONDS_IN_DAY = 86_400
export const DAY_MS = 86_400_000
/** The reference's "month" is always 30 days. */
export const MONTH_MS = 30 * DAY_MS
export const YEAR_MS = 365 * DAY_MS

export const DEFAULT_APPLE_GRACE_PERIOD_MS = 3_600_000
export const DEFAULT_GOOGLE_GRACE_PERIOD_MS = 3_600_000
/** Google's default grace when `platform_testing_env` is on (license-test periods are compressed). */
export const TESTING_GOOGLE_GRACE_PERIOD_MS = 10_000
export const DEV_AUTO_RENEWING_GRACE_MS = 60_000

export const TIMESTAMP_TOLERANCE_MS = 70_000
export const REVOCATION_RETRY_IN_S = 86_400
export const REVOCATION_EFFECTIVE_DELAY_MS = DAY_MS
export const GOOGLE_REFUND_WINDOW_MS = 2 * DAY_MS
export const GOOGLE_NOTIFICATION_RETENTION_MS = 8 * DAY_MS
/** Apple retries for 1+12+24+48+72 hours after the first attempt; plus 30 min slack (FLAG-27 fixed: hours). */
export const APPLE_NOTIFICATION_RETRY_MS = (1 + 12 + 24 + 48 + 72) * 3_600_000 + 30 * 60_000
export const AUTO_REDEEM_GOOGLE_HOLD_WINDOW_MS = 60 * DAY_MS
/** Entitlement lookup considers only the newest 20 payments of a user (§5.9). */
export const ENTITLEMENT_LOOKUP_WINDOW = 20
export const DEV_DEFAULT_DURATION_MS = DAY_MS
export const SCHEMA_VERSION_REFERENCE = 9

/** 32 × 0xCD: the deterministic dev-mode backend seed. */
export const DEV_BACKEND_SEED: Uint8Array = new Uint8Array(32).fill(0xcd)
