/**
 * The admin commands that work on the server's database (domain.md §12.1–§12.12), with D4i: the
 * commands that crash in the reference (`revoke list`, `revoke timestamp --dry-run`) work.
 * Reads that are pure presentation (listings, db info/print) query the schema directly; reports are
 * the core's (Reports, FLAG-4 fixed there);
 * every change goes through the core's operations.
 */
import { Args, Command, Options } from "@effect/cli"
import { SqlClient } from "@effect/sql"
import {
  BackendKeys,
  Database,
  Ed25519,
  GoogleNotificationHistory,
  hex,
  paymentStatusName,
  Payments,
  proPlanFromCli,
  type ReportPeriod,
  Reports,
  readableTimestamp,
  Revocations,
  UserErrors
} from "@session-pro/core"
import { Clock, Console, Context, Effect, Option } from "effect"
import * as NodeFs from "node:fs"
import { describeTarget } from "./CliConfig.js"
import { cliError } from "./Errors.js"
import { boxTable, bytes, formatSize, nn, num, parseKeyHex, planShort, providerName, renderCell } from "./Format.js"
import { dbOptions, dryRunOption, help, withDatabase } from "./Runtime.js"

const fail = (message: string) => Effect.fail(cliError(message))
const keyArg = (name: string) => Args.text({ name }).pipe(Args.withDescription("Master public key, 64 hex characters (0x prefix allowed)"))
const parseKey = (label: string, text: string) => {
  const k = parseKeyHex(label, text)
  return typeof k === "string" ? fail(k) : Effect.succeed(k)
}
const parseMaster = (text: string) => parseKey("master public key", text)
const dbBlob = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

// ---------------------------------------------------------------------------------------------
// user-error set|delete (§12.2, §12.3)

interface UserErrorItem {
  readonly provider: number
  readonly paymentId: string
  readonly flag: boolean
}

/** Parses every item before anything changes; the first bad item is the error. */
export const parseUserErrorItems = (text: string, withFlag: boolean): Array<UserErrorItem> | string => {
  const items: Array<UserErrorItem> = []
  for (const raw of text.split(",")) {
    const item = raw.trim()
    if (item === "") continue
    const colon = item.indexOf(":")
    const eq = withFlag ? item.lastIndexOf("=") : item.length
    if (colon < 0 || (withFlag && eq < colon)) {
      return `"${item}" is not ${withFlag ? "<provider>:<payment id>=<true|false>" : "<provider>:<payment id>"}`
    }
    const provText = item.slice(0, colon).trim()
    if (!/^\d+$/.test(provText)) return `provider "${provText}" in "${item}" is not an integer`
    const provider = Number(provText)
    const paymentId = item.slice(colon + 1, eq).trim()
    if (paymentId === "") return `"${item}" has an empty payment id`
    let flag = false
    if (withFlag) {
      const f = item.slice(eq + 1).trim().toLowerCase()
      if (f !== "true" && f !== "false") return `flag "${item.slice(eq + 1).trim()}" in "${item}" is not true or false`
      flag = f === "true"
      // The reference asserts here (a crash); user errors exist only for Google (1) and Apple (2).
      if (provider !== 1 && provider !== 2) return `provider ${provider} in "${item}" cannot have user errors (1 = Google, 2 = Apple)`
    }
    items.push({ provider, paymentId, flag })
  }
  return items
}

/** One item's outcome: the suffix shown after it and whether it counts as done. */
type ItemOutcome = readonly [suffix: string, counted: boolean]

/** Clears one user error in its own transaction. */
const deleteUserError = (ue: Context.Tag.Service<typeof UserErrors>, it: UserErrorItem) =>
  Effect.map(
    Database.transaction(ue.delete({ provider: it.provider as 1 | 2, paymentId: it.paymentId })),
    (deleted): ItemOutcome => (deleted ? [" (deleted)", true] : [" (skipped - not found)", false])
  )

