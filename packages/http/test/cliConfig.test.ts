/**
 * The CLI finds the server's database the way the server does (--config / SESH_PRO_BACKEND_* /
 * --db-url), and the real binary runs: `npm run admin -- --help` in a subprocess.
 */
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { resolveDbConfig } from "../src/Cli/CliConfig.js"
import { runCli, sqliteDb, type TestDb, tmpDir } from "./cliHarness.js"

const ROOT = fileURLToPath(new URL("../../..", import.meta.url))

describe("admin CLI configuration", () => {
  let dir: string
  let db: TestDb
  let dbFile: string
  beforeAll(async () => {
    dir = tmpDir()
    db = sqliteDb()
    dbFile = db.url.replace("sqlite:///", "")
    await db.run(Effect.void) // bootstrap the file the way the server would
    NodeFs.copyFileSync(dbFile, NodePath.join(dir, "rel.db"))
  })
  afterAll(async () => {
    await db.cleanup()
    NodeFs.rmSync(dir, { recursive: true, force: true })
  })

  it("--config: [base] db_url relative to the working directory, dev flag from the file", async () => {
    const ini = NodePath.join(dir, "server.ini")
    NodeFs.writeFileSync(ini, "[base]\ndb_url = sqlite:///rel.db\ndev = true\n")
    const r = await runCli(["db", "info", "--config", ini], {}, dir)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`sqlite:///${NodePath.join(dir, "rel.db")}`)
    const c = resolveDbConfig({ config: ini, dbUrl: undefined }, {}, dir)
    expect(c._tag === "Right" && c.value.dev).toBe(true)
  })

  it("the INI path from SESH_PRO_BACKEND_INI_PATH; SESH_PRO_BACKEND_DB_URL overrides the file; --db-url beats both", async () => {
    const ini = NodePath.join(dir, "env.ini")
    NodeFs.writeFileSync(ini, "[base]\ndb_url = sqlite:///missing.db\n")
    let r = await runCli(["db", "info"], { SESH_PRO_BACKEND_INI_PATH: ini }, dir)
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`ERROR: database file ${NodePath.join(dir, "missing.db")} does not exist (from config ${ini}); check --config or --db-url`)
    r = await runCli(["db", "info"], { SESH_PRO_BACKEND_INI_PATH: ini, SESH_PRO_BACKEND_DB_URL: db.url }, dir)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(db.url)
    r = await runCli(["db", "info", "--db-url", "sqlite:///rel.db"], { SESH_PRO_BACKEND_INI_PATH: ini, SESH_PRO_BACKEND_DB_URL: db.url }, dir)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(NodePath.join(dir, "rel.db"))
  })

  it("store sections the CLI does not need never block it; a bad config is one line", async () => {
    const ini = NodePath.join(dir, "apple.ini")
    NodeFs.writeFileSync(ini, `[base]\ndb_url = ${db.url}\nwith_platform_apple = true\n[apple]\nkey_id = x\n`)
    let r = await runCli(["db", "info", "--config", ini], {}, dir)
    expect(r.code, r.stderr).toBe(0)
    const bad = NodePath.join(dir, "bad.ini")
    NodeFs.writeFileSync(bad, "[server]\nport = 1\n")
    r = await runCli(["db", "info", "--config", bad], {}, dir)
    expect(r.code).toBe(1)
    expect(r.stderr.split("\n")).toHaveLength(1)
    expect(r.stderr).toMatch(/^ERROR: invalid configuration: .*\[base\] section is missing/)
    r = await runCli(["db", "info", "--db-url", "mysql://x/y"], {}, dir)
    expect(r.stderr).toMatch(/^ERROR: invalid configuration: .*unsupported scheme "mysql"/)
  })

  it("without any configuration: the server's zero-config default database, which must exist", async () => {
    const r = await runCli(["db", "info"], {}, dir)
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      `ERROR: database file ${NodePath.join(dir, "data/session-pro.db")} does not exist (from default (no --config, --db-url or SESH_PRO_BACKEND_DB_URL)); check --config or --db-url`
    )
  })
})

describe("help", () => {
  const commands = [
    [], ["user-error"], ["user-error", "set"], ["user-error", "delete"], ["google-notification"], ["google-notification", "handle"],
    ["google-notification", "delete"], ["google-notification", "list"], ["revoke"], ["revoke", "list"], ["revoke", "delete"],
    ["revoke", "timestamp"], ["voucher"], ["report"], ["report", "generate"], ["db"], ["db", "info"], ["db", "print"], ["server"],
    ["server", "add-pro-payment"], ["server", "generate-pro-proof"], ["server", "get-pro-details"], ["server", "get-pro-revocations"],
    ["server", "set-payment-refund-requested"]
  ]
  it.each(commands.map((c) => [c.join(" ") || "(root)", c] as const))("%s --help has a description with examples", async (_n, c) => {
    const r = await runCli([...c, "--help"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("DESCRIPTION")
    expect(r.stdout).toContain("Examples:")
    expect(r.stdout).toContain(`session-pro-admin ${c.join(" ")}`)
  })

  it("a group without a subcommand prints its help and exits 1", async () => {
    const r = await runCli(["revoke"])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain("COMMANDS")
    expect(r.stderr).toBe("ERROR: revoke needs a subcommand; see --help")
  })
})

describe("the admin binary (subprocess)", () => {
  it("npm run admin -- --help lists every command", () => {
    const r = spawnSync("npm", ["run", "-s", "admin", "--", "--help"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } })
    expect(r.status, r.stderr).toBe(0)
    for (const c of ["user-error set", "google-notification list", "revoke timestamp", "voucher", "report generate", "db print", "server add-pro-payment"]) {
      expect(r.stdout).toContain(c)
    }
  })

  it("an error is one line on stderr and exit status 1", () => {
    const r = spawnSync("npm", ["run", "-s", "admin", "--", "revoke", "list", "nothex", "--db-url", "sqlite:////nonexistent/x.db"], {
      cwd: ROOT,
      encoding: "utf8"
    })
    expect(r.status).toBe(1)
    expect(r.stderr.trim().split("\n").filter((l) => !l.startsWith("npm warn"))).toEqual([
      "ERROR: database file /nonexistent/x.db does not exist (from --db-url); check --config or --db-url"
    ])
  })
})
