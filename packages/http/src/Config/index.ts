export * from "./Ini.js"
export * from "./ServerConfig.js"
