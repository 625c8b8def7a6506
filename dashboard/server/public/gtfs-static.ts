import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { parse } from 'csv-parse/sync'
import { unzipSync } from 'fflate'
import type { Logger } from 'pino'

/**
 * Static GTFS per city, uploaded by an admin as the operator's zip: parsed with fflate (a small,
 * dependency-free zip reader working on the buffer in memory) and csv-parse (RFC 4180, BOM, line
 * numbers), into a compact index of what trip matching needs: the trips of each route with their
 * first and last scheduled times, and the service calendar. The `gtfs` package was not used: it
 * imports into its own SQLite database, heavy for the five files read here.
 *
 * Matching a bus to a trip (matchTrip): the tracker sends its route and its delay, not its trip or
 * direction. Its schedule time is now − delay (in the agency's time zone); the trips of that route
 * whose service runs on the service day and whose first departure ≤ schedule time ≤ last arrival
 * are in progress; the one that started last is chosen (the bus cannot yet be on a later one, and
 * an earlier one still "in progress" is usually another vehicle's). Trips after midnight (times
 * past 24:00) count on the previous day's service. Without a trip in progress: route only.
 */

export class GtfsError extends Error {}

interface Trip {
  id: string
  direction?: number
  /** First departure and last arrival, seconds after the service day's midnight (may pass 24 h). */
  start: number
  end: number
  startTime: string
  serviceId: string
}

interface Service {
  /** Monday first. */
  days: boolean[]
  start: string
  end: string
}

export interface GtfsIndex {
  timezone: string
  byRoute: Map<string, Trip[]>
  calendar: Map<string, Service>
  /** service → date (YYYYMMDD) → added (true) or removed (false). */
  exceptions: Map<string, Map<string, boolean>>
  summary: { routes: number; trips: number; services: number }
}

export interface TripMatch {
  tripId: string
  startDate: string
  startTime: string
  directionId?: number
}

const FILES = ['agency.txt', 'routes.txt', 'trips.txt', 'stop_times.txt', 'calendar.txt', 'calendar_dates.txt']
/** Uncompressed size a single file may have: a large region's stop_times.txt is a few hundred MB; more is a bomb. */
const MAX_FILE_BYTES = 512 * 1024 * 1024
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']

type Row = { line: number; get: (column: string) => string }

function table(files: Record<string, Uint8Array>, name: string, columns: string[]): Row[] | undefined {
  const bytes = files[name]
  if (!bytes) return undefined
  let records: string[][]
  try {
    // Arrays, not objects, and no per-record info: both cost csv-parse several times its base speed on a large stop_times.txt.
    records = parse(Buffer.from(bytes), { bom: true, skip_empty_lines: true, relax_column_count: false })
  } catch (err) {
    throw new GtfsError(`${name}: ${(err as Error).message}`)
  }
  const header = (records[0] ?? []).map((c) => c.trim())
  const missing = columns.filter((c) => !header.includes(c))
  if (records.length > 0 && missing.length > 0) throw new GtfsError(`${name} line 1: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`)
  const at = new Map(header.map((c, i) => [c, i]))
  // Line numbers count one record a line: GTFS fields hold no line breaks (empty lines are skipped, so a file with them is off).
  return records.slice(1).map((record, i) => ({
    line: i + 2,
    get: (column) => {
      const k = at.get(column)
      return k === undefined ? '' : (record[k] ?? '').trim()
    },
  }))
}

function required(files: Record<string, Uint8Array>, name: string, columns: string[]): Row[] {
  const rows = table(files, name, columns)
  if (!rows) throw new GtfsError(`${name} is missing from the zip (GTFS files must be at its top level)`)
  if (rows.length === 0) throw new GtfsError(`${name} has no rows`)
  return rows
}

function fail(file: string, row: Row, message: string): never {
  throw new GtfsError(`${file} line ${row.line}: ${message}`)
}

function nonEmpty(file: string, row: Row, column: string): string {
  const v = row.get(column)
  if (v === '') fail(file, row, `${column} is empty`)
  return v
}

const TIME = /^(\d{1,3}):([0-5]\d):([0-5]\d)$/
const DATE = /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/

function date(file: string, row: Row, column: string): string {
  const v = row.get(column)
  if (!DATE.test(v)) fail(file, row, `${column} '${v}' is not a date YYYYMMDD`)
  return v
}

