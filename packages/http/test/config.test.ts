import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit } from "effect"
import {
  loadConfig,
  parseConfig,
  parseIni,
  ServerConfig,
  type ParseInput,
  type ServerConfigShape
} from "../src/Config/index.js"

const cwd = "/srv/pro"
const readable = new Set(["/srv/pro/keys/a.p8", "/srv/pro/certs/root.cer", "/srv/pro/certs/g2.cer", "/srv/pro/certs/g3.cer", "/srv/pro/google.json"])
const run = (input: Partial<ParseInput> & { env?: ParseInput["env"] }) =>
  parseConfig({ env: {}, cwd, isReadable: (p) => readable.has(p), ...input })
const ok = (input: Partial<ParseInput>): ServerConfigShape => {
  const r = run(input)
  if (r._tag === "Left") throw new Error(r.problems.join("\n"))
  return r.config
}
const problems = (input: Partial<ParseInput>): ReadonlyArray<string> => {
  const r = run(input)
  if (r._tag === "Right") throw new Error("expected problems")
  return r.problems
}

const NEW_INI = `
; the current generation of keys
[base]
db_url               = sqlite:///data/pro.db
log_path             = logs/pro.log
dev                  = No
unsafe_logging       = off
with_platform_apple  = YES
with_platform_google = 1
platform_testing_env = false
host = 0.0.0.0
port = 9000
workers = 4

[session_webhook.0]
enabled = true
url     = https://hooks.example/a
name    = Ops A

[session_webhook.1]
enabled = false
url     = https://hooks.example/b
name    = Ops B

[apple]
app_id               = 1234567
bundle_id            = com.loki-project.loki-messenger
issuer_id            = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
key_id               = ABCDEFGHIJ
key_path             = keys/a.p8
root_cert_path       = certs/root.cer
root_cert_ca_g2_path = certs/g2.cer
root_cert_ca_g3_path = certs/g3.cer
sandbox_env          = false

[google]
cloud_app_credentials_path = google.json
cloud_project_id           = session-pro
cloud_subscription_name    = session-pro-sub
package_name               = network.loki.messenger
subscription_product_id    = session_pro
`

const OLD_INI = `
# the older generation of keys
[base]
db_path                      = ./old/backend.db
db_path_is_uri               = false
log_path                     =
print_tables                 = false
dev                          = true
with_platform_apple          = true
with_platform_google         = true
platform_testing_environment = true
set_user_errors              = 1:google_token=true, 2:1000000123=false
set_google_notification      = 12345=deleted,8392=handled
session_webhook_url          = https://hooks.example/old
session_webhook_name         = Old hook

[apple]
key_id               = ABCDEFGHIJ
issuer_id            = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
bundle_id            = com.company.app
key_path             = keys/a.p8
root_cert_path       = certs/root.cer
root_cert_ca_g2_path = certs/g2.cer
root_cert_ca_g3_path = certs/g3.cer
sandbox_env          = true
production_app_id    = 42

[google]
package_name                 = com.company.app
project_name                 = company-ABCDE
subscription_name            = session-pro-sub
subscription_product_id      = session_pro
application_credentials_path = google.json
`

describe("INI reader (configparser semantics)", () => {
  it("sections, comments, lower-cased keys, ':' delimiter, continuation, DEFAULT and interpolation", () => {
    const f = parseIni(`
[DEFAULT]
root = /srv
# comment
; another
[base]
Db_Url: sqlite:///%(root)s/x.db
multi = first
  second
pct = 100%%
inline = value   # trailing comment
url = https://x.example/#frag
`)
    expect(f.errors).toEqual([])
    const base = f.sections.get("base")!
    expect(base.get("db_url")).toBe("sqlite:////srv/x.db")
    expect(base.get("multi")).toBe("first\nsecond")
    expect(base.get("pct")).toBe("100%")
    expect(base.get("inline")).toBe("value")
    expect(base.get("url")).toBe("https://x.example/#frag")
    expect(base.get("root")).toBe("/srv")
  })

  it("reports duplicates, lines outside sections and lines without a delimiter", () => {
    const f = parseIni("orphan = 1\n[a]\nx = 1\nx = 2\njunk\n[a]\n", "t.ini")
    expect(f.errors).toEqual([
      't.ini line 1: "orphan = 1" is outside any [section]',
      't.ini line 4: option "x" appears twice in [a]',
      't.ini line 5: "junk" in [a] is not "key = value"',
      "t.ini line 6: section [a] appears twice"
    ])
  })
})

