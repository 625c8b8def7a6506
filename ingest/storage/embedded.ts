import Database from 'better-sqlite3'
import type { Logger } from 'pino'
import { checkEvery, checkField, checkFieldsQuery, checkLimit, clampRange, kindOf } from './query-checks.ts'
import { batchLines, decodeLine } from '../../devices/line-protocol.ts'
import { KINDS, type DeviceType } from '../../devices/kinds.ts'
import {
  DAY_MS,
  DEFAULT_HOURLY_RETENTION_MS,
  fieldsWindowsOf,
  HOUR_MS,
  mergeInto,
  planParts,
  pointsOf,
  rawRetentionOf,
  windowOf,
  type Level,
  type RetentionOptions,
  type WindowStats,
} from './rollups.ts'
import {
  StorageUnavailableError,
  type Aggregate,
  type CityAggregate,
  type CityAggregateQuery,
  type DeadLetter,
  type DeadLetterQuery,
  type LastReading,
  type Latest,
  type SeriesPoint,
  type SeriesQuery,
  type Storage,
  type StorageHealth,
  type StoredReading,
  type WriteResult,
} from './contract.ts'

/**
 * The embedded store: one SQLite file, for a single box without InfluxDB.
 *
 * One narrow row per (series, field, time). The primary key starts with (type, device, field,
 * time) so series() and latest() are range scans of the table itself; the covering index
 * (type, field, time, city, value) serves cityAggregates() and the retention prune. The series'
 * extra tags (laneId, route) close the key, so each lane of a traffic counter is its own series
 * as in InfluxDB, and rewriting a series+field+time overwrites.
 *
 * Traffic counters across lanes: latest() takes each field's newest value over all lanes;
 * series() with `every` aggregates all lanes' readings that fall in a window; series() without
 * `every` returns the raw readings of all lanes interleaved by time (so one time may appear once
 * per lane) — the same as InfluxDB answers when no GROUP BY tag is given.
 */

/**
 * Raw readings older than their family's retention (retentionMs unless familyRetentionMs says
 * otherwise) are refused on write and pruned, as are dead letters older than retentionMs and
 * hourly rollups older than hourlyRetentionMs. Daily rollups are never pruned.
 */
export interface EmbeddedStorageOptions extends RetentionOptions {
  file: string
  logger?: Logger
}

const PRUNE_INTERVAL_MS = 60 * 60_000
/** Tags stored in their own columns; any other tag cannot be represented and is refused. */
const KEY_TAGS = new Set(['city', 'device', 'laneId', 'route'])

/** The hourly and daily rollups share one shape: sums, extremes and counts per series, field and period. */
const rollupTable = (name: string) => `CREATE TABLE IF NOT EXISTS ${name} (
  type TEXT NOT NULL,
  device_id TEXT NOT NULL,
  field TEXT NOT NULL,
  time INTEGER NOT NULL,
  lane_id TEXT NOT NULL,
  route TEXT NOT NULL,
  city TEXT NOT NULL,
  sum REAL NOT NULL,
  min REAL NOT NULL,
  max REAL NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (type, device_id, field, time, lane_id, route)
) WITHOUT ROWID;`

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  type TEXT NOT NULL,
  device_id TEXT NOT NULL,
  field TEXT NOT NULL,
  time INTEGER NOT NULL,
  lane_id TEXT NOT NULL,
  route TEXT NOT NULL,
  city TEXT NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (type, device_id, field, time, lane_id, route)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_field ON readings (type, field, time, city, value);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  topic TEXT NOT NULL,
  code TEXT NOT NULL,
  reason TEXT NOT NULL,
  payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_time ON dead_letters (received_at);
