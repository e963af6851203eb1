import { TransactionConnection } from "@effect/sql/SqlClient"
import { Effect, Option } from "effect"
import { BackendKeys } from "./BackendKeys.js"
import { hex } from "./Crypto/Bytes.js"
import { REVOCATION_EFFECTIVE_DELAY_MS } from "./Domain/Constants.js"
import type { StorageError } from "./Domain/Errors.js"
import { roundUpDay } from "./Domain/Time.js"
import { Database, num } from "./Storage/Database.js"
import { decodeRevocation, type RevocationRow } from "./Storage/Rows.js"

const NO_ITEMS: ReadonlyArray<never> = Object.freeze([])

export interface RevocationItem {
  readonly effective_unix_ts_ms: number
  readonly expiry_unix_ts_ms: number
  readonly gen_index_hash: string
}

export type SetRevocationResult = "User does not exist" | "Skipped" | "Updated" | "Created" | "Deleted"

/** §5.12 / §6.5 / §6.10 with D4e (idempotent, an update bumps the ticket). */
export class Revocations extends Effect.Service<Revocations>()("@session-pro/core/Revocations", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const keys = yield* BackendKeys

    const ticket = Effect.map(db.q`SELECT revocation_ticket FROM runtime LIMIT 1`, (rows) => num(rows[0]?.revocation_ticket))
    const all = Effect.map(
      db.q`SELECT gen_index, creation_unix_ts_ms, expiry_unix_ts_ms FROM revocations ORDER BY gen_index`,
      (rows) => rows.map(decodeRevocation)
    )
    const isRevoked = (genIndex: number) => Effect.map(db.q`SELECT 1 AS x FROM revocations WHERE gen_index = ${genIndex}`, (r) => r.length > 0)

    // gen_index_hash is a pure function of (gen_index, salt): remember the hex so every
    // /get_pro_revocations does not re-hash the whole list (≈100 BLAKE2b per request).
    const hashHex = new Map<number, string>()
    const genIndexHashHex = (g: number): string => {
      let h = hashHex.get(g)
      if (h === undefined) {
        h = hex(keys.genIndexHash(g))
        if (hashHex.size >= 100_000) hashHex.clear()
        hashHex.set(g, h)
      }
      return h
    }

    /** Served form: expiry rounded up to a real day, effective = min(creation + 1 day, rounded expiry). */
    const serve = (r: RevocationRow): RevocationItem => {
      const expiry = roundUpDay(r.expiry_unix_ts_ms)
      return {
        effective_unix_ts_ms: Math.min(r.creation_unix_ts_ms + REVOCATION_EFFECTIVE_DELAY_MS, expiry),
        expiry_unix_ts_ms: expiry,
        gen_index_hash: genIndexHashHex(r.gen_index)
      }
    }

    /**
     * The served list of the last committed ticket read outside a transaction. Every change of the
     * revocations table bumps the ticket in the same transaction (insert/delete triggers, `upsert`), so
     * a ticket names one list: a request at an unchanged ticket reuses it instead of re-reading the rows.
     */
    let served: { readonly ticket: number; readonly items: ReadonlyArray<RevocationItem> } | undefined

    /**
     * P§2.3: the whole list when the client's ticket is behind the server's, else nothing (FLAG-24
     * replicated: a client ticket ahead of the server also gets an empty list). Plain reads, no write
     * lock (this route is hot): the ticket is read first, so a concurrent change can only make the rows
     * newer than the ticket, and the client then simply fetches again.
     */
    const list = (clientTicket: number | bigint): Effect.Effect<{ readonly ticket: number; readonly items: ReadonlyArray<RevocationItem> }, StorageError> =>
      Effect.gen(function*() {
        const t = yield* ticket
        if (BigInt(clientTicket) >= BigInt(t)) return { ticket: t, items: NO_ITEMS }
        // The same frozen array while the ticket is unchanged, so adapters can cache its encoding by identity.
        if (served !== undefined && served.ticket === t) return { ticket: t, items: served.items }
        const rows = yield* all
        const items: ReadonlyArray<RevocationItem> = Object.freeze(rows.map((r) => Object.freeze(serve(r))))
        // Only a committed state may be remembered (a transaction could still roll its ticket back).
        if (Option.isNone(yield* Effect.serviceOption(TransactionConnection))) served = { ticket: t, items }
        return { ticket: t, items }
      })

    const bumpTicket = Effect.asVoid(db.q`UPDATE runtime SET revocation_ticket = revocation_ticket + 1`)

    /**
     * Insert or update the revocation of `genIndex`. FLAG-2 fixed: a repeat does not raise. FLAG-8 fixed:
     * an update that changes the row bumps the ticket (the triggers only fire on insert/delete).
     * `mode: "extend"` keeps the later of the old and new expiry (revoke path); `"set"` overwrites (admin).
     */
    const upsert = (genIndex: number, creation: number, expiry: number, mode: "extend" | "set") =>
      Effect.gen(function*() {
        const inserted = yield* db.q`INSERT INTO revocations (gen_index, creation_unix_ts_ms, expiry_unix_ts_ms)
          VALUES (${genIndex}, ${creation}, ${expiry}) ON CONFLICT (gen_index) DO NOTHING RETURNING gen_index`
        if (inserted.length > 0) return "Created" as const
        const existing = yield* db.q`SELECT gen_index, creation_unix_ts_ms, expiry_unix_ts_ms FROM revocations WHERE gen_index = ${genIndex}`
        const old = decodeRevocation(existing[0])
        const newCreation = mode === "extend" ? old.creation_unix_ts_ms : creation
        const newExpiry = mode === "extend" ? Math.max(old.expiry_unix_ts_ms, expiry) : expiry
        if (newCreation !== old.creation_unix_ts_ms || newExpiry !== old.expiry_unix_ts_ms) {
          yield* db.q`UPDATE revocations SET creation_unix_ts_ms = ${newCreation}, expiry_unix_ts_ms = ${newExpiry}
            WHERE gen_index = ${genIndex}`
          yield* bumpTicket
        }
        return "Updated" as const
      })

    const userGenIndex = (master: Uint8Array) =>
      Effect.map(db.q`SELECT gen_index FROM users WHERE master_pkey = ${master}`, (rows) => (rows.length === 0 ? undefined : num(rows[0].gen_index)))

    /** §6.10 admin set (CLI `revoke timestamp`): acts on the user's current gen index. */
    const setForMaster = (master: Uint8Array, v: { readonly creationUnixTsMs: number; readonly expiryUnixTsMs: number }) =>
      db.transaction(Effect.gen(function*() {
        const g = yield* userGenIndex(master)
        if (g === undefined) return "User does not exist" as SetRevocationResult
        return (yield* upsert(g, v.creationUnixTsMs, v.expiryUnixTsMs, "set")) as SetRevocationResult
      }))

    /** §6.10 admin delete (CLI `revoke delete`). */
    const deleteForMaster = (master: Uint8Array) =>
      db.transaction(Effect.gen(function*() {
        const g = yield* userGenIndex(master)
        if (g === undefined) return "User does not exist" as SetRevocationResult
        const del = yield* db.q`DELETE FROM revocations WHERE gen_index = ${g} RETURNING gen_index`
        return (del.length > 0 ? "Deleted" : "Skipped") as SetRevocationResult
      }))

    return { ticket, all, list, serve, isRevoked, upsert, setForMaster, deleteForMaster } as const
  })
}) {}