describe("parseConfig: the current generation", () => {
  it("reads every [base], webhook, [apple] and [google] key", () => {
    const c = ok({ ini: NEW_INI, iniPath: "pro.ini" })
    expect(c.database).toEqual({ _tag: "Sqlite", filename: "/srv/pro/data/pro.db", url: "sqlite:////srv/pro/data/pro.db" })
    expect(c.logPath).toBe("/srv/pro/logs/pro.log")
    expect(c).toMatchObject({
      iniPath: "pro.ini",
      dev: false,
      unsafeLogging: false,
      platformTestingEnv: false,
      printTables: false,
      host: "0.0.0.0",
      port: 9000,
      workers: 4,
      webhooks: [{ name: "Ops A", url: "https://hooks.example/a" }]
    })
    expect(c.apple).toEqual({
      appId: 1234567,
      bundleId: "com.loki-project.loki-messenger",
      issuerId: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
      keyId: "ABCDEFGHIJ",
      keyPath: "/srv/pro/keys/a.p8",
      rootCertPath: "/srv/pro/certs/root.cer",
      rootCertCaG2Path: "/srv/pro/certs/g2.cer",
      rootCertCaG3Path: "/srv/pro/certs/g3.cer",
      sandbox: false
    })
    expect(c.google).toEqual({
      credentialsPath: "/srv/pro/google.json",
      projectId: "session-pro",
      subscriptionName: "session-pro-sub",
      packageName: "network.loki.messenger",
      subscriptionProductId: "session_pro"
    })
  })

  it("db_url forms (§10.4)", () => {
    const db = (url: string) => ok({ ini: `[base]\ndb_url = ${url}\n` }).database
    expect(db("sqlite://")).toMatchObject({ filename: ":memory:" })
    expect(db("sqlite:///:memory:")).toMatchObject({ filename: ":memory:" })
    expect(db("sqlite:///rel/path.db")).toMatchObject({ filename: "/srv/pro/rel/path.db" })
    expect(db("sqlite:////abs/path.db?timeout=5")).toMatchObject({ filename: "/abs/path.db" })
    expect(db("postgresql://u:p@h:5432/db")).toEqual({ _tag: "Postgres", url: "postgresql://u:p@h:5432/db" })
    expect(db("postgresql+psycopg2://u@h/db")).toEqual({ _tag: "Postgres", url: "postgresql://u@h/db" })
    expect(problems({ ini: "[base]\ndb_url = mysql://h/db\n" })).toEqual([
      '[base]: db_url "mysql://h/db" uses an unsupported scheme "mysql" (sqlite or postgresql)'
    ])
  })
})

