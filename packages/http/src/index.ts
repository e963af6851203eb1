export * as OnionRequests from "./OnionRequests/index.js"
