import { Effect, Schema } from "effect"

/** A client request refused: `status`/`errors` go straight into the wire envelope (protocol.md §1.3). */
export class RequestRejected extends Schema.TaggedError<RequestRejected>()("RequestRejected", {
  status: Schema.Literal(1, 2, 100, 101),
  errors: Schema.Array(Schema.String)
}) {}

/** A store/admin operation refused (unknown payment, bad ids, …). */
export class PaymentError extends Schema.TaggedError<PaymentError>()("PaymentError", {
  message: Schema.String
}) {}

/** The database failed. Hosts answer with a generic error (HTTP) or retry (stores). */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** D4b: a value the wire format cannot encode (e.g. an integer out of u8/u32/u64 range) is a parse error, never a crash. */
export const encodeOrReject = <A>(f: () => A): Effect.Effect<A, RequestRejected> =>
  Effect.try({
    try: f,
    catch: (e) => new RequestRejected({ status: 2, errors: [`Value out of range for the signed message: ${e instanceof Error ? e.message : String(e)}`] })
  })