describe("parseConfig: the older generation", () => {
  it("reads db_path, platform_testing_environment, set_* edits, session_webhook_url and the old store keys", () => {
    const c = ok({ ini: OLD_INI })
    expect(c.database).toMatchObject({ _tag: "Sqlite", filename: "/srv/pro/old/backend.db" })
    expect(c.dev).toBe(true)
    expect(c.platformTestingEnv).toBe(true)
    expect(c.logPath).toBeUndefined()
    expect(c.webhooks).toEqual([{ name: "Old hook", url: "https://hooks.example/old" }])
    expect(c.setUserErrors).toEqual([
      { provider: 1, paymentId: "google_token", set: true },
      { provider: 2, paymentId: "1000000123", set: false }
    ])
    expect(c.setGoogleNotifications).toEqual([
      { messageId: "12345", action: "delete" },
      { messageId: "8392", action: "handle" }
    ])
    expect(c.apple).toMatchObject({ appId: 42, sandbox: true })
    expect(c.google).toMatchObject({
      projectId: "company-ABCDE",
      subscriptionName: "session-pro-sub",
      credentialsPath: "/srv/pro/google.json"
    })
  })

  it("db_path_is_uri takes a SQLite file: URI", () => {
    const db = (p: string) => ok({ ini: `[base]\ndev = 1\ndb_path = ${p}\ndb_path_is_uri = true\n` }).database
    expect(db("file:data/pro.db?mode=rwc")).toMatchObject({ filename: "/srv/pro/data/pro.db" })
    expect(db("file:///var/lib/pro.db")).toMatchObject({ filename: "/var/lib/pro.db" })
    expect(db("file:mem?mode=memory&cache=shared")).toMatchObject({ filename: ":memory:" })
    expect(problems({ ini: "[base]\ndb_path = data/pro.db\ndb_path_is_uri = yes\n" })).toEqual([
      '[base]: db_path "data/pro.db" is marked as a URI (db_path_is_uri) but does not start with file:'
    ])
  })

  it("print_tables", () => {
    expect(ok({ ini: "[base]\ndb_path = x.db\nprint_tables = on\n" }).printTables).toBe(true)
    expect(ok({ ini: "[base]\ndb_path = x.db\n", env: { SESH_PRO_BACKEND_PRINT_TABLES: "1" } }).printTables).toBe(true)
  })

  it("old and new keys that agree are accepted", () => {
    const c = ok({
      ini: `[base]
db_url = sqlite:///data/pro.db
db_path = ./data/../data/pro.db
platform_testing_env = true
platform_testing_environment = yes
session_webhook_url = https://hooks.example/a
[session_webhook.0]
enabled = 1
url = https://hooks.example/a
name = A
`
    })
    expect(c.database).toMatchObject({ filename: "/srv/pro/data/pro.db" })
    expect(c.platformTestingEnv).toBe(true)
    expect(c.webhooks).toEqual([{ name: "A", url: "https://hooks.example/a" }])
  })

  it("old and new keys that disagree are named", () => {
    const ps = problems({
      ini: `[base]
db_url = sqlite:///a.db
db_path = b.db
platform_testing_env = true
platform_testing_environment = false
with_platform_apple = true
with_platform_google = true
session_webhook_url = https://hooks.example/old
[session_webhook.0]
enabled = 1
url = https://hooks.example/new
name = New
[apple]
key_id = K
issuer_id = I
bundle_id = B
key_path = keys/a.p8
root_cert_path = certs/root.cer
root_cert_ca_g2_path = certs/g2.cer
root_cert_ca_g3_path = certs/g3.cer
app_id = 1
production_app_id = 2
[google]
cloud_app_credentials_path = google.json
application_credentials_path = other.json
cloud_project_id = p1
project_name = p2
cloud_subscription_name = s1
subscription_name = s2
package_name = pkg
subscription_product_id = prod
`
    })
    expect(ps).toEqual([
      '[base] platform_testing_env (true) and [base] platform_testing_environment (false) disagree; set one of them',
      "[base]: db_path (/srv/pro/b.db) and db_url (/srv/pro/a.db) name different databases; set one of them",
      "[base] session_webhook_url (https://hooks.example/old) disagrees with the [session_webhook.N] sections; keep one generation",
      '[apple] app_id (1) and [apple] production_app_id (2) disagree; set one of them',
      '[google] cloud_app_credentials_path ("google.json") and [google] application_credentials_path ("other.json") disagree; set one of them',
      '[google] cloud_project_id ("p1") and [google] project_name ("p2") disagree; set one of them',
      '[google] cloud_subscription_name ("s1") and [google] subscription_name ("s2") disagree; set one of them'
    ])
  })

  it("the environment's old and new database variables must agree too", () => {
    expect(
      problems({ env: { SESH_PRO_BACKEND_DB_URL: "sqlite:///a.db", SESH_PRO_BACKEND_DB_PATH: "b.db" } })
    ).toEqual([
      "environment: db_path (/srv/pro/b.db) and db_url (/srv/pro/a.db) name different databases; set one of them"
    ])
    expect(
      ok({ env: { SESH_PRO_BACKEND_DB_URL: "sqlite:///a.db", SESH_PRO_BACKEND_DB_PATH: "./a.db" } }).database
    ).toMatchObject({ filename: "/srv/pro/a.db" })
  })
})