/** The user-error subcommands' run: parse, apply each item (nothing on a dry run), print the summary. */
const runUserErrorItems = <E, R>(
  o: { readonly items: string; readonly dryRun: boolean },
  withFlag: boolean,
  summary: string,
  label: (it: UserErrorItem) => string,
  apply: (ue: Context.Tag.Service<typeof UserErrors>, it: UserErrorItem) => Effect.Effect<ItemOutcome, E, R>
) =>
  Effect.gen(function*() {
    const items = parseUserErrorItems(o.items, withFlag)
    if (typeof items === "string") return yield* fail(items)
    if (items.length === 0) return yield* Console.log("No items to process")
    const ue = yield* UserErrors
    const lines: Array<string> = []
    let count = 0
    for (const [i, it] of items.entries()) {
      const [suffix, counted]: ItemOutcome = o.dryRun ? [" (dry-run)", true] : yield* apply(ue, it)
      if (counted) count++
      lines.push(`  ${nn(i)} ${label(it)}${suffix}`)
    }
    yield* Console.log([`${summary} ${count}/${items.length} user errors`, ...lines].join("\n"))
  })

const userErrorSet = Command.make(
  "set",
  { ...dbOptions, dryRun: dryRunOption, items: Args.text({ name: "items" }).pipe(Args.withDescription('"<provider>:<payment id>=<true|false>[,…]"; provider 1 = Google (purchase token), 2 = Apple (original transaction id)')) },
  (o) =>
    withDatabase(o, () =>
      runUserErrorItems(o, true, "Set", (it) => `${it.provider}:${it.paymentId} = ${it.flag ? "True" : "False"}`, (ue, it) =>
        it.flag
          ? Effect.map(
            Database.transaction(Effect.gen(function*() {
              const provider = it.provider as 1 | 2
              if (yield* ue.has({ provider, paymentId: it.paymentId })) return false
              yield* ue.add({ provider, paymentId: it.paymentId, unixTsMs: yield* Clock.currentTimeMillis })
              return true
            })),
            (added): ItemOutcome => (added ? [" (added)", true] : [" (skipped - already exists)", false])
          )
          : deleteUserError(ue, it))
    )
).pipe(
  Command.withDescription(
    help(
      "Flag (true) or clear (false) user errors: payments the client should tell the user about (get_pro_details error_report). Each item is its own transaction.",
      [
        'session-pro-admin user-error set "1:google-purchase-token=true" --config server.ini',
        'session-pro-admin user-error set "2:2000000123456789=false,1:tok=true" --dry-run'
      ]
    )
  )
)

const userErrorDelete = Command.make(
  "delete",
  { ...dbOptions, dryRun: dryRunOption, items: Args.text({ name: "items" }).pipe(Args.withDescription('"<provider>:<payment id>[,…]"')) },
  (o) =>
    withDatabase(o, () =>
      runUserErrorItems(o, false, "Deleted", (it) => `${it.provider}:${it.paymentId}`, deleteUserError)
    )
).pipe(
  Command.withDescription(
    help("Delete user errors by provider and payment id (any integer provider).", [
      'session-pro-admin user-error delete "1:google-purchase-token,2:2000000123456789" --config server.ini'
    ])
  )
)

const userError = Command.make("user-error").pipe(
  Command.withDescription(
    help("Set or delete user errors: payments the backend failed to book-keep, reported to the client as error_report (domain.md §9).", [
      'session-pro-admin user-error set "1:<google purchase token>=true" --config server.ini',
      'session-pro-admin user-error delete "2:<apple original tx id>" --config server.ini'
    ])
  ),
  Command.withSubcommands([userErrorSet, userErrorDelete])
)

// ---------------------------------------------------------------------------------------------
// google-notification handle|delete|list (§12.4–§12.6)

const parseMessageIds = (text: string): Array<string> | string => {
  const ids: Array<string> = []
  for (const raw of text.split(",")) {
    const id = raw.trim()
    if (id === "") continue
    if (!/^\d+$/.test(id)) return `message id "${id}" is not an integer`
    ids.push(id)
  }
  return ids
}

