import Type, { type Static, type TSchema } from 'typebox'
import { region } from './region.ts'

/**
 * The reading kinds: one per device type. Each kind's reading schema is built from its field
 * table, so the units, ranges and names live in one place and every part (validation, line
 * protocol, API, dashboard, simulator) reads them from here.
 *
 * Field names follow the FIWARE Smart Data Models (AirQualityObserved, NoiseLevelObserved,
 * WeatherObserved, TrafficFlowObserved, OnStreetParking, BikeHireDockingStation, Vehicle).
 * Units are fixed: relative humidity and occupancy are the exceptions where the model's 0–1
 * scale and ours differ, noted per field.
 */

export const FamilySchema = Type.Union([Type.Literal('environment'), Type.Literal('traffic'), Type.Literal('infomobility')])
export type Family = Static<typeof FamilySchema>
export const FAMILIES = FamilySchema.anyOf.map((s) => s.const) as readonly Family[]

export const DeviceTypeSchema = Type.Union([
  Type.Literal('air-quality'),
  Type.Literal('noise'),
  Type.Literal('weather'),
  Type.Literal('traffic-counter'),
  Type.Literal('bus'),
  Type.Literal('parking'),
  Type.Literal('bike-dock'),
])
export type DeviceType = Static<typeof DeviceTypeSchema>
export const DEVICE_TYPES = DeviceTypeSchema.anyOf.map((s) => s.const) as readonly DeviceType[]

export interface FieldSpec {
  /** Unit symbol, fixed for the field. */
  unit: string
  minimum: number
  maximum: number
  integer: boolean
  label: string
}

/** A tag is a reading attribute that identifies a series (a lane, a route), not a measured value. */
export interface TagSpec {
  schema: TSchema
  label: string
}

export interface Kind {
  type: DeviceType
  family: Family
  label: string
  /** FIWARE Smart Data Model the fields follow. */
  model: string
  fields: Record<string, FieldSpec>
  fieldNames: readonly string[]
  tags: Record<string, TagSpec>
  tagNames: readonly string[]
  /** Fields every reading must carry; when empty, at least one field must be present. */
  required: readonly string[]
  /** Cross-field rule the schema cannot express; returns a reason or undefined. */
  check?: (reading: Record<string, unknown>) => string | undefined
  /** JSON schema of one reading (timestamp, tags, fields), strict about unknown fields. */
  readingSchema: TSchema
  /** Typical reporting interval in seconds, the default for new devices. */
  defaultInterval: number
  /** The field (nearly) every reading carries and a view shows first: readings are counted by it. */
  mainField: string
}

function field(unit: string, minimum: number, maximum: number, label: string, integer = false): FieldSpec {
  return { unit, minimum, maximum, integer, label }
}

/** Device timestamp: ISO 8601 with a zone, or epoch milliseconds. */
export const TimestampSchema = Type.Union([
  Type.String({
    pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$',
    description: 'ISO 8601 with time zone, e.g. 2026-11-26T08:00:00Z',
  }),
  Type.Integer({ minimum: 0, description: 'epoch milliseconds' }),
])

interface KindDefinition {
  family: Family
  label: string
  model: string
  fields: Record<string, FieldSpec>
  tags?: Record<string, TagSpec>
  required?: readonly string[]
  check?: (reading: Record<string, unknown>) => string | undefined
  defaultInterval: number
  mainField: string
}

function defineKind(type: DeviceType, def: KindDefinition): Kind {
  const tags = def.tags ?? {}
  const required = def.required ?? []
  const properties: Record<string, TSchema> = { ts: TimestampSchema }
  for (const [name, tag] of Object.entries(tags)) properties[name] = tag.schema
  for (const [name, f] of Object.entries(def.fields)) {
    const options = { minimum: f.minimum, maximum: f.maximum, description: `${f.label} (${f.unit})` }
    properties[name] = f.integer ? Type.Integer(options) : Type.Number(options)
  }
  const mandatory = new Set(['ts', ...Object.keys(tags), ...required])
  for (const [name, schema] of Object.entries(properties)) {
    if (!mandatory.has(name)) properties[name] = Type.Optional(schema)
  }
  return {
    type,
    family: def.family,
    label: def.label,
    model: def.model,
    fields: def.fields,
    fieldNames: Object.keys(def.fields),
    tags,
    tagNames: Object.keys(tags),
    required,
    check: def.check,
    readingSchema: Type.Object(properties, { additionalProperties: false }),
    defaultInterval: def.defaultInterval,
    mainField: def.mainField,
  }
}

const ugm3 = 'µg/m³'
const bbox = region.bbox