describe("parseConfig: environment overrides", () => {
  it("override the INI setting by setting", () => {
    const c = ok({
      ini: NEW_INI,
      env: {
        SESH_PRO_BACKEND_DB_URL: "postgresql://pro@db/pro",
        SESH_PRO_BACKEND_LOG_PATH: "/var/log/pro.log",
        SESH_PRO_BACKEND_DEV: "1",
        SESH_PRO_BACKEND_UNSAFE_LOGGING: "1",
        SESH_PRO_BACKEND_WITH_PLATFORM_APPLE: "0",
        SESH_PRO_BACKEND_WITH_PLATFORM_GOOGLE: "0",
        SESH_PRO_BACKEND_HOST: "::1",
        SESH_PRO_BACKEND_PORT: "0",
        SESH_PRO_BACKEND_WORKERS: "2",
        SESH_PRO_BACKEND_SESSION_WEBHOOK_URL: "https://hooks.example/env",
        SESH_PRO_BACKEND_SESSION_WEBHOOK_NAME: "Env",
        SESH_PRO_BACKEND_SET_USER_ERRORS: "2:77=true",
        SESH_PRO_BACKEND_SET_GOOGLE_NOTIFICATION: "handle 5,6",
        SESH_PRO_BACKEND_FAKE_CLOCK: "2026-01-01T00:00:00Z"
      }
    })
    expect(c).toMatchObject({
      database: { _tag: "Postgres", url: "postgresql://pro@db/pro" },
      logPath: "/var/log/pro.log",
      dev: true,
      unsafeLogging: true,
      apple: undefined,
      google: undefined,
      host: "::1",
      port: 0,
      workers: 2,
      webhooks: [{ name: "Env", url: "https://hooks.example/env" }],
      setUserErrors: [{ provider: 2, paymentId: "77", set: true }],
      setGoogleNotifications: [{ messageId: "5", action: "handle" }, { messageId: "6", action: "handle" }],
      fakeClockMs: Date.UTC(2026, 0, 1)
    })
  })

  it("D4h: SESH_PRO_BACKEND_PLATFORM_TESTING_ENV sets the testing flag and leaves Google alone (FLAG-41 fixed)", () => {
    const c = ok({ ini: "[base]\ndb_path = x.db\n", env: { SESH_PRO_BACKEND_PLATFORM_TESTING_ENV: "1" } })
    expect(c.platformTestingEnv).toBe(true)
    expect(c.google).toBeUndefined()
    const off = ok({
      ini: "[base]\ndb_path = x.db\nplatform_testing_env = true\n",
      env: { SESH_PRO_BACKEND_PLATFORM_TESTING_ENV: "0" }
    })
    expect(off.platformTestingEnv).toBe(false)
  })

  it("zero-config: dev mode on ./data/session-pro.db at 127.0.0.1:8000", () => {
    const c = ok({})
    expect(c).toMatchObject({
      dev: true,
      databaseDefaulted: true,
      database: { _tag: "Sqlite", filename: "/srv/pro/data/session-pro.db" },
      host: "127.0.0.1",
      port: 8000,
      workers: 1
    })
  })

  it("a non-dev deployment must name its database", () => {
    expect(problems({ env: { SESH_PRO_BACKEND_DEV: "0" } })).toEqual([
      "no database configured: set [base] db_url (or db_path), or SESH_PRO_BACKEND_DB_URL"
    ])
    expect(problems({ ini: "[base]\ndb_url =\n" })).toEqual([
      "no database configured: set [base] db_url (or db_path), or SESH_PRO_BACKEND_DB_URL"
    ])
  })

  it("an empty variable counts as unset", () => {
    expect(ok({ ini: "[base]\ndb_path = x.db\nport = 1234\n", env: { SESH_PRO_BACKEND_PORT: "" } }).port).toBe(1234)
  })
})

