/** The client route table (in-process `dispatch`) and Werkzeug-compatible framework pages. */
export * as ClientRoutes from "./ClientRoutes.js"
export * as Pages from "./Pages.js"