const googleMark = (action: "handle" | "delete") =>
  Command.make(
    action,
    { ...dbOptions, dryRun: dryRunOption, ids: Args.text({ name: "message-ids" }).pipe(Args.withDescription('"<message id>[,…]" (Pub/Sub message ids)')) },
    (o) =>
      withDatabase(o, () =>
        Effect.gen(function*() {
          const ids = parseMessageIds(o.ids)
          if (typeof ids === "string") return yield* fail(ids)
          const history = yield* GoogleNotificationHistory
          const lines: Array<string> = []
          let count = 0
          for (const [i, id] of ids.entries()) {
            let suffix = ""
            if (o.dryRun) {
              suffix = " (dry-run)"
              count++
            } else {
              const hit = yield* Database.transaction(history.setHandled(id, { delete: action === "delete" }))
              if (hit) count++
              else suffix = " (skipped - not found)"
            }
            lines.push(`  ${nn(i)} ${id} = ${action === "handle" ? "Handled" : "Delete"}${suffix}`)
          }
          const header = action === "handle"
            ? `Marked ${count}/${ids.length} google notifications as handled`
            : `Deleted ${count}/${ids.length} google notifications`
          yield* Console.log([header, ...lines].join("\n"))
        })
      )
  ).pipe(
    Command.withDescription(
      help(
        action === "handle"
          ? "Mark unhandled Google notifications as handled (their payload is dropped; the daily sweep prunes them)."
          : "Delete Google notifications from the history outright.",
        [`session-pro-admin google-notification ${action} "1234567890123456,1234567890123457" --config server.ini`]
      )
    )
  )

const googleList = Command.make("list", { ...dbOptions }, (o) =>
  withDatabase(o, () =>
    Effect.gen(function*() {
      const history = yield* GoogleNotificationHistory
      const rows = yield* history.unhandled()
      if (rows.length === 0) return yield* Console.log("No unhandled google notifications")
      yield* Console.log(
        [
          `Found ${rows.length} unhandled google notifications:`,
          ...rows.map((r, i) => `  ${nn(i)} message_id=${r.messageId}, expiry=${readableTimestamp(num(r.expiry))}`)
        ].join("\n")
      )
    })
  )).pipe(
    Command.withDescription(
      help("List the Google notifications that have not been handled yet.", ["session-pro-admin google-notification list --config server.ini"])
    )
  )

const googleNotification = Command.make("google-notification").pipe(
  Command.withDescription(
    help("Inspect and resolve the Google Play notification history (domain.md §8.3).", [
      "session-pro-admin google-notification list --config server.ini",
      'session-pro-admin google-notification handle "1234567890123456" --config server.ini'
    ])
  ),
  Command.withSubcommands([googleMark("handle"), googleMark("delete"), googleList])
)

// ---------------------------------------------------------------------------------------------
// revoke list|delete|timestamp (§12.7–§12.9, FLAG-43/44 fixed)

const revokeList = Command.make("list", { ...dbOptions, master: keyArg("master-pkey") }, (o) =>
  withDatabase(o, () =>
    Effect.gen(function*() {
      const master = yield* parseMaster(o.master)
      const sql = yield* SqlClient.SqlClient
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql<Record<string, unknown>>`SELECT id, status, plan, payment_provider, unredeemed_unix_ts_ms,
        expiry_unix_ts_ms, google_payment_token, google_order_id, apple_original_tx_id, rangeproof_order_id
        FROM payments WHERE master_pkey = ${dbBlob(master)} ORDER BY id`
      const live = rows.filter((r) => num(r.status) !== 3 && num(r.expiry_unix_ts_ms) > now)
      const lines = live.map((r, i) => {
        const p = num(r.payment_provider)
        const id = p === 1 ? `${r.google_payment_token}-${r.google_order_id}` : p === 2 ? String(r.apple_original_tx_id) : String(r.rangeproof_order_id)
        return `    ${nn(i)} RevokeID=${providerName(p)}-${id}; Status=${paymentStatusName(num(r.status))}; Plan=${planShort(num(r.plan))}; Unredeemed=${
          readableTimestamp(num(r.unredeemed_unix_ts_ms))
        }; Expiry=${readableTimestamp(num(r.expiry_unix_ts_ms))};`
      })
      yield* Console.log([`User ${o.master} has ${live.length} revocable payments`, ...lines].join("\n"))
    })
  )).pipe(
    Command.withDescription(
      help("List a user's payments that can still be revoked (not expired).", [
        "session-pro-admin revoke list 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c --config server.ini"
      ])
    )
  )

