/**
 * `fixture_format: 1` scenario files (test-vectors/fixtures/README.md). Decoded loosely: the runner
 * needs the envelope (config, keys, steps with `kind`); each step kind reads its own fields.
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs/promises"

const Rec = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const Snapshot = Schema.Struct({
  payments: Schema.optional(Schema.Array(Rec)),
  users: Schema.optional(Schema.Array(Rec)),
  revocations: Schema.optional(Schema.Array(Rec)),
  runtime: Schema.optional(Rec),
  user_errors: Schema.optional(Schema.Array(Rec)),
  apple_notification_uuid_history: Schema.optional(Schema.Array(Rec)),
  google_notification_history: Schema.optional(Schema.Array(Rec))
})
export type Snapshot = typeof Snapshot.Type

export const FixtureStep = Schema.Struct(
  {
    index: Schema.Number,
    kind: Schema.String,
    state_after: Schema.optional(Snapshot),
    expect: Schema.optional(Schema.Unknown)
  },
  Rec
)
export type FixtureStep = typeof FixtureStep.Type

export const Fixture = Schema.Struct({
  fixture_format: Schema.Literal(1),
  scenario: Schema.String,
  description: Schema.optional(Schema.String),
  config: Schema.Struct(
    {
      platform_testing_env: Schema.Boolean,
      apple: Schema.optional(Schema.NullOr(Rec)),
      google: Schema.optional(Schema.NullOr(Rec))
    },
    Rec
  ),
  keys: Schema.Struct(
    {
      runtime: Schema.Struct({
        backend_key_seed_hex: Schema.String,
        gen_index_salt_hex: Schema.String
      }, Rec)
    },
    Rec
  ),
  initial_state: Schema.optional(Snapshot),
  steps: Schema.Array(FixtureStep),
  final_state: Schema.optional(Snapshot)
}, Rec)
export type Fixture = typeof Fixture.Type

export class FixtureError extends Schema.TaggedError<FixtureError>()("FixtureError", { message: Schema.String }) {}

export const load = (file: string) =>
  Effect.tryPromise({ try: () => fs.readFile(file, "utf8"), catch: (e) => new FixtureError({ message: `${file}: ${String(e)}` }) }).pipe(
    Effect.flatMap((text) =>
      Schema.decodeUnknown(Schema.parseJson(Fixture))(text).pipe(
        Effect.mapError((e) => new FixtureError({ message: `${file}: not a fixture_format 1 file: ${e.message}` }))
      )
    )
  )
