/**
 * A Pub/Sub fake that speaks the real gRPC protocol (no emulator can be installed here).
 *
 * It loads `google/pubsub/v1/pubsub.proto` shipped inside @google-cloud/pubsub and implements the
 * Subscriber calls the client library makes: StreamingPull, Acknowledge, ModifyAckDeadline, plus
 * unary Pull and GetSubscription. The real library reaches it through `apiEndpoint` (or
 * PUBSUB_EMULATOR_HOST) with insecure credentials.
 *
 * Semantics modelled after Pub/Sub: at-least-once; a delivered message is outstanding until acked;
 * ModifyAckDeadline 0 (nack), an expired deadline or the end of its stream makes it deliverable
 * again with a new ack id and `deliveryAttempt + 1`.
 */
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { createRequire } from "node:module"
import * as path from "node:path"

const require = createRequire(import.meta.url)

const protoDirs = () => {
  const pubsubRoot = path.resolve(path.dirname(require.resolve("@google-cloud/pubsub")), "../..")
  const gaxRoot = path.resolve(path.dirname(require.resolve("google-gax")), "../..")
  return {
    pubsubProto: path.join(pubsubRoot, "build/protos/google/pubsub/v1/pubsub.proto"),
    includeDirs: [path.join(pubsubRoot, "build/protos"), path.join(gaxRoot, "build/protos")]
  }
}

export interface FakeMessage {
  readonly messageId: string
  readonly data: Buffer
  readonly attributes: Record<string, string>
  readonly publishTimeMs: number
  state: "available" | "outstanding" | "acked"
  ackId: string | undefined
  deadlineMs: number
  stream: StreamState | undefined
  deliveries: number
}

interface StreamState {
  readonly subscription: string
  readonly call: grpc.ServerDuplexStream<any, any>
  deadlineSeconds: number
  maxOutstanding: number
  open: boolean
}

export interface PubSubFakeStats {
  readonly deliveries: number
  readonly acks: number
  readonly nacks: number
  readonly streamsOpened: number
}

export class PubSubFake {
  private server = new grpc.Server()
  private messages = new Map<string, Array<FakeMessage>>()
  private byAckId = new Map<string, FakeMessage>()
  private streams = new Set<StreamState>()
  private nextId = 1
  private nextAck = 1
  private timer: NodeJS.Timeout | undefined
  private _stats = { deliveries: 0, acks: 0, nacks: 0, streamsOpened: 0 }
  port = 0

  get endpoint(): string {
    return `localhost:${this.port}`
  }
  get stats(): PubSubFakeStats {
    return { ...this._stats }
  }

  static async start(): Promise<PubSubFake> {
    const fake = new PubSubFake()
    await fake.listen()
    return fake
  }