/** Parses and checks a GTFS zip; throws GtfsError naming the file and line of the first problem. */
export function parseGtfs(zip: Uint8Array): GtfsIndex {
  let files: Record<string, Uint8Array>
  try {
    files = unzipSync(zip, {
      filter: (f) => {
        if (!FILES.includes(f.name)) return false
        if (f.originalSize > MAX_FILE_BYTES) throw new GtfsError(`${f.name} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MB uncompressed`)
        return true
      },
    })
  } catch (err) {
    if (err instanceof GtfsError) throw err
    throw new GtfsError(`not a readable zip file: ${(err as Error).message}`)
  }

  const agency = required(files, 'agency.txt', ['agency_timezone'])
  const timezone = nonEmpty('agency.txt', agency[0]!, 'agency_timezone')
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone })
  } catch {
    fail('agency.txt', agency[0]!, `agency_timezone '${timezone}' is not a time zone`)
  }

  const routes = new Set<string>()
  for (const row of required(files, 'routes.txt', ['route_id'])) routes.add(nonEmpty('routes.txt', row, 'route_id'))

  const calendar = new Map<string, Service>()
  for (const row of table(files, 'calendar.txt', ['service_id', ...DAYS, 'start_date', 'end_date']) ?? []) {
    const days = DAYS.map((d) => {
      const v = row.get(d)
      if (v !== '0' && v !== '1') fail('calendar.txt', row, `${d} must be 0 or 1, not '${v}'`)
      return v === '1'
    })
    calendar.set(nonEmpty('calendar.txt', row, 'service_id'), { days, start: date('calendar.txt', row, 'start_date'), end: date('calendar.txt', row, 'end_date') })
  }
  const exceptions = new Map<string, Map<string, boolean>>()
  for (const row of table(files, 'calendar_dates.txt', ['service_id', 'date', 'exception_type']) ?? []) {
    const type = row.get('exception_type')
    if (type !== '1' && type !== '2') fail('calendar_dates.txt', row, `exception_type must be 1 or 2, not '${type}'`)
    const service = nonEmpty('calendar_dates.txt', row, 'service_id')
    const dates = exceptions.get(service) ?? new Map<string, boolean>()
    dates.set(date('calendar_dates.txt', row, 'date'), type === '1')
    exceptions.set(service, dates)
  }
  if (!files['calendar.txt'] && !files['calendar_dates.txt']) throw new GtfsError('calendar.txt and calendar_dates.txt are both missing from the zip: one is needed to know when trips run')

  const trips = new Map<string, { row: Row; routeId: string; serviceId: string; direction?: number }>()
  for (const row of required(files, 'trips.txt', ['route_id', 'service_id', 'trip_id'])) {
    const routeId = nonEmpty('trips.txt', row, 'route_id')
    if (!routes.has(routeId)) fail('trips.txt', row, `route_id '${routeId}' is not in routes.txt`)
    const serviceId = nonEmpty('trips.txt', row, 'service_id')
    if (!calendar.has(serviceId) && !exceptions.has(serviceId)) fail('trips.txt', row, `service_id '${serviceId}' is in neither calendar.txt nor calendar_dates.txt`)
    const d = row.get('direction_id')
    if (d !== '' && d !== '0' && d !== '1') fail('trips.txt', row, `direction_id must be 0 or 1, not '${d}'`)
    const id = nonEmpty('trips.txt', row, 'trip_id')
    if (trips.has(id)) fail('trips.txt', row, `trip_id '${id}' is repeated (first on line ${trips.get(id)!.row.line})`)
    trips.set(id, { row, routeId, serviceId, direction: d === '' ? undefined : Number(d) })
  }

  const span = new Map<string, { start: number; end: number; startTime: string }>()
  for (const row of required(files, 'stop_times.txt', ['trip_id', 'arrival_time', 'departure_time', 'stop_sequence'])) {
    const tripId = nonEmpty('stop_times.txt', row, 'trip_id')
    if (!trips.has(tripId)) fail('stop_times.txt', row, `trip_id '${tripId}' is not in trips.txt`)
    for (const column of ['arrival_time', 'departure_time']) {
      const v = row.get(column)
      if (v === '') continue // times are optional between timepoints
      const m = TIME.exec(v)
      if (!m) fail('stop_times.txt', row, `${column} '${v}' is not a time HH:MM:SS`)
      const s = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])
      const known = span.get(tripId)
      if (!known) span.set(tripId, { start: s, end: s, startTime: v.padStart(8, '0') })
      else {
        if (s < known.start) Object.assign(known, { start: s, startTime: v.padStart(8, '0') })
        if (s > known.end) known.end = s
      }
    }
  }

  const byRoute = new Map<string, Trip[]>()
  for (const [id, trip] of trips) {
    const s = span.get(id)
    if (!s) fail('trips.txt', trip.row, `trip '${id}' has no timed stops in stop_times.txt`)
    const list = byRoute.get(trip.routeId) ?? []
    list.push({ id, direction: trip.direction, serviceId: trip.serviceId, ...s })
    byRoute.set(trip.routeId, list)
  }
  // By first departure, so matching stops at the first trip not yet begun.
  for (const list of byRoute.values()) list.sort((a, b) => a.start - b.start)
  return { timezone, byRoute, calendar, exceptions, summary: { routes: routes.size, trips: trips.size, services: new Set([...calendar.keys(), ...exceptions.keys()]).size } }
}