const revokeDelete = Command.make("delete", { ...dbOptions, dryRun: dryRunOption, master: keyArg("master-pkey") }, (o) =>
  withDatabase(o, () =>
    Effect.gen(function*() {
      const master = yield* parseMaster(o.master)
      if (o.dryRun) return yield* Console.log(`(DRY RUN) Would delete revocation for ${o.master}`)
      const result = yield* (yield* Revocations).deleteForMaster(master)
      yield* Console.log(`Deleted revocation for ${o.master} (${result.toLowerCase()})`)
    })
  )).pipe(
    Command.withDescription(
      help(
        "Delete the revocation of a user's current generation index (clients drop it on their next sync: the ticket rises).",
        ["session-pro-admin revoke delete 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c --config server.ini"]
      )
    )
  )

const revokeTimestamp = Command.make(
  "timestamp",
  {
    ...dbOptions,
    dryRun: dryRunOption,
    creation: Options.integer("creation-unix-ts-s").pipe(
      Options.withDescription("When the revocation was made, Unix seconds (default: now); it takes effect at most a day later"),
      Options.optional
    ),
    master: keyArg("master-pkey"),
    expiry: Args.integer({ name: "expiry-unix-ts-s" }).pipe(Args.withDescription("Until when the revocation is published, Unix seconds"))
  },
  (o) =>
    withDatabase(o, () =>
      Effect.gen(function*() {
        const master = yield* parseMaster(o.master)
        const now = yield* Clock.currentTimeMillis
        const creationMs = Option.match(o.creation, { onNone: () => now, onSome: (s) => s * 1000 })
        const expiryMs = o.expiry * 1000
        if (creationMs < 0 || expiryMs < 0) return yield* fail("timestamps must not be negative")
        const span = `${readableTimestamp(creationMs)} to ${readableTimestamp(expiryMs)}`
        // FLAG-44 fixed: the dry run prints what it would do instead of crashing.
        if (o.dryRun) return yield* Console.log(`(DRY RUN) Would set revocation for ${o.master} to ${span}`)
        const result = yield* (yield* Revocations).setForMaster(master, { creationUnixTsMs: creationMs, expiryUnixTsMs: expiryMs })
        yield* Console.log(`Set revocation for ${o.master} to ${span} (${result.toLowerCase()})`)
      })
    )
).pipe(
  Command.withDescription(
    help(
      "Revoke (or re-time the revocation of) a user's current generation index: every proof issued under it is listed as revoked until the expiry. Times are Unix seconds. The generation index does not change; the revocation ticket rises.",
      [
        "session-pro-admin revoke timestamp 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c 1767323145 --config server.ini",
        "session-pro-admin revoke timestamp --creation-unix-ts-s 1767237945 <master hex> 1767323145 --dry-run"
      ]
    )
  )
)

const revoke = Command.make("revoke").pipe(
  Command.withDescription(
    help("List a user's revocable payments; set or delete the revocation of the user's generation index (domain.md §6.10).", [
      "session-pro-admin revoke list <master hex> --config server.ini",
      "session-pro-admin revoke timestamp <master hex> <expiry unix s> --config server.ini",
      "session-pro-admin revoke delete <master hex> --config server.ini"
    ])
  ),
  Command.withSubcommands([revokeList, revokeDelete, revokeTimestamp])
)

// ---------------------------------------------------------------------------------------------
// voucher (§12.1)

