/**
 * `SignedDataVerifier` from `@apple/app-store-server-library`, as Effects with typed errors.
 * The library is Promise-based and throws `VerificationException { status }`.
 */
import {
  Environment,
  SignedDataVerifier,
  VerificationException,
  VerificationStatus
} from "@apple/app-store-server-library"
import { Effect, Schema } from "effect"
import type { AppleNotificationsConfig } from "./Config.js"
import { NotificationPayload, RenewalInfo, TransactionInfo } from "./Schemas.js"

/** A payload that is not genuinely Apple's for this app/environment: answer 4xx, store nothing. */
export class AppleVerificationError extends Schema.TaggedError<AppleVerificationError>()("AppleVerificationError", {
  /** `VerificationStatus` name (VERIFICATION_FAILURE, INVALID_APP_IDENTIFIER, …) or MALFORMED. */
  reason: Schema.String,
  /** Which JWS: notification, transaction or renewal. */
  part: Schema.String,
  message: Schema.String
}) {}

/**
 * Verification could not be completed for a reason that may go away (OCSP unreachable:
 * RETRYABLE_VERIFICATION_FAILURE). Answered non-2xx so Apple redelivers.
 */
export class AppleVerificationUnavailable extends Schema.TaggedError<AppleVerificationUnavailable>()(
  "AppleVerificationUnavailable",
  { part: Schema.String, message: Schema.String }
) {}

export type VerifyError = AppleVerificationError | AppleVerificationUnavailable

const statusName = (s: number): string => VerificationStatus[s] ?? `STATUS_${s}`

const libEnvironment = (env: AppleNotificationsConfig["environment"]): Environment =>
  env === "Production" ? Environment.PRODUCTION : Environment.SANDBOX

export interface AppleVerifier {
  readonly notification: (jws: string) => Effect.Effect<NotificationPayload, VerifyError>
  readonly transaction: (jws: string) => Effect.Effect<TransactionInfo, VerifyError>
  readonly renewal: (jws: string) => Effect.Effect<RenewalInfo, VerifyError>
}

/** Throws (synchronously) only for an impossible configuration: production without an app id. */
export const makeVerifier = (config: AppleNotificationsConfig): AppleVerifier => {
  const lib = new SignedDataVerifier(
    config.rootCertificates.map((c) => Buffer.from(c)),
    config.enableOnlineChecks,
    libEnvironment(config.environment),
    config.bundleId,
    config.appAppleId
  )
  const run = <A, I>(part: string, schema: Schema.Schema<A, I>, call: () => Promise<unknown>) =>
    Effect.tryPromise({
      try: call,
      catch: (e): VerifyError => {
        if (e instanceof VerificationException) {
          if (e.status === VerificationStatus.RETRYABLE_VERIFICATION_FAILURE) {
            return new AppleVerificationUnavailable({ part, message: `${part} JWS: ${String(e.cause ?? "OCSP unavailable")}` })
          }
          return new AppleVerificationError({
            reason: statusName(e.status),
            part,
            message: `${part} JWS failed verification: ${statusName(e.status)}${e.cause ? ` (${e.cause.message})` : ""}`
          })
        }
        return new AppleVerificationError({ reason: "FAILURE", part, message: `${part} JWS failed verification: ${String(e)}` })
      }
    }).pipe(
      Effect.flatMap((decoded) =>
        Schema.decodeUnknown(schema)(decoded).pipe(
          Effect.mapError((pe) =>
            new AppleVerificationError({ reason: "MALFORMED", part, message: `${part} JWS has an unexpected shape: ${pe.message}` })
          )
        )
      )
    )
  return {
    notification: (jws) => run("notification", NotificationPayload, () => lib.verifyAndDecodeNotification(jws)),
    transaction: (jws) => run("transaction", TransactionInfo, () => lib.verifyAndDecodeTransaction(jws)),
    renewal: (jws) => run("renewal", RenewalInfo, () => lib.verifyAndDecodeRenewalInfo(jws))
  }
}
