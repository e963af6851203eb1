export * from "./Google/index.js"
export * from "./Apple/index.js"
