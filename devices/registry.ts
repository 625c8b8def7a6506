import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { KINDS, type DeviceType } from './kinds.ts'
import type { Device, DevicePatch, DeviceStatus, NewDevice } from './device-schemas.ts'
import { findCity, isInRegion } from './region.ts'
import { createDeviceSecretVerifier, generateSecret, hashDeviceSecret, isLegacyHash } from './secrets.ts'

/**
 * The device registry: who may connect, what each device is and where it stands. A SQLite file
 * in the data directory, shared by `piazza start` and the command line, so a device added from
 * the command line can log in to a running broker at once.
 *
 * Every change (add, update, rotate, status) is also appended, in the same transaction, to the
 * table `device_changes`. The running platform polls it (watchChanges) and announces changes made
 * by other processes — `piazza devices revoke` — through onChange exactly as its own, so a device
 * revoked or re-keyed from the command line loses its live connection within a second.
 */

export {
  DEVICE_ID_PATTERN,
  DevicePatchSchema,
  DeviceRefSchema,
  DeviceSchema,
  DeviceStatusSchema,
  MetadataSchema,
  NewDeviceSchema,
  type Device,
  type DevicePatch,
  type DeviceRef,
  type DeviceStatus,
  type NewDevice,
} from './device-schemas.ts'

export interface DeviceFilter {
  city?: string
  type?: DeviceType
  status?: DeviceStatus
  /** Substring of id or name, case-insensitive. */
  search?: string
  limit?: number
  offset?: number
}

/** A request the registry refuses, with a reason meant for the person who made it. */
export class RegistryError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid' | 'not-found' | 'conflict',
  ) {
    super(message)
    this.name = 'RegistryError'
  }
}

const ID_PREFIX: Record<DeviceType, string> = {
  'air-quality': 'aq',
  noise: 'noise',
  weather: 'wx',
  'traffic-counter': 'traffic',
  bus: 'bus',
  parking: 'park',
  'bike-dock': 'bike',
}

export function openRegistryDatabase(file: string): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('busy_timeout = 5000')
  db.exec(`
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
    );
  `)
  return db
}

interface DeviceRow {
  id: string
  type: DeviceType
  name: string
  city: string
  lat: number
  lon: number
  interval: number
  metadata: string
  status: DeviceStatus
  secret_hash: string
  created_at: string
  updated_at: string
  created_by: string
}

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    city: row.city,
    lat: row.lat,
    lon: row.lon,
    interval: row.interval,
    metadata: JSON.parse(row.metadata) as Device['metadata'],
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    createdBy: row.created_by,
  }
}

export type RegistryChange = { kind: 'added' | 'updated' | 'rotated' | 'status'; device: Device }

export type CredentialCheck = { ok: true; device: Device } | { ok: false; reason: 'unknown-device' | 'bad-secret' | 'revoked' | 'decommissioned' }

export interface RegistryDeps {
  db: Database.Database
  /** The server key device secrets are stored under (devices/secret-key.ts): every process sharing the file must use the same. */
  secretKey: Buffer
  now?: () => number
}

export interface WatchOptions {
  /** Default 500 ms. */
  intervalMs?: number
  /** A poll that failed (the next one retries) or a listener that threw. */
  onError?(err: unknown): void
}

/** Change-log entries older than this are deleted (every watcher is far more recent). */
const CHANGE_LOG_KEEP_MS = 24 * 3_600_000
const CHANGE_LOG_PRUNE_EVERY_MS = 10 * 60_000

