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
  // None needed for the recorded Apple fixtures: every column of every step matches the reference.
]

export const deviationFor = (table: string, column: string): Deviation | undefined =>
  DEVIATIONS.find((d) => d.table === table && d.column === column)

/** Fields of the snapshots that are not schema columns. */
export const NOT_COLUMNS = new Set(["status_name", "plan_name", "payment_provider_name"])
