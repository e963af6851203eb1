import { Layer } from "effect"
import { BackupWorker } from "./BackupWorker.js"
import { ExpirySweepWorker } from "./ExpirySweepWorker.js"
import { ReportWorker } from "./ReportWorker.js"

export * from "./BackupRotation.js"
export * as Backup from "./BackupWorker.js"
export * as ExpirySweep from "./ExpirySweepWorker.js"
export * from "./Health.js"
export * from "./Maintenance.js"
export * from "./OutboxDepthWorker.js"
export * as Reports from "./ReportWorker.js"

/**
 * Every background worker. Backup and report workers subscribe before the sweep loop starts, so
 * no day event is missed.
 */
export const BackgroundWorkers = ExpirySweepWorker.pipe(
  Layer.provideMerge(Layer.mergeAll(BackupWorker, ReportWorker))
)