const voucher = Command.make(
  "voucher",
  {
    ...dbOptions,
    dryRun: dryRunOption,
    master: Options.text("master-pkey").pipe(Options.withDescription("The user's master public key, 64 hex (0x allowed)")),
    plan: Options.choice("plan", ["1M", "3M", "12M"]).pipe(Options.withDescription("1M = 30 days, 3M = 90 days, 12M = 365 days")),
    rotating: Options.text("rotating-pkey").pipe(
      Options.withDescription("Rotating public key for the first proof (default: a throwaway key pair, printed)"),
      Options.optional
    ),
    devDurationMs: Options.integer("dev-duration-ms").pipe(
      Options.withDescription("Override the plan's duration in ms (0 = unset); for testing"),
      Options.optional
    )
  },
  (o) =>
    withDatabase(o, () =>
      Effect.gen(function*() {
        const master = yield* parseMaster(o.master)
        const plan = proPlanFromCli(o.plan)!
        const rotating = Option.isSome(o.rotating) ? yield* parseKey("rotating public key", o.rotating.value) : undefined
        const durationMs = Option.getOrUndefined(Option.filter(o.devDurationMs, (n) => n !== 0))
        if (durationMs !== undefined && durationMs < 0) return yield* fail("--dev-duration-ms must be positive")
        if (o.dryRun) {
          return yield* Console.log(
            `(DRY RUN) Would grant a ${o.plan} Rangeproof voucher${durationMs !== undefined ? ` of ${durationMs} ms` : ""} to ${hex(master)}`
          )
        }
        const payments = yield* Payments
        yield* Console.log(`Step 1: Creating an unredeemed Rangeproof payment (plan ${o.plan}) and redeeming it for ${hex(master)}`)
        const r = yield* payments.redeemVoucher({ masterPkey: master, plan, rotatingPkey: rotating, durationMs })
        yield* Console.log(`  Order ID: ${r.orderId}`)
        if (r.rotatingSeed) {
          yield* Console.log(`  Generated rotating secret key: ${hex(r.rotatingSeed)}`)
          yield* Console.log(`  Generated rotating public key: ${hex(r.proof.rotatingPkey)}`)
        }
        yield* Console.log("Success: Unredeemed payment created")
        yield* Console.log("Step 2: Redeeming the payment and generating a pro proof")
        yield* Console.log("Success: Payment redeemed and pro proof generated")
        yield* Console.log(
          ["Proof Details:", `  Expiry: ${readableTimestamp(r.proof.expiryUnixTsMs)}`, `  Gen Index Hash: ${hex(r.proof.genIndexHash)}`].join("\n")
        )
      })
    )
).pipe(
  Command.withDescription(
    help(
      "Grant Session Pro to a master key with a Rangeproof payment (one transaction: create the payment, redeem it, sign a first proof).",
      [
        "session-pro-admin voucher --master-pkey 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c --plan 1M --config server.ini",
        "session-pro-admin voucher --master-pkey 0x8a88… --plan 12M --rotating-pkey 8139770e… --db-url postgresql://pro@db/pro"
      ]
    )
  )
)

// ---------------------------------------------------------------------------------------------
// report generate (§12.10, §6.16)

const reportGenerate = Command.make(
  "generate",
  {
    ...dbOptions,
    period: Args.choice<ReportPeriod>([["daily", "daily"], ["weekly", "weekly"], ["monthly", "monthly"]], { name: "period" }),
    count: Options.integer("count").pipe(Options.withDescription("How many periods, newest first"), Options.withDefault(7)),
    format: Options.choice("format", ["human", "csv"]).pipe(Options.withDefault("human" as const))
  },
  (o) =>
    withDatabase(o, () =>
      Effect.gen(function*() {
        if (o.count < 0) return yield* fail("--count must not be negative")
        yield* Console.log(yield* (yield* Reports).generate(o.period, o.format, o.count))
      })
    )
).pipe(
  Command.withDescription(
    help(
      "Subscription report per UTC day, ISO week (labelled with its Monday) or calendar month: active users, new subscriptions by store and plan, refund requests, revocations, cancellations.",
      [
        "session-pro-admin report generate daily --config server.ini",
        "session-pro-admin report generate weekly --count 12 --format csv > weekly.csv",
        "session-pro-admin report generate monthly --db-url postgresql://pro@db/pro"
      ]
    )
  )
)

const report = Command.make("report").pipe(
  Command.withDescription(
    help("Reports over the payments table (UTC periods, the same on SQLite and PostgreSQL).", [
      "session-pro-admin report generate daily --config server.ini",
      "session-pro-admin report generate monthly --format csv --count 12 --config server.ini"
    ])
  ),
  Command.withSubcommands([reportGenerate])
)

// ---------------------------------------------------------------------------------------------
// db info|print (§12.11, §12.12)

