import * as Data from "effect/Data"
import type { Verdict } from "./Verify.js"

/** The server could not be reached, or the onion reply could not be decrypted. */
export class TransportError extends Data.TaggedError("ProClientTransportError")<{
  readonly path: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** An answer that is not a protocol envelope (non-200, HTML page, schema mismatch). */
export class UnexpectedResponse extends Data.TaggedError("ProClientUnexpectedResponse")<{
  readonly path: string
  readonly httpStatus: number
  readonly message: string
  readonly body: string
}> {}

/** The server answered with an error envelope (`status` 1, 2, 100 or 101; protocol.md §1.4). */
export class ServerRejected extends Data.TaggedError("ProClientServerRejected")<{
  readonly path: string
  readonly status: number
  readonly errors: ReadonlyArray<string>
}> {
  override get message() {
    return `${this.path}: status ${this.status}: ${this.errors.join("; ")}`
  }
}

/** A proof the server returned failed verification against the configured backend key. */
export class InvalidProof extends Data.TaggedError("ProClientInvalidProof")<{
  readonly path: string
  readonly verdict: Verdict
}> {
  override get message() {
    return `${this.path}: the returned proof is ${this.verdict.status}: ${this.verdict.reason}`
  }
}

export type ProClientError = TransportError | UnexpectedResponse | ServerRejected | InvalidProof
