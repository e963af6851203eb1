/**
 * Session webhooks (domain.md §11.3): warnings/errors and the maintenance messages are POSTed as
 * `{"text": "```\n<msg>\n```", "display_name": <name>}`.
 *
 * Logging must never wait on a webhook, so each webhook has a bounded queue that the logger fills
 * with a synchronous `unsafeOffer`; when it is full the message is dropped and counted, and the next
 * delivery says how many were lost. One fiber per webhook drains it, up to 8 messages a round, with
 * a 2 s timeout per POST; a failed POST is written to stderr and never retried (as the reference).
 */
import { Context, Duration, Effect, Layer, Queue, Ref } from "effect"
import type { Webhook } from "../Config/ServerConfig.js"
import { webhookDropped } from "./Metrics.js"

export const QUEUE_CAPACITY = 128
export const BATCH = 8
export const MAX_CHARS = 2000
export const POST_TIMEOUT = Duration.seconds(2)

export type Post = (url: string, body: string) => Promise<void>

const defaultPost: Post = async (url, body) => {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
    signal: AbortSignal.timeout(Duration.toMillis(POST_TIMEOUT))
  })
  if (!res.ok) throw new Error(`HTTP ${res.status}`)
  await res.arrayBuffer().catch(() => undefined)
}

export const webhookBody = (name: string, text: string): string =>
  JSON.stringify({ text: "```\n" + (text.length > MAX_CHARS ? text.slice(0, MAX_CHARS) : text) + "\n```", display_name: name })

export interface WebhookSinkShape {
  /** Non-blocking; false when dropped (no webhooks configured or a queue was full). */
  readonly offer: (text: string) => boolean
  /** The same as an Effect (maintenance messages, banner). */
  readonly push: (text: string) => Effect.Effect<void>
  readonly dropped: Effect.Effect<number>
  readonly configured: boolean
  /** Waits until every queue is empty (tests, shutdown). */
  readonly flush: Effect.Effect<void>
}

export class WebhookSink extends Context.Tag("@session-pro/http/WebhookSink")<WebhookSink, WebhookSinkShape>() {
  static readonly none: Layer.Layer<WebhookSink> = Layer.succeed(WebhookSink, {
    offer: () => false,
    push: () => Effect.void,
    dropped: Effect.succeed(0),
    configured: false,
    flush: Effect.void
  })

  static make(
    webhooks: ReadonlyArray<Webhook>,
    options: { readonly post?: Post; readonly capacity?: number } = {}
  ): Effect.Effect<WebhookSinkShape, never, import("effect/Scope").Scope> {
    return Effect.gen(function*() {
      const post = options.post ?? defaultPost
      const capacity = options.capacity ?? QUEUE_CAPACITY
      const droppedTotal = yield* Ref.make(0)
      const sinks = yield* Effect.forEach(webhooks, (hook) =>
        Effect.gen(function*() {
          const queue = yield* Queue.dropping<string>(capacity)
          const droppedHere = yield* Ref.make(0)
          // Offered but not yet delivered; a plain counter because the logger offers synchronously.
          const state = { pending: 0 }
          const deliver = (text: string) =>
            Effect.tryPromise(() => post(hook.url, webhookBody(hook.name, text))).pipe(
              Effect.timeout(Duration.sum(POST_TIMEOUT, Duration.millis(500))),
              Effect.catchAll((e) =>
                Effect.sync(() => process.stderr.write(`Session webhook "${hook.name}" POST failed: ${String(e)}\n`))
              )
            )
          yield* Effect.gen(function*() {
            const first = yield* Queue.take(queue)
            const rest = yield* Queue.takeUpTo(queue, BATCH - 1)
            const lost = yield* Ref.getAndSet(droppedHere, 0)
            if (lost > 0) yield* deliver(`${lost} message(s) dropped: the webhook queue was full`)
            for (const text of [first, ...rest]) {
              yield* deliver(text)
              state.pending--
            }
          }).pipe(Effect.forever, Effect.interruptible, Effect.forkScoped)
          yield* Effect.addFinalizer(() => Queue.shutdown(queue))
          return { queue, droppedHere, state }
        })
      )
      const offer = (text: string) => {
        let all = sinks.length > 0
        for (const s of sinks) {
          if (s.queue.unsafeOffer(text)) {
            s.state.pending++
          } else {
            all = false
            webhookDropped.inc()
            Effect.runSync(Ref.update(s.droppedHere, (n) => n + 1))
            Effect.runSync(Ref.update(droppedTotal, (n) => n + 1))
          }
        }
        return all
      }
      const flush = Effect.gen(function*() {
        for (const s of sinks) {
          while (s.state.pending > 0) yield* Effect.sleep("10 millis")
        }
      })
      return {
        offer,
        push: (text: string) => Effect.sync(() => void offer(text)),
        dropped: Ref.get(droppedTotal),
        configured: sinks.length > 0,
        flush
      }
    })
  }

  static layer(webhooks: ReadonlyArray<Webhook>, options?: { readonly post?: Post; readonly capacity?: number }) {
    return Layer.scoped(WebhookSink, WebhookSink.make(webhooks, options))
  }
}
