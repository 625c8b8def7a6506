import Type, { type Static, type TSchema } from 'typebox'
import { BAND_IDS, EAQI_POLLUTANTS, EAQI_VERSION, STATION_STATUSES } from '../../../devices/aqi.ts'

/**
 * The public, open-data API's answers (and the citizens' app's types: it imports them type-only).
 * Times are ISO 8601 in UTC. Concentrations are µg/m³ (CO: mg/m³), rounded to 0.1.
 */

export const PUBLIC_FIELDS = [...EAQI_POLLUTANTS, 'co'] as const
export type PublicField = (typeof PUBLIC_FIELDS)[number]

const Iso = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) })
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const LicenseSchema = Type.Object({
  id: Type.String({ description: 'SPDX identifier, or custom' }),
  name: Type.String(),
  url: Type.String(),
})
const licensed = {
  license: LicenseSchema,
  attribution: Type.String({ description: 'Credit line to show wherever the data is reused.' }),
}

const BandSchema = Type.Enum([...BAND_IDS], { description: 'EAQI band id' })
const PollutantSchema = Type.Enum([...EAQI_POLLUTANTS])
const LevelSchema = Type.Integer({ minimum: 1, maximum: 6, description: '1 good … 6 extremely poor' })

export const IndexSchema = Type.Object({
  value: Nullable(LevelSchema),
  band: Nullable(BandSchema),
  /** English band name. */
  label: Nullable(Type.String()),
  drivingPollutant: Nullable(PollutantSchema),
  /** The station whose worst pollutant sets the city's index. */
  station: Nullable(Type.String()),
  version: Type.Literal(EAQI_VERSION, { description: 'The index definition that computed this value.' }),
})

export const PollutantNowSchema = Type.Object({
  pollutant: PollutantSchema,
  label: Type.String(),
  unit: Type.String(),
  /** Highest complete hourly mean among the city's fresh stations (the one that counts for the index). */
  value: Nullable(Type.Number()),
  level: Nullable(LevelSchema),
  band: Nullable(BandSchema),
  station: Nullable(Type.String()),
  status: Type.Union([Type.Literal('ok'), Type.Literal('incomplete'), Type.Literal('no-data')]),
})

const StationStatusSchema = Type.Enum([...STATION_STATUSES], {
  description: 'ok: has an index; incomplete: too few readings in the last hour; stale: no recent readings; no-data: never reported.',
})

export const StationIndexSchema = Type.Object({
  value: LevelSchema,
  band: BandSchema,
  drivingPollutant: PollutantSchema,
})

export const StationSummarySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  lat: Type.Number(),
  lon: Type.Number(),
  status: StationStatusSchema,
  index: Nullable(StationIndexSchema),
  lastReadingAt: Nullable(Iso()),
})

export const CityAirQualitySchema = Type.Object({
  city: Type.String(),
  name: Type.String(),
  province: Type.String(),
  lat: Type.Number(),
  lon: Type.Number(),
  status: Type.Union([Type.Literal('ok'), Type.Literal('incomplete'), Type.Literal('stale'), Type.Literal('no-stations')]),
  index: IndexSchema,
  pollutants: Type.Array(PollutantNowSchema),
  stations: Type.Array(StationSummarySchema),
  /** Newest reading of any of the city's stations. */
  lastUpdate: Nullable(Iso('Newest reading of any of the city’s stations')),
  /** The hour the index averages over (the 60 minutes before the snapshot was computed). */
  window: Type.Object({ from: Iso(), to: Iso() }),
})
export type CityAirQuality = Static<typeof CityAirQualitySchema>
export type PollutantNow = Static<typeof PollutantNowSchema>
export type StationSummary = Static<typeof StationSummarySchema>

export const AirQualityResponseSchema = Type.Object({
  ...licensed,
  indexVersion: Type.Literal(EAQI_VERSION),
  items: Type.Array(CityAirQualitySchema),
})
export type AirQualityResponse = Static<typeof AirQualityResponseSchema>

export const HistoryHourSchema = Type.Object({
  /** Start of the hour. */
  time: Iso('Start of the hour'),
  index: Nullable(LevelSchema),
  band: Nullable(BandSchema),
  drivingPollutant: Nullable(PollutantSchema),
  /** Per pollutant, the highest complete hourly mean among the city's stations; null when none. */
  values: Type.Record(Type.String(), Nullable(Type.Number())),
})
export type HistoryHour = Static<typeof HistoryHourSchema>

export const HistoryResponseSchema = Type.Object({
  ...licensed,
  indexVersion: Type.Literal(EAQI_VERSION),
  city: Type.String(),
  /** The last 7 days, one entry per hour, oldest first; hours without a complete station have nulls. */
  hours: Type.Array(HistoryHourSchema),
})
export type HistoryResponse = Static<typeof HistoryResponseSchema>

export const PublicStationSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.Literal('air-quality'),
  city: Type.String(),
  lat: Type.Number(),
  lon: Type.Number(),
  /** Expected reporting interval, seconds. */
  interval: Type.Integer(),
  status: StationStatusSchema,
  index: Nullable(StationIndexSchema),
  /** Per pollutant: the mean of the last hour, the readings it is made of and how many it needs. */
  hour: Type.Array(
    Type.Object({
      pollutant: PollutantSchema,
      value: Nullable(Type.Number()),
      count: Type.Integer(),
      required: Type.Integer(),
      level: Nullable(LevelSchema),
    }),
  ),
  latest: Type.Object({
    time: Nullable(Iso()),
    values: Type.Record(Type.String(), Type.Number()),
  }),
  units: Type.Record(Type.String(), Type.String()),
})
export type PublicStation = Static<typeof PublicStationSchema>

export const StationsResponseSchema = Type.Object({
  ...licensed,
  indexVersion: Type.Literal(EAQI_VERSION),
  items: Type.Array(PublicStationSchema),
})
export type StationsResponse = Static<typeof StationsResponseSchema>

const ExportValueSchema = Type.Object({
  mean: Type.Number(),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
  count: Type.Integer(),
})

export const ExportRowSchema = Type.Object({
  /** Start of the hour or the (UTC) day. */
  time: Iso('Start of the hour or UTC day'),
  station: Type.String(),
  city: Type.String(),
  values: Type.Record(Type.String(), ExportValueSchema, { description: 'Per field; absent when the station sent nothing in that window.' }),
  /** Hourly rows: the station's EAQI for the hour, null when no pollutant was complete. */
  index: Type.Optional(Nullable(StationIndexSchema)),
})
export type ExportRow = Static<typeof ExportRowSchema>

export const ExportResponseSchema = Type.Object({
  ...licensed,
  indexVersion: Type.Literal(EAQI_VERSION),
  resolution: Type.Union([Type.Literal('hour'), Type.Literal('day')]),
  from: Iso(),
  to: Iso(),
  fields: Type.Array(Type.String()),
  units: Type.Record(Type.String(), Type.String()),
  stations: Type.Array(Type.String()),
  items: Type.Array(ExportRowSchema),
})
