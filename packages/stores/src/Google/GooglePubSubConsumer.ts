/**
 * Pub/Sub consumer for Google Play RTDNs (stores.md §3.6, D4f).
 *
 * A Layer that forks one scoped fiber: it takes the deployment-wide consumer lease, retries the
 * unhandled history rows, then streaming-pulls the subscription with flow control. Each message is
 * handled by {@link GooglePlayRtdn.processMessage} (one DB transaction) and acked only once that
 * transaction has committed. A failed message is not acked: it is nacked after an exponential
 * back-off (2 s, 4 s, … 600 s, as the reference) so Pub/Sub redelivers it, and its failure is already
 * recorded (history row + user error). A crash before commit leaves the message unacked; closing
 * the subscriber nacks what it holds, so the message comes back and is applied once (dedupe by
 * message id). Stream failures restart the session on a capped exponential schedule.
 *
 * Exactly one consumer per deployment: the fiber runs only while it holds {@link GoogleConsumerLease}.
 * The default lease is process-local; a multi-process server provides one backed by its database
 * (e.g. a PostgreSQL advisory lock) or its process manager.
 */
import type { Message } from "@google-cloud/pubsub"
import { SqlClient } from "@effect/sql"
import {
  Cause,
  Config,
  Context,
  Deferred,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Fiber,
  Layer,
  Option,
  Queue,
  Ref,
  Schedule,
  Scope
} from "effect"
import { GooglePlayRtdn, type MessageOutcome } from "./GooglePlayRtdn.js"

// ---------------------------------------------------------------------------------------------
// The lease hook

export interface GoogleConsumerLeaseShape {
  /**
   * Waits until this process may consume, and holds that right until the scope closes. A lease
   * that can be lost (e.g. a DB lock whose connection dropped) should fail the effect returned by
   * `lost` so the consumer stops.
   */
  readonly acquire: Effect.Effect<{ readonly lost: Effect.Effect<never> }, never, Scope.Scope>
}

export class GoogleConsumerLease extends Context.Tag("@session-pro/stores/Google/GoogleConsumerLease")<
  GoogleConsumerLease,
  GoogleConsumerLeaseShape
