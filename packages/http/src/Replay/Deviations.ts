/**
 * The one place where replayed DB state may deliberately differ from the reference's recorded
 * snapshots (README D4). Each entry names the decision; the comparison ignores exactly these columns
 * (or applies the stated rule) and nothing else. Schema v9 columns only: the `*_name` helper fields
 * of the snapshots are not columns and are skipped.
 */
export interface Deviation {
  readonly table: string
  readonly column: string
  readonly decision: string
  readonly why: string
  /** true when `actual` is acceptable for `expected` (default: ignore the column). */
  readonly accept?: (expected: unknown, actual: unknown) => boolean
}

export const DEVIATIONS: ReadonlyArray<Deviation> = [
  // None is needed for the recorded fixtures (3 Apple, 9 Google scenarios): every schema v9 column of
  // every step matches the reference. D4 decisions that WOULD show up here if a recording exercised
  // them (none does, see fixtures/README "Not covered"):
  //  - D4f grace: payments/users.grace_period_duration_ms = gracePeriodExpiresDate − expiresDate
  //    (reference stores the absolute timestamp, FLAG-29) on DID_FAIL_TO_RENEW/GRACE_PERIOD;
  //  - D4f OFFER_REDEEMED / REFUND_DECLINED / REFUND_REVERSED act (reference: no effect or 500);
  //  - D4f Apple TEST and notifications without renewal info answer 200 and add a
  //    apple_notification_uuid_history row (reference: 500, no row);
  //  - D4e revocations.expiry_unix_ts_ms never earlier than the proofs it revokes (FLAG-1), and a
  //    repeated revoke is a no-op (FLAG-2/7);
  //  - D4g users pruned with NOT EXISTS (FLAG-6), changing the sweep's `users` count and users rows.
]

export const deviationFor = (table: string, column: string): Deviation | undefined =>
  DEVIATIONS.find((d) => d.table === table && d.column === column)

/** Fields of the snapshots that are not schema columns. */
export const NOT_COLUMNS = new Set(["status_name", "plan_name", "payment_provider_name"])
