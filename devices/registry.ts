import type Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { KINDS, type DeviceType } from './kinds.ts'
import type { Device, DevicePatch, DeviceStatus, NewDevice } from './device-schemas.ts'
import { findCity, isInRegion } from './region.ts'
import { createSqliteRegistryStore, RegistryError, type ChangeKind, type DeviceRow, type RegistryStore, type RowFilter } from './registry-store.ts'
import { createDeviceSecretVerifier, generateSecret, hashDeviceSecret, isLegacyHash } from './secrets.ts'

/**
 * The device registry: who may connect, what each device is and where it stands. Kept in a
 * RegistryStore (registry-store.ts): a SQLite file in the data directory by default, shared by
 * `piazza start` and the command line, or PostgreSQL shared by several nodes
 * (registry-postgres.ts).
 *
 * Every change (add, update, rotate, status) is also appended, in the same transaction, to the
 * change log. The running platform polls it (watchChanges) and announces changes made by other
 * processes — `piazza devices revoke`, another node — through onChange exactly as its own, so a
 * device revoked or re-keyed elsewhere loses its live connection within a second.
 */

export { openRegistryDatabase, RegistryError, type RegistryStore } from './registry-store.ts'

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

/** Which devices list() returns; its search is a substring of id or name, any case. */
export type DeviceFilter = RowFilter

