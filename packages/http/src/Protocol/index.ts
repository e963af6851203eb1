/**
 * The client wire protocol, defined once: Python-compatible JSON parsing, the reference's field
 * readers and error texts, per-endpoint request parsers, the Flask `jsonify` serializer and the
 * Schema descriptions of every request/result.
 */
export * as PyJson from "./PyJson.js"
export * as PyFormat from "./PyFormat.js"
export * as Fields from "./Fields.js"
export * as Requests from "./Requests.js"
export * as Wire from "./Wire.js"
export * as Schemas from "./Schemas.js"
