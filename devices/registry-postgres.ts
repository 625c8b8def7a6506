import type pg from 'pg'
import { migratePostgres, type PostgresMigration } from './migrations.ts'
import { hashDeviceSecret } from './secrets.ts'
import { CHANGE_LOG_KEEP_MS, CHANGE_LOG_PRUNE_EVERY_MS, RegistryError, type ChangeKind, type DeviceRow, type RegistryStore, type RowPatch } from './registry-store.ts'

/**
 * The registry in PostgreSQL, shared by every node of a cluster.
 *
 * Reads come from an in-memory read model: every device row, loaded at start and kept current by
 * this node's own writes (applied once committed) and by other nodes' changes, which poll() reads
 * from the change log. Why not query PostgreSQL on each read: the broker checks every login and
 * the HTTP side looks devices up on hot paths, synchronously; a network round trip there would
 * make the whole stack async and put PostgreSQL's latency (and availability) in front of every
 * device login. A registry is small (a row is a few hundred bytes: 100,000 devices is tens of MB),
 * changes rarely, and a change reaches every node within one poll interval (500 ms by default, the
 * same bound the SQLite registry gives a revocation made from the command line). While PostgreSQL
 * is unreachable, known devices keep logging in and writes fail with an error.
 *
 * Ordering: every write takes one transaction-scoped advisory lock before logging its change, so
 * change-log sequence numbers commit in order and a follower reading "seq > last seen" never
 * skips an entry committed late. Registry writes are rare (people adding and revoking devices):
 * serialising them costs nothing that matters.
 *
 * A device added on another node is in the read model only after the next poll. A login for an id
 * the read model does not know is therefore looked up in PostgreSQL first (lookup()), so a device
 * registered through one node logs in at once through any other. Unknown ids are what an attacker
 * spraying random ids sends, so lookups are bounded: one query per id at a time, at most
 * `lookupConcurrency` queries at once and `lookupQueue` waiting (past that lookup() rejects and the
 * broker answers "server unavailable", counted against nobody's id), and an id PostgreSQL does not
 * hold is answered "unknown" from memory for `negativeCacheMs` (a bounded map).
 */

export const POSTGRES_REGISTRY_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'devices and change log',
    up: `
      CREATE TABLE IF NOT EXISTS devices (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        city TEXT NOT NULL,
        lat DOUBLE PRECISION NOT NULL,
        lon DOUBLE PRECISION NOT NULL,
        interval INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'active',
        secret_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS devices_city_type ON devices (city, type);
      CREATE TABLE IF NOT EXISTS device_changes (
        seq BIGSERIAL PRIMARY KEY,
        device_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL
      );`,
  },
  { version: 2, name: 'change log pruned by time', up: 'CREATE INDEX IF NOT EXISTS device_changes_at ON device_changes (at)' },
  { version: 3, name: 'server key check', up: 'CREATE TABLE IF NOT EXISTS registry_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)' },
]

/** Advisory-lock key of registry writes (see Ordering above). */
const WRITE_LOCK = 7_261_002

const COLUMNS = ['id', 'type', 'name', 'city', 'lat', 'lon', 'interval', 'metadata', 'status', 'secret_hash', 'created_at', 'updated_at', 'created_by'] as const
const PATCH_COLUMNS = new Set(['name', 'lat', 'lon', 'interval', 'metadata', 'status', 'secret_hash', 'updated_at'])

export interface PostgresRegistryStoreOptions {
  pool: pg.Pool
  /**
   * A value derived from the server key (keyCheckValue). The first node stores it; a node or a
   * command whose DATA_DIR/secret-key differs is refused at start, before it could store secrets
   * no other node can verify.
   */
  keyCheck: string
  now?: () => number
  /** Lookups of unknown ids in PostgreSQL at once, default 4. */
  lookupConcurrency?: number
  /** Lookups waiting for one of those, default 64; past that a lookup rejects at once. */
  lookupQueue?: number
  /** How long an id PostgreSQL does not hold is answered "unknown" without asking again, default 5 s. */
  negativeCacheMs?: number
  /** How many such ids are remembered, default 10,000 (the oldest forgotten first). */
  negativeCacheSize?: number
}

