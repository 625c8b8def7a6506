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

const seconds = (s: number) => (s >= 120 ? `${+(s / 60).toFixed(1)} min` : `${+s.toFixed(1)} s`)

/** The commissioning state of a device from its track; `connected` is the feed's word when the track has none. */
export function assess(device: Device, track: Track | undefined, isConnected: boolean, now = Date.now()): CommissioningState {
  const id = device.id
  const t: Track = track ?? { everConnected: false, accepted: 0, rejected: 0, rejections: [], times: [] }
  const city = findCity(device.city)
  const connected = t.connected ?? isConnected
  const everConnected = t.everConnected || connected || t.first !== undefined

  let connection: Check
  if (device.status !== 'active') connection = { state: 'fail', message: `the device is ${device.status}: the broker refuses it` }
  else if (connected) connection = { state: 'ok', message: 'connected to the broker' }
  else if (t.loginRefusal && t.loginRefusal.at >= (t.disconnectedAt ?? t.connectedAt ?? 0)) connection = { state: 'fail', message: `login refused: ${t.loginRefusal.message}` }
  else if (everConnected) connection = { state: 'warn', message: 'not connected now (it was connected before)' }
  else connection = { state: 'pending', message: `waiting for the device to connect with client id and username '${id}'` }

  const reading: Check = t.first
    ? { state: 'ok', message: `${t.accepted} reading${t.accepted === 1 ? '' : 's'} accepted` }
    : { state: 'pending', message: `waiting for the first reading on devices/${id}/telemetry` }

  let values: Check
  if (t.lastEvent === 'rejected' && t.rejections[0]) values = { state: 'fail', message: `the last payload was refused: ${t.rejections[0].reason}` }
  else if (t.last) {
    const kind = KINDS[device.type]
    const fields = kind.fieldNames.filter((f) => typeof t.last!.values[f] === 'number')
    values = { state: 'ok', message: `${fields.length} field${fields.length === 1 ? '' : 's'} within range: ${fields.join(', ')}` }
  } else values = { state: 'pending', message: 'waiting for a reading' }

  let location: Check
  if (!city) location = { state: 'fail', message: `unknown city '${device.city}'` }
  else {
    const km = distanceKm(device.lat, device.lon, city.lat, city.lon)
    location =
      km <= CITY_RADIUS_KM
        ? { state: 'ok', message: `${km.toFixed(1)} km from the centre of ${city.name}` }
        : { state: 'fail', message: `${km.toFixed(1)} km from the centre of ${city.name}, more than ${CITY_RADIUS_KM} km: correct the location or the city` }
    const lat = t.last?.values.lat
    const lon = t.last?.values.lon
    if (location.state === 'ok' && device.type === 'bus' && typeof lat === 'number' && typeof lon === 'number') {
      const away = distanceKm(lat, lon, city.lat, city.lon)
      if (away > CITY_RADIUS_KM) location = { state: 'warn', message: `the bus reports a position ${away.toFixed(1)} km from the centre of ${city.name}` }
    }
  }

  let interval: Check
  let measuredInterval: number | undefined
  if (t.times.length < 2) {
    interval = { state: 'pending', message: `waiting for ${t.times.length === 0 ? 'two readings' : 'a second reading'} to measure the interval (expected every ${seconds(device.interval)})` }
  } else {
    const gaps: number[] = []
    for (let i = 1; i < t.times.length; i++) gaps.push((t.times[i]! - t.times[i - 1]!) / 1000)
    measuredInterval = +median(gaps).toFixed(3)
    const ratio = measuredInterval / device.interval
    interval =
      ratio >= 0.5 && ratio <= 1.5
        ? { state: 'ok', message: `about every ${seconds(measuredInterval)} (expected ${seconds(device.interval)})` }
        : {
            state: 'fail',
            message: `readings come every ${seconds(measuredInterval)}, expected every ${seconds(device.interval)}: fix the device's reporting interval or the expected interval`,
          }
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
