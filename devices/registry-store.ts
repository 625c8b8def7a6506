import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { DeviceType } from './kinds.ts'
import type { DeviceStatus } from './device-schemas.ts'
import { migrateSqlite, type SqliteMigration } from './migrations.ts'

/**
 * Where the registry keeps its devices: the rows and the change log every write appends to.
 * Two implementations, one contract (devices/registry.contract.test.ts): SQLite in the data
 * directory (here) and PostgreSQL shared by several nodes (registry-postgres.ts).
 *
 * Reads are synchronous on purpose: the broker checks every device login and every lookup
 * through get() on its hot path. SQLite reads the file; PostgreSQL answers from an in-memory read
 * model (see registry-postgres.ts). Writes are asynchronous and resolve once committed.
 */

/** A request the registry refuses, with a reason meant for the person who made it. */
export class RegistryError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid' | 'not-found' | 'conflict',
    /** What the message says, for a page to word in its language (dashboard/shared/words.ts). */
    readonly words?: { code: string; params: Record<string, string | number> },
  ) {
    super(message)
    this.name = 'RegistryError'
  }
}

export interface DeviceRow {
  id: string
  type: DeviceType
  name: string
  city: string
  lat: number
  lon: number
  interval: number
  /** JSON text. */
  metadata: string
  status: DeviceStatus
  secret_hash: string
  created_at: string
  updated_at: string
  created_by: string
}

export type ChangeKind = 'added' | 'updated' | 'rotated' | 'status'

/** The columns a change may set. */
export type RowPatch = Partial<Pick<DeviceRow, 'name' | 'lat' | 'lon' | 'interval' | 'metadata' | 'status' | 'secret_hash' | 'updated_at'>>

export interface RowFilter {
  /** A city id. */
  city?: string
  type?: DeviceType
  status?: DeviceStatus
  /** Substring of id or name (the registry lower-cases it before it reaches a store). */
  search?: string
  limit?: number
  offset?: number
}

export interface RegistryStore {
  get(id: string): DeviceRow | undefined
  /** Ordered by id. */
  list(filter: RowFilter): { rows: DeviceRow[]; total: number }
  /** Inserts a device and logs 'added'; a taken id rejects with RegistryError 'conflict'. */
  insert(row: DeviceRow, at: string): Promise<DeviceRow>
  /** Updates a device and logs the change in one transaction; answers the row as stored. */
  change(id: string, kind: ChangeKind, patch: RowPatch, at: string): Promise<DeviceRow>
  /**
   * The row the database holds now, for an id get() does not know: another process added it and
   * this one has not read the change yet. From then on get() knows it too. Rejects (rather than
   * answering undefined) when the database cannot be asked, so a caller can tell "no such device"
   * from "cannot tell now".
   */
  lookup(id: string): Promise<DeviceRow | undefined>
  /** Replaces a secret hash only if it is still `from` (a rotation meanwhile wins); not a change anyone is told of. */
  upgradeHash(id: string, from: string, to: string): Promise<void>
  /** From now on, poll() answers the changes other processes log (and refreshes what get() answers). */
  follow(): Promise<void>
  /** Other processes' changes since the last poll, each once, with the device's current row. */
  poll(): Promise<{ kind: ChangeKind; row: DeviceRow }[]>
  close(): Promise<void>
}

/** Change-log entries older than this are deleted (every follower is far more recent). */
export const CHANGE_LOG_KEEP_MS = 24 * 3_600_000
export const CHANGE_LOG_PRUNE_EVERY_MS = 10 * 60_000

/** Registry schema, SQLite. Version 1 is the schema from before migrations, adopted as is. */
export const SQLITE_REGISTRY_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'devices and change log',
    up: `
      CREATE TABLE IF NOT EXISTS devices (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        city TEXT NOT NULL,
        lat REAL NOT NULL,
        lon REAL NOT NULL,
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
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL
      );`,
  },
  { version: 2, name: 'change log pruned by time', up: 'CREATE INDEX IF NOT EXISTS device_changes_at ON device_changes (at)' },
]

/** Opens (creating if needed) a SQLite registry file and brings its schema up to date. */
export function openRegistryDatabase(file: string): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('busy_timeout = 5000')
  migrateSqlite(db, 'registry', SQLITE_REGISTRY_MIGRATIONS)
  return db
}

const PATCH_COLUMNS = new Set(['name', 'lat', 'lon', 'interval', 'metadata', 'status', 'secret_hash', 'updated_at'])

function setClause(patch: RowPatch): string {
  const keys = Object.keys(patch)
  if (keys.length === 0 || keys.some((k) => !PATCH_COLUMNS.has(k))) throw new Error(`bad registry patch: ${keys.join(', ')}`)
  return keys.map((k) => `${k} = @${k}`).join(', ')
}

/**
 * The registry in a SQLite file (or ':memory:'), shared by `piazza start` and the command line.
 * Other processes' changes are found by polling the change log; while nobody else writes, a poll
 * is one `PRAGMA data_version` (which changes when another connection commits, and only then).
 * The database is the caller's: close() does not close it.
 */
