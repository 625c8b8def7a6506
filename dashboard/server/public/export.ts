import { Readable } from 'node:stream'
import { assessStation, EAQI_POLLUTANTS, EAQI_VERSION, HOUR_MS, type HourlyValue, type Pollutant } from '../../../devices/aqi.ts'
import { KINDS } from '../../../devices/kinds.ts'
import { findCity } from '../../../devices/region.ts'
import type { Aggregate, Storage } from '../../../ingest/storage/contract.ts'
import { csvLine, type Format } from './formats.ts'
import type { DataLicense } from './license.ts'
import { licenseFields } from './license.ts'
import { airQualityObserved } from './ngsi-ld.ts'
import type { ExportRow, PublicField } from './schemas.ts'
import { round1 } from './snapshots.ts'

/**
 * Streamed exports of stations' hourly series and daily summaries. Storage is read in chunks of
 * time (two weeks of hours, a year of days) per station, and each chunk is written out before
 * the next is read: a year of a station's hours never sits in memory, and a slow client slows
 * the reading down (the stream is pulled as the socket drains).
 */

export type Resolution = 'hour' | 'day'
export const DAY_MS = 86_400_000
export const STEP_MS: Record<Resolution, number> = { hour: HOUR_MS, day: DAY_MS }
/** Storage is read this much at a time per station. */
export const CHUNK_MS: Record<Resolution, number> = { hour: 14 * DAY_MS, day: 366 * DAY_MS }

export interface ExportStation {
  id: string
  name: string
  city: string
  lat: number
  lon: number
  interval: number
}

export interface ExportRequest {
  stations: readonly ExportStation[]
  fields: readonly PublicField[]
  /** Aligned to the resolution; inclusive. */
  from: number
  /** Aligned to the resolution; exclusive. */
  to: number
  resolution: Resolution
}

const AGGREGATES: Record<Resolution, readonly Aggregate[]> = { hour: ['mean', 'count'], day: ['mean', 'min', 'max', 'count'] }

async function chunkRows(storage: Pick<Storage, 'series'>, station: ExportStation, req: ExportRequest, from: number, to: number): Promise<ExportRow[]> {
  const every = STEP_MS[req.resolution]
  const aggregates = AGGREGATES[req.resolution]
  const limit = Math.ceil((to - from) / every) + 1
  const byTime = new Map<number, ExportRow['values']>()
  await Promise.all(
    req.fields.map(async (field) => {
      const results = await Promise.all(aggregates.map((aggregate) => storage.series({ deviceId: station.id, type: 'air-quality', field, from, to, every, aggregate, limit })))
      const [means, ...rest] = results
      const others = rest.map((points) => new Map(points.map((p) => [p.time, p.value])))
      for (const m of means!) {
        if (m.value === null) continue
        let values = byTime.get(m.time)
        if (!values) byTime.set(m.time, (values = {}))
        const entry: ExportRow['values'][string] = { mean: round1(m.value), count: 0 }
        aggregates.slice(1).forEach((aggregate, i) => {
          const v = others[i]!.get(m.time)
          if (v === null || v === undefined) return
          if (aggregate === 'count') entry.count = v
          else entry[aggregate as 'min' | 'max'] = round1(v)
        })
        values[field] = entry
      }
    }),
  )
  const city = findCity(station.city)?.id ?? station.city
  return [...byTime.keys()]
    .sort((a, b) => a - b)
    .map((time) => {
      const values = byTime.get(time)!
      const row: ExportRow = { time: new Date(time).toISOString(), station: station.id, city, values }
      if (req.resolution === 'hour') {
        const hours: Partial<Record<Pollutant, HourlyValue>> = {}
        for (const p of EAQI_POLLUTANTS) if (values[p]) hours[p] = { mean: values[p]!.mean, count: values[p]!.count }
        const index = assessStation(hours, station.interval).index
        row.index = index ? { value: index.level, band: index.band, drivingPollutant: index.pollutant } : null
      }
      return row
    })
}

/** The rows, a chunk at a time: station after station, oldest first. */
export async function* exportRows(storage: Pick<Storage, 'series'>, req: ExportRequest): AsyncGenerator<ExportRow[]> {
  for (const station of req.stations) {
    for (let start = req.from; start < req.to; start += CHUNK_MS[req.resolution]) {
      yield await chunkRows(storage, station, req, start, Math.min(req.to, start + CHUNK_MS[req.resolution]))
    }
  }
}

