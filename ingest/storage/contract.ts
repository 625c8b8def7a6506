import Type, { type Static } from 'typebox'

/**
 * The storage interface behind ingest and the API. Two implementations: InfluxDB over its v1
 * HTTP API (influx.ts) and the embedded SQLite store (embedded.ts), both held to the same
 * contract suite in test/storage.contract.test.ts.
 *
 * Readings arrive as line protocol exactly as devices/line-protocol.ts encodes them:
 * measurement = device type, tags city + device (+ laneId / route), float fields, ms time; a
 * batch of them as bytes, each line followed by '\n' (linesToBatch() makes one from strings).
 */

export const DeadLetterSchema = Type.Object({
  deviceId: Type.String(),
  /** When ingest received the payload, epoch ms. */
  receivedAt: Type.Integer(),
  topic: Type.String(),
  /** A reject code from devices/readings.ts (or 'storage-rejected' for a line the store refused). */
  code: Type.String(),
  reason: Type.String(),
  /** The raw payload, truncated to a few KiB. */
  payload: Type.String(),
})
export type DeadLetter = Static<typeof DeadLetterSchema>

export const SeriesPointSchema = Type.Object({ time: Type.Integer(), value: Type.Union([Type.Number(), Type.Null()]) })
export type SeriesPoint = Static<typeof SeriesPointSchema>

export const LatestSchema = Type.Object({
  /** Time of the newest reading, epoch ms. */
  time: Type.Integer(),
  /** Newest value of each field (each field's own newest, so fields may come from different readings). */
  values: Type.Record(Type.String(), Type.Number()),
})
export type Latest = Static<typeof LatestSchema>

/** A device's newest reading within a window, as lastReadings() answers it. */
export interface LastReading {
  deviceId: string
  /** Time of the device's newest reading, epoch ms. */
  time: number
  /** That reading's fields (only those present in it). */
  values: Record<string, number>
}

export const AGGREGATES = ['mean', 'min', 'max', 'count', 'last'] as const
export type Aggregate = (typeof AGGREGATES)[number]

export interface SeriesQuery {
  deviceId: string
  type: string
  field: string
  /** Epoch ms, inclusive. */
  from: number
  /** Epoch ms, exclusive. */
  to: number
  /** Window in ms; when set, one point per window (windows aligned to epoch), empty windows omitted. */
  every?: number
  /** Default 'mean'; only used with every. */
  aggregate?: Aggregate
  /** At most this many points, the newest kept. */
  limit: number
}

/** Several fields of one device over a range: what series() answers one field (and one aggregate) at a time. */
export interface FieldsQuery {
  deviceId: string
  type: string
  fields: readonly string[]
  /** Epoch ms, inclusive. */
  from: number
  /** Epoch ms, exclusive. */
  to: number
  /** At most this many entries, the newest kept (a safety cap). */
  limit: number
}

export interface WindowsQuery extends FieldsQuery {
  /** Window in ms, aligned to the epoch. */
  every: number
}

/** One stored reading of a device: its time and the asked fields it holds. */
export interface StoredReading {
  time: number
  values: Record<string, number>
}

/** One window: each asked field with readings in it, its mean and how many readings. */
export interface FieldsWindow {
  time: number
  fields: Record<string, { mean: number; count: number }>
}

export const CityAggregateSchema = Type.Object({
  city: Type.String(),
  mean: Type.Number(),
  min: Type.Number(),
  max: Type.Number(),
  count: Type.Integer(),
})
export type CityAggregate = Static<typeof CityAggregateSchema>

export interface CityAggregateQuery {
  type: string
  field: string
  from: number
  to: number
}

export interface DeadLetterQuery {
  deviceId?: string
  from?: number
  to?: number
  /** Newest first, at most this many. */
  limit: number
}

export interface WriteResult {
  /** Lines the store refused as malformed or conflicting (HTTP 4xx); the rest were written. */
  rejected: { line: string; reason: string }[]
}

export interface StorageHealth {
  ok: boolean
  /** One sentence an operator can act on, e.g. "InfluxDB at http://… refused the credentials (401)". */
  detail: string
}

/** A failure worth retrying (store down, 5xx, 429, timeout): nothing in the batch was refused. */
export class StorageUnavailableError extends Error {
  constructor(
    message: string,
    /** Server's Retry-After, converted to ms, when it gave one. */
    readonly retryAfterMs?: number,
  ) {
    super(message)
    this.name = 'StorageUnavailableError'
  }
}

export interface Storage {
  /** Which implementation, for health and logs: 'influxdb' or 'embedded'. */
  readonly kind: string
  /** Creates the database and retention policy when missing. Throws StorageUnavailableError when unreachable. */
  init(): Promise<void>
  /**
   * Writes a batch of lines (UTF-8, each followed by '\n'; the store may read the bytes until
   * the write settles, and does not change them). Resolves with the lines refused as bad (the
   * rest are stored); rejects with StorageUnavailableError when nothing could be decided.
   * Rewriting a line with the same series and time overwrites it (duplicates are harmless).
   */
  write(batch: Buffer): Promise<WriteResult>
  writeDeadLetters(letters: readonly DeadLetter[]): Promise<void>
  latest(device: { deviceId: string; type: string }): Promise<Latest | null>
  series(query: SeriesQuery): Promise<SeriesPoint[]>
  /**
   * A device's raw readings in the range, oldest first, each with the asked fields it holds
   * (readings holding none of them left out): per field, the points series() gives without
   * `every`, in one request. For a device with one series (no per-reading tags such as lanes).
   */
  readings(query: FieldsQuery): Promise<StoredReading[]>
  /**
   * Per window, each asked field's mean and count, oldest first, windows without readings left
   * out: per field, what series() gives with `every` and the mean and the count aggregates (from
   * the rollups where whole hours or days allow), in one request.
   */
  windows(query: WindowsQuery): Promise<FieldsWindow[]>
  /**
   * Every device of a type that has a reading newer than `since` (epoch ms, exclusive): its
   * newest reading's time and values, one entry per device, in no particular order. What a
   * restarting server restores its memory from (last seen, the live hub's newest values).
   */
  lastReadings(type: string, since: number): Promise<LastReading[]>
  cityAggregates(query: CityAggregateQuery): Promise<CityAggregate[]>
  deadLetters(query: DeadLetterQuery): Promise<DeadLetter[]>
  health(): Promise<StorageHealth>
  close(): Promise<void>
}