const ID_PREFIX: Record<DeviceType, string> = {
  'air-quality': 'aq',
  noise: 'noise',
  weather: 'wx',
  'traffic-counter': 'traffic',
  bus: 'bus',
  parking: 'park',
  'bike-dock': 'bike',
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


export type RegistryDeps = {
  /** The server key device secrets are stored under (devices/secret-key.ts): every process sharing the registry must use the same. */
  secretKey: Buffer
  now?: () => number
} & (
  | { /** A SQLite registry database (openRegistryDatabase). */ db: Database.Database; store?: undefined }
  | { store: RegistryStore; db?: undefined }
)

export interface WatchOptions {
  /** Default 500 ms. */
  intervalMs?: number
  /** A poll that failed (the next one retries) or a listener that threw. */
  onError?(err: unknown): void
}

export function createRegistry(deps: RegistryDeps) {
  const { secretKey, now = Date.now } = deps
  if (secretKey.length < 32) throw new Error('the registry needs a secret key of at least 32 bytes')
  const store = deps.store ?? createSqliteRegistryStore(deps.db, now)
  const verifier = createDeviceSecretVerifier(secretKey)
  const listeners = new Set<(change: RegistryChange) => void>()
  let watching: { timer: NodeJS.Timeout } | undefined
  let polling: Promise<number> | undefined

  /** Tells every listener; a listener that throws does not keep the others from hearing. */
  const emit = (change: RegistryChange): unknown[] => {
    const errors: unknown[] = []
    for (const listener of listeners) {
      try {
        listener(change)
      } catch (err) {
        errors.push(err)
      }
    }
    return errors
  }
  const mustGet = (id: string): DeviceRow => {
    const row = store.get(id)
    if (!row) throw new RegistryError(`no device with id '${id}'`, 'not-found', { code: 'no-device', params: { id } })
    return row
  }
  const checkLocation = (city: string, lat: number, lon: number) => {
    if (!isInRegion(lat, lon)) throw new RegistryError(`location ${lat}, ${lon} is outside the region`, 'invalid', { code: 'outside-region', params: { lat, lon } })
    return { city, lat, lon }
  }
  const at = () => new Date(now()).toISOString()

  /** Announces a committed change of our own; a listener's failure is the listener's, not the write's. */
  function announce(kind: ChangeKind, row: DeviceRow): Device {
    const device = toDevice(row)
    const errors = emit({ kind, device })
    if (errors.length > 0) throw errors[0]
    return device
  }

  /** Announces changes other processes logged since the last call; answers how many. Nearly free when nothing changed. */
  function pollChanges(): Promise<number> {
    polling ??= (async () => {
      try {
        const changes = await store.poll()
        const errors: unknown[] = []
        for (const { kind, row } of changes) errors.push(...emit({ kind, device: toDevice(row) }))
        if (errors.length > 0) throw errors[0]
        return changes.length
      } finally {
        polling = undefined
      }
    })()
    return polling
  }

  return {
    get(id: string): Device | undefined {
      const row = store.get(id)
      return row && toDevice(row)
    },

    async add(input: NewDevice, createdBy = 'cli'): Promise<{ device: Device; secret: string }> {
      const city = findCity(input.city)
      if (!city) throw new RegistryError(`unknown city '${input.city}'`, 'invalid', { code: 'unknown-city', params: { city: input.city } })
      const kind = KINDS[input.type]
      if (!kind) throw new RegistryError(`unknown device type '${input.type}'`, 'invalid', { code: 'unknown-type', params: { type: input.type } })
      if ((input.lat === undefined) !== (input.lon === undefined)) throw new RegistryError('give both lat and lon, or neither', 'invalid', { code: 'lat-lon-both', params: {} })
      const location = checkLocation(city.id, input.lat ?? city.lat, input.lon ?? city.lon)
      const secret = generateSecret()
      const secretHash = hashDeviceSecret(secretKey, secret)
      let id = input.id
      if (id) {
        if (store.get(id)) throw new RegistryError(`a device with id '${id}' already exists`, 'conflict', { code: 'device-exists', params: { id } })
      } else {
        do id = `${ID_PREFIX[input.type]}-${city.id}-${randomBytes(3).toString('hex')}`
        while (store.get(id))
      }
      const t = at()
      const row = await store.insert(
        {
          id,
          type: input.type,
          name: input.name,
          ...location,
          interval: input.interval ?? kind.defaultInterval,
          metadata: JSON.stringify(input.metadata ?? {}),
          status: 'active',
          secret_hash: secretHash,
          created_at: t,
          updated_at: t,
          created_by: createdBy,
        },
        t,
      )
      return { device: announce('added', row), secret }
    },

    list(filter: DeviceFilter = {}): { items: Device[]; total: number } {
      const { rows, total } = store.list({
        city: filter.city ? (findCity(filter.city)?.id ?? filter.city) : undefined,
        type: filter.type,
        status: filter.status,
        search: filter.search?.toLowerCase(),
        limit: filter.limit,
        offset: filter.offset,
      })
      return { items: rows.map(toDevice), total }
    },

    /**
     * Checks a device's login. One HMAC whether or not the id exists, so neither time nor answer
     * tells ids apart (the broker refuses both with the same return code). A secret stored the old
     * way (scrypt) is checked in the scrypt worker and, when right, stored again as HMAC.
     * SQLite reads the row fresh, so a revocation by another process applies at once; PostgreSQL
     * reads the node's read model, current to the last poll of the change log, and looks an id it
     * does not know up in the database (a device just added on another node logs in at once). That
     * lookup makes an unknown id one round trip slower than a known one: device ids are not
     * secrets (public feeds such as GTFS-Realtime carry them), the secret is what the check guards. Rejects when the
     * store cannot tell whether the id exists (the broker answers "server unavailable").
     */
    async checkCredentials(id: string, secret: string): Promise<CredentialCheck> {
      const row = store.get(id) ?? (await store.lookup(id))
      const verdict = verifier.verify(secret, row?.secret_hash)
      const ok = typeof verdict === 'boolean' ? verdict : await verdict
      if (!row) return { ok: false, reason: 'unknown-device' }
      if (!ok) return { ok: false, reason: 'bad-secret' }
      // Only if the row still holds the hash just checked: a rotation meanwhile wins.
      if (isLegacyHash(row.secret_hash)) await store.upgradeHash(id, row.secret_hash, hashDeviceSecret(secretKey, secret))
      if (row.status !== 'active') return { ok: false, reason: row.status }
      return { ok: true, device: toDevice(row) }
    },

    async rotate(id: string): Promise<{ device: Device; secret: string }> {
      mustGet(id)
      const secret = generateSecret()
      const t = at()
      const row = await store.change(id, 'rotated', { secret_hash: hashDeviceSecret(secretKey, secret), updated_at: t }, t)
      return { device: announce('rotated', row), secret }
    },

    /** With SQLite the write is done when the call returns (the promise only reports it). */
    async setStatus(id: string, status: DeviceStatus): Promise<Device> {
      mustGet(id)
      const t = at()
      return announce('status', await store.change(id, 'status', { status, updated_at: t }, t))
    },

    async update(id: string, patch: DevicePatch): Promise<Device> {
      const row = mustGet(id)
      const lat = patch.lat ?? row.lat
      const lon = patch.lon ?? row.lon
      if (patch.lat !== undefined || patch.lon !== undefined) checkLocation(row.city, lat, lon)
      const t = at()
      const changed = await store.change(
        id,
        'updated',
        {
          name: patch.name ?? row.name,
          lat,
          lon,
          interval: patch.interval ?? row.interval,
          metadata: patch.metadata ? JSON.stringify(patch.metadata) : row.metadata,
          updated_at: t,
        },
        t,
      )
      return announce('updated', changed)
    },

    /**
     * Called for every change made through this registry object, and — while watchChanges runs —
     * for changes other processes sharing the registry made (each announced once).
     */
    onChange(listener: (change: RegistryChange) => void): () => void {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },

    pollChanges,

    /**
     * Polls the change log (default every 500 ms) and announces other processes' changes through
     * onChange. Returns stop.
     */
    async watchChanges(options: WatchOptions = {}): Promise<() => void> {
      if (watching) throw new Error('already watching the change log')
      await store.follow()
      const timer = setInterval(() => {
        if (polling) return
        pollChanges().catch((err: unknown) => options.onError?.(err))
      }, options.intervalMs ?? 500)
      timer.unref()
      watching = { timer }
      return () => {
        if (watching?.timer === timer) {
          clearInterval(timer)
          watching = undefined
        }
      }
    },

    /** Stops watching and forgets the listeners; the store (and its database) stays the caller's to close. */
    async close(): Promise<void> {
      if (watching) clearInterval(watching.timer)
      watching = undefined
      listeners.clear()
      await polling?.catch(() => {})
      await store.close()
    },
  }
}

export type Registry = ReturnType<typeof createRegistry>
