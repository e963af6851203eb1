/**
 * Structured logging through Effect's Logger (domain.md §11.1):
 * - one line per entry, `"<yy-mm-dd HH:MM:SS.mmm> <LEVEL> <logger> <message> key=value…"` in UTC
 *   (the reference used local time; UTC reads the same on every host);
 * - to stdout, to `log_path` (rotated at 64 MiB, two backups) and, from WARNING up, to the Session
 *   webhooks through the non-blocking `WebhookSink`;
 * - identifiers are masked unless `unsafe_logging` (see Mask.ts).
 * The logger name comes from the `logger` annotation (`PRO`, `BACKEND`, `GOOGLE`, `APPLE`, `HTTP`).
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Cause, Effect, HashMap, Layer, Logger, LogLevel } from "effect"
import { SENSITIVE_KEY, obfuscate, scrubText } from "./Mask.js"
import { WebhookSink } from "./Webhooks.js"

export const FILE_MAX_BYTES = 64 * 1024 * 1024
export const FILE_BACKUPS = 2

const pad = (n: number, w = 2) => String(n).padStart(w, "0")
export const formatTime = (d: Date): string =>
  `${pad(d.getUTCFullYear() % 100)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${
    pad(d.getUTCMinutes())
  }:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`

const levelName = (l: LogLevel.LogLevel): string =>
  l._tag === "Warning" ? "WARNING" : l._tag === "Fatal" ? "CRITICAL" : l.label

const render = (u: unknown): string => {
  if (typeof u === "string") return u
  if (u instanceof Error) return u.stack ?? u.message
  try {
    return JSON.stringify(u, (_k, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v))
  } catch {
    return String(u)
  }
}

export interface FormatOptions {
  readonly unsafeLogging: boolean
  /** Appended to every line (e.g. `w=2` for the second process). */
  readonly process?: string | undefined
}

export const formatEntry = (
  options: FormatOptions,
  entry: {
    readonly logLevel: LogLevel.LogLevel
    readonly message: unknown
    readonly cause: Cause.Cause<unknown>
    readonly annotations: HashMap.HashMap<string, unknown>
    readonly date: Date
  }
): { readonly line: string; readonly logger: string } => {
  const messages = Array.isArray(entry.message) ? entry.message : [entry.message]
  let logger = "PRO"
  const fields: Array<string> = []
  for (const [k, v] of entry.annotations) {
    if (k === "logger") {
      logger = String(v)
      continue
    }
    const text = render(v)
    fields.push(`${k}=${!options.unsafeLogging && SENSITIVE_KEY.test(k) ? obfuscate(text) : text}`)
  }
  let body = messages.map(render).join(" ")
  if (!Cause.isEmpty(entry.cause)) body += `\n${Cause.pretty(entry.cause, { renderErrorCause: true })}`
  if (fields.length > 0) body += ` ${fields.join(" ")}`
  if (!options.unsafeLogging) body = scrubText(body)
  const proc = options.process ? ` [${options.process}]` : ""
  return { line: `${formatTime(entry.date)} ${levelName(entry.logLevel)} ${logger}${proc} ${body}`, logger }
}

/** A size-rotated append-only file (`x.log`, `x.log.1`, `x.log.2`), safe for several processes. */
export class RotatingFile {
  private fd: number | undefined
  private ino = 0
  private size = 0
  private writes = 0
  constructor(readonly path: string, readonly maxBytes = FILE_MAX_BYTES, readonly backups = FILE_BACKUPS) {
    NodeFs.mkdirSync(NodePath.dirname(path), { recursive: true })
    this.open()
  }
  private open() {
    this.fd = NodeFs.openSync(this.path, "a")
    const st = NodeFs.fstatSync(this.fd)
    this.ino = st.ino
    this.size = st.size
  }
  write(line: string) {
    if (this.fd === undefined) return
    const buf = Buffer.from(line + "\n", "utf8")
    // Another process may have rotated the file: reopen when the path names a different inode.
    if (++this.writes % 256 === 0) {
      try {
        if (NodeFs.statSync(this.path).ino !== this.ino) this.reopen()
      } catch {
        this.reopen()
      }
    }
    if (this.size + buf.length > this.maxBytes && this.size > 0) this.rotate()
    NodeFs.writeSync(this.fd!, buf)
    this.size += buf.length
  }
  private reopen() {
    if (this.fd !== undefined) NodeFs.closeSync(this.fd)
    this.open()
  }
  private rotate() {
    try {
      for (let i = this.backups; i >= 1; i--) {
        const from = i === 1 ? this.path : `${this.path}.${i - 1}`
        if (NodeFs.existsSync(from)) NodeFs.renameSync(from, `${this.path}.${i}`)
      }
    } catch {
      // another process rotated at the same moment; reopening below picks up the fresh file
    }
    this.reopen()
  }
  close() {
    if (this.fd !== undefined) NodeFs.closeSync(this.fd)
    this.fd = undefined
  }
}

export interface LoggingOptions {
  readonly unsafeLogging: boolean
  readonly logPath?: string | undefined
  readonly minimumLevel?: LogLevel.LogLevel
  readonly process?: string | undefined
  /** Where console lines go (tests capture them). */
  readonly stdout?: (line: string) => void
}

/** The process-wide logger: replaces Effect's default logger. Needs `WebhookSink`. */
export const layer = (options: LoggingOptions): Layer.Layer<never, never, WebhookSink> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const sink = yield* WebhookSink
      const file = options.logPath
        ? yield* Effect.acquireRelease(Effect.sync(() => new RotatingFile(options.logPath!)), (f) => Effect.sync(() => f.close()))
        : undefined
      const out = options.stdout ?? ((line: string) => void process.stdout.write(line + "\n"))
      const logger = Logger.make((entry) => {
        const { line } = formatEntry(options, entry)
        out(line)
        try {
          file?.write(line)
        } catch (e) {
          process.stderr.write(`log file write failed: ${String(e)}\n`)
        }
        if (sink.configured && LogLevel.greaterThanEqual(entry.logLevel, LogLevel.Warning)) sink.offer(line)
      })
      return Layer.merge(
        Logger.replace(Logger.defaultLogger, logger),
        Logger.minimumLogLevel(options.minimumLevel ?? LogLevel.Debug)
      )
    })
  )

/** Annotates everything inside with the logger name (`PRO`, `BACKEND`, …). */
export const withLogger = (name: string) => Effect.annotateLogs("logger", name)
