import { DAY_MS, MONTH_MS } from "./Constants.js"
import { PaymentProvider } from "./Enums.js"

/** Smallest multiple of a day that is ≥ t (a boundary stays where it is). */
export const roundUpDay = (t: number): number => Math.floor((t + DAY_MS - 1) / DAY_MS) * DAY_MS
export const roundDownDay = (t: number): number => Math.floor(t / DAY_MS) * DAY_MS

/** Google "days" are 10 s long while `platform_testing_env` is on (§5.13); everything else uses real days. */
export const roundNextDayWithPlatformTesting = (
  provider: PaymentProvider,
  t: number,
  platformTestingEnv: boolean
): number =>
  platformTestingEnv && provider === PaymentProvider.GooglePlayStore
    ? Math.floor((t + 9_999) / 10_000) * 10_000
    : roundUpDay(t)

/** Redemption time: day-rounded, or raw in dev mode (§5.7). */
export const redeemedTimestamp = (now: number, dev: boolean): number => (dev ? now : roundUpDay(now))

/** A proof never lives past the end of the day 30 days from `now`. */
export const clampProofExpiry = (now: number, proposed: number): number =>
  Math.min(roundUpDay(now + MONTH_MS), proposed)

const pad = (n: number, w = 2) => String(n).padStart(w, "0")

/**
 * `"<t> (yy-mm-dd HH:MM:SS.mmm)"` as the reference prints timestamps in messages. The reference uses
 * the server's local timezone; we render UTC so the text is the same on every deployment.
 */
export const readableTimestamp = (t: number): string => {
  const d = new Date(t)
  return `${t} (${pad(d.getUTCFullYear() % 100)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${
    pad(d.getUTCHours())
  }:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)})`
}
