#!/usr/bin/env node
/** The admin CLI binary (`npm run admin -- …`, package bin `session-pro-admin`). */
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { runAdmin } from "../Cli/Main.js"

NodeRuntime.runMain(
  Effect.flatMap(runAdmin(process.argv), (code) => Effect.sync(() => {
    process.exitCode = code
  })),
  { disableErrorReporting: true, disablePrettyLogger: true }
)
