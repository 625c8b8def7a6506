import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { KINDS, type DeviceType } from './kinds.ts'
import type { Device, DevicePatch, DeviceStatus, NewDevice } from './device-schemas.ts'
import { findCity, isInRegion } from './region.ts'
import { createVerifiedSecretCache, generateSecret, hashSecret } from './secrets.ts'

/**
 * The device registry: who may connect, what each device is and where it stands. A SQLite file
 * in the data directory, shared by `piazza start` and the command line, so a device added from
 * the command line can log in to a running broker at once.
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

export function createRegistry(deps: { db: Database.Database }) {
  const { db } = deps
  const secrets = createVerifiedSecretCache()
  const listeners = new Set<(change: RegistryChange) => void>()
  const getRow = db.prepare<[string], DeviceRow>('SELECT * FROM devices WHERE id = ?')
  const insert = db.prepare(`INSERT INTO devices (id, type, name, city, lat, lon, interval, metadata, status, secret_hash, created_at, updated_at, created_by)
    VALUES (@id, @type, @name, @city, @lat, @lon, @interval, @metadata, 'active', @secret_hash, @now, @now, @created_by)`)

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
      const secretHash = await hashSecret(secret)
      let id = input.id
      if (id) {
        if (getRow.get(id)) throw new RegistryError(`a device with id '${id}' already exists`, 'conflict')
      } else {
        do id = `${ID_PREFIX[input.type]}-${city.id}-${randomBytes(3).toString('hex')}`
        while (getRow.get(id))
      }
      insert.run({
        id,
        type: input.type,
        name: input.name,
        ...location,
        interval: input.interval ?? kind.defaultInterval,
        metadata: JSON.stringify(input.metadata ?? {}),
        secret_hash: secretHash,
        now: new Date().toISOString(),
        created_by: createdBy,
      })
      const device = toDevice(mustGet(id))
      emit({ kind: 'added', device })
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

    /** Checks a device's login. Reads the row fresh, so revocations by another process apply at once. */
    async checkCredentials(id: string, secret: string): Promise<CredentialCheck> {
      const row = getRow.get(id)
      if (!row) return { ok: false, reason: 'unknown-device' }
      if (!(await secrets.verify(secret, row.secret_hash))) return { ok: false, reason: 'bad-secret' }
      if (row.status !== 'active') return { ok: false, reason: row.status }
      return { ok: true, device: toDevice(row) }
    },

    async rotate(id: string): Promise<{ device: Device; secret: string }> {
      mustGet(id)
      const secret = generateSecret()
      const hash = await hashSecret(secret)
      db.prepare('UPDATE devices SET secret_hash = ?, updated_at = ? WHERE id = ?').run(hash, new Date().toISOString(), id)
      const device = toDevice(mustGet(id))
      emit({ kind: 'rotated', device })
      return { device, secret }
    },

    setStatus(id: string, status: DeviceStatus): Device {
      mustGet(id)
      db.prepare('UPDATE devices SET status = ?, updated_at = ? WHERE id = ?').run(status, new Date().toISOString(), id)
      const device = toDevice(mustGet(id))
      emit({ kind: 'status', device })
      return device
    },

    update(id: string, patch: DevicePatch): Device {
      const row = mustGet(id)
      const lat = patch.lat ?? row.lat
      const lon = patch.lon ?? row.lon
      if (patch.lat !== undefined || patch.lon !== undefined) checkLocation(row.city, lat, lon)
      db.prepare('UPDATE devices SET name = ?, lat = ?, lon = ?, interval = ?, metadata = ?, updated_at = ? WHERE id = ?').run(
        patch.name ?? row.name,
        lat,
        lon,
        patch.interval ?? row.interval,
        patch.metadata ? JSON.stringify(patch.metadata) : row.metadata,
        new Date().toISOString(),
        id,
      )
      const device = toDevice(mustGet(id))
      emit({ kind: 'updated', device })
      return device
    },

    /** Called for every change made through this registry object (not by other processes). */
    onChange(listener: (change: RegistryChange) => void): () => void {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },

    close() {
      listeners.clear()
    },
  }
}

export type Registry = ReturnType<typeof createRegistry>