describe("parseConfig: validation lists every problem (D4h)", () => {
  it("bad values everywhere", () => {
    const ps = problems({
      ini: `[base]
db_url = sqlite:///x.db
dev = maybe
port = 70000
workers = 0
with_platform_apple = true
with_platform_google = true
fake_clock = soon
set_user_errors = 3:abc=true,x:1=true,1:tok=perhaps,nocolon
set_google_notification = abc=handled,12=frobnicate
[session_webhook.0]
url = ftp://x
name = ${"n".repeat(101)}
enabled = on
[session_webhook.1]
enabled = true
[session_webhook.3]
enabled = true
url = https://x
name = skipped
`,
      env: { SESH_PRO_BACKEND_UNSAFE_LOGGING: "2", SESH_PRO_BACKEND_WORKERS: "" }
    })
    expect(ps).toEqual([
      '[base] dev: "maybe" is not a boolean (1/yes/true/on or 0/no/false/off)',
      'SESH_PRO_BACKEND_UNSAFE_LOGGING: "2" is not a boolean (0 or 1)',
      '[base] port: "70000" is not an integer between 0 and 65535',
      '[base] workers: "0" is not an integer between 1 and 256',
      'fake_clock: "soon" is neither a Unix time in ms nor an ISO-8601 date',
      `[session_webhook.0] name is 101 characters; at most 100 are allowed`,
      '[session_webhook.0] url "ftp://x" is not an http(s) URL',
      "[session_webhook.1] is missing 'url'",
      "[session_webhook.1] is missing 'name'",
      "Platform Apple was enabled but the [apple] section is missing",
      "Platform Google was enabled but the [google] section is missing",
      '[base] set_user_errors: provider 3 in "3:abc=true" cannot have user errors (1 = Google, 2 = Apple)',
      '[base] set_user_errors: provider "x" in "x:1=true" is not an integer',
      '[base] set_user_errors: flag "perhaps" in "1:tok=perhaps" is not true or false',
      '[base] set_user_errors: "nocolon" is not <provider>:<payment id>=<true|false>',
      '[base] set_google_notification: message id "abc" is not an integer',
      '[base] set_google_notification: "12=frobnicate" needs =handled or =delete'
    ])
    expect(ps).not.toContain("no database configured: set [base] db_url (or db_path), or SESH_PRO_BACKEND_DB_URL")
  })

  it("missing [base], missing webhook keys, Apple and Google field checks", () => {
    expect(problems({ ini: "[other]\nx = 1\n", iniPath: "p.ini" })).toEqual([
      "[base] section is missing from p.ini",
      "no database configured: set [base] db_url (or db_path), or SESH_PRO_BACKEND_DB_URL"
    ])
    const ps = problems({
      ini: `[base]
db_url = sqlite:///x.db
with_platform_apple = 1
with_platform_google = 1
[session_webhook.0]
name = x
[apple]
key_path = missing.p8
app_id = twelve
[google]
cloud_app_credentials_path = nope.json
`
    })
    expect(ps).toEqual([
      "[session_webhook.0] is missing 'enabled'",
      "[session_webhook.0] is missing 'url'",
      "Platform Apple was enabled but [apple] key_id was not specified",
      "Platform Apple was enabled but [apple] issuer_id was not specified",
      "Platform Apple was enabled but [apple] bundle_id was not specified",
      "Platform Apple was enabled but [apple] root_cert_path was not specified",
      "Platform Apple was enabled but [apple] root_cert_ca_g2_path was not specified",
      "Platform Apple was enabled but [apple] root_cert_ca_g3_path was not specified",
      '[apple] app_id: "twelve" is not an integer between 0 and 9007199254740991',
      'Platform Apple was enabled but [apple] key_path "missing.p8" is not a readable file',
      "Platform Google was enabled but [google] cloud_project_id was not specified",
      "Platform Google was enabled but [google] cloud_subscription_name was not specified",
      "Platform Google was enabled but [google] package_name was not specified",
      "Platform Google was enabled but [google] subscription_product_id was not specified",
      'Platform Google was enabled but [google] cloud_app_credentials_path "nope.json" is not a readable file'
    ])
  })

  it("production Apple needs app_id; sandbox forces the testing flag with a warning", () => {
    const apple = (extra: string) => `[base]\ndb_url = sqlite:///x.db\nwith_platform_apple = 1\n[apple]
key_id = K\nissuer_id = I\nbundle_id = B\nkey_path = keys/a.p8\nroot_cert_path = certs/root.cer
root_cert_ca_g2_path = certs/g2.cer\nroot_cert_ca_g3_path = certs/g3.cer\n${extra}`
    expect(problems({ ini: apple("sandbox_env = false\n") })).toEqual([
      "Platform Apple was enabled in production (sandbox_env = false) but [apple] app_id was not specified"
    ])
    const c = ok({ ini: apple("sandbox_env = true\n") })
    expect(c.platformTestingEnv).toBe(true)
    expect(c.warnings).toEqual(["Platform Apple is in sandbox mode but platform_testing_env was false; forcing it to true"])
  })

  it("enabling a platform only through the environment fails validation", () => {
    expect(problems({ ini: "[base]\ndb_url = sqlite:///x.db\n", env: { SESH_PRO_BACKEND_WITH_PLATFORM_GOOGLE: "1" } })).toEqual([
      "Platform Google was enabled but the [google] section is missing"
    ])
  })

  it("in-memory SQLite cannot be shared by several processes; fake_clock is dev only", () => {
    expect(problems({ ini: "[base]\ndb_url = sqlite://\nworkers = 3\nfake_clock = 1767225600000\n" })).toEqual([
      "workers = 3 needs a database file or PostgreSQL: processes cannot share an in-memory SQLite database",
      "fake_clock is only allowed in dev mode (set dev = true)"
    ])
  })

  it("the remaining messages: URLs, host, old webhook keys, empty ids, interpolation", () => {
    expect(
      problems({
        ini: `[base]
db_url = mysql:/nope
host =
session_webhook_url = gopher://x
session_webhook_name = ${"w".repeat(101)}
set_user_errors = 1:=true
log_path = %(missing)s
`
      })
    ).toEqual([
      "[base] log_path: %(missing)s refers to an option that does not exist",
      '[base]: db_url "mysql:/nope" is not a sqlite:// or postgresql:// URL',
      "no database configured: set [base] db_url (or db_path), or SESH_PRO_BACKEND_DB_URL",
      "[base] host is empty",
      '[base] session_webhook_url "gopher://x" is not an http(s) URL',
      "[base] session_webhook_name is 101 characters; at most 100 are allowed",
      '[base] set_user_errors: "1:=true" has an empty payment id'
    ].filter((p) => !p.startsWith("no database")))
    expect(problems({ ini: "[base]\ndb_url = sqlite://host/x.db\n" })).toEqual([
      '[base]: db_url "sqlite://host/x.db" has a host part; use sqlite:///relative.db or sqlite:////absolute.db'
    ])
    expect(problems({ ini: "[base]\ndb_path = file://remote/x.db\ndb_path_is_uri = 1\n" })).toEqual([
      '[base]: db_path "file://remote/x.db" names a remote host "remote"'
    ])
    expect(problems({ env: { SESH_PRO_BACKEND_DEV: "1", SESH_PRO_BACKEND_SET_GOOGLE_NOTIFICATION: "7" } })).toEqual([
      'SESH_PRO_BACKEND_SET_GOOGLE_NOTIFICATION: "7" needs =handled or =delete'
    ])
  })

  it("ignored webhook sections after a gap are warned about", () => {
    const c = ok({ ini: "[base]\ndb_url = sqlite:///x.db\n[session_webhook.1]\nenabled=1\nurl=https://x\nname=n\n" })
    expect(c.webhooks).toEqual([])
    expect(c.warnings).toEqual(["[session_webhook.1] is ignored: webhook sections must be numbered consecutively from 0"])
  })
})

