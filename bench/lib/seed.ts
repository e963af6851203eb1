/**
 * Database seeding for the benchmark. The schema and the runtime row (dev backend key) come from the
 * core's own bootstrap (`Database.layerSqlite`); the bulk rows are then written straight through the
 * core's raw SQLite handle in one transaction, because 100k–1M rows through the per-row services
 * would take minutes. The rows are shaped exactly as the core writes them (redeemed Apple payments,
 * user rows with their cached best-payment fields, unredeemed Apple payments without an
 * appAccountToken so `/add_pro_payment` can redeem them).
 */
import { randomBytes, randomUUID } from "node:crypto"
import * as NodeFs from "node:fs"
import { Context, Effect, Layer } from "effect"
import { accountIdForMaster } from "../../packages/core/src/Crypto/Hashes.js"
import { Database } from "../../packages/core/src/Storage/Database.js"
import { SqliteHandle, type SqliteDatabase } from "../../packages/core/src/Storage/SqliteDriver.js"
import { openSqlite } from "../../packages/http/src/Workers/SqliteFile.js"
import type { BenchUser } from "./keys.js"

const DAY = 86_400_000

export const removeDb = (file: string) => {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) NodeFs.rmSync(f, { force: true })
}

/** Bootstraps a fresh file DB through the core and hands its raw handle to `fill`. */
export const withFreshDb = async <A>(file: string, fill: (db: SqliteDatabase) => A): Promise<A> => {
  removeDb(file)
  const layer = Database.layerSqlite(file, { dev: true })
  return Effect.runPromise(Effect.scoped(Effect.flatMap(Layer.build(layer), (ctx) => Effect.sync(() => fill(Context.get(ctx, SqliteHandle))))))
}

const tx = <A>(db: SqliteDatabase, f: () => A): A => {
  db.exec("BEGIN IMMEDIATE")
  try {
    const a = f()
    db.exec("COMMIT")
    return a
  } catch (e) {
    db.exec("ROLLBACK")
    throw e
  }
}

const PAYMENT_INSERT = `INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing,
  unredeemed_unix_ts_ms, redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms,
  platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms, apple_original_tx_id, apple_tx_id,
  apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id,
  refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
  VALUES (?, ?, 1, 2, 0, ?, ?, ?, 0, 0, NULL, ?, ?, '', NULL, NULL, NULL, 0, NULL, '')`
const USER_INSERT = `INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms,
  auto_renewing, refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
  VALUES (?, ?, ?, 0, 0, 0, ?, '')`

export interface RouteSeed {
  /** Total users (each with one redeemed Apple payment). */
  readonly users: number
  /** Users with real keys, placed at these user indices. */
  readonly driven: ReadonlyArray<BenchUser>
  /** Unredeemed Apple payments `bench-add-<j>` for `/add_pro_payment`. */
  readonly addPool: number
  /** Revocations of filler users' gen indices (served by `/get_pro_revocations`). */
  readonly revocations: number
  readonly now: number
}

/** Users + payments for the route benchmarks. Filler users get random master keys. */
export const seedRoutes = (file: string, s: RouteSeed) =>
  withFreshDb(file, (db) =>
    tx(db, () => {
      const pay = db.prepare(PAYMENT_INSERT)
      const user = db.prepare(USER_INSERT)
      const drivenAt = new Map(s.driven.map((u) => [u.index, u]))
      const expiry = s.now + 60 * DAY
      const filler = randomBytes(32 * s.users)
      for (let i = 0; i < s.users; i++) {
        const d = drivenAt.get(i)
        const master = d ? Buffer.from(d.master.publicKey) : filler.subarray(32 * i, 32 * i + 32)
        const txId = d ? d.appleTxId : `bench-filler-${i}`
        pay.run(master, 2, s.now - DAY, s.now - DAY, expiry, txId, txId)
        user.run(master, i, expiry, Buffer.from(accountIdForMaster(master)))
      }
      for (let j = 0; j < s.addPool; j++) {
        const id = `bench-add-${j}`
        pay.run(null, 1, s.now - DAY, null, s.now + 30 * DAY, id, id)
      }
      // Revoke filler gen indices only, never a driven user's.
      const rev = db.prepare(`INSERT INTO revocations (gen_index, creation_unix_ts_ms, expiry_unix_ts_ms) VALUES (?, ?, ?)`)
      let made = 0
      for (let g = s.users - 1; g >= 0 && made < s.revocations; g--) {
        if (drivenAt.has(g)) continue
        rev.run(g, s.now - DAY, expiry)
        made++
      }
      db.prepare(`UPDATE runtime SET gen_index = ?`).run(s.users)
    }))