const count = (table: string, where = "") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql.unsafe<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${table}${where}`), (r) => num(r[0]?.n)))

const dbInfo = Command.make("info", { ...dbOptions }, (o) =>
  withDatabase(o, (config) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const keys = yield* BackendKeys
      const db = config.database
      const size = db._tag === "Sqlite" && db.filename !== ":memory:" ? NodeFs.statSync(db.filename).size : 0
      const runtime = yield* sql<{ gen_index: unknown }>`SELECT gen_index FROM runtime LIMIT 1`
      const counts = {
        users: yield* count("users"),
        revocations: yield* count("revocations"),
        payments: yield* count("payments"),
        unredeemed: yield* count("payments", " WHERE status = 1"),
        userErrors: yield* count("user_errors"),
        google: yield* count("google_notification_history"),
        apple: yield* count("apple_notification_uuid_history")
      }
      const rows: Array<[string, string]> = [
        ["DB:", `${describeTarget(db)} (${formatSize(size)})`],
        ["Users/Revocs/Payments/Unredeemed:", `${counts.users}/${counts.revocations}/${counts.payments}/${counts.unredeemed}`],
        ["U.Errors/Google/Apple Notifs.:", `${counts.userErrors}/${counts.google}/${counts.apple}`],
        ["Gen Index:", String(num(runtime[0]?.gen_index))],
        ["Backend Key:", hex(keys.publicKey)]
      ]
      const w = Math.max(...rows.map(([l]) => l.length))
      yield* Console.log(rows.map(([l, v]) => `  ${l.padEnd(w)} ${v}`).join("\n"))
    })
  )).pipe(
    Command.withDescription(
      help("Summarise the database: size, row counts, next generation index, backend public key.", [
        "session-pro-admin db info --config server.ini"
      ])
    )
  )

/** The backend's Ed25519 seed signs every proof: db print shows only its public key unless unsafe_logging is on. */
const hideSecret = (table: string, column: string, value: unknown, unsafe: boolean): string | undefined => {
  if (unsafe || table !== "runtime" || column !== "backend_key" || !(value instanceof Uint8Array) || value.length !== 32) return undefined
  return `(secret seed hidden; public key ${hex(Ed25519.publicKeyFromSeed(value))})`
}

const dbPrint = Command.make("print", { ...dbOptions }, (o) =>
  withDatabase(o, (config) =>
    Effect.gen(function*() {
      const db = yield* Database
      const sql = db.sql
      const tables = db.dialect === "sqlite"
        ? (yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).map((r) => r.name)
        : (yield* sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`).map((r) => r.tablename)
      const out: Array<string> = []
      for (const table of tables) {
        // Column names and types from the catalogue, so an empty table still prints its header.
        const columns: Array<{ name: string; bigint: boolean }> = db.dialect === "sqlite"
          ? (yield* sql.unsafe<{ name: string }>(`PRAGMA table_info("${table}")`)).map((c) => ({ name: c.name, bigint: false }))
          : (yield* sql<{ column_name: string; data_type: string }>`SELECT column_name, data_type FROM information_schema.columns
              WHERE table_schema = 'public' AND table_name = ${table} ORDER BY ordinal_position`).map((c) => ({
              name: c.column_name,
              bigint: c.data_type === "bigint"
            }))
        const rows = yield* sql.unsafe<Record<string, unknown>>(`SELECT * FROM "${table}"`)
        out.push(`Table: ${table}`)
        out.push(
          boxTable(
            columns.map((c) => c.name),
            rows.map((r) =>
              columns.map((c) => hideSecret(table, c.name, r[c.name], config.unsafeLogging) ?? renderCell(table, c.name, r[c.name], c.bigint))
            )
          )
        )
      }
      yield* Console.log(out.join("\n"))
    })
  )).pipe(
    Command.withDescription(
      help("Print every table of the database as box-drawn tables (timestamps readable, enums named, bytes as hex; the backend's secret seed only with unsafe_logging).", [
        "session-pro-admin db print --config server.ini | less -S"
      ])
    )
  )

const dbCommand = Command.make("db").pipe(
  Command.withDescription(
    help("Inspect the database the server uses.", ["session-pro-admin db info --config server.ini", "session-pro-admin db print --db-url sqlite:///data/session-pro.db"])
  ),
  Command.withSubcommands([dbInfo, dbPrint])
)

export const databaseCommands = [userError, googleNotification, revoke, voucher, report, dbCommand] as const