CREATE INDEX IF NOT EXISTS dead_letters_by_device ON dead_letters (device_id, received_at);
${rollupTable('rollup_hourly')}
${rollupTable('rollup_daily')}
`

/** A (series, field, hour) a write touched: its hour is recomputed, then its day. */
type Touched = [type: string, deviceId: string, field: string, laneId: string, route: string, hour: number]

// Epoch-aligned window start; the double modulo floors negative times too.
const WINDOW = '(time - ((time % @every) + @every) % @every)'
const AGGREGATE_SQL: Record<Aggregate, string> = {
  mean: 'avg(value) AS value',
  min: 'min(value) AS value',
  max: 'max(value) AS value',
  count: 'count(*) AS value',
  // With a lone max(), SQLite takes the bare column `value` from the row holding the max.
  last: 'value, max(time) AS newest',
}

type StatsParams = { type: string; device: string; field: string; from: number; to: number; every: number }
type StatsRow = WindowStats & { window: number }
type AddParams = { type: string; device: string; field: string; lane: string; route: string; time: number; city: string } & WindowStats

type Row = [type: string, deviceId: string, field: string, time: number, laneId: string, route: string, city: string, value: number]

export function createEmbeddedStorage(options: EmbeddedStorageOptions): Storage {
  const { file, retentionMs, logger } = options
  const hourlyRetentionMs = options.hourlyRetentionMs ?? DEFAULT_HOURLY_RETENTION_MS
  // A measurement no kind knows (nothing writes one, but a line may say so) keeps the default.
  const rawRetention = (type: string): number => (type in KINDS ? rawRetentionOf(options, KINDS[type as DeviceType].family) : retentionMs)
  let db: Database.Database | undefined
  let statements: ReturnType<typeof prepare> | undefined
  let pruneTimer: NodeJS.Timeout | undefined
  let pruning: Promise<void> | undefined

  function prepare(d: Database.Database) {
    return {
      upsert: d.prepare<Row>(
        `INSERT INTO readings (type, device_id, field, time, lane_id, route, city, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET city = excluded.city, value = excluded.value`,
      ),
      insertNew: d.prepare<Row>(
        'INSERT INTO readings (type, device_id, field, time, lane_id, route, city, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      addHour: d.prepare<AddParams>(
        `INSERT INTO rollup_hourly (type, device_id, field, time, lane_id, route, city, sum, min, max, count)
         VALUES (@type, @device, @field, @time, @lane, @route, @city, @sum, @min, @max, @count)
         ON CONFLICT DO UPDATE SET city = excluded.city, sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max), count = count + excluded.count`,
      ),
      addDay: d.prepare<AddParams>(
        `INSERT INTO rollup_daily (type, device_id, field, time, lane_id, route, city, sum, min, max, count)
         VALUES (@type, @device, @field, @time, @lane, @route, @city, @sum, @min, @max, @count)
         ON CONFLICT DO UPDATE SET city = excluded.city, sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max), count = count + excluded.count`,
      ),
      insertDeadLetter: d.prepare<[string, number, string, string, string, string]>(
        'INSERT INTO dead_letters (device_id, received_at, topic, code, reason, payload) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      newest: d
        .prepare<[string, string, string], { time: number; value: number }>(
          'SELECT time, value FROM readings WHERE type = ? AND device_id = ? AND field = ? ORDER BY time DESC LIMIT 1',
        ),
      // Walks the devices of a type through the primary key (one seek each) instead of scanning.
      nextDevice: d.prepare<[string, string], { device: string }>(
        'SELECT device_id AS device FROM readings WHERE type = ? AND device_id > ? ORDER BY device_id LIMIT 1',
      ),
      newestOfDevice: d.prepare<[string, string, string, number], { time: number; value: number }>(
        'SELECT time, value FROM readings WHERE type = ? AND device_id = ? AND field = ? AND time > ? ORDER BY time DESC LIMIT 1',
      ),
      raw: d.prepare<{ type: string; device: string; field: string; from: number; to: number; limit: number }, { time: number; value: number }>(
        `SELECT time, value FROM readings
         WHERE type = @type AND device_id = @device AND field = @field AND time >= @from AND time < @to
         ORDER BY time DESC LIMIT @limit`,
      ),
      cities: d.prepare<[string, string, number, number], CityAggregate>(
        `SELECT city, avg(value) AS mean, min(value) AS min, max(value) AS max, count(*) AS count FROM readings
         WHERE type = ? AND field = ? AND time >= ? AND time < ? GROUP BY city ORDER BY city`,
      ),
      // Walks the distinct (type, field) pairs through the index instead of scanning the table.
      nextPair: d.prepare<[string, string], { type: string; field: string }>(
        'SELECT type, field FROM readings WHERE (type, field) > (?, ?) ORDER BY type, field LIMIT 1',
      ),
      pruneReadings: d.prepare<[string, string, number]>('DELETE FROM readings WHERE type = ? AND field = ? AND time < ?'),
      pruneDeadLetters: d.prepare<[number]>('DELETE FROM dead_letters WHERE received_at < ?'),
      pruneHourly: d.prepare<[number]>('DELETE FROM rollup_hourly WHERE time < ?'),
      // A rollup row is the whole of its hour (day), recomputed from the finer level.
      rollHour: d.prepare<{ type: string; device: string; field: string; lane: string; route: string; from: number; to: number }>(
        `INSERT INTO rollup_hourly (type, device_id, field, time, lane_id, route, city, sum, min, max, count)
         SELECT type, device_id, field, @from, lane_id, route, city, sum(value), min(value), max(value), count(*) FROM readings
         WHERE type = @type AND device_id = @device AND field = @field AND time >= @from AND time < @to AND lane_id = @lane AND route = @route
         GROUP BY type, device_id, field, lane_id, route
         ON CONFLICT DO UPDATE SET city = excluded.city, sum = excluded.sum, min = excluded.min, max = excluded.max, count = excluded.count`,
      ),
      rollDay: d.prepare<{ type: string; device: string; field: string; lane: string; route: string; from: number; to: number }>(
        `INSERT INTO rollup_daily (type, device_id, field, time, lane_id, route, city, sum, min, max, count)
         SELECT type, device_id, field, @from, lane_id, route, city, sum(sum), min(min), max(max), sum(count) FROM rollup_hourly
         WHERE type = @type AND device_id = @device AND field = @field AND time >= @from AND time < @to AND lane_id = @lane AND route = @route
         GROUP BY type, device_id, field, lane_id, route
         ON CONFLICT DO UPDATE SET city = excluded.city, sum = excluded.sum, min = excluded.min, max = excluded.max, count = excluded.count`,
      ),
      rawStats: d.prepare<StatsParams, StatsRow>(
        `SELECT ${WINDOW} AS window, sum(value) AS sum, min(value) AS min, max(value) AS max, count(*) AS count FROM readings
         WHERE type = @type AND device_id = @device AND field = @field AND time >= @from AND time < @to GROUP BY window`,
      ),
      hourlyStats: d.prepare<StatsParams, StatsRow>(
        `SELECT ${WINDOW} AS window, sum(sum) AS sum, min(min) AS min, max(max) AS max, sum(count) AS count FROM rollup_hourly
         WHERE type = @type AND device_id = @device AND field = @field AND time >= @from AND time < @to GROUP BY window`,
      ),
      dailyStats: d.prepare<StatsParams, StatsRow>(
        `SELECT ${WINDOW} AS window, sum(sum) AS sum, min(min) AS min, max(max) AS max, sum(count) AS count FROM rollup_daily
         WHERE type = @type AND device_id = @device AND field = @field AND time >= @from AND time < @to GROUP BY window`,
      ),
    }
  }

  function open(): { db: Database.Database; s: ReturnType<typeof prepare> } {
    if (!db || !statements) throw new Error('embedded storage: init() was not called or close() was')
    return { db, s: statements }
  }

  type WindowParams = { type: string; device: string; field: string; from: number; to: number; limit: number; every: number }
  const windowed = new Map<Aggregate, Database.Statement<WindowParams, { window: number; value: number }>>()
  function windowStatement(d: Database.Database, aggregate: Aggregate) {
    let statement = windowed.get(aggregate)
    if (!statement) {
      statement = d.prepare<WindowParams, { window: number; value: number }>(
        `SELECT ${WINDOW} AS window, ${AGGREGATE_SQL[aggregate]} FROM readings
         WHERE type = @type AND device_id = @device AND field = @field AND time >= @from AND time < @to
         GROUP BY window ORDER BY window DESC LIMIT @limit`,
      )
      windowed.set(aggregate, statement)
    }
    return statement
  }

  async function prune(): Promise<void> {
    const { s } = open()
    const now = Date.now()
    const cutoff = now - retentionMs
    let deleted = s.pruneDeadLetters.run(cutoff).changes
    deleted += s.pruneHourly.run(now - hourlyRetentionMs).changes
    // One (type, field) at a time, yielding in between: a large prune must not stall ingest.
    for (let pair = s.nextPair.get('', ''); pair; pair = s.nextPair.get(pair.type, pair.field)) {
      deleted += s.pruneReadings.run(pair.type, pair.field, now - rawRetention(pair.type)).changes
      await new Promise((resolve) => setImmediate(resolve))
      if (!db) return
    }
    logger?.debug({ deleted, cutoff }, 'embedded storage: pruned rows past retention')
  }

  function schedulePrune(): void {
    pruning = prune()
      .catch((err: unknown) => logger?.error({ err }, 'embedded storage: prune failed'))
      .finally(() => {
        pruning = undefined
      })
  }

  const insertBatch = (rows: Row[], letters: readonly DeadLetter[]): void => {
    const { db: d, s } = open()
    // Readings and their rollups in one transaction: a rollup never lags what is stored.
    d.transaction(() => {
      // A new reading is added to its hour and day; one that overwrites a stored reading (a
      // replay, a resend) has its hour and day recomputed whole. Either way each batch costs
      // what it holds, not what its hours hold.
      const added: Row[] = []
      const replaced: Row[] = []
      for (const row of rows) {
        if (s.insertNew.run(...row).changes === 1) added.push(row)
        else {
          s.upsert.run(...row)
          replaced.push(row)
        }
      }
      for (const l of letters) s.insertDeadLetter.run(l.deviceId, l.receivedAt, l.topic, l.code, l.reason, l.payload)
      rollUp(s, added, replaced)
    })()
  }

  function rollUp(s: ReturnType<typeof prepare>, added: Row[], replaced: Row[]): void {
    // Hours past the hourly retention are not kept, and a day is recomputed only while all its
    // hours are: a reading older than that stays raw only (see README, Retention).
    const cutoff = Date.now() - hourlyRetentionMs
    const key = (t: Touched) => t.join('\0')
    const redoHours = new Map<string, Touched>()
    for (const [type, device, field, time, lane, route] of replaced) {
      const hour = windowOf(time, HOUR_MS)
      if (hour >= cutoff) redoHours.set(key([type, device, field, lane, route, hour]), [type, device, field, lane, route, hour])
    }
    const redoDays = new Map<string, Touched>()
    for (const [type, device, field, lane, route, hour] of redoHours.values()) {
      const day = windowOf(hour, DAY_MS)
      if (day >= cutoff) redoDays.set(key([type, device, field, lane, route, day]), [type, device, field, lane, route, day])
    }
    // Sums of the new readings per hour and per day, skipping what is recomputed anyway.
    const addHours = new Map<string, { at: Touched; city: string } & WindowStats>()
    const addDays = new Map<string, { at: Touched; city: string } & WindowStats>()
    const accumulate = (into: typeof addHours, at: Touched, city: string, value: number) => {
      const k = key(at)
      const t = into.get(k)
      if (!t) into.set(k, { at, city, sum: value, min: value, max: value, count: 1 })
      else {
        t.sum += value
        t.count++
        if (value < t.min) t.min = value
        if (value > t.max) t.max = value
      }
    }
    for (const [type, device, field, time, lane, route, city, value] of added) {
      const hour = windowOf(time, HOUR_MS)
      if (hour < cutoff) continue
      const h: Touched = [type, device, field, lane, route, hour]
      if (!redoHours.has(key(h))) accumulate(addHours, h, city, value)
      const day = windowOf(hour, DAY_MS)
      const d: Touched = [type, device, field, lane, route, day]
      if (day >= cutoff && !redoDays.has(key(d))) accumulate(addDays, d, city, value)
    }
    const params = ({ at: [type, device, field, lane, route, time], city, sum, min, max, count }: { at: Touched; city: string } & WindowStats) =>
      ({ type, device, field, lane, route, time, city, sum, min, max, count })
    for (const a of addHours.values()) s.addHour.run(params(a))
    for (const a of addDays.values()) s.addDay.run(params(a))
    for (const [type, device, field, lane, route, hour] of redoHours.values()) s.rollHour.run({ type, device, field, lane, route, from: hour, to: hour + HOUR_MS })
    for (const [type, device, field, lane, route, day] of redoDays.values()) s.rollDay.run({ type, device, field, lane, route, from: day, to: day + DAY_MS })
  }

  function runOrUnavailable(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      // Disk full, I/O error, locked file: nothing was written (the transaction rolled back).
      if (err instanceof Database.SqliteError) throw new StorageUnavailableError(`SQLite ${file}: ${err.message}`)
      throw err
    }
  }

  /**
   * Each field's sum, min, max and count per window of `every` over [from, to), from the rollups
   * where whole hours or days allow and raw readings for the rest, in one transaction (in process,
   * a statement per field costs no round trip).
   */
  function windowTotals(type: string, device: string, fields: readonly string[], range: { from: number; to: number }, every: number): Map<string, Map<number, WindowStats>> {
    const { db: d, s } = open()
    const statsOf: Record<Level, Database.Statement<StatsParams, StatsRow>> = { raw: s.rawStats, hourly: s.hourlyStats, daily: s.dailyStats }
    const totals = new Map(fields.map((field) => [field, new Map<number, WindowStats>()]))
    d.transaction(() => {
      for (const part of planParts(range.from, range.to, every, 'mean')) {
        for (const field of fields) {
          const total = totals.get(field)!
          for (const r of statsOf[part.level].all({ type, device, field, from: part.from, to: part.to, every })) mergeInto(total, r.window, r)
        }
      }
    })()
    return totals
  }

  return {
    kind: 'embedded',

    async init() {
      if (db) return
      try {
        db = new Database(file)
        db.pragma('journal_mode = WAL')
        db.pragma('synchronous = NORMAL')
        db.pragma('busy_timeout = 5000')
        db.exec(SCHEMA)
        backfillRollups(db, logger)
        statements = prepare(db)
      } catch (err) {
        db?.close()
        db = undefined
        throw new StorageUnavailableError(`cannot open SQLite database ${file}: ${(err as Error).message}`)
      }
      await prune()
      pruneTimer = setInterval(() => pruning ?? schedulePrune(), PRUNE_INTERVAL_MS).unref()
    },

    async write(batch) {
      const rejected: WriteResult['rejected'] = []
      const rows: Row[] = []
      const now = Date.now()
      for (const line of batchLines(batch)) {
        const reason = toRows(line, (type) => now - rawRetention(type), rows)
        if (reason) rejected.push({ line, reason })
      }
      runOrUnavailable(() => insertBatch(rows, []))
      return { rejected }
    },

    async writeDeadLetters(letters) {
      runOrUnavailable(() => insertBatch([], letters))
    },

    async latest({ deviceId, type }) {
      const kind = kindOf(type)
      const { db: d, s } = open()
      let time = -Infinity
      const values: Record<string, number> = {}
      // One read transaction: every field is read from the same snapshot, so a reading written
      // meanwhile (by another connection to the file) is seen whole or not at all.
      d.transaction(() => {
        for (const field of kind.fieldNames) {
          const row = s.newest.get(type, deviceId, field)
          if (!row) continue
          values[field] = row.value
          if (row.time > time) time = row.time
        }
      })()
      return time === -Infinity ? null : { time, values }
    },

    async lastReadings(type, since) {
      const kind = kindOf(type)
      const { db: d, s } = open()
      const out: LastReading[] = []
      // One read transaction (one snapshot); per device, one index seek per field. The newest
      // reading is the newest time any field has; its values are the fields stored at that time.
      d.transaction(() => {
        for (let next = s.nextDevice.get(type, ''); next; next = s.nextDevice.get(type, next.device)) {
          const newest = new Map<string, { time: number; value: number }>()
          let time = -Infinity
          for (const field of kind.fieldNames) {
            const row = s.newestOfDevice.get(type, next.device, field, Number.isSafeInteger(since) ? since : 0)
            if (!row) continue
            newest.set(field, row)
            if (row.time > time) time = row.time
          }
          if (time === -Infinity) continue
          const values: Record<string, number> = {}
          for (const [field, row] of newest) if (row.time === time) values[field] = row.value
          out.push({ deviceId: next.device, time, values })
        }
      })()
      return out
    },

    async series(q) {
      checkField(kindOf(q.type), q.field)
      const range = clampRange(q.from, q.to)
      if (!range || checkLimit(q.limit) === 0) return []
      const { db: d, s } = open()
      const params = { type: q.type, device: q.deviceId, field: q.field, from: range.from, to: range.to, limit: q.limit }
      const aggregate = q.aggregate ?? 'mean'
      if (q.every !== undefined && aggregate !== 'last') {
        const total = windowTotals(q.type, q.deviceId, [q.field], range, checkEvery(q.every)).get(q.field)!
        return pointsOf(total, aggregate, q.limit)
      }
      const rows: SeriesPoint[] =
        q.every === undefined
          ? s.raw.all(params)
          : windowStatement(d, aggregate)
              .all({ ...params, every: checkEvery(q.every) })
              .map((r) => ({ time: r.window, value: r.value }))
      return rows.reverse()
    },

    // series()'s raw statement field by field, in one transaction (in process, a query per field costs no round trip).
    async readings(q) {
      const range = checkFieldsQuery(q)
      if (!range) return []
      const { db: d, s } = open()
      const byTime = new Map<number, Record<string, number>>()
      d.transaction(() => {
        for (const field of q.fields) {
          for (const row of s.raw.all({ type: q.type, device: q.deviceId, field, from: range.from, to: range.to, limit: q.limit })) {
            let values = byTime.get(row.time)
            if (!values) byTime.set(row.time, (values = {}))
            values[field] = row.value
          }
        }
      })()
      const out: StoredReading[] = [...byTime].map(([time, values]) => ({ time, values }))
      return out.sort((a, b) => a.time - b.time).slice(-q.limit)
    },

    async windows(q) {
      const range = checkFieldsQuery(q)
      if (!range) return []
      return fieldsWindowsOf(windowTotals(q.type, q.deviceId, q.fields, range, checkEvery(q.every)), q.limit)
    },

    async cityAggregates(q) {
      checkField(kindOf(q.type), q.field)
      const range = clampRange(q.from, q.to)
      if (!range) return []
      return open().s.cities.all(q.type, q.field, range.from, range.to)
    },

    async deadLetters(q) {
      if (checkLimit(q.limit) === 0) return []
      const where: string[] = []
      if (q.deviceId !== undefined) where.push('device_id = @deviceId')
      if (q.from !== undefined) where.push('received_at >= @from')
      if (q.to !== undefined) where.push('received_at < @to')
      const sql = `SELECT device_id AS deviceId, received_at AS receivedAt, topic, code, reason, payload FROM dead_letters
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC, id DESC LIMIT @limit`
      return open().db.prepare(sql).all({ deviceId: q.deviceId, from: q.from, to: q.to, limit: q.limit }) as DeadLetter[]
    },

    async health(): Promise<StorageHealth> {
      if (!db) return { ok: false, detail: `SQLite database ${file} is not open` }
      try {
        db.prepare('SELECT 1').get()
        return { ok: true, detail: `SQLite database ${file} is open` }
      } catch (err) {
        return { ok: false, detail: `SQLite database ${file} failed a query: ${(err as Error).message}` }
      }
    },

    async close() {
      clearInterval(pruneTimer)
      pruneTimer = undefined
      const d = db
      db = undefined
      await pruning
      statements = undefined
      windowed.clear()
      d?.close()
    },
  }
}

/**
 * A file written before rollups existed: its readings are rolled up once, when it is first opened
 * (rollups empty, readings not), in one transaction.
 */
function backfillRollups(d: Database.Database, logger: Logger | undefined): void {
  if (d.prepare('SELECT 1 FROM rollup_hourly LIMIT 1').get() || !d.prepare('SELECT 1 FROM readings LIMIT 1').get()) return
  const hour = (step: number) => `(time - ((time % ${step}) + ${step}) % ${step})`
  d.transaction(() => {
    d.exec(`INSERT INTO rollup_hourly (type, device_id, field, time, lane_id, route, city, sum, min, max, count)
      SELECT type, device_id, field, ${hour(HOUR_MS)} AS hour, lane_id, route, city, sum(value), min(value), max(value), count(*)
      FROM readings GROUP BY type, device_id, field, hour, lane_id, route`)
    d.exec(`INSERT INTO rollup_daily (type, device_id, field, time, lane_id, route, city, sum, min, max, count)
      SELECT type, device_id, field, ${hour(DAY_MS)} AS day, lane_id, route, city, sum(sum), min(min), max(max), sum(count)
      FROM rollup_hourly GROUP BY type, device_id, field, day, lane_id, route`)
  })()
  logger?.info('embedded storage: rolled up the readings stored before rollups existed')
}

/** Appends the rows of one line; returns why the line is refused, or undefined. */
function toRows(line: string, oldestOf: (type: string) => number, rows: Row[]): string | undefined {
  let decoded
  try {
    decoded = decodeLine(line)
  } catch (err) {
    return (err as Error).message
  }
  const { measurement, tags, fields, time } = decoded
  const deviceId = tags.device
  if (!deviceId) return 'line protocol: missing the device tag'
  for (const tag of Object.keys(tags)) if (!KEY_TAGS.has(tag)) return `unsupported tag '${tag}'`
  if (time < oldestOf(measurement)) return `time ${time} is older than the retention period`
  const start = rows.length
  for (const [field, value] of Object.entries(fields)) {
    if (typeof value !== 'number') {
      rows.length = start
      return `field ${field} is not a number`
    }
    rows.push([measurement, deviceId, field, time, tags.laneId ?? '', tags.route ?? '', tags.city ?? '', value])
  }
  return undefined
}