/**
 * What is done to a seeded DB before the server opens it: nothing, a truncating WAL checkpoint (the
 * DB file holds every page, the WAL is empty), or VACUUM (rebuilt, defragmented) then the checkpoint.
 * Returns the DB and WAL sizes afterwards, MiB.
 */
export type DbPreparation = "none" | "checkpoint" | "vacuum"
export const prepareDb = (file: string, how: DbPreparation): { readonly dbMiB: number; readonly walMiB: number } => {
  if (how !== "none") {
    const db = openSqlite(file, { fileMustExist: true })
    try {
      if (how === "vacuum") db.exec("VACUUM")
      db.pragma("wal_checkpoint(TRUNCATE)")
    } finally {
      db.close()
    }
  }
  const size = (f: string) => (NodeFs.existsSync(f) ? NodeFs.statSync(f).size / 1048576 : 0)
  return { dbMiB: size(file), walMiB: size(`${file}-wal`) }
}

export type SweepSeedKind = "realistic" | "scattered"

export interface SweepSeed {
  readonly payments: number
  /**
   * "realistic": the wall clock at seeding; the newest purchase lies just before it and the sweep runs
   * at the next UTC midnight after that purchase (`SweepSeeded.sweepAt`). "scattered": the sweep time.
   */
  readonly now: number
  /** Default "realistic"; see `seedSweep` and bench/README.md. */
  readonly kind?: SweepSeedKind
  /**
   * The sweep's user-prune candidates (schema v11) pending at the sweep. The bulk insert below bypasses the
   * core, so the user-insert trigger makes every user a candidate, as if all of them had been created
   * since the last sweep. "daily" (default) models a DB the core has been running: yesterday's sweep
   * consumed the candidates of older users. Realistic seed: pending are the users created (first
   * redemption) since the previous sweep. Scattered seed: 1/30 of the users (the same churn as the ~1/30
   * of payments that expire per day) plus every user without payments (the invariant the triggers keep;
   * it also keeps the `users` count equal to a full prune's). "all" keeps every user pending: the first
   * sweep after a bulk import of users, the worst case.
   */
  readonly candidates?: "daily" | "all"
}

/** What was seeded, and when the sweep is to run. Counts are rows in the DB after seeding. */
export interface SweepSeeded {
  readonly kind: SweepSeedKind
  /** The `ts` to run the sweep at. */
  readonly sweepAt: number
  readonly payments: number
  readonly users: number
  /** Pending `user_prune_candidates` rows. */
  readonly candidates: number
  /** Payments the sweep will expire (status unredeemed/redeemed, expiry at or before `sweepAt`). */
  readonly dueExpiries: number
  readonly revocations: number
  readonly appleNotifications: number
  readonly googleNotifications: number
  readonly proofWatermarks: number
}

const countsOf = (db: SqliteDatabase, kind: SweepSeedKind, sweepAt: number): SweepSeeded => {
  const n = (q: string, ...a: Array<number>) => Number((db.prepare(q).get(...a) as { n: number | bigint }).n)
  return {
    kind,
    sweepAt,
    payments: n(`SELECT count(*) AS n FROM payments`),
    users: n(`SELECT count(*) AS n FROM users`),
    candidates: n(`SELECT count(*) AS n FROM user_prune_candidates`),
    dueExpiries: n(`SELECT count(*) AS n FROM payments WHERE status IN (1, 2) AND expiry_unix_ts_ms <= ?`, sweepAt),
    revocations: n(`SELECT count(*) AS n FROM revocations`),
    appleNotifications: n(`SELECT count(*) AS n FROM apple_notification_uuid_history`),
    googleNotifications: n(`SELECT count(*) AS n FROM google_notification_history`),
    proofWatermarks: n(`SELECT count(*) AS n FROM gen_index_proof_expiry`)
  }
}

