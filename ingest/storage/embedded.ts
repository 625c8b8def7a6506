import Database from 'better-sqlite3'
import type { Logger } from 'pino'
import { checkEvery, checkField, checkLimit, clampRange, kindOf } from './query-checks.ts'
import { decodeLine } from '../../devices/line-protocol.ts'
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

export interface EmbeddedStorageOptions {
  file: string
  /** Readings and dead letters older than this are refused on write and pruned. */
  retentionMs: number
  logger?: Logger
}

const PRUNE_INTERVAL_MS = 60 * 60_000
/** Tags stored in their own columns; any other tag cannot be represented and is refused. */
const KEY_TAGS = new Set(['city', 'device', 'laneId', 'route'])

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
`

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

type Row = [type: string, deviceId: string, field: string, time: number, laneId: string, route: string, city: string, value: number]

export function createEmbeddedStorage(options: EmbeddedStorageOptions): Storage {
  const { file, retentionMs, logger } = options
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
    const cutoff = Date.now() - retentionMs
    let deleted = s.pruneDeadLetters.run(cutoff).changes
    // One (type, field) at a time, yielding in between: a large prune must not stall ingest.
    for (let pair = s.nextPair.get('', ''); pair; pair = s.nextPair.get(pair.type, pair.field)) {
      deleted += s.pruneReadings.run(pair.type, pair.field, cutoff).changes
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
    d.transaction(() => {
      for (const row of rows) s.upsert.run(...row)
      for (const l of letters) s.insertDeadLetter.run(l.deviceId, l.receivedAt, l.topic, l.code, l.reason, l.payload)
    })()
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
        statements = prepare(db)
      } catch (err) {
        db?.close()
        db = undefined
        throw new StorageUnavailableError(`cannot open SQLite database ${file}: ${(err as Error).message}`)
      }
      await prune()
      pruneTimer = setInterval(() => pruning ?? schedulePrune(), PRUNE_INTERVAL_MS).unref()
    },

    async write(lines) {
      const rejected: WriteResult['rejected'] = []
      const rows: Row[] = []
      const oldest = Date.now() - retentionMs
      for (const line of lines) {
        const reason = toRows(line, oldest, rows)
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
      const rows: SeriesPoint[] =
        q.every === undefined
          ? s.raw.all(params)
          : windowStatement(d, q.aggregate ?? 'mean')
              .all({ ...params, every: checkEvery(q.every) })
              .map((r) => ({ time: r.window, value: r.value }))
      return rows.reverse()
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

/** Appends the rows of one line; returns why the line is refused, or undefined. */
function toRows(line: string, oldest: number, rows: Row[]): string | undefined {
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
  if (time < oldest) return `time ${time} is older than the retention period`
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