function runs(index: GtfsIndex, serviceId: string, day: string, weekday: number): boolean {
  const exception = index.exceptions.get(serviceId)?.get(day)
  if (exception !== undefined) return exception
  const s = index.calendar.get(serviceId)
  return s !== undefined && s.days[weekday]! && s.start <= day && day <= s.end
}

// Building a formatter costs far more than using one.
const formatters = new Map<string, Intl.DateTimeFormat>()

/**
 * The agency's clock at one instant, for matchTrip: seconds since local midnight, and the service
 * days (YYYYMMDD, weekday Monday = 0) of today and of yesterday (trips running past midnight carry
 * times after 24:00). Computed once per snapshot and time zone, not once per bus: formatToParts is
 * the costly part of a match.
 */
export interface ServiceClock {
  timezone: string
  seconds: number
  /** Today (offset 0) and yesterday (offset −1). */
  days: ReadonlyArray<{ offset: number; day: string; weekday: number }>
}

export function serviceClock(at: number, timezone: string): ServiceClock {
  let format = formatters.get(timezone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
    formatters.set(timezone, format)
  }
  const parts = Object.fromEntries(
    format
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  )
  const [y, m, d] = [Number(parts.year), Number(parts.month), Number(parts.day)]
  return {
    timezone,
    seconds: Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second),
    days: [0, -1].map((offset) => ({ offset, ...serviceDay(y, m, d + offset) })),
  }
}

function serviceDay(y: number, m: number, d: number) {
  const day = new Date(Date.UTC(y, m - 1, d))
  return { day: day.toISOString().slice(0, 10).replaceAll('-', ''), weekday: (day.getUTCDay() + 6) % 7 }
}

/** The trip of `routeId` a bus `delaySeconds` late is on at `clock` (rule at the top of this file), if any. */
export function matchTrip(index: GtfsIndex, routeId: string, clock: ServiceClock, delaySeconds = 0): TripMatch | undefined {
  if (clock.timezone !== index.timezone) throw new Error(`matchTrip: a clock of ${clock.timezone} for a timetable of ${index.timezone}`)
  const trips = index.byRoute.get(routeId)
  if (!trips) return undefined
  const scheduled = clock.seconds - delaySeconds
  // `begun`: when the trip started, in seconds from today's midnight (for comparing across days).
  let best: { trip: Trip; day: string; begun: number } | undefined
  for (const { offset, day, weekday } of clock.days) {
    const t = scheduled - offset * 86_400
    for (const trip of trips) {
      if (trip.start > t) break
      if (trip.end < t || !runs(index, trip.serviceId, day, weekday)) continue
      const begun = trip.start + offset * 86_400
      if (!best || begun > best.begun || (begun === best.begun && trip.id < best.trip.id)) best = { trip, day, begun }
    }
  }
  if (!best) return undefined
  return { tripId: best.trip.id, startDate: best.day, startTime: best.trip.startTime, directionId: best.trip.direction }
}

/** A GTFS parse that runs in a worker thread (gtfs-parse-worker.ts), so the event loop keeps answering while a region's stop_times.txt is read. */
export interface GtfsParser {
  parse(zip: Uint8Array): Promise<GtfsIndex>
  /** Ends the parses under way (they reject). */
  close(): Promise<void>
}

// Compiled (dist/*.js) the worker is plain JavaScript. From the sources it is TypeScript: node 20
// does not apply `--import tsx` to a worker's own entry, so a small bootstrap registers tsx first.
const FROM_SOURCES = import.meta.url.endsWith('.ts')
const WORKER_URL = new URL(FROM_SOURCES ? './gtfs-parse-worker.ts' : './gtfs-parse-worker.js', import.meta.url)

