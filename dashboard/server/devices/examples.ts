import { KINDS, type DeviceType } from '../../../devices/kinds.ts'

/**
 * An example telemetry payload per device type, built from the kind's field table
 * (devices/kinds.ts): every field and tag the kind knows, with a typical value (from the table
 * below when there is one, otherwise a value a tenth into the field's range). The examples pass
 * the same validation as real readings (see device-examples.test.ts), so an installer can paste
 * one into a device's firmware or a mosquitto_pub command and see it accepted.
 */

const TYPICAL: Record<string, number> = {
  pm25: 12.5,
  pm10: 21,
  no2: 38,
  o3: 64,
  so2: 3,
  co: 0.4,
  LAeq: 62.3,
  LAmax: 78.9,
  temperature: 18.4,
  relativeHumidity: 62,
  atmosphericPressure: 1013.2,
  windSpeed: 3.1,
  windDirection: 225,
  precipitation: 0,
  intensity: 42,
  averageVehicleSpeed: 38.5,
  occupancy: 0.12,
  speed: 24,
  heading: 90,
  delay: 45,
  availableSpotNumber: 37,
  totalSpotNumber: 120,
  availableBikeNumber: 6,
  freeSlotNumber: 9,
}

const TYPICAL_TAGS: Record<string, number | string> = { laneId: 1, route: '14' }

export interface ExampleOptions {
  /** The reading's timestamp; default now, to the second. */
  ts?: string
  /** Where the device stands (used for a bus's position). */
  lat?: number
  lon?: number
}

export function examplePayload(type: DeviceType, options: ExampleOptions = {}): Record<string, number | string> {
  const kind = KINDS[type]
  const out: Record<string, number | string> = { ts: options.ts ?? new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z') }
  for (const tag of kind.tagNames) out[tag] = TYPICAL_TAGS[tag] ?? 1
  for (const name of kind.fieldNames) {
    const spec = kind.fields[name]!
    let value = TYPICAL[name] ?? spec.minimum + (spec.maximum - spec.minimum) / 10
    if (type === 'bus' && name === 'lat' && options.lat !== undefined) value = options.lat
    if (type === 'bus' && name === 'lon' && options.lon !== undefined) value = options.lon
    if (spec.integer) value = Math.round(value)
    out[name] = Math.min(spec.maximum, Math.max(spec.minimum, value))
  }
  return out
}

export function allExamples(options: ExampleOptions = {}): Record<DeviceType, Record<string, number | string>> {
  return Object.fromEntries(Object.keys(KINDS).map((type) => [type, examplePayload(type as DeviceType, options)])) as Record<
    DeviceType,
    Record<string, number | string>
  >
}