/**
 * A DB for the daily sweep. "realistic" (default): see `seedSweepRealistic`. "scattered": the worst case
 * kept from the first version of this bench — `payments` rows over `payments / 2` users, expiries
 * interleaved row by row over 60 days (`expiryOf(i) = now - DAY + (i % 60) * DAY`), so the ~1/60 of the
 * rows that expire at `now` each sit on a different page; 5% unredeemed, 5% already expired, and the
 * users with index ≡ 0 mod 20 get no payment (only unlinked unredeemed ones), so every sweep prunes 5% of
 * the users; 1% revoked gen indices; Apple notification history with expiries spread the same way.
 */
export const seedSweep = (file: string, s: SweepSeed): Promise<SweepSeeded> =>
  withFreshDb(file, (db) => {
    // The seeding connection only: a page cache that holds the whole DB, so the one big transaction does
    // not spill pages of its randomly keyed indexes to the WAL over and over (1M payments: ~0.5 GiB).
    db.pragma(`cache_size = -${Math.min(1024, Math.max(64, Math.ceil(s.payments / 1000) * 2)) * 1024}`)
    return tx(db, () => ((s.kind ?? "realistic") === "scattered" ? seedSweepScattered(db, s) : seedSweepRealistic(db, s)))
  })

const seedSweepScattered = (db: SqliteDatabase, s: SweepSeed): SweepSeeded => {
  const pay = db.prepare(PAYMENT_INSERT)
  const user = db.prepare(USER_INSERT)
  const users = Math.max(1, Math.floor(s.payments / 2))
  const masters = randomBytes(32 * users)
  const m = (u: number) => masters.subarray(32 * u, 32 * u + 32)
  const expiryOf = (i: number) => s.now - DAY + (i % 60) * DAY
  for (let u = 0; u < users; u++) user.run(m(u), u, s.now + 30 * DAY, Buffer.from(accountIdForMaster(m(u))))
  for (let i = 0; i < s.payments; i++) {
    const kind = i % 20
    const id = `sweep-${i}`
    if (kind === 0) pay.run(null, 1, s.now - DAY, null, expiryOf(i), id, id)
    else if (kind === 1) pay.run(m(i % users), 3, s.now - 90 * DAY, s.now - 90 * DAY, s.now - 60 * DAY, id, id)
    else pay.run(m(i % users), 2, s.now - DAY, s.now - DAY, expiryOf(i), id, id)
  }
  const rev = db.prepare(`INSERT INTO revocations (gen_index, creation_unix_ts_ms, expiry_unix_ts_ms) VALUES (?, ?, ?)`)
  for (let g = 0; g < Math.floor(users / 100); g++) rev.run(g, s.now - DAY, expiryOf(g))
  const apple = db.prepare(`INSERT INTO apple_notification_uuid_history (uuid, expiry_unix_ts_ms) VALUES (?, ?)`)
  for (let i = 0; i < Math.floor(s.payments / 10); i++) apple.run(`uuid-${i}`, expiryOf(i))
  db.prepare(`UPDATE runtime SET gen_index = ?`).run(users)
  if ((s.candidates ?? "daily") === "daily") {
    db.exec(`DELETE FROM user_prune_candidates`)
    db.exec(`INSERT INTO user_prune_candidates (master_pkey) SELECT u.master_pkey FROM users u WHERE u.gen_index % 30 = 0
      OR NOT EXISTS (SELECT 1 FROM payments p WHERE p.master_pkey = u.master_pkey)`)
  }
  return countsOf(db, "scattered", s.now)
}

