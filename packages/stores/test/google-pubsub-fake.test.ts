/** The gRPC Pub/Sub fake driven by the real @google-cloud/pubsub client (streaming pull, unary pull, ack, nack). */
import { PubSub, v1, type Message } from "@google-cloud/pubsub"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { PubSubFake } from "./fakes/PubSubFake.js"

const SUB = "projects/test-project/subscriptions/session-pro-sub"

const waitFor = async (cond: () => boolean, ms = 5_000) => {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe("PubSubFake", () => {
  let fake: PubSubFake
  beforeAll(async () => {
    fake = await PubSubFake.start()
  })
  afterAll(async () => {
    await fake.stop()
  })

  it("streaming pull delivers, ack removes, nack redelivers", async () => {
    const client = new PubSub({ projectId: "test-project", apiEndpoint: fake.endpoint })
    expect(client.isEmulator).toBe(true)
    const sub = client.subscription("session-pro-sub", { flowControl: { maxMessages: 10 } })
    const seen: Array<{ id: string; data: string; attempt: number }> = []
    let nackedOnce = false
    sub.on("message", (m: Message) => {
      seen.push({ id: m.id, data: m.data.toString(), attempt: seen.filter((s) => s.id === m.id).length + 1 })
      if (m.data.toString() === "nack-me" && !nackedOnce) {
        nackedOnce = true
        m.nack()
      } else m.ack()
    })
    sub.on("error", () => {})
    fake.publish(SUB, "hello", { messageId: "42" })
    fake.publish(SUB, "nack-me", { messageId: "43" })
    await waitFor(() => fake.stats.acks >= 2)
    await sub.close()
    await client.close()
    expect(seen.map((s) => s.id)).toEqual(["42", "43", "43"])
    expect(fake.unacked(SUB)).toBe(0)
    expect(fake.stats.nacks).toBe(1)
  })

  it("unary pull + acknowledge (the reference's mode)", async () => {
    const c = new v1.SubscriberClient({ apiEndpoint: "localhost", port: fake.port, sslCreds: (await import("@grpc/grpc-js")).credentials.createInsecure() } as never)
    fake.publish(SUB, "unary", { messageId: "77" })
    const [res] = await c.pull({ subscription: SUB, maxMessages: 64 })
    expect(res.receivedMessages?.map((r) => r.message?.messageId)).toEqual(["77"])
    await c.acknowledge({ subscription: SUB, ackIds: res.receivedMessages!.map((r) => r.ackId!) })
    expect(fake.unacked(SUB)).toBe(0)
    await c.close()
  })
})