/** Lookups are saturated (see lookupQueue): the caller cannot tell now whether the id exists. */
export class LookupBusyError extends Error {
  constructor() {
    super('too many registry lookups of unknown device ids at once')
    this.name = 'LookupBusyError'
  }
}

/** What the registry remembers of the server key: an HMAC of a fixed text under it, which tells nothing of the key. */
export function keyCheckValue(secretKey: Buffer): string {
  return hashDeviceSecret(secretKey, 'piazza registry server key check')
}

export async function createPostgresRegistryStore(options: PostgresRegistryStoreOptions): Promise<RegistryStore> {
  const { pool, now = Date.now } = options
  await migratePostgres(pool, 'registry', POSTGRES_REGISTRY_MIGRATIONS)
  await pool.query("INSERT INTO registry_settings (name, value) VALUES ('key-check', $1) ON CONFLICT (name) DO NOTHING", [options.keyCheck])
  const stored = (await pool.query<{ value: string }>("SELECT value FROM registry_settings WHERE name = 'key-check'")).rows[0]?.value
  if (stored !== options.keyCheck) {
    throw new Error(
      'this DATA_DIR/secret-key is not the server key the shared registry stores device secrets under: copy secret-key from the DATA_DIR of a node already using this DATABASE_URL',
    )
  }

  const { lookupConcurrency = 4, lookupQueue = 64, negativeCacheMs = 5000, negativeCacheSize = 10_000 } = options
  const rows = new Map<string, DeviceRow>()
  let sorted: DeviceRow[] | undefined // list()'s order, rebuilt after a change
  /** Ids PostgreSQL did not hold when asked, with when to ask again; in insertion order. */
  const absent = new Map<string, number>()
  const put = (row: DeviceRow) => {
    rows.set(row.id, row)
    absent.delete(row.id)
    sorted = undefined
  }

  // The read model and the change-log position from one snapshot: nothing between them is missed.
  let seenSeq = 0
  {
    const client = await pool.connect()
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      for (const row of (await client.query<DeviceRow>('SELECT * FROM devices')).rows) put(row)
      seenSeq = Number((await client.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM device_changes')).rows[0]?.seq ?? 0)
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  // Writes and polls take turns, so a poll never sees one of our entries before we noted it as ours.
  let turn: Promise<unknown> = Promise.resolve()
  const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
    const result = turn.then(work)
    turn = result.catch(() => {})
    return result
  }
  const ownSeqs = new Set<number>()
  let lastPrune = 0

  /** Runs `write` (answering the row) and logs the change, in one transaction under the write lock. */
  function logged(id: string, kind: ChangeKind, at: string, write: (client: pg.PoolClient) => Promise<DeviceRow | undefined>): Promise<DeviceRow> {
    return inTurn(async () => {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        await client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK])
        const row = await write(client)
        if (!row) throw new RegistryError(`no device with id '${id}'`, 'not-found', { code: 'no-device', params: { id } })
        const { rows: logged } = await client.query<{ seq: string }>('INSERT INTO device_changes (device_id, kind, at) VALUES ($1, $2, $3) RETURNING seq', [id, kind, at])
        await client.query('COMMIT')
        ownSeqs.add(Number(logged[0]!.seq))
        put(row)
        return row
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        if ((err as { code?: string }).code === '23505') throw new RegistryError(`a device with id '${id}' already exists`, 'conflict', { code: 'device-exists', params: { id: id } })
        throw err
      } finally {
        client.release()
      }
    })
  }

  const lookups = new Map<string, Promise<DeviceRow | undefined>>()
  let running = 0
  const waiting: (() => void)[] = []
  async function slot(): Promise<void> {
    if (running < lookupConcurrency) {
      running += 1
      return
    }
    if (waiting.length >= lookupQueue) throw new LookupBusyError()
    await new Promise<void>((resolve) => waiting.push(resolve))
  }
  const release = () => {
    const next = waiting.shift()
    if (next) next()
    else running -= 1
  }

  async function lookupInPostgres(id: string): Promise<DeviceRow | undefined> {
    await slot()
    try {
      const row = (await pool.query<DeviceRow>('SELECT * FROM devices WHERE id = $1', [id])).rows[0]
      // A poll or a write of ours may have put a row meanwhile: it is at least as fresh.
      if (rows.has(id)) return rows.get(id)
      if (row) put(row)
      else {
        if (absent.size >= negativeCacheSize) absent.delete(absent.keys().next().value!)
        absent.set(id, now() + negativeCacheMs)
      }
      return row
    } finally {
      release()
    }
  }

  return {
    get: (id) => rows.get(id),

    lookup(id) {
      const known = rows.get(id)
      if (known) return Promise.resolve(known)
      const until = absent.get(id)
      if (until !== undefined) {
        if (until > now()) return Promise.resolve(undefined)
        absent.delete(id)
      }
      let pending = lookups.get(id)
      if (!pending) {
        pending = lookupInPostgres(id).finally(() => lookups.delete(id))
        lookups.set(id, pending)
      }
      return pending
    },

    list(filter) {
      sorted ??= [...rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      const matches = sorted.filter(
        (r) =>
          (!filter.city || r.city === filter.city) &&
          (!filter.type || r.type === filter.type) &&
          (!filter.status || r.status === filter.status) &&
          (!filter.search || r.id.toLowerCase().includes(filter.search) || r.name.toLowerCase().includes(filter.search)),
      )
      const offset = filter.offset ?? 0
      const end = filter.limit === undefined || filter.limit < 0 ? undefined : offset + filter.limit
      return { rows: matches.slice(offset, end), total: matches.length }
    },

    insert(row, at) {
      return logged(row.id, 'added', at, async (client) => {
        const values = COLUMNS.map((c) => row[c])
        const { rows: inserted } = await client.query<DeviceRow>(
          `INSERT INTO devices (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`,
          values,
        )
        return inserted[0]
      })
    },

    change(id, kind, patch: RowPatch, at) {
      const keys = Object.keys(patch) as (keyof RowPatch)[]
      if (keys.length === 0 || keys.some((k) => !PATCH_COLUMNS.has(k))) throw new Error(`bad registry patch: ${keys.join(', ')}`)
      return logged(id, kind, at, async (client) => {
        const set = keys.map((k, i) => `${k} = $${i + 2}`).join(', ')
        const { rows: updated } = await client.query<DeviceRow>(`UPDATE devices SET ${set} WHERE id = $1 RETURNING *`, [id, ...keys.map((k) => patch[k])])
        return updated[0]
      })
    },

    async upgradeHash(id, from, to) {
      const { rowCount } = await pool.query('UPDATE devices SET secret_hash = $1 WHERE id = $2 AND secret_hash = $3', [to, id, from])
      const row = rows.get(id)
      if (rowCount && row?.secret_hash === from) put({ ...row, secret_hash: to })
    },

    async follow() {
      // Following starts at load time: the read model must see every change since, announced or not.
    },

    poll() {
      return inTurn(async () => {
        const { rows: entries } = await pool.query<{ change_seq: string; change_kind: ChangeKind } & Partial<DeviceRow>>(
          `SELECT c.seq AS change_seq, c.kind AS change_kind, d.* FROM device_changes c LEFT JOIN devices d ON d.id = c.device_id WHERE c.seq > $1 ORDER BY c.seq`,
          [seenSeq],
        )
        const out: { kind: ChangeKind; row: DeviceRow }[] = []
        for (const { change_seq, change_kind, ...device } of entries) {
          const seq = Number(change_seq)
          seenSeq = seq
          if (device.id === null || device.id === undefined) continue
          const row = device as DeviceRow
          if (ownSeqs.delete(seq)) continue
          put(row)
          out.push({ kind: change_kind, row })
        }
        const t = now()
        if (t - lastPrune > CHANGE_LOG_PRUNE_EVERY_MS) {
          lastPrune = t
          await pool.query('DELETE FROM device_changes WHERE at < $1', [new Date(t - CHANGE_LOG_KEEP_MS).toISOString()])
        }
        return out
      })
    },

    async close() {
      await turn
    },
  }
}