export function csvHeader(req: Pick<ExportRequest, 'fields' | 'resolution'>): string[] {
  const cells = [req.resolution === 'hour' ? 'time' : 'date', 'station', 'city']
  for (const f of req.fields) {
    if (req.resolution === 'hour') cells.push(f, `${f}_count`)
    else cells.push(`${f}_mean`, `${f}_min`, `${f}_max`, `${f}_count`)
  }
  if (req.resolution === 'hour') cells.push('eaqi_level', 'eaqi_band', 'eaqi_pollutant', 'eaqi_version')
  return cells
}

export function csvRow(row: ExportRow, req: Pick<ExportRequest, 'fields' | 'resolution'>): string {
  const cells: unknown[] = [req.resolution === 'hour' ? row.time : row.time.slice(0, 10), row.station, row.city]
  for (const f of req.fields) {
    const v = row.values[f]
    if (req.resolution === 'hour') cells.push(v?.mean, v?.count)
    else cells.push(v?.mean, v?.min, v?.max, v?.count)
  }
  if (req.resolution === 'hour') cells.push(row.index?.value, row.index?.band, row.index?.drivingPollutant, row.index ? EAQI_VERSION : '')
  return csvLine(cells)
}

export function units(fields: readonly PublicField[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f, KINDS['air-quality'].fields[f]!.unit]))
}

/**
 * The export as a stream in the chosen format. The first chunk is read before this resolves, so
 * a storage failure becomes an error answer (503) rather than a truncated body.
 */
export async function exportStream(storage: Pick<Storage, 'series'>, req: ExportRequest, format: Format, license: DataLicense): Promise<Readable> {
  const iterator = exportRows(storage, req)
  const first = await iterator.next()
  async function* rows(): AsyncGenerator<ExportRow[]> {
    if (first.done) return
    yield first.value
    yield* iterator
  }
  const stations = new Map(req.stations.map((s) => [s.id, s]))

  async function* text(): AsyncGenerator<string> {
    if (format === 'csv') {
      yield csvLine(csvHeader(req))
      for await (const chunk of rows()) if (chunk.length) yield chunk.map((r) => csvRow(r, req)).join('')
      return
    }
    let first = true
    if (format === 'json') {
      const head = JSON.stringify({
        ...licenseFields(license),
        indexVersion: EAQI_VERSION,
        resolution: req.resolution,
        from: new Date(req.from).toISOString(),
        to: new Date(req.to).toISOString(),
        fields: req.fields,
        units: units(req.fields),
        stations: req.stations.map((s) => s.id),
        items: [],
      })
      yield head.slice(0, -2) // …"items":[
      for await (const chunk of rows()) {
        if (!chunk.length) continue
        yield (first ? '' : ',') + chunk.map((r) => JSON.stringify(r)).join(',')
        first = false
      }
      yield ']}'
      return
    }
    // NGSI-LD: one AirQualityObserved entity per station and hour (or day).
    yield '['
    for await (const chunk of rows()) {
      if (!chunk.length) continue
      const step = STEP_MS[req.resolution]
      const entities = chunk.map((row) => {
        const station = stations.get(row.station)!
        const start = Date.parse(row.time)
        const values: Partial<Record<PublicField, number>> = {}
        for (const [f, v] of Object.entries(row.values)) values[f as PublicField] = v.mean
        const index = row.index ? { level: row.index.value, band: row.index.band, pollutant: row.index.drivingPollutant } : null
        return JSON.stringify(
          airQualityObserved({ station, cityName: findCity(station.city)?.name ?? station.city, observedAt: start + step, from: start, to: start + step, values, index, provider: license.attribution }),
        )
      })
      yield (first ? '' : ',') + entities.join(',')
      first = false
    }
    yield ']'
  }

  return Readable.from(text(), { objectMode: false })
}

/** Parses `pollutant=pm25,no2` into fields; all fields when absent. */
export function parseFields(value: string | undefined, all: readonly PublicField[]): PublicField[] | string {
  if (value === undefined || value.trim() === '') return [...all]
  const names = [...new Set(value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))]
  for (const n of names) if (!(all as readonly string[]).includes(n)) return n
  return all.filter((f) => names.includes(f))
}

