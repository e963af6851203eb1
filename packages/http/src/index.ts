/**
 * `@session-pro/http`: the HTTP adapter.
 *
 *   Protocol        wire protocol (Python-compatible JSON parsing, error texts, Flask jsonify, Schemas)
 *   ClientRoutes    the route table; `ClientRoutes.dispatch({ method, path, headers, body })` in-process
 *   Server          `makeApp` / `layer` / `servicesLayer` on NodeHttpServer, `/healthz`
 *   OnionRequests   `/oxen/v4/lsrpc` codec, handler and client
 *   Conformance     the `http_exchanges` replay runner (`npm run conformance -- <vectors.json>`)
 */
export * as OnionRequests from "./OnionRequests/index.js"
export * as Protocol from "./Protocol/index.js"
export * as ClientRoutes from "./Routes/ClientRoutes.js"
export * as Pages from "./Routes/Pages.js"
export * as Server from "./Server.js"
export * as Conformance from "./Conformance/Runner.js"