>() {
  /** One consumer per process: enough for a single-process deployment and for tests. */
  static readonly inProcess: Layer.Layer<GoogleConsumerLease> = Layer.effect(
    GoogleConsumerLease,
    Effect.map(Effect.makeSemaphore(1), (sem) => ({
      acquire: Effect.acquireRelease(sem.take(1), () => sem.release(1)).pipe(Effect.as({ lost: Effect.never }))
    }))
  )
  /** Adapts any scoped "take the lock" effect (e.g. `pg_advisory_lock` on a dedicated connection). */
  static readonly fromScoped = <E, R>(
    take: Effect.Effect<void, E, R | Scope.Scope>
  ): Layer.Layer<GoogleConsumerLease, never, Exclude<R, Scope.Scope>> =>
    Layer.effect(
      GoogleConsumerLease,
      Effect.map(Effect.context<Exclude<R, Scope.Scope>>(), (ctx) => ({
        acquire: take.pipe(
          Effect.retry(Schedule.spaced("5 seconds")),
          Effect.orDie,
          Effect.as({ lost: Effect.never }),
          Effect.provide(ctx)
        ) as Effect.Effect<{ readonly lost: Effect.Effect<never> }, never, Scope.Scope>
      }))
    )

  /**
   * Deployment-wide lease for PostgreSQL deployments: a session advisory lock held on a reserved
   * connection for as long as the consumer runs. Other processes poll until the holder goes away
   * (its connection closes → PostgreSQL frees the lock). A lost connection ends the lease.
   */
  static readonly pgAdvisoryLock = (
    options: { readonly key?: number; readonly pollInterval?: Duration.DurationInput } = {}
  ): Layer.Layer<GoogleConsumerLease, never, SqlClient.SqlClient> =>
    Layer.effect(
      GoogleConsumerLease,
      Effect.map(SqlClient.SqlClient, (sql) => {
        // Arbitrary constant namespacing this lock ("GPRTDN" in ASCII).
        const key = options.key ?? 0x475052_54444e
        const take = Effect.gen(function*() {
          const conn = yield* sql.reserve
          const rows = yield* conn.executeUnprepared("SELECT pg_try_advisory_lock($1) AS locked", [key], undefined)
          if (rows[0]?.locked !== true) return yield* Effect.fail("held elsewhere" as const)
          yield* Effect.addFinalizer(() => conn.executeUnprepared("SELECT pg_advisory_unlock($1)", [key], undefined).pipe(Effect.ignore))
          // Liveness probe: if the session dies, so does the lock; stop consuming.
          const lost = conn.executeUnprepared("SELECT 1", [], undefined).pipe(
            Effect.repeat(Schedule.spaced("15 seconds")),
            Effect.ignore,
            Effect.zipRight(Effect.dieMessage("Google consumer lease lost (PostgreSQL session ended)")),
            Effect.zipRight(Effect.never)
          )
          return { lost }
        })
        // Each attempt reserves a connection in its own child scope, returned to the pool unless it won.
        const attempt = Effect.gen(function*() {
          const child = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
          return yield* take.pipe(Scope.extend(child), Effect.onError((cause) => Scope.close(child, Exit.failCause(cause))))
        })
        return {
          acquire: attempt.pipe(
            Effect.tapError((e) => (e === "held elsewhere" ? Effect.void : Effect.logWarning("Google consumer lease", e))),
            Effect.retry(Schedule.spaced(options.pollInterval ?? "10 seconds")),
            Effect.orDie
          )
        }
      })
    )
}

// ---------------------------------------------------------------------------------------------
// Options

export interface GooglePubSubConsumerOptions {
  readonly projectId: string
  /** Short subscription name (`[google] cloud_subscription_name`) or full `projects/…/subscriptions/…`. */
  readonly subscriptionName: string
  /** Service-account JSON (`cloud_app_credentials_path`); unused against an emulator / fake. */
  readonly credentialsPath?: string | undefined
  /** `host:port` of an emulator or fake (otherwise `PUBSUB_EMULATOR_HOST` or Google). */
  readonly apiEndpoint?: string | undefined
  /** Flow control: messages outstanding at once (default 64, the reference's batch size). */
  readonly maxMessages?: number | undefined
  /** How long the library may keep extending an unacked message's lease (default 15 min). */
  readonly maxExtension?: Duration.DurationInput | undefined
  /** Back-off before a failed message is nacked for redelivery: first delay and cap (2 s, 600 s). */
  readonly retryInitial?: Duration.DurationInput | undefined
  readonly retryMax?: Duration.DurationInput | undefined
  /**
   * How often unhandled history rows are retried from their stored payload (default 1 hour). This
   * covers messages Pub/Sub no longer redelivers (past its 7-day retention).
   */
  readonly storedRetryInterval?: Duration.DurationInput | undefined
  /** Back-off for restarting a failed stream (default exponential from 1 s, capped at 1 min). */
  readonly restartSchedule?: Schedule.Schedule<unknown, unknown> | undefined
}

export interface GooglePubSubConsumerShape {
  /** Outcomes seen so far (tests and metrics). */
  readonly stats: Effect.Effect<ConsumerStats>
}

export interface ConsumerStats {
  readonly handled: number
  readonly duplicates: number
  readonly failed: number
  readonly discarded: number
  readonly acked: number
  readonly nacked: number
  readonly sessions: number
}

export class GooglePubSubConsumer extends Context.Tag("@session-pro/stores/Google/GooglePubSubConsumer")<
  GooglePubSubConsumer,
  GooglePubSubConsumerShape
>() {}

class StreamFailed extends Error {}