export function createRegistry(deps: RegistryDeps) {
  const { db, secretKey, now = Date.now } = deps
  if (secretKey.length < 32) throw new Error('the registry needs a secret key of at least 32 bytes')
  const verifier = createDeviceSecretVerifier(secretKey)
  const listeners = new Set<(change: RegistryChange) => void>()
  const getRow = db.prepare<[string], DeviceRow>('SELECT * FROM devices WHERE id = ?')
  const insert = db.prepare(`INSERT INTO devices (id, type, name, city, lat, lon, interval, metadata, status, secret_hash, created_at, updated_at, created_by)
    VALUES (@id, @type, @name, @city, @lat, @lon, @interval, @metadata, 'active', @secret_hash, @now, @now, @created_by)`)
  const upgradeHash = db.prepare<[string, string, string]>('UPDATE devices SET secret_hash = ? WHERE id = ? AND secret_hash = ?')
  const logChange = db.prepare<[string, string, string]>('INSERT INTO device_changes (device_id, kind, at) VALUES (?, ?, ?)')
  const changesSince = db.prepare<[number], { seq: number; device_id: string; kind: RegistryChange['kind'] }>(
    'SELECT seq, device_id, kind FROM device_changes WHERE seq > ? ORDER BY seq',
  )
  const lastChange = db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM device_changes')
  const pruneChanges = db.prepare<[string]>('DELETE FROM device_changes WHERE at < ?')
  /** Changes to data_version when another connection (another process) commits, and only then. */
  const dataVersion = () => db.pragma('data_version', { simple: true }) as number

  // The watcher's position: the last change-log entry seen, and which later ones this process wrote itself.
  let watching: { timer: NodeJS.Timeout; onError?: (err: unknown) => void } | undefined
  let seenSeq = 0
  let seenVersion = 0
  const ownSeqs = new Set<number>()
  let lastPrune = 0

  const emit = (change: RegistryChange) => {
    for (const listener of listeners) listener(change)
  }
  const mustGet = (id: string): DeviceRow => {
    const row = getRow.get(id)
    if (!row) throw new RegistryError(`no device with id '${id}'`, 'not-found')
    return row
  }
  const checkLocation = (city: string, lat: number, lon: number) => {
    if (!isInRegion(lat, lon)) throw new RegistryError(`location ${lat}, ${lon} is outside the region`, 'invalid')
    return { city, lat, lon }
  }

  /** Runs a write and its change-log entry in one transaction, then tells this process's listeners. */
  function change(id: string, kind: RegistryChange['kind'], write: () => void): Device {
    const seq = db.transaction(() => {
      write()
      return Number(logChange.run(id, kind, new Date(now()).toISOString()).lastInsertRowid)
    })()
    if (watching) {
      // No other connection committed since the last poll: every entry up to ours is ours.
      if (dataVersion() === seenVersion && ownSeqs.size === 0) seenSeq = Math.max(seenSeq, seq)
      else ownSeqs.add(seq)
    }
    const device = toDevice(mustGet(id))
    emit({ kind, device })
    return device
  }

  /** Announces changes other processes logged since the last call; answers how many. Nearly free when nothing changed. */
  function pollChanges(): number {
    const version = dataVersion()
    if (version === seenVersion) return 0
    let announced = 0
    for (const entry of changesSince.all(seenSeq)) {
      // Advanced first: a listener that throws does not get the same entry again.
      seenSeq = entry.seq
      if (ownSeqs.delete(entry.seq)) continue
      const row = getRow.get(entry.device_id)
      if (!row) continue
      announced += 1
      emit({ kind: entry.kind, device: toDevice(row) })
    }
    // Only once all were announced: after a throw the next poll reads on from seenSeq.
    seenVersion = version
    const t = now()
    if (t - lastPrune > CHANGE_LOG_PRUNE_EVERY_MS) {
      lastPrune = t
      pruneChanges.run(new Date(t - CHANGE_LOG_KEEP_MS).toISOString())
    }
    return announced
  }

  return {
    get(id: string): Device | undefined {
      const row = getRow.get(id)
      return row && toDevice(row)
    },

    async add(input: NewDevice, createdBy = 'cli'): Promise<{ device: Device; secret: string }> {
      const city = findCity(input.city)
      if (!city) throw new RegistryError(`unknown city '${input.city}'`, 'invalid')
      const kind = KINDS[input.type]
      if (!kind) throw new RegistryError(`unknown device type '${input.type}'`, 'invalid')
      if ((input.lat === undefined) !== (input.lon === undefined)) throw new RegistryError('give both lat and lon, or neither', 'invalid')
      const location = checkLocation(city.id, input.lat ?? city.lat, input.lon ?? city.lon)
      const secret = generateSecret()
      const secretHash = hashDeviceSecret(secretKey, secret)
      let id = input.id
      if (id) {
        if (getRow.get(id)) throw new RegistryError(`a device with id '${id}' already exists`, 'conflict')
      } else {
        do id = `${ID_PREFIX[input.type]}-${city.id}-${randomBytes(3).toString('hex')}`
        while (getRow.get(id))
      }
      const newId = id
      const device = change(newId, 'added', () =>
        insert.run({
          id: newId,
          type: input.type,
          name: input.name,
          ...location,
          interval: input.interval ?? kind.defaultInterval,
          metadata: JSON.stringify(input.metadata ?? {}),
          secret_hash: secretHash,
          now: new Date(now()).toISOString(),
          created_by: createdBy,
        }),
      )
      return { device, secret }
    },

    list(filter: DeviceFilter = {}): { items: Device[]; total: number } {
      const where: string[] = []
      const params: Record<string, string | number> = {}
      if (filter.city) {
        where.push('city = @city')
        params.city = findCity(filter.city)?.id ?? filter.city
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
        where.push("(instr(lower(id), @search) > 0 OR instr(lower(name), @search) > 0)")
        params.search = filter.search.toLowerCase()
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
      const total = (db.prepare(`SELECT count(*) AS n FROM devices ${clause}`).get(params) as { n: number }).n
      const rows = db
        .prepare(`SELECT * FROM devices ${clause} ORDER BY id LIMIT @limit OFFSET @offset`)
        .all({ ...params, limit: filter.limit ?? -1, offset: filter.offset ?? 0 }) as DeviceRow[]
      return { items: rows.map(toDevice), total }
    },

    /**
     * Checks a device's login. Reads the row fresh, so revocations by another process apply at
     * once. One HMAC whether or not the id exists, so neither time nor answer tells ids apart (the
     * broker refuses both with the same return code). A secret stored the old way (scrypt) is
     * checked in the scrypt worker and, when right, stored again as HMAC.
     */
    async checkCredentials(id: string, secret: string): Promise<CredentialCheck> {
      const row = getRow.get(id)
      const verdict = verifier.verify(secret, row?.secret_hash)
      const ok = typeof verdict === 'boolean' ? verdict : await verdict
      if (!row) return { ok: false, reason: 'unknown-device' }
      if (!ok) return { ok: false, reason: 'bad-secret' }
      // Only if the row still holds the hash just checked: a rotation meanwhile wins.
      if (isLegacyHash(row.secret_hash)) upgradeHash.run(hashDeviceSecret(secretKey, secret), id, row.secret_hash)
      if (row.status !== 'active') return { ok: false, reason: row.status }
      return { ok: true, device: toDevice(row) }
    },

    async rotate(id: string): Promise<{ device: Device; secret: string }> {
      mustGet(id)
      const secret = generateSecret()
      const hash = hashDeviceSecret(secretKey, secret)
      const device = change(id, 'rotated', () => {
        db.prepare('UPDATE devices SET secret_hash = ?, updated_at = ? WHERE id = ?').run(hash, new Date(now()).toISOString(), id)
      })
      return { device, secret }
    },

    setStatus(id: string, status: DeviceStatus): Device {
      mustGet(id)
      return change(id, 'status', () => {
        db.prepare('UPDATE devices SET status = ?, updated_at = ? WHERE id = ?').run(status, new Date(now()).toISOString(), id)
      })
    },

    update(id: string, patch: DevicePatch): Device {
      const row = mustGet(id)
      const lat = patch.lat ?? row.lat
      const lon = patch.lon ?? row.lon
      if (patch.lat !== undefined || patch.lon !== undefined) checkLocation(row.city, lat, lon)
      return change(id, 'updated', () => {
        db.prepare('UPDATE devices SET name = ?, lat = ?, lon = ?, interval = ?, metadata = ?, updated_at = ? WHERE id = ?').run(
          patch.name ?? row.name,
          lat,
          lon,
          patch.interval ?? row.interval,
          patch.metadata ? JSON.stringify(patch.metadata) : row.metadata,
          new Date(now()).toISOString(),
          id,
        )
      })
    },

    /**
     * Called for every change made through this registry object, and — while watchChanges runs —
     * for changes other processes sharing the file made (each announced once).
     */
    onChange(listener: (change: RegistryChange) => void): () => void {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },

    pollChanges,

    /**
     * Polls the change log (default every 500 ms) and announces other processes' changes through
     * onChange. While nobody else writes, a poll is one `PRAGMA data_version`. Returns stop.
     */
    watchChanges(options: WatchOptions = {}): () => void {
      if (watching) throw new Error('already watching the change log')
      seenVersion = dataVersion()
      seenSeq = lastChange.get()?.seq ?? 0
      ownSeqs.clear()
      const timer = setInterval(() => {
        try {
          pollChanges()
        } catch (err) {
          options.onError?.(err)
        }
      }, options.intervalMs ?? 500)
      timer.unref()
      watching = { timer, onError: options.onError }
      return () => {
        if (watching?.timer === timer) {
          clearInterval(timer)
          watching = undefined
        }
      }
    },

    close() {
      if (watching) clearInterval(watching.timer)
      watching = undefined
      listeners.clear()
    },
  }
}

export type Registry = ReturnType<typeof createRegistry>