/** Deterministic PRNG (mulberry32), so a given `payments` count always seeds the same shape. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const HOUR = 3_600_000
/** The reference's plan lengths (a month is 30 days), the plan mix and the chance a period renews. */
const SWEEP_PLANS = [
  { plan: 1, length: 30 * DAY, share: 0.8, renews: 0.85 },
  { plan: 2, length: 90 * DAY, share: 0.1, renews: 0.8 },
  { plan: 3, length: 365 * DAY, share: 0.1, renews: 0.7 }
] as const
const SWEEP_SPAN = 395 * DAY // ~13 months of history
const APPLE_RETRY_MS = (1 + 12 + 24 + 48 + 72) * HOUR + 30 * 60_000 // APPLE_NOTIFICATION_RETRY_MS
const GOOGLE_RETENTION_MS = 8 * DAY // GOOGLE_NOTIFICATION_RETENTION_MS
const GOOGLE_REFUND_MS = 2 * DAY // GOOGLE_REFUND_WINDOW_MS
const GRACE_MS = HOUR // DEFAULT_APPLE_GRACE_PERIOD_MS = DEFAULT_GOOGLE_GRACE_PERIOD_MS
const roundUpDay = (t: number) => Math.floor((t + DAY - 1) / DAY) * DAY

/**
 * The realistic seed: the payments table of a service that started ~13 months before `now` and has had
 * the daily sweep run every midnight since. Subscriptions start uniformly over the 395 days; each is a
 * plan (80% 1 month, 10% 3 months, 10% 12 months) that renews period after period (85 / 80 / 70%) until
 * it lapses or is refunded; one subscription = one user (65% Apple, 35% Google), each renewal a new
 * payment row of the same user. A payment expires at purchase + plan length + up to 1 h (grace column
 * 1 h, the stores' default); a renewal is charged in the 24 h before the previous expiry. Rows are
 * inserted in purchase order, so one day's expiries cluster in rowid order. ~3% of subscriptions were
 * never redeemed (no master key; status unredeemed, or expired once past), ~1% of payments refunded
 * within 14 days (status revoked; a revocation of the user's gen index when the refund fell before the
 * sweep and the payment still had more than a day to run) and 0.5% had a refund requested. Everything a
 * previous sweep would have removed is absent: payments whose expiry passed before the previous
 * midnight are status expired, revocations / notification history / proof watermarks that expired
 * before it are not seeded. Notification history: one Apple (uuid, expiry = event + Apple's retry
 * window) or Google (message id, handled, expiry = event + 8 days) row per purchase or renewal, per
 * auto-renew switched off, per lapse and per refund; 0.2% of the Google rows unhandled with a payload.
 * Proof watermarks: the proof issued at each user's first redemption. Users are created at their first
 * redemption in that order, with gen indices in that order.
 */
