/**
 * Samples the Google acknowledgement outbox depth into the `session_pro_google_ack_outbox_depth`
 * gauge every 30 s, in the background process only (so a cluster's aggregate is not a sum of
 * copies). A failed sample is logged at debug level and the loop carries on.
 */
import { Effect, Layer, Schedule } from "effect"
import * as Metrics from "../Observability/Metrics.js"
import { Maintenance } from "./Maintenance.js"

export const OutboxDepthWorker = Layer.scopedDiscard(
  Effect.gen(function*() {
    const maintenance = yield* Maintenance
    yield* maintenance.outboxDepth.pipe(
      Effect.tap((n) => Effect.sync(() => Metrics.outboxDepth.set(n))),
      Effect.catchAllCause((c) => Effect.logDebug("outbox depth sample failed", c)),
      Effect.repeat(Schedule.spaced("30 seconds")),
      Effect.forkScoped
    )
  })
)