export const KINDS: Record<DeviceType, Kind> = {
  'air-quality': defineKind('air-quality', {
    mainField: 'pm25',
    family: 'environment',
    label: 'Air-quality station',
    model: 'AirQualityObserved',
    defaultInterval: 60,
    fields: {
      pm25: field(ugm3, 0, 1000, 'PM2.5'),
      pm10: field(ugm3, 0, 2000, 'PM10'),
      no2: field(ugm3, 0, 2000, 'NO₂'),
      o3: field(ugm3, 0, 1000, 'O₃'),
      so2: field(ugm3, 0, 2000, 'SO₂'),
      co: field('mg/m³', 0, 100, 'CO'),
    },
  }),
  noise: defineKind('noise', {
    mainField: 'LAeq',
    family: 'environment',
    label: 'Noise meter',
    model: 'NoiseLevelObserved',
    defaultInterval: 60,
    required: ['LAeq'],
    fields: {
      LAeq: field('dB(A)', 0, 160, 'Equivalent level LAeq'),
      LAmax: field('dB(A)', 0, 180, 'Maximum level LAmax'),
    },
    check: (r) =>
      typeof r.LAmax === 'number' && typeof r.LAeq === 'number' && r.LAmax < r.LAeq
        ? `LAmax: ${r.LAmax} is below LAeq ${r.LAeq}`
        : undefined,
  }),
  weather: defineKind('weather', {
    mainField: 'temperature',
    family: 'environment',
    label: 'Weather station',
    model: 'WeatherObserved',
    defaultInterval: 60,
    fields: {
      temperature: field('°C', -50, 60, 'Temperature'),
      // FIWARE uses 0–1; readings here are percent, as weather stations report them.
      relativeHumidity: field('%', 0, 100, 'Relative humidity'),
      atmosphericPressure: field('hPa', 850, 1100, 'Atmospheric pressure'),
      windSpeed: field('m/s', 0, 100, 'Wind speed'),
      windDirection: field('°', 0, 360, 'Wind direction'),
      precipitation: field('mm', 0, 500, 'Precipitation'),
    },
  }),
  'traffic-counter': defineKind('traffic-counter', {
    mainField: 'intensity',
    family: 'traffic',
    label: 'Traffic counter',
    model: 'TrafficFlowObserved',
    defaultInterval: 60,
    tags: { laneId: { schema: Type.Integer({ minimum: 1, maximum: 16, description: 'Lane number' }), label: 'Lane' } },
    required: ['intensity'],
    fields: {
      intensity: field('vehicles', 0, 20000, 'Vehicles in the interval', true),
      averageVehicleSpeed: field('km/h', 0, 250, 'Average speed'),
      occupancy: field('0–1', 0, 1, 'Occupancy'),
    },
  }),
  bus: defineKind('bus', {
    mainField: 'lat',
    family: 'infomobility',
    label: 'Bus tracker',
    model: 'Vehicle',
    defaultInterval: 10,
    tags: {
      route: {
        schema: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$', description: 'Route name, e.g. 14 or LAM-A' }),
        label: 'Route',
      },
    },
    required: ['lat', 'lon'],
    fields: {
      lat: field('°', bbox.south, bbox.north, 'Latitude'),
      lon: field('°', bbox.west, bbox.east, 'Longitude'),
      speed: field('km/h', 0, 150, 'Speed'),
      heading: field('°', 0, 360, 'Heading'),
      delay: field('s', -3600, 14400, 'Delay against timetable'),
    },
  }),
  parking: defineKind('parking', {
    mainField: 'availableSpotNumber',
    family: 'infomobility',
    label: 'Parking area',
    model: 'OnStreetParking',
    defaultInterval: 60,
    required: ['availableSpotNumber', 'totalSpotNumber'],
    fields: {
      availableSpotNumber: field('spots', 0, 100000, 'Free spots', true),
      totalSpotNumber: field('spots', 1, 100000, 'Total spots', true),
    },
    check: (r) =>
      (r.availableSpotNumber as number) > (r.totalSpotNumber as number)
        ? `availableSpotNumber: ${r.availableSpotNumber} is above totalSpotNumber ${r.totalSpotNumber}`
        : undefined,
  }),
  'bike-dock': defineKind('bike-dock', {
    mainField: 'availableBikeNumber',
    family: 'infomobility',
    label: 'Bike-sharing dock',
    model: 'BikeHireDockingStation',
    defaultInterval: 60,
    required: ['availableBikeNumber', 'freeSlotNumber'],
    fields: {
      availableBikeNumber: field('bikes', 0, 1000, 'Free bikes', true),
      freeSlotNumber: field('docks', 0, 1000, 'Free docks', true),
    },
  }),
}

export function isDeviceType(value: string): value is DeviceType {
  return (DEVICE_TYPES as readonly string[]).includes(value)
}