const seedSweepRealistic = (db: SqliteDatabase, s: SweepSeed): SweepSeeded => {
  const N = Math.max(1, Math.floor(s.payments))
  const rnd = prng(0x5e55 ^ N)
  const end = s.now
  const start = end - SWEEP_SPAN
  // Payments in generation order (grouped by subscription).
  const purchase = new Float64Array(N)
  const expiry = new Float64Array(N)
  const subOf = new Int32Array(N)
  const nth = new Int32Array(N) // 0 = the subscription's first payment
  const revokedAt = new Float64Array(N) // 0 = not refunded
  const refundReq = new Float64Array(N)
  const autoRenew = new Uint8Array(N) // 0 after the user switched auto-renew off
  const offAt = new Float64Array(N) // when auto-renew was switched off (0 = never)
  const subPlan: Array<number> = []
  const subProvider: Array<number> = [] // 1 Google, 2 Apple
  const subRedeemed: Array<boolean> = []
  let n = 0
  while (n < N) {
    const sid = subPlan.length
    const r = rnd()
    const p = r < SWEEP_PLANS[0].share ? 0 : r < SWEEP_PLANS[0].share + SWEEP_PLANS[1].share ? 1 : 2
    const plan = SWEEP_PLANS[p]
    subPlan.push(p)
    subProvider.push(rnd() < 0.65 ? 2 : 1)
    const redeemed = rnd() >= 0.03
    subRedeemed.push(redeemed)
    let t = start + rnd() * SWEEP_SPAN
    for (let k = 0; t < end && n < N; k++) {
      const i = n++
      purchase[i] = t
      expiry[i] = t + plan.length + rnd() * HOUR
      subOf[i] = sid
      nth[i] = k
      autoRenew[i] = 1
      if (redeemed && rnd() < 0.005) refundReq[i] = t + rnd() * 10 * DAY
      if (redeemed && rnd() < 0.01) {
        revokedAt[i] = t + rnd() * 14 * DAY
        break
      }
      if (rnd() >= plan.renews) {
        autoRenew[i] = 0
        offAt[i] = t + rnd() * (expiry[i]! - t)
        break
      }
      t = expiry[i]! - rnd() * DAY
    }
  }
  // Insertion (= purchase) order.
  const order = new Uint32Array(N)
  if (N < 2 ** 21) {
    const keys = new Float64Array(N)
    for (let i = 0; i < N; i++) keys[i] = Math.floor(purchase[i]! / 1000) * 2 ** 21 + i
    keys.sort()
    for (let j = 0; j < N; j++) order[j] = keys[j]! % 2 ** 21
  } else {
    const idx = Array.from({ length: N }, (_, i) => i)
    idx.sort((a, b) => purchase[a]! - purchase[b]!)
    for (let j = 0; j < N; j++) order[j] = idx[j]!
  }
  const sweepAt = Math.floor(purchase[order[N - 1]!]! / DAY) * DAY + DAY
  const prevSweep = sweepAt - DAY
  const subs = subPlan.length
  const masters = randomBytes(32 * subs)
  const masterOf = (sid: number) => masters.subarray(32 * sid, 32 * sid + 32)
  const accountOf = new Map<number, Buffer>()
  const account = (sid: number) => {
    let a = accountOf.get(sid)
    if (a === undefined) accountOf.set(sid, (a = Buffer.from(accountIdForMaster(masterOf(sid)))))
    return a
  }
  // Per user (redeemed subscription), filled while inserting payments.
  const genOf = new Int32Array(subs).fill(-1)
  const created: Array<number> = [] // sids in creation order
  const createdAt = new Float64Array(subs)
  const best = new Float64Array(subs) // latest expiry of a non-revoked payment
  const bestAuto = new Uint8Array(subs)
  const bestRefund = new Float64Array(subs)
  const watermark = new Float64Array(subs)
  const appleOrig: Array<string> = []
  const googleToken: Array<string> = []
  type Note = { readonly at: number; readonly sid: number }
  const notes: Array<Note> = []
  const note = (at: number, sid: number) => {
    const keep = subProvider[sid] === 2 ? at + APPLE_RETRY_MS : at + GOOGLE_RETENTION_MS
    if (at < sweepAt && keep > prevSweep) notes.push({ at, sid })
  }
  const revs: Array<{ gen: number; at: number; expiry: number }> = []
  const pay = db.prepare(`INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing,
    unredeemed_unix_ts_ms, redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms,
    platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms, apple_original_tx_id, apple_tx_id,
    apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id,
    refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, '')`)
  for (let j = 0; j < N; j++) {
    const i = order[j]!
    const sid = subOf[i]!
    const t = purchase[i]!
    const exp = expiry[i]!
    const provider = subProvider[sid]!
    const redeemed = subRedeemed[sid]!
    const revoked = revokedAt[i]! > 0 && revokedAt[i]! < sweepAt && redeemed
    const status = revoked ? 4 : exp <= prevSweep ? 3 : redeemed ? 2 : 1
    const refund = refundReq[i]! > 0 && refundReq[i]! < sweepAt ? refundReq[i]! : 0
    const auto = revoked ? 0 : autoRenew[i]! === 1 || offAt[i]! >= sweepAt ? 1 : 0
    const redeemedTs = redeemed ? t + rnd() * 10 * 60_000 : null
    const master = redeemed ? masterOf(sid) : null
    if (redeemed && genOf[sid] === -1) {
      genOf[sid] = created.length
      created.push(sid)
      createdAt[sid] = redeemedTs!
      watermark[sid] = Math.min(roundUpDay(redeemedTs! + 30 * DAY), exp)
    }
    if (redeemed && !revoked && exp >= best[sid]!) {
      best[sid] = exp
      bestAuto[sid] = auto
      bestRefund[sid] = refund
    }
    let apple: [string | null, string | null, string | null] = [null, null, null]
    let google: [string | null, string | null] = [null, null]
    if (provider === 2) {
      const txId = String(2_000_000_100_000_000 + j)
      if (nth[i] === 0) appleOrig[sid] = txId
      apple = [appleOrig[sid] ?? txId, txId, String(2_000_000_500_000_000 + j)]
    } else {
      if (nth[i] === 0) googleToken[sid] = randomBytes(72).toString("base64url")
      const o = String(1_000_000_000_000 + sid * 7919).padStart(17, "3")
      const base = `GPA.${o.slice(0, 4)}-${o.slice(4, 8)}-${o.slice(8, 12)}-${o.slice(12, 17)}`
      google = [googleToken[sid]!, nth[i] === 0 ? base : `${base}..${nth[i]! - 1}`]
    }
    pay.run(master, status, SWEEP_PLANS[subPlan[sid]!]!.plan, provider, auto, t, redeemedTs, exp, GRACE_MS,
      provider === 2 ? exp : t + GOOGLE_REFUND_MS, revoked ? revokedAt[i]! : null, apple[0], apple[1], apple[2], google[0], google[1],
      refund, provider === 1 && redeemed ? account(sid) : null)
    note(t, sid) // purchase / renewal
    if (offAt[i]! > 0) note(offAt[i]!, sid) // auto-renew switched off
    if (autoRenew[i] === 0 || revokedAt[i]! > 0) note(exp, sid) // lapsed (expired) notification
    if (revoked) {
      note(revokedAt[i]!, sid)
      // Payments.revokeRows: a revocation when the entitlement reaches past the next day, until it ends.
      const gave = exp + GRACE_MS
      if (gave > roundUpDay(revokedAt[i]!) && gave > prevSweep) revs.push({ gen: genOf[sid]!, at: revokedAt[i]!, expiry: gave })
      watermark[sid] = Math.max(watermark[sid]!, gave)
    }
  }
  const user = db.prepare(`INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms,
    auto_renewing, refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
    VALUES (?, ?, ?, ?, ?, ?, ?, '')`)
  const proof = db.prepare(`INSERT INTO gen_index_proof_expiry (gen_index, max_expiry_unix_ts_ms) VALUES (?, ?)`)
  for (let g = 0; g < created.length; g++) {
    const sid = created[g]!
    user.run(masterOf(sid), g, best[sid]!, GRACE_MS, bestAuto[sid]!, bestRefund[sid]!, account(sid))
    if (watermark[sid]! > prevSweep) proof.run(g, watermark[sid]!)
  }
  const rev = db.prepare(`INSERT INTO revocations (gen_index, creation_unix_ts_ms, expiry_unix_ts_ms) VALUES (?, ?, ?)`)
  for (const r of revs) rev.run(r.gen, r.at, r.expiry)
  notes.sort((a, b) => a.at - b.at)
  const apple = db.prepare(`INSERT INTO apple_notification_uuid_history (uuid, expiry_unix_ts_ms) VALUES (?, ?)`)
  const google = db.prepare(`INSERT INTO google_notification_history (message_id, handled, payload, expiry_unix_ts_ms) VALUES (?, ?, ?, ?)`)
  let messageId = 10_000_000_000
  for (const x of notes) {
    if (subProvider[x.sid] === 2) apple.run(randomUUID(), x.at + APPLE_RETRY_MS)
    else {
      const id = messageId++
      const unhandled = rnd() < 0.002
      const payload = unhandled ? JSON.stringify({ ackId: "", message: { messageId: String(id), data: randomBytes(180).toString("base64") } }) : null
      google.run(id, unhandled ? 0 : 1, payload, x.at + GOOGLE_RETENTION_MS)
    }
  }
  db.prepare(`UPDATE runtime SET gen_index = ?, last_expire_unix_ts_ms = ?`).run(created.length, prevSweep)
  if ((s.candidates ?? "daily") === "daily") {
    // Yesterday's sweep consumed the older users' candidates: pending are the users created since.
    db.exec(`DELETE FROM user_prune_candidates`)
    const cand = db.prepare(`INSERT INTO user_prune_candidates (master_pkey) VALUES (?)`)
    for (const sid of created) if (createdAt[sid]! > prevSweep) cand.run(masterOf(sid))
  }
  return countsOf(db, "realistic", sweepAt)
}