const eventTimeOf = (m: Message): number => {
  try {
    const t = Number((JSON.parse(m.data.toString("utf8")) as { eventTimeMillis?: unknown }).eventTimeMillis)
    return Number.isFinite(t) ? t : Number.MAX_SAFE_INTEGER
  } catch {
    return Number.MAX_SAFE_INTEGER
  }
}

// ---------------------------------------------------------------------------------------------

/** Forks the consumer into the current scope. */
export const make = (options: GooglePubSubConsumerOptions) =>
  Effect.gen(function*() {
    const rtdn = yield* GooglePlayRtdn
    const lease = yield* Effect.serviceOption(GoogleConsumerLease).pipe(
      Effect.flatMap(Option.match({
        onSome: Effect.succeed,
        onNone: () => Effect.map(Layer.build(GoogleConsumerLease.inProcess), Context.get(GoogleConsumerLease))
      }))
    )
    const stats = yield* Ref.make<ConsumerStats>({
      handled: 0,
      duplicates: 0,
      failed: 0,
      discarded: 0,
      acked: 0,
      nacked: 0,
      sessions: 0
    })
    // Pulled batches and stored-payload retries never run concurrently (one writer, in event order).
    const serial = yield* Effect.makeSemaphore(1)
    const bump = (k: keyof ConsumerStats) => Ref.update(stats, (s) => ({ ...s, [k]: s[k] + 1 }))
    const initial = Duration.decode(options.retryInitial ?? "2 seconds")
    const cap = Duration.decode(options.retryMax ?? "600 seconds")
    // Failure back-off per message id survives redeliveries (the reference keeps it in memory too).
    const backoff = new Map<string, Duration.Duration>()
    const nextDelay = (id: string) => {
      const prev = backoff.get(id)
      const d = prev === undefined ? initial : Duration.min(Duration.times(prev, 2), cap)
      backoff.set(id, d)
      return d
    }

    const session = Effect.gen(function*() {
      yield* bump("sessions")
      // Loaded on first use: the client library is heavy and most processes never consume.
      const { PubSub, Duration: PubSubDuration } = yield* Effect.promise(() => import("@google-cloud/pubsub"))
      const client = yield* Effect.acquireRelease(
        Effect.sync(() =>
          new PubSub({
            projectId: options.projectId,
            ...(options.credentialsPath ? { keyFilename: options.credentialsPath } : {}),
            ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {})
          })
        ),
        (c) => Effect.promise(() => c.close()).pipe(Effect.timeout("10 seconds"), Effect.ignore)
      )
      const queue = yield* Effect.acquireRelease(Queue.unbounded<Message>(), Queue.shutdown)
      const broken = yield* Deferred.make<never, StreamFailed>()
      const subscription = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const s = client.subscription(options.subscriptionName, {
            flowControl: { maxMessages: options.maxMessages ?? 64, allowExcessMessages: false },
            // The library wants its own Duration: a plain number made the lease extender throw
            // (`maxExtensionTime.totalOf is not a function`) from a timer, i.e. an uncaught exception.
            maxExtensionTime: PubSubDuration.from({ seconds: Duration.toSeconds(options.maxExtension ?? "15 minutes") })
          })
          s.on("message", (m: Message) => Queue.unsafeOffer(queue, m))
          s.on("error", (e: unknown) => Deferred.unsafeDone(broken, Exit.fail(new StreamFailed(String(e)))))
          return s
        }),
        // close() nacks whatever is still held, so an interrupted message is redelivered promptly.
        (s) => Effect.promise(() => s.close()).pipe(Effect.timeout("10 seconds"), Effect.ignore)
      )
      yield* Effect.logInfo(`Google Pub/Sub: consuming ${subscription.name}`)

      const settle = (m: Message, o: MessageOutcome) =>
        Effect.gen(function*() {
          switch (o._tag) {
            case "Handled":
            case "Duplicate":
              yield* bump(o._tag === "Handled" ? "handled" : "duplicates")
              backoff.delete(m.id)
              // The transaction has committed: only now may Pub/Sub forget the message.
              m.ack()
              yield* bump("acked")
              return
            case "Failed":
            case "Discarded": {
              yield* bump(o._tag === "Failed" ? "failed" : "discarded")
              const delay = nextDelay(m.id)
              yield* Effect.logWarning(
                `Google Pub/Sub: message ${m.id} ${o._tag.toLowerCase()} (${o.reason}); redelivery in ${Duration.format(delay)}`
              )
              // Held (lease extended by the library) until the back-off elapses, then handed back.
              yield* Effect.sleep(delay).pipe(
                Effect.andThen(Effect.sync(() => m.nack())),
                Effect.andThen(bump("nacked")),
                Effect.forkScoped
              )
              return
            }
          }
        })

      const processBatch = (batch: Array<Message>) =>
        Effect.gen(function*() {
          // No ordering keys on RTDNs: process what arrived together oldest event first.
          batch.sort((a, b) => eventTimeOf(a) - eventTimeOf(b))
          for (const m of batch) {
            const o = yield* rtdn.processMessage({
              messageId: m.id,
              data: m.data,
              publishTimeMs: m.publishTime?.getTime(),
              attributes: m.attributes
            })
            yield* settle(m, o)
          }
        })
      const worker = Queue.takeBetween(queue, 1, options.maxMessages ?? 64).pipe(
        Effect.flatMap((batch) => serial.withPermits(1)(processBatch(Array.from(batch)))),
        Effect.forever
      )

      return yield* Effect.raceFirst(worker, Deferred.await(broken))
    }).pipe(Effect.scoped)

    const restart = options.restartSchedule ??
      Schedule.exponential("1 second").pipe(Schedule.union(Schedule.spaced("1 minute")))

    const run = Effect.scoped(
      Effect.gen(function*() {
        const held = yield* lease.acquire
        yield* Effect.logInfo("Google Pub/Sub: consumer lease acquired")
        const retryStored = serial.withPermits(1)(rtdn.retryUnhandled).pipe(
          Effect.tap((r) =>
            r.handled + r.failed > 0
              ? Effect.logInfo(`Google Pub/Sub: retried stored notifications: ${r.handled} handled, ${r.failed} failed`)
              : Effect.void
          )
        )
        // At start (catch-up) and then periodically, while the lease is held.
        yield* retryStored
        yield* retryStored.pipe(
          Effect.delay(options.storedRetryInterval ?? "1 hour"),
          Effect.forever,
          Effect.forkScoped
        )
        yield* Effect.raceFirst(
          session.pipe(
            Effect.tapErrorCause((c) => Effect.logError("Google Pub/Sub: stream failed, restarting", Cause.pretty(c))),
            Effect.retry(restart),
            Effect.orDie
          ),
          held.lost
        )
      })
    )

    const fiber = yield* Effect.forkScoped(
      run.pipe(
        Effect.catchAllCause((c) =>
          Cause.isInterruptedOnly(c) ? Effect.void : Effect.logError("Google Pub/Sub: consumer stopped", Cause.pretty(c))
        )
      )
    )
    yield* Effect.addFinalizer(() => Fiber.interrupt(fiber))
    return GooglePubSubConsumer.of({ stats: Ref.get(stats) })
  })

/** The consumer runs for the lifetime of the layer. */
export const layer = (options: GooglePubSubConsumerOptions) => Layer.scoped(GooglePubSubConsumer, make(options))

export const layerConfig = (options: Config.Config.Wrap<GooglePubSubConsumerOptions>) =>
  Layer.scoped(GooglePubSubConsumer, Effect.flatMap(Config.unwrap(options), make))

/** Outcomes that are acked. */
export const isAckable = (o: MessageOutcome): boolean => o._tag === "Handled" || o._tag === "Duplicate"