function spawnWorker(): Worker {
  if (!FROM_SOURCES) return new Worker(WORKER_URL)
  const tsx = import.meta.resolve('tsx/esm/api')
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}) })`
  return new Worker(bootstrap, { eval: true })
}

/** One worker per parse: uploads are rare, and a worker's memory (the unzipped files) goes with it. */
export function createGtfsParser(): GtfsParser {
  const running = new Set<Worker>()
  let closed = false
  return {
    parse(zip) {
      if (closed) return Promise.reject(new Error('the GTFS parser is closed'))
      return new Promise<GtfsIndex>((resolve, reject) => {
        const worker = spawnWorker()
        running.add(worker)
        let settled = false
        const settle = (fn: () => void) => {
          if (settled) return
          settled = true
          running.delete(worker)
          void worker.terminate()
          fn()
        }
        worker.once('message', (answer: GtfsParseAnswer) => {
          if ('index' in answer) settle(() => resolve(answer.index))
          else settle(() => reject(answer.gtfs ? new GtfsError(answer.message) : new Error(`GTFS parse failed: ${answer.message}`)))
        })
        worker.once('error', (err) => settle(() => reject(new Error(`GTFS parse failed: ${err.message}`))))
        worker.once('exit', (code) => settle(() => reject(new Error(closed ? 'the GTFS parser was closed' : `GTFS parse worker exited (code ${code}) without an answer`))))
        worker.postMessage(zip)
      })
    },
    async close() {
      closed = true
      await Promise.all([...running].map((w) => w.terminate()))
    },
  }
}

/** What the worker posts back: the index, or the error (`gtfs`: a GtfsError, the zip's fault). */
export type GtfsParseAnswer = { index: GtfsIndex } | { gtfs: boolean; message: string }

export interface GtfsStoreDeps {
  /** Where the zips are kept (DATA_DIR/gtfs); none: in memory only. */
  dir?: string
  logger: Logger
  parser?: GtfsParser
}

/**
 * The static GTFS of each city: the uploaded zip on disk and its index in memory. The zips on disk
 * are parsed again at start, in the background (`loaded` settles when done): start-up does not wait
 * for a region's timetable, and the feeds carry route_id only until it is read.
 */
export function createGtfsStore(deps: GtfsStoreDeps) {
  const parser = deps.parser ?? createGtfsParser()
  const byCity = new Map<string, { index: GtfsIndex; uploadedAt: number; seq: number }>()
  let version = 0
  let seq = 0
  let closing = false

  const keep = (city: string, index: GtfsIndex, mine: number) => {
    // Two uploads for a city at once: the later one wins, whichever parse ends first.
    const known = byCity.get(city)
    if (known && known.seq > mine) return known.uploadedAt
    const uploadedAt = Date.now()
    byCity.set(city, { index, uploadedAt, seq: mine })
    version += 1
    return uploadedAt
  }

  async function load(dir: string) {
    await mkdir(dir, { recursive: true })
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.zip'))) {
      const city = file.slice(0, -4)
      const mine = ++seq
      try {
        const index = await parser.parse(await readFile(join(dir, file)))
        keep(city, index, mine)
        deps.logger.info({ city, ...index.summary }, 'static GTFS on disk loaded')
      } catch (err) {
        if (closing) return
        deps.logger.error({ city, err: (err as Error).message }, 'static GTFS on disk is unreadable; this city has none until a new upload')
      }
    }
  }
  const loaded = deps.dir
    ? load(deps.dir).catch((err: Error) => deps.logger.error({ dir: deps.dir, err: err.message }, 'static GTFS directory is unreadable; no city has a static GTFS'))
    : Promise.resolve()
  // Uploads commit (zip on disk, index in memory) one at a time, so the zip kept is the index kept.
  let committing: Promise<unknown> = Promise.resolve()

  return {
    loaded,
    /** Parses in a worker (rejects with GtfsError for a bad zip), then keeps the zip (written to a temp file, then renamed over the old) and its index. */
    async put(city: string, zip: Uint8Array) {
      const mine = ++seq
      const index = await parser.parse(zip)
      const commit = committing.then(async () => {
        // A later upload of this city already committed: this one is superseded, on disk too.
        if ((byCity.get(city)?.seq ?? 0) > mine) return byCity.get(city)!.uploadedAt
        if (deps.dir) {
          const tmp = join(deps.dir, `${city}.zip.tmp`)
          await writeFile(tmp, zip)
          await rename(tmp, join(deps.dir, `${city}.zip`))
        }
        return keep(city, index, mine)
      })
      committing = commit.catch(() => {})
      const uploadedAt = await commit
      return { city, ...index.summary, timezone: index.timezone, uploadedAt: new Date(uploadedAt).toISOString() }
    },
    get: (city: string): GtfsIndex | undefined => byCity.get(city)?.index,
    cities: () => [...byCity.keys()].sort(),
    /** Changes on every upload, for caches of what was built from the indexes. */
    version: () => version,
    close() {
      closing = true
      return parser.close()
    },
  }
}

export type GtfsStore = ReturnType<typeof createGtfsStore>
