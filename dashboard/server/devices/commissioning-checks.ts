import { KINDS } from '../../../devices/kinds.ts'
import type { LoginRefusal } from '../../../devices/device-schemas.ts'
import type { Device } from '../../../devices/registry.ts'
import { CITY_RADIUS_KM, distanceKm, findCity } from '../../../devices/region.ts'
import type { Check, CommissioningReading, CommissioningRejection, CommissioningState, Stage } from '../../shared/commissioning.ts'

/**
 * Commissioning checks (pure): from what the server saw of a device since it was registered (a
 * Track, kept by commissioning.ts from the feed), the stage it has reached and each check with
 * its reason, as the installer's page shows them.
 */

export interface TrackedReading {
  time: number
  receivedAt: number
  values: Record<string, unknown>
}

export interface Track {
  connected?: boolean
  everConnected: boolean
  connectedAt?: number
  disconnectedAt?: number
  /** As received: only the kind's fields are picked out when a state is built (rarely), not per reading. */
  first?: TrackedReading
  last?: TrackedReading
  accepted: number
  rejected: number
  rejections: CommissioningRejection[]
  /** Recent distinct device timestamps, ascending. */
  times: number[]
  lastEvent?: 'accepted' | 'rejected'
  seeded?: boolean
  /** The newest refused login (the feed says at most one a second). */
  loginRefusal?: LoginRefusal
}

function picked(device: Pick<Device, 'type'>, r: TrackedReading): CommissioningReading {
  return { time: r.time, receivedAt: r.receivedAt, values: pick(device, r.values) }
}

