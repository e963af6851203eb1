/**
 * Loopback HTTP fake of the three Android Publisher endpoints the backend calls. Tests (and the
 * fixture replay) set the answers; every request is recorded; failures can be injected.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface RecordedCall {
  readonly api: "purchases.subscriptionsv2.get" | "purchases.subscriptions.acknowledge" | "monetization.subscriptions.get" | "unknown"
  readonly method: string
  readonly path: string
  readonly packageName?: string
  readonly purchaseToken?: string
  readonly subscriptionId?: string
  readonly productId?: string
  readonly authorization?: string | undefined
  readonly body?: string
  /** HTTP status the fake answered. */
  readonly status: number
}

type Failure = { readonly status: number; readonly body?: string }

export class AndroidPublisherFake {
  private server: http.Server
  readonly calls: Array<RecordedCall> = []
  /** purchaseToken → subscriptionsv2 resource. */
  readonly subscriptions = new Map<string, unknown>()
  /** productId → monetization subscription resource. */
  readonly products = new Map<string, unknown>()
  /** Queued failures per API (consumed one per request). */
  private failures = new Map<RecordedCall["api"], Array<Failure>>()
  /** Requests received per API, counted on arrival (before any artificial latency). */
  readonly arrived = new Map<RecordedCall["api"], number>()
  /** Artificial latency per API (ms), to hold a request in flight. */
  readonly delays = new Map<RecordedCall["api"], number>()
  /** Bumped by reset(): answers to requests from before a reset are not recorded. */
  private generation = 0
  /** When true (default) a successful acknowledge flips the stored resource to ACKNOWLEDGED, as Google does. */
  acknowledgeUpdatesResource = true
  port = 0

  private constructor() {
    this.server = http.createServer((req, res) => this.onRequest(req, res))
  }

  static async start(): Promise<AndroidPublisherFake> {
    const f = new AndroidPublisherFake()
    await new Promise<void>((resolve) => f.server.listen(0, "127.0.0.1", resolve))
    f.port = (f.server.address() as AddressInfo).port
    return f
  }

  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}`
  }

  setSubscription(purchaseToken: string, resource: unknown): void {
    this.subscriptions.set(purchaseToken, structuredClone(resource))
  }

  /** A product with the given base plans (`{ basePlanId: { gracePeriodDuration, billingPeriodDuration } }`). */
  setBasePlans(productId: string, plans: Record<string, { gracePeriodDuration?: string; billingPeriodDuration?: string }>): void {
    this.products.set(productId, {
      packageName: "fake",
      productId,
      basePlans: Object.entries(plans).map(([basePlanId, p]) => ({
        basePlanId,
        state: "ACTIVE",
        autoRenewingBasePlanType: p
      }))
    })
  }

  /** The next `count` calls of `api` answer `status`. */
  failNext(api: RecordedCall["api"], count = 1, status = 503, body = '{"error":{"code":503,"message":"fake outage"}}'): void {
    const q = this.failures.get(api) ?? []
    for (let i = 0; i < count; i++) q.push({ status, body })
    this.failures.set(api, q)
  }

  callsOf(api: RecordedCall["api"]): ReadonlyArray<RecordedCall> {
    return this.calls.filter((c) => c.api === api)
  }

  reset(): void {
    this.calls.length = 0
    this.subscriptions.clear()
    this.products.clear()
    this.failures.clear()
    this.delays.clear()
    this.arrived.clear()
    this.generation++
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections?.()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const api = this.apiOf(req.method ?? "", new URL(req.url ?? "/", "http://fake").pathname)
      this.arrived.set(api, (this.arrived.get(api) ?? 0) + 1)
      // Injected failures are claimed on arrival, so a request still held by a delay cannot take
      // one meant for a later request.
      const failure = this.failures.get(api)?.shift()
      const generation = this.generation
      const delay = this.delays.get(api) ?? 0
      if (delay > 0) setTimeout(() => this.answer(req, res, chunks, failure, generation), delay)
      else this.answer(req, res, chunks, failure, generation)
    })
  }

  private apiOf(method: string, p: string): RecordedCall["api"] {
    if (method === "GET" && /\/purchases\/subscriptionsv2\/tokens\//.test(p)) return "purchases.subscriptionsv2.get"
    if (method === "POST" && /:acknowledge$/.test(p)) return "purchases.subscriptions.acknowledge"
    if (method === "GET" && /\/subscriptions\/[^/]+$/.test(p)) return "monetization.subscriptions.get"
    return "unknown"
  }

  private answer(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    chunks: Array<Buffer>,
    failure: Failure | undefined,
    generation: number
  ) {
    {
      const body = Buffer.concat(chunks).toString("utf8")
      const url = new URL(req.url ?? "/", "http://fake")
      const p = url.pathname
      const send = (status: number, payload: unknown, call: Omit<RecordedCall, "status" | "method" | "path" | "authorization">) => {
        if (generation === this.generation) {
          this.calls.push({ ...call, method: req.method ?? "", path: p, authorization: req.headers.authorization, status })
        }
        res.writeHead(status, { "content-type": "application/json" })
        res.end(typeof payload === "string" ? payload : JSON.stringify(payload))
      }
      const injected = (_api: RecordedCall["api"]) => failure
      let m: RegExpMatchArray | null
      if (req.method === "GET" && (m = p.match(/^\/androidpublisher\/v3\/applications\/([^/]+)\/purchases\/subscriptionsv2\/tokens\/([^/]+)$/))) {
        const api = "purchases.subscriptionsv2.get" as const
        const call = { api, packageName: decodeURIComponent(m[1]), purchaseToken: decodeURIComponent(m[2]) }
        const f = injected(api)
        if (f) return send(f.status, f.body ?? "", call)
        const r = this.subscriptions.get(call.purchaseToken)
        return r === undefined
          ? send(404, { error: { code: 404, message: "The purchase token was not found." } }, call)
          : send(200, r, call)
      }
      if (req.method === "POST" && (m = p.match(/^\/androidpublisher\/v3\/applications\/([^/]+)\/purchases\/subscriptions\/([^/]+)\/tokens\/([^/]+):acknowledge$/))) {
        const api = "purchases.subscriptions.acknowledge" as const
        const call = {
          api,
          packageName: decodeURIComponent(m[1]),
          subscriptionId: decodeURIComponent(m[2]),
          purchaseToken: decodeURIComponent(m[3]),
          body
        }
        const f = injected(api)
        if (f) return send(f.status, f.body ?? "", call)
        const r = this.subscriptions.get(call.purchaseToken) as Record<string, unknown> | undefined
        if (r !== undefined && this.acknowledgeUpdatesResource) r["acknowledgementState"] = "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED"
        return send(200, "", call)
      }
      if (req.method === "GET" && (m = p.match(/^\/androidpublisher\/v3\/applications\/([^/]+)\/subscriptions\/([^/]+)$/))) {
        const api = "monetization.subscriptions.get" as const
        const call = { api, packageName: decodeURIComponent(m[1]), productId: decodeURIComponent(m[2]) }
        const f = injected(api)
        if (f) return send(f.status, f.body ?? "", call)
        const r = this.products.get(call.productId)
        return r === undefined ? send(404, { error: { code: 404, message: "Product not found." } }, call) : send(200, r, call)
      }
      send(404, { error: { code: 404, message: `fake: no route ${req.method} ${p}` } }, { api: "unknown" })
    }
  }
}