  private async listen() {
    const { pubsubProto, includeDirs } = protoDirs()
    const def = protoLoader.loadSync(pubsubProto, {
      includeDirs,
      keepCase: false,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true
    })
    const proto = grpc.loadPackageDefinition(def) as any
    const Subscriber = proto.google.pubsub.v1.Subscriber.service as grpc.ServiceDefinition
    const unimplemented = (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
      cb({ code: grpc.status.UNIMPLEMENTED, message: "not implemented by the fake" } as grpc.ServiceError, null)
    const impl: Record<string, unknown> = {}
    for (const name of Object.keys(Subscriber)) impl[name] = unimplemented
    Object.assign(impl, {
      StreamingPull: (call: grpc.ServerDuplexStream<any, any>) => this.streamingPull(call),
      Acknowledge: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<unknown>) => {
        this.ack(call.request.ackIds ?? [])
        cb(null, {})
      },
      ModifyAckDeadline: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<unknown>) => {
        this.modAck(call.request.ackIds ?? [], call.request.ackDeadlineSeconds ?? 0)
        cb(null, {})
      },
      Pull: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<unknown>) => {
        const max = call.request.maxMessages || 100
        const out = this.takeAvailable(call.request.subscription, max, undefined, 10)
        cb(null, { receivedMessages: out.map((m) => this.toReceived(m)) })
      },
      GetSubscription: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, { name: call.request.subscription, topic: "projects/fake/topics/fake", ackDeadlineSeconds: 10 })
    })
    this.server.addService(Subscriber, impl as grpc.UntypedServiceImplementation)
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port)
      )
    )
    this.timer = setInterval(() => this.tick(), 50)
  }

  /** Publishes straight into a subscription (full name `projects/p/subscriptions/s`). Returns the message id. */
  publish(subscription: string, data: Buffer | string, opts: { messageId?: string; attributes?: Record<string, string> } = {}): string {
    const messageId = opts.messageId ?? String(1_000_000 + this.nextId++)
    const list = this.messages.get(subscription) ?? []
    this.messages.set(subscription, list)
    list.push({
      messageId,
      data: typeof data === "string" ? Buffer.from(data, "utf8") : data,
      attributes: opts.attributes ?? {},
      publishTimeMs: Date.now(),
      state: "available",
      ackId: undefined,
      deadlineMs: 0,
      stream: undefined,
      deliveries: 0
    })
    this.pump()
    return messageId
  }

  /** Redelivers an already-acked message id as Pub/Sub occasionally does (duplicate delivery). */
  redeliver(subscription: string, messageId: string): void {
    const m = this.messages.get(subscription)?.find((x) => x.messageId === messageId)
    if (m === undefined) throw new Error(`no message ${messageId}`)
    this.release(m)
    this.pump()
  }

  messagesOf(subscription: string): ReadonlyArray<FakeMessage> {
    return this.messages.get(subscription) ?? []
  }
  unacked(subscription: string): number {
    return this.messagesOf(subscription).filter((m) => m.state !== "acked").length
  }
  openStreams(): number {
    return [...this.streams].filter((s) => s.open).length
  }

  /** Ends every open stream with UNAVAILABLE (the client library reconnects). */
  breakStreams(): void {
    for (const s of this.streams) {
      s.call.emit("error", { code: grpc.status.UNAVAILABLE, details: "fake: stream broken" })
      this.closeStream(s)
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    for (const s of this.streams) {
      try {
        s.call.end()
      } catch {
        // already gone
      }
    }
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()))
    this.server.forceShutdown()
  }

  // ---------------------------------------------------------------------------------------

  private streamingPull(call: grpc.ServerDuplexStream<any, any>) {
    let state: StreamState | undefined
    call.on("data", (req: any) => {
      if (state === undefined) {
        state = {
          subscription: req.subscription,
          call,
          deadlineSeconds: req.streamAckDeadlineSeconds || 10,
          maxOutstanding: Number(req.maxOutstandingMessages) || 1000,
          open: true
        }
        this.streams.add(state)
        this._stats.streamsOpened++
      }
      if (req.ackIds?.length) this.ack(req.ackIds)
      if (req.modifyDeadlineAckIds?.length) {
        req.modifyDeadlineAckIds.forEach((id: string, i: number) =>
          this.modAck([id], req.modifyDeadlineSeconds?.[i] ?? 0)
        )
      }
      if (req.streamAckDeadlineSeconds) state.deadlineSeconds = req.streamAckDeadlineSeconds
      this.pump()
    })
    const done = () => {
      if (state) this.closeStream(state)
    }
    call.on("end", () => {
      done()
      try {
        call.end()
      } catch {
        // ignore
      }
    })
    call.on("cancelled", done)
    call.on("error", done)
    call.on("close", done)
  }

  private closeStream(s: StreamState) {
    if (!s.open) return
    s.open = false
    this.streams.delete(s)
    // What the stream held comes back (the real service waits for the ack deadline; tests need speed).
    for (const list of this.messages.values()) {
      for (const m of list) if (m.state === "outstanding" && m.stream === s) this.release(m)
    }
    this.pump()
  }

  private release(m: FakeMessage) {
    if (m.ackId) this.byAckId.delete(m.ackId)
    m.state = "available"
    m.ackId = undefined
    m.stream = undefined
  }

  private ack(ackIds: ReadonlyArray<string>) {
    for (const id of ackIds) {
      const m = this.byAckId.get(id)
      // An unknown / stale ack id is ignored, like the service does without exactly-once.
      if (m === undefined || m.state !== "outstanding" || m.ackId !== id) continue
      m.state = "acked"
      this.byAckId.delete(id)
      this._stats.acks++
    }
  }

  private modAck(ackIds: ReadonlyArray<string>, seconds: number) {
    for (const id of ackIds) {
      const m = this.byAckId.get(id)
      if (m === undefined || m.state !== "outstanding") continue
      if (seconds === 0) {
        this._stats.nacks++
        this.release(m)
      } else {
        m.deadlineMs = Date.now() + seconds * 1000
      }
    }
    this.pump()
  }

  private takeAvailable(subscription: string, max: number, stream: StreamState | undefined, deadlineSeconds: number) {
    const out: Array<FakeMessage> = []
    for (const m of this.messages.get(subscription) ?? []) {
      if (out.length >= max) break
      if (m.state !== "available") continue
      m.state = "outstanding"
      m.ackId = `ack-${this.nextAck++}`
      m.deadlineMs = Date.now() + deadlineSeconds * 1000
      m.stream = stream
      m.deliveries++
      this.byAckId.set(m.ackId, m)
      this._stats.deliveries++
      out.push(m)
    }
    return out
  }

  private toReceived(m: FakeMessage) {
    return {
      ackId: m.ackId,
      deliveryAttempt: m.deliveries,
      message: {
        data: m.data,
        attributes: m.attributes,
        messageId: m.messageId,
        publishTime: { seconds: String(Math.floor(m.publishTimeMs / 1000)), nanos: (m.publishTimeMs % 1000) * 1e6 },
        orderingKey: ""
      }
    }
  }

  private pump() {
    for (const s of this.streams) {
      if (!s.open) continue
      const held = (this.messages.get(s.subscription) ?? []).filter((m) => m.state === "outstanding" && m.stream === s).length
      const room = s.maxOutstanding - held
      if (room <= 0) continue
      const out = this.takeAvailable(s.subscription, room, s, s.deadlineSeconds)
      if (out.length > 0) s.call.write({ receivedMessages: out.map((m) => this.toReceived(m)) })
    }
  }

  private tick() {
    const now = Date.now()
    let changed = false
    for (const list of this.messages.values()) {
      for (const m of list) {
        if (m.state === "outstanding" && m.deadlineMs < now) {
          this.release(m)
          changed = true
        }
      }
    }
    if (changed) this.pump()
  }
}
