import { Schema } from "effect"

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