export function createSqliteRegistryStore(db: Database.Database, now: () => number = Date.now): RegistryStore {
  const getRow = db.prepare<[string], DeviceRow>('SELECT * FROM devices WHERE id = ?')
  const insert = db.prepare(`INSERT INTO devices (id, type, name, city, lat, lon, interval, metadata, status, secret_hash, created_at, updated_at, created_by)
    VALUES (@id, @type, @name, @city, @lat, @lon, @interval, @metadata, @status, @secret_hash, @created_at, @updated_at, @created_by)`)
  const upgradeHash = db.prepare<[string, string, string]>('UPDATE devices SET secret_hash = ? WHERE id = ? AND secret_hash = ?')
  const logChange = db.prepare<[string, string, string]>('INSERT INTO device_changes (device_id, kind, at) VALUES (?, ?, ?)')
  const changesSince = db.prepare<[number], { seq: number; device_id: string; kind: ChangeKind }>(
    'SELECT seq, device_id, kind FROM device_changes WHERE seq > ? ORDER BY seq',
  )
  const lastChange = db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM device_changes')
  const pruneChanges = db.prepare<[string]>('DELETE FROM device_changes WHERE at < ?')
  const dataVersion = () => db.pragma('data_version', { simple: true }) as number

  // The follower's position: the last change-log entry seen, and which later ones this process wrote itself.
  let following = false
  let seenSeq = 0
  let seenVersion = 0
  const ownSeqs = new Set<number>()
  let lastPrune = 0

  const mustGet = (id: string): DeviceRow => {
    const row = getRow.get(id)
    if (!row) throw new RegistryError(`no device with id '${id}'`, 'not-found', { code: 'no-device', params: { id } })
    return row
  }

  /** Runs a write and its change-log entry in one transaction. */
  function logged(id: string, kind: ChangeKind, at: string, write: () => void): DeviceRow {
    const seq = db.transaction(() => {
      write()
      return Number(logChange.run(id, kind, at).lastInsertRowid)
    })()
    if (following) {
      // No other connection committed since the last poll: every entry up to ours is ours.
      if (dataVersion() === seenVersion && ownSeqs.size === 0) seenSeq = Math.max(seenSeq, seq)
      else ownSeqs.add(seq)
    }
    return mustGet(id)
  }

  return {
    get: (id) => getRow.get(id),

    list(filter) {
      const where: string[] = []
      const params: Record<string, string | number> = {}
      if (filter.city) {
        where.push('city = @city')
        params.city = filter.city
      }
      if (filter.type) {
        where.push('type = @type')
        params.type = filter.type
      }
      if (filter.status) {
        where.push('status = @status')
        params.status = filter.status
      }
      if (filter.search) {
        where.push('(instr(lower(id), @search) > 0 OR instr(lower(name), @search) > 0)')
        params.search = filter.search
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
      const total = (db.prepare(`SELECT count(*) AS n FROM devices ${clause}`).get(params) as { n: number }).n
      const rows = db
        .prepare(`SELECT * FROM devices ${clause} ORDER BY id LIMIT @limit OFFSET @offset`)
        .all({ ...params, limit: filter.limit ?? -1, offset: filter.offset ?? 0 }) as DeviceRow[]
      return { rows, total }
    },

    // Synchronous underneath: the write is done when the call returns, the promise only reports it.
    async insert(row, at) {
      try {
        return logged(row.id, 'added', at, () => insert.run(row))
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new RegistryError(`a device with id '${row.id}' already exists`, 'conflict', { code: 'device-exists', params: { id: row.id } })
        throw err
      }
    },

    async change(id, kind, patch, at) {
      mustGet(id)
      const update = db.prepare(`UPDATE devices SET ${setClause(patch)} WHERE id = @id`)
      return logged(id, kind, at, () => update.run({ ...patch, id }))
    },

    // get() reads the file: there is nothing more to look up.
    async lookup(id) {
      return getRow.get(id)
    },

    async upgradeHash(id, from, to) {
      upgradeHash.run(to, id, from)
    },

    async follow() {
      following = true
      seenVersion = dataVersion()
      seenSeq = lastChange.get()?.seq ?? 0
      ownSeqs.clear()
    },

    async poll() {
      const version = dataVersion()
      if (version === seenVersion) return []
      const out: { kind: ChangeKind; row: DeviceRow }[] = []
      for (const entry of changesSince.all(seenSeq)) {
        seenSeq = entry.seq
        if (ownSeqs.delete(entry.seq)) continue
        const row = getRow.get(entry.device_id)
        if (row) out.push({ kind: entry.kind, row })
      }
      seenVersion = version
      const t = now()
      if (t - lastPrune > CHANGE_LOG_PRUNE_EVERY_MS) {
        lastPrune = t
        pruneChanges.run(new Date(t - CHANGE_LOG_KEEP_MS).toISOString())
      }
      return out
    },

    async close() {
      following = false
    },
  }
}