function pick(device: Pick<Device, 'type'>, values: Record<string, unknown>): Record<string, number | string> {
  const kind = KINDS[device.type]
  const out: Record<string, number | string> = {}
  for (const name of [...kind.tagNames, ...kind.fieldNames]) {
    const v = values[name]
    if (typeof v === 'number' || typeof v === 'string') out[name] = v
  }
  return out
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** A check: what it found (`code`, `params`, for the page to word in its language) and the same in English. */
const check = (state: Check['state'], code: string, params: Check['params'], message: string): Check => ({ state, code, params, message })

const seconds = (s: number) => (s >= 120 ? `${+(s / 60).toFixed(1)} min` : `${+s.toFixed(1)} s`)

/** The commissioning state of a device from its track; `connected` is the feed's word when the track has none. */
export function assess(device: Device, track: Track | undefined, isConnected: boolean, now = Date.now()): CommissioningState {
  const id = device.id
  const t: Track = track ?? { everConnected: false, accepted: 0, rejected: 0, rejections: [], times: [] }
  const city = findCity(device.city)
  const connected = t.connected ?? isConnected
  const everConnected = t.everConnected || connected || t.first !== undefined

  let connection: Check
  if (device.status !== 'active') connection = check('fail', 'not-active', { status: device.status }, `the device is ${device.status}: the broker refuses it`)
  else if (connected) connection = check('ok', 'connected', {}, 'connected to the broker')
  else if (t.loginRefusal && t.loginRefusal.at >= (t.disconnectedAt ?? t.connectedAt ?? 0)) connection = check('fail', 'login-refused', { reason: t.loginRefusal.reason, message: t.loginRefusal.message }, `login refused: ${t.loginRefusal.message}`)
  else if (everConnected) connection = check('warn', 'was-connected', {}, 'not connected now (it was connected before)')
  else connection = check('pending', 'waiting-connection', { id }, `waiting for the device to connect with client id and username '${id}'`)

  const reading: Check = t.first
    ? check('ok', 'accepted', { count: t.accepted }, `${t.accepted} reading${t.accepted === 1 ? '' : 's'} accepted`)
    : check('pending', 'waiting-reading', { topic: `devices/${id}/telemetry` }, `waiting for the first reading on devices/${id}/telemetry`)

  let values: Check
  if (t.lastEvent === 'rejected' && t.rejections[0]) values = check('fail', 'payload-refused', { reason: t.rejections[0].reason }, `the last payload was refused: ${t.rejections[0].reason}`)
  else if (t.last) {
    const kind = KINDS[device.type]
    const fields = kind.fieldNames.filter((f) => typeof t.last!.values[f] === 'number')
    values = check('ok', 'in-range', { count: fields.length, fields: fields.join(', ') }, `${fields.length} field${fields.length === 1 ? '' : 's'} within range: ${fields.join(', ')}`)
  } else values = check('pending', 'waiting-values', {}, 'waiting for a reading')

  let location: Check
  if (!city) location = check('fail', 'unknown-city', { city: device.city }, `unknown city '${device.city}'`)
  else {
    const km = distanceKm(device.lat, device.lon, city.lat, city.lon)
    location =
      km <= CITY_RADIUS_KM
        ? check('ok', 'near-city', { km: +km.toFixed(1), city: city.name }, `${km.toFixed(1)} km from the centre of ${city.name}`)
        : check('fail', 'far-from-city', { km: +km.toFixed(1), city: city.name, max: CITY_RADIUS_KM }, `${km.toFixed(1)} km from the centre of ${city.name}, more than ${CITY_RADIUS_KM} km: correct the location or the city`)
    const lat = t.last?.values.lat
    const lon = t.last?.values.lon
    if (location.state === 'ok' && device.type === 'bus' && typeof lat === 'number' && typeof lon === 'number') {
      const away = distanceKm(lat, lon, city.lat, city.lon)
      if (away > CITY_RADIUS_KM) location = check('warn', 'bus-away', { km: +away.toFixed(1), city: city.name }, `the bus reports a position ${away.toFixed(1)} km from the centre of ${city.name}`)
    }
  }

  let interval: Check
  let measuredInterval: number | undefined
  if (t.times.length < 2) {
    interval = check('pending', t.times.length === 0 ? 'waiting-two-readings' : 'waiting-second-reading', { expected: device.interval }, `waiting for ${t.times.length === 0 ? 'two readings' : 'a second reading'} to measure the interval (expected every ${seconds(device.interval)})`)
  } else {
    const gaps: number[] = []
    for (let i = 1; i < t.times.length; i++) gaps.push((t.times[i]! - t.times[i - 1]!) / 1000)
    measuredInterval = +median(gaps).toFixed(3)
    const ratio = measuredInterval / device.interval
    interval =
      ratio >= 0.5 && ratio <= 1.5
        ? check('ok', 'interval-ok', { measured: measuredInterval, expected: device.interval }, `about every ${seconds(measuredInterval)} (expected ${seconds(device.interval)})`)
        : check(
            'fail',
            'interval-off',
            { measured: measuredInterval, expected: device.interval },
            `readings come every ${seconds(measuredInterval)}, expected every ${seconds(device.interval)}: fix the device's reporting interval or the expected interval`,
          )
  }

  let stage: Stage
  if (device.status === 'revoked' || device.status === 'decommissioned') stage = device.status
  else if ([reading, values, interval].every((c) => c.state === 'ok') && location.state !== 'fail' && location.state !== 'pending') stage = 'plausible'
  else if (t.first) stage = 'receiving'
  else if (everConnected) stage = 'connected'
  else stage = 'waiting'

  const state: CommissioningState = {
    device: {
      id: device.id,
      type: device.type,
      name: device.name,
      city: device.city,
      cityName: city?.name ?? device.city,
      lat: device.lat,
      lon: device.lon,
      interval: device.interval,
      status: device.status,
      createdBy: device.createdBy,
    },
    stage,
    connected,
    accepted: t.accepted,
    rejected: t.rejected,
    rejections: t.rejections,
    checks: { connection, reading, values, location, interval },
    updatedAt: now,
  }
  if (t.loginRefusal) state.loginRefusal = t.loginRefusal
  if (t.connectedAt !== undefined) state.connectedAt = t.connectedAt
  if (t.disconnectedAt !== undefined) state.disconnectedAt = t.disconnectedAt
  if (t.first) state.firstReading = picked(device, t.first)
  if (t.last) state.lastReading = picked(device, t.last)
  if (measuredInterval !== undefined) state.measuredInterval = measuredInterval
  return state
}