describe("loading", () => {
  it("a missing INI file is a problem, not a crash", () => {
    const r = loadConfig({ SESH_PRO_BACKEND_INI_PATH: "/nonexistent/pro.ini" })
    expect(r).toEqual({
      _tag: "Left",
      problems: ['INI config file "/nonexistent/pro.ini" (SESH_PRO_BACKEND_INI_PATH) does not exist or is not readable'],
      warnings: []
    })
  })

  it.effect("ServerConfig.layerConfig reads the environment through the ConfigProvider and the INI file it names", () =>
    Effect.gen(function*() {
      const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "pro-config-"))
      const ini = NodePath.join(dir, "pro.ini")
      NodeFs.writeFileSync(ini, "[base]\ndb_url = sqlite:////tmp/pro-config.db\nport = 8123\n")
      const provider = ConfigProvider.fromMap(
        new Map([["SESH_PRO_BACKEND_INI_PATH", ini], ["SESH_PRO_BACKEND_PORT", "8124"]])
      )
      const c = yield* ServerConfig.pipe(
        Effect.provide(ServerConfig.layerConfig),
        Effect.withConfigProvider(provider)
      )
      expect(c.port).toBe(8124)
      expect(c.database).toMatchObject({ filename: "/tmp/pro-config.db" })
      expect(c.iniPath).toBe(ini)

      const bad = yield* Effect.exit(
        ServerConfig.pipe(
          Effect.provide(ServerConfig.layerConfig),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SESH_PRO_BACKEND_DEV", "x"], ["SESH_PRO_BACKEND_PORT", "-1"]])))
        )
      )
      expect(Exit.isFailure(bad)).toBe(true)
      if (Exit.isFailure(bad)) {
        const err = bad.cause._tag === "Fail" ? bad.cause.error : undefined
        expect(err?.problems).toEqual([
          'SESH_PRO_BACKEND_DEV: "x" is not a boolean (0 or 1)',
          'SESH_PRO_BACKEND_PORT: "-1" is not an integer between 0 and 65535'
        ])
        expect(err?.message).toContain("invalid configuration (2 problems)")
      }
    }))
})
