import { HttpError, InfluxDB, RequestTimedOutError, type Transport } from '@influxdata/influxdb-client'
import type { Logger } from 'pino'
import { checkEvery, checkField, checkFieldsQuery, checkLimit, clampRange, kindOf, MAX_TIME_MS } from './query-checks.ts'
import { FAMILIES, KINDS, type DeviceType, type Family, type Kind } from '../../devices/kinds.ts'
import { batchLines, decodeLine, linesToBatch } from '../../devices/line-protocol.ts'
import {
  DAY_MS,
  DEFAULT_HOURLY_RETENTION_MS,
  fieldsWindowsOf,
  HOUR_MS,
  mergeInto,
  planParts,
  pointsOf,
  rawRetentionOf,
  runsOf,
  type Level,
  type RetentionOptions,
  type WindowStats,
} from './rollups.ts'
import {
  StorageUnavailableError,
  type Aggregate,
  type CityAggregate,
  type DeadLetter,
  type LastReading,
  type Storage,
  type StorageHealth,
  type StoredReading,
  type WriteResult,
} from './contract.ts'

/**
 * InfluxDB over its v1 HTTP API only (/write, /query, /ping), which 1.x serves natively and
 * 2.x/3.x serve for compatibility. The client library does the HTTP; batching, retries and
 * error classification are ours:
 * - writes go through its transport as they come, the batch's bytes: not through its WriteApi,
 *   which takes lines as strings, and whose retry buffer lives in memory and is dropped by
 *   close() (the caller retries from its write-ahead log); no gzip (it costs more than it saves
 *   on loopback);
 * - a 4xx is bisected down to the lines InfluxDB refuses, so the good lines get written;
 * - 401/403 is a configuration problem, never a bad line.
 *
 * Rollups (rollups.ts) are written from here, not by continuous queries: a CQ only computes the
 * intervals just ended when it runs, so a device's backlog arriving after its hour was rolled up
 * would never reach the rollup (and RESAMPLE FOR only stretches that to a fixed lookback). After
 * each batch is stored, one request of SELECT … INTO statements recomputes, inside InfluxDB,
 * exactly the hours (from raw) and then days (from hours) the batch's readings fall in, per
 * device: idempotent, since a point with the same tags and time overwrites. The batch counts as
 * written only once its rollups are: if they fail, the caller retries the whole batch.
 */

export interface InfluxStorageOptions extends RetentionOptions {
  url: string
  database: string
  username?: string
  password?: string
  /**
   * Default 'piazza_raw': the default policy, holding dead letters and the raw readings of each
   * family without its own retention (durations rounded to whole hours, at least one). A family
   * with its own retention gets the policy '<retentionPolicy>_<family>'.
   */
  retentionPolicy?: string
  /** Hourly rollups, kept hourlyRetentionMs; default 'piazza_hourly'. */
  hourlyPolicy?: string
  /** Daily rollups, kept forever; default 'piazza_daily'. */
  dailyPolicy?: string
  logger?: Logger
  /** Socket timeout per request, default 10 s. */
  timeoutMs?: number
}

const DEAD_LETTERS = 'piazza_dead_letters'
/** Lines per request. */
const CHUNK_LINES = 50_000
const NEWLINE = 10
const WRITE_OPTIONS = { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' } }
/** Rollup watermarks, one point per type at time 0 in the daily policy. */
const ROLLUP_STATE = 'piazza_rollup_state'
/** An hour is rolled up this long after it ends (late readings of a live fleet arrive by then). */
const SETTLE_MS = 5 * 60_000
const SETTLE_CHUNK_MS = 24 * HOUR_MS
/** A backlog from at most this many devices is rolled up with its batch. */
const FEW_DEVICES = 20
/** latest(): how long a newest point with fields missing waits for the write of its device in InfluxDB's hands. */
const LATEST_WAIT_MS = 2_000
const AGGREGATE_FN: Record<Aggregate, string> = { mean: 'mean', min: 'min', max: 'max', count: 'count', last: 'last' }

interface QueryResult {
  statement_id?: number
  error?: string
  series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[]
}

export function createInfluxStorage(options: InfluxStorageOptions): Storage & { settle(): Promise<void> } {
  const { url, database, retentionMs, logger } = options
  const rp = options.retentionPolicy ?? 'piazza_raw'
  const headers: Record<string, string> = {}
  if (options.username !== undefined) {
    // InfluxDB 1.x takes Basic auth; the client's `token` would send "Token …", which 1.x ignores.
    const credentials = `${options.username}:${options.password ?? ''}`
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`
  }
  const influx = new InfluxDB({ url, timeout: options.timeoutMs ?? 10_000, headers })
  abortOnTimeout(influx.transport)
  const policy = `${ident(database)}.${ident(rp)}`
  const hourlyRp = options.hourlyPolicy ?? 'piazza_hourly'
  const dailyRp = options.dailyPolicy ?? 'piazza_daily'
  const rawRpOf = (family: Family): string => (options.familyRetentionMs?.[family] !== undefined ? `${rp}_${family}` : rp)
  // A measurement no kind knows (nothing writes one, but a line may say so) goes to the default.
  const rawRpOfType = (type: string): string => (type in KINDS ? rawRpOf(KINDS[type as DeviceType].family) : rp)
  const rawPolicy = (type: string) => `${ident(database)}.${ident(rawRpOfType(type))}`
  const levelPolicy = (level: Level, type: string) =>
    level === 'raw' ? rawPolicy(type) : `${ident(database)}.${ident(level === 'hourly' ? hourlyRp : dailyRp)}`

  /** The /write path for a retention policy; ns is the v1 default precision, 'ms' is spelled the same in v1 and v2. */
  function writePath(precision: 'ms' | 'ns', retentionPolicy = rp): string {
    const params = new URLSearchParams({ db: database, rp: retentionPolicy })
    if (precision === 'ms') params.set('precision', 'ms')
    return `/write?${params}`
  }
  const readingsPaths = new Map<string, string>()
  const readingsPath = (retentionPolicy: string): string => {
    let path = readingsPaths.get(retentionPolicy)
    if (path === undefined) readingsPaths.set(retentionPolicy, (path = writePath('ms', retentionPolicy)))
    return path
  }
  // Dead letters carry a per-process counter in the sub-millisecond digits, so two from one
  // device with one code in the same millisecond are two points, not one overwriting the other.
  const deadLettersPath = writePath('ns')
  let deadLetterCounter = 0
  let closed = false

  // InfluxDB 1.6 answers 500 "engine: error syncing wal" under many concurrent writes.
  let writing: Promise<unknown> = Promise.resolve()
  function oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const run = writing.then(fn, fn)
    writing = run.catch(() => undefined)
    return run
  }
  /** The readings write InfluxDB has in hand (one at a time). */
  let inHand: WriteInHand | undefined
  /** For each lastReadings() query out, the writes InfluxDB had in hand meanwhile. */
  const watchers = new Set<WriteInHand[]>()

  /**
   * POSTs one body to /write through the client's transport. Not through its WriteApi, which
   * takes lines only as strings (and measures each): a batch goes as the bytes it came in.
   * Node's transport takes the body through Buffer.from(), which takes bytes as well as text.
   */
  function post(path: string, body: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      let status: number | undefined
      influx.transport.send(path, body as unknown as string, WRITE_OPTIONS, {
        responseStarted: (_headers, statusCode) => (status = statusCode),
        error: reject,
        complete: () => (status !== undefined && status >= 200 && status < 300 ? resolve() : reject(new HttpError(status ?? 0, `InfluxDB answered a write with ${status}`))),
      })
    })
  }

  /** Writes lines `from` to `to` of a batch, bisecting on a 4xx until each refused line stands alone in `rejected`. */
  async function writeIsolating(path: string, batch: Buffer, lines: LineRanges, from: number, to: number, rejected: WriteResult['rejected']): Promise<void> {
    try {
      await post(path, bodyOf(batch, lines, from, to))
    } catch (err) {
      const reason = refusal(err)
      if (to - from === 1) {
        rejected.push({ line: batch.toString('utf8', lines[2 * from]!, lines[2 * from + 1]! - 1), reason })
        return
      }
      const half = (from + to) >> 1
      await writeIsolating(path, batch, lines, from, half, rejected)
      await writeIsolating(path, batch, lines, half, to, rejected)
    }
  }

  /** Writes a batch's lines (all of them, or those `lines` lists), CHUNK_LINES to a request. */
  async function writeAll(path: string, batch: Buffer, lines = lineRanges(batch)): Promise<WriteResult> {
    const rejected: WriteResult['rejected'] = []
    const count = lines.length / 2
    for (let i = 0; i < count; i += CHUNK_LINES) await writeIsolating(path, batch, lines, i, Math.min(count, i + CHUNK_LINES), rejected)
    return { rejected }
  }

  /** The server's reason for refusing lines (a 4xx); throws StorageUnavailableError for anything else. */
  function refusal(err: unknown): string {
    if (err instanceof HttpError) {
      const message = serverMessage(err)
      if (err.statusCode === 401 || err.statusCode === 403) throw credentialsRefused(err.statusCode)
      // A missing database or retention policy refuses every line: that is configuration, not data.
      const misconfigured = err.statusCode === 404 || /(database|retention policy) not found/.test(message)
      if (err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 429 && !misconfigured) return message
      throw new StorageUnavailableError(`InfluxDB at ${url} answered ${err.statusCode}: ${message}`, retryAfterMs(err))
    }
    throw unreachable(err)
  }

  function credentialsRefused(status: number): StorageUnavailableError {
    return new StorageUnavailableError(`InfluxDB at ${url} refused the credentials (${status})`)
  }

  function unreachable(err: unknown): StorageUnavailableError {
    const e = err as Error & { code?: string }
    return new StorageUnavailableError(`InfluxDB at ${url} is unreachable: ${e.code ?? e.message ?? String(err)}`)
  }

  async function request(path: string, body: string, method: string, onHeaders?: (h: Record<string, unknown>) => void): Promise<unknown> {
    return influx.transport.request(
      path,
      body,
      { method, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } },
      onHeaders,
    )
  }

  /** Runs InfluxQL statements; 401/403, 5xx and network failures throw StorageUnavailableError. */
  async function query(q: string, withDatabase = true, tolerated?: RegExp): Promise<QueryResult[]> {
    const params = new URLSearchParams({ epoch: 'ms' })
    if (withDatabase) params.set('db', database)
    let response: { results?: QueryResult[]; error?: string }
    try {
      response = (await request(`/query?${params}`, new URLSearchParams({ q }).toString(), 'POST')) as typeof response
    } catch (err) {
      if (err instanceof HttpError) {
        if (err.statusCode === 401 || err.statusCode === 403) throw credentialsRefused(err.statusCode)
        if (err.statusCode >= 500 || err.statusCode === 429) {
          throw new StorageUnavailableError(`InfluxDB at ${url} answered ${err.statusCode}: ${serverMessage(err)}`, retryAfterMs(err))
        }
        throw new Error(`InfluxDB refused the query: ${serverMessage(err)}`)
      }
      throw unreachable(err)
    }
    const results = response?.results ?? []
    const failed = response?.error ?? results.find((r) => r.error && !tolerated?.test(r.error))?.error
    if (failed) throw new Error(`InfluxDB query failed: ${failed}`)
    return results
  }

  function rows(result: QueryResult | undefined): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = []
    for (const s of result?.series ?? []) {
      for (const values of s.values) {
        const row: Record<string, unknown> = { ...s.tags }
        s.columns.forEach((c, i) => (row[c] = values[i]))
        out.push(row)
      }
    }
    return out
  }

  // ---------------------------------------------------------------- rollups
  // Per type, `settled`: every hour before it is rolled up (persisted in STATE). Queries read
  // rollups only before it and raw readings after, so the hours under way are never rolled up
  // per batch (that would rescan a whole hour of the fleet each second): the settler rolls up
  // each hour once, a few minutes after it ends, for all devices of a type at once. A reading
  // in a settled hour (a backlog) is rolled up with its batch when it comes from a few devices;
  // from many, `settled` is moved back to its hour (persisted before the batch counts as
  // written) and the settler redoes those hours for everyone.
  const settled = new Map<string, number>()
  let settleTimer: NodeJS.Timeout | undefined
  const cutoffOfHourly = () => Date.now() - (options.hourlyRetentionMs ?? DEFAULT_HOURLY_RETENTION_MS)
  const settledOf = (type: string) => settled.get(type) ?? 0

  /** SELECT … INTO statements recomputing [from, to) (whole hours) of some devices or all, and the days it touches. */
  function recomputeStatements(type: string, devices: readonly string[] | null, from: number, to: number): { hourly: string[]; daily: string[] } {
    const fields = KINDS[type as DeviceType].fieldNames
    const hourFields = fields
      .map((f) => `sum(${ident(f)}) AS ${ident(`sum_${f}`)}, min(${ident(f)}) AS ${ident(`min_${f}`)}, max(${ident(f)}) AS ${ident(`max_${f}`)}, count(${ident(f)}) AS ${ident(`count_${f}`)}`)
      .join(', ')
    const dayFields = fields
      .map((f) => {
        const [s, lo, hi, n] = ['sum', 'min', 'max', 'count'].map((a) => ident(`${a}_${f}`))
        return `sum(${s}) AS ${s}, min(${lo}) AS ${lo}, max(${hi}) AS ${hi}, sum(${n}) AS ${n}`
      })
      .join(', ')
    // Hours past the hourly retention are not kept, and a day is recomputed only while all its
    // hours are: a reading older than that stays raw only (see README, Retention).
    const cutoff = cutoffOfHourly()
    const hourFrom = Math.max(from, Math.ceil(cutoff / HOUR_MS) * HOUR_MS)
    const dayFrom = Math.max(Math.floor(from / DAY_MS) * DAY_MS, Math.ceil(cutoff / DAY_MS) * DAY_MS)
    const dayTo = Math.ceil(to / DAY_MS) * DAY_MS
    const who = devices === null ? '' : `(${devices.map((d) => `"device" = ${str(d)}`).join(' OR ')}) AND `
    const statement = (select: string, src: string, dst: string, a: number, b: number, step: number) =>
      `SELECT ${select} INTO ${dst}.${ident(type)} FROM ${src}.${ident(type)} WHERE ${who}time >= ${a}ms AND time < ${b}ms GROUP BY time(${step}ms), * fill(none)`
    return {
      hourly: hourFrom < to ? [statement(hourFields, rawPolicy(type), levelPolicy('hourly', type), hourFrom, to, HOUR_MS)] : [],
      daily: dayFrom < dayTo ? [statement(dayFields, levelPolicy('hourly', type), levelPolicy('daily', type), dayFrom, dayTo, DAY_MS)] : [],
    }
  }

  async function runRecompute(parts: { hourly: string[]; daily: string[] }[]): Promise<void> {
    // Hours before days: the days are read from the hours. An hour that passed out of retention
    // meanwhile is dropped by InfluxDB, which is what retention means.
    for (const level of ['hourly', 'daily'] as const) {
      const statements = parts.flatMap((p) => p[level])
      for (let i = 0; i < statements.length; i += 50) await query(statements.slice(i, i + 50).join('; '), true, /points beyond retention policy/)
    }
  }

  async function saveSettled(entries: [string, number][]): Promise<void> {
    const lines = entries.map(([type, time]) => `${ROLLUP_STATE},type=${escapeTag(type)} settled=${time}i 0`)
    if (lines.length === 0) return
    const { rejected } = await writeAll(readingsPath(dailyRp), linesToBatch(lines))
    if (rejected.length > 0) throw new StorageUnavailableError(`InfluxDB refused the rollup state: ${rejected[0]!.reason}`)
  }

  /** After a batch is stored: its readings in settled hours (backlogs; see above). */
  async function rollUp(readings: readonly SeriesTime[]): Promise<void> {
    const late = new Map<string, Map<string, number[]>>()
    for (const r of readings) {
      let devices = late.get(r.type)
      if (!devices) late.set(r.type, (devices = new Map()))
      let times = devices.get(r.device)
      if (!times) devices.set(r.device, (times = []))
      times.push(r.time)
    }
    const now: { hourly: string[]; daily: string[] }[] = []
    const moveBack: [string, number][] = []
    for (const [type, devices] of late) {
      if (devices.size > FEW_DEVICES) {
        moveBack.push([type, Math.floor(Math.min(...[...devices.values()].flat()) / HOUR_MS) * HOUR_MS])
        continue
      }
      for (const [device, times] of devices) for (const run of runsOf(times, HOUR_MS)) now.push(recomputeStatements(type, [device], run.from, run.to))
    }
    await runRecompute(now)
    if (moveBack.length > 0) {
      await saveSettled(moveBack)
      for (const [type, time] of moveBack) settled.set(type, Math.min(settledOf(type), time))
    }
  }

  /** Rolls up, for all devices, the hours that ended SETTLE_MS ago and are not rolled up yet. */
  async function settle(): Promise<void> {
    const target = Math.floor((Date.now() - SETTLE_MS) / HOUR_MS) * HOUR_MS
    for (const kind of Object.values(KINDS)) {
      // Nothing older than the raw readings can be recomputed.
      const oldest = Math.floor((Date.now() - rawRetentionOf(options, kind.family)) / HOUR_MS) * HOUR_MS
      let from = Math.max(settledOf(kind.type), oldest)
      while (from < target) {
        const to = Math.min(target, from + SETTLE_CHUNK_MS)
        // Writes wait meanwhile (one at a time), so no backlog moves the watermark under us.
        await runRecompute([recomputeStatements(kind.type, null, from, to)])
        await saveSettled([[kind.type, to]])
        settled.set(kind.type, to)
        from = to
      }
    }
  }

  let settling: Promise<void> | undefined
  function scheduleSettle(): Promise<void> {
    settling ??= oneAtATime(settle)
      .catch((err: unknown) => logger?.warn({ err: (err as Error).message }, 'influx: rolling up settled hours failed; retried in a minute'))
      .finally(() => (settling = undefined))
    return settling
  }

  /**
   * Each field's sum, min, max and count per window of `every` over [from, to), from the rollups
   * where whole hours or days allow and raw readings for the rest: one request, one statement per
   * level with every field in it (columns s0, n0, x0, c0 for field 0, and so on).
   */
  async function windowTotals(type: string, deviceId: string, fields: readonly string[], range: { from: number; to: number }, every: number): Promise<Map<string, Map<number, WindowStats>>> {
    const columns = (level: Level) =>
      fields
        .map((field, i) => {
          const f = ident(field)
          return level === 'raw'
            ? `sum(${f}) AS s${i}, min(${f}) AS n${i}, max(${f}) AS x${i}, count(${f}) AS c${i}`
            : `sum(${ident(`sum_${field}`)}) AS s${i}, min(${ident(`min_${field}`)}) AS n${i}, max(${ident(`max_${field}`)}) AS x${i}, sum(${ident(`count_${field}`)}) AS c${i}`
        })
        .join(', ')
    const results = await query(
      planParts(range.from, range.to, every, 'mean', settledOf(type))
        .map(
          (part) =>
            `SELECT ${columns(part.level)} FROM ${levelPolicy(part.level, type)}.${ident(type)} ` +
            `WHERE "device" = ${str(deviceId)} AND time >= ${part.from}ms AND time < ${part.to}ms GROUP BY time(${every}ms) fill(none)`,
        )
        .join('; '),
    )
    const totals = new Map(fields.map((field) => [field, new Map<number, WindowStats>()]))
    for (const result of results) {
      for (const r of rows(result)) {
        fields.forEach((field, i) => {
          const count = r[`c${i}`]
          if (typeof count === 'number') mergeInto(totals.get(field)!, r.time as number, { sum: r[`s${i}`] as number, min: r[`n${i}`] as number, max: r[`x${i}`] as number, count })
        })
      }
    }
    return totals
  }

  return {
    kind: 'influxdb',

    /** Rolls up the settled hours now rather than at the next minute's tick (tests, shutdown tools). */
    settle: () => scheduleSettle(),

    async init() {
      // CREATE DATABASE is idempotent in 1.x.
      await query(`CREATE DATABASE ${ident(database)}`, false)
      const policies = rows((await query(`SHOW RETENTION POLICIES ON ${ident(database)}`, false))[0])
      /** Creates or alters a policy to this duration (null: forever). */
      const ensure = async (name: string, ms: number | null, isDefault: boolean) => {
        const hours = ms === null ? 0 : Math.max(1, Math.round(ms / HOUR_MS))
        const duration = ms === null ? 'INF' : `${hours}h`
        const shard = ms === null ? 24 * 7 : shardGroupHours(hours)
        const spec = `DURATION ${duration} REPLICATION 1 SHARD DURATION ${shard}h${isDefault ? ' DEFAULT' : ''}`
        const current = policies.find((p) => p.name === name)
        if (!current) {
          await query(`CREATE RETENTION POLICY ${ident(name)} ON ${ident(database)} ${spec}`, false)
          logger?.info({ database, retentionPolicy: name, duration }, 'influx: created the retention policy')
        } else if (goDurationMs(String(current.duration)) !== hours * HOUR_MS || (isDefault && current.default !== true)) {
          await query(`ALTER RETENTION POLICY ${ident(name)} ON ${ident(database)} ${spec}`, false)
          logger?.info({ database, retentionPolicy: name, duration, was: current.duration }, 'influx: altered the retention policy')
        }
      }
      await ensure(rp, retentionMs, true)
      for (const family of FAMILIES) {
        const ms = options.familyRetentionMs?.[family]
        if (ms !== undefined) await ensure(rawRpOf(family), ms, false)
      }
      await ensure(hourlyRp, options.hourlyRetentionMs ?? DEFAULT_HOURLY_RETENTION_MS, false)
      await ensure(dailyRp, null, false)

      // The rollup watermarks; a type without one (a new database, or one from before rollups)
      // starts at the hour of its oldest raw reading, or now when it has none.
      for (const row of rows((await query(`SELECT last("settled") AS settled FROM ${ident(database)}.${ident(dailyRp)}.${ident(ROLLUP_STATE)} GROUP BY "type"`))[0])) {
        if (typeof row.type === 'string' && typeof row.settled === 'number') settled.set(row.type, row.settled)
      }
      const fresh: [string, number][] = []
      for (const type of Object.keys(KINDS)) {
        if (settled.has(type)) continue
        const oldest = rows((await query(`SELECT * FROM ${rawPolicy(type)}.${ident(type)} ORDER BY time ASC LIMIT 1`))[0])[0]
        fresh.push([type, Math.floor((typeof oldest?.time === 'number' ? oldest.time : Date.now() - SETTLE_MS) / HOUR_MS) * HOUR_MS])
      }
      await saveSettled(fresh)
      for (const [type, time] of fresh) settled.set(type, time)
      void scheduleSettle()
      settleTimer = setInterval(() => void scheduleSettle(), 60_000).unref()
    },

    write(batch) {
      if (closed) return Promise.reject(new Error('influx storage: write after close()'))
      const bytes = endingInNewline(batch)
      return oneAtATime(async () => {
        // Each line to its kind's policy; a line whose measurement is no kind's goes to the
        // default one (InfluxDB refuses what it cannot read with its own reason). Lines are read
        // in the batch's bytes and sent as they are, nothing made per line: the batch is in hand
        // for the whole write, long enough for whatever is made per line to outlive
        // young-generation collections. Only a line in a settled hour (a backlog, rolled up
        // below), or one whose time is not plain digits, is decoded.
        const byPolicy = new Map<string, LineRanges>()
        const late: SeriesTime[] = []
        const lines = lineRanges(bytes)
        for (let i = 0; i < lines.length; i += 2) {
          const start = lines[i]!
          const next = lines[i + 1]!
          const type = typeOfLine(bytes, start)
          if (type !== undefined) {
            const time = timeOfLine(bytes, start, next - 1)
            if (!Number.isSafeInteger(time) || time < settledOf(type)) {
              const d = seriesTime(bytes.toString('utf8', start, next - 1))
              if (d && d.time < settledOf(d.type)) late.push(d)
            }
          }
          const target = type === undefined ? rp : rawRpOfType(type)
          let group = byPolicy.get(target)
          if (!group) byPolicy.set(target, (group = []))
          group.push(start, next)
        }
        let written!: () => void
        const write: WriteInHand = { batch: bytes, done: new Promise<void>((resolve) => (written = resolve)) }
        inHand = write
        for (const watcher of watchers) watcher.push(write)
        const rejected: WriteResult['rejected'] = []
        try {
          for (const [target, group] of byPolicy) rejected.push(...(await writeAll(readingsPath(target), bytes, group)).rejected)
        } finally {
          inHand = undefined
          written()
        }
        const refused = new Set(rejected.map((r) => r.line))
        await rollUp(refused.size === 0 ? late : late.filter((d) => !refused.has(d.line)))
        return { rejected }
      })
    },

    writeDeadLetters(letters) {
      if (closed) return Promise.reject(new Error('influx storage: write after close()'))
      const lines = letters.map((l) => {
        let line = DEAD_LETTERS
        if (l.deviceId) line += `,device=${escapeTag(l.deviceId)}`
        if (l.code) line += `,code=${escapeTag(l.code)}`
        deadLetterCounter = (deadLetterCounter + 1) % 1_000_000
        const ns = BigInt(Math.trunc(l.receivedAt)) * 1_000_000n + BigInt(deadLetterCounter)
        return `${line} topic=${quote(l.topic)},reason=${quote(l.reason)},payload=${quote(l.payload)} ${ns}`
      })
      return oneAtATime(async () => {
        const { rejected } = await writeAll(deadLettersPath, linesToBatch(lines))
        // Nowhere left to put a dead letter InfluxDB refuses (e.g. older than the retention policy).
        for (const r of rejected) logger?.warn({ reason: r.reason, line: r.line.slice(0, 500) }, 'influx: dead letter refused, dropped')
      })
    },

    async latest({ deviceId, type }) {
      const kind = kindOf(type)
      const from = `FROM ${rawPolicy(type)}.${ident(type)} WHERE "device" = ${str(deviceId)}`
      // The newest point, in one statement: its fields come back together. (One last() statement
      // per field could each see a different set of points, and mix two readings.)
      const newest = rows((await query(`SELECT * ${from} ORDER BY time DESC LIMIT 1`))[0])[0]
      if (!newest) return null
      const newestTime = newest.time as number
      const values = takeFields(kind, newest, {})
      const missing = kind.fieldNames.filter((f) => values[f] === undefined)
      if (missing.length === 0) return { time: newestTime, values }

      // Some fields are absent at that time: either the reading lacks them, or it was being
      // written (InfluxDB makes a point's fields visible one by one while it stores a write).
      // So the same point is read again, after the write has finished when it is this store's
      // (bounded: a write retrying through an outage must not hold a reader), else after a round
      // trip (a write from another node), and each field still absent takes its own newest value
      // from strictly older points, which a reading written meanwhile cannot change. One last()
      // per field: last(*) reports time 0 when it selects several fields.
      const write = inHand
      if (write && holds(write, deviceId)) await settledWithin(write.done, LATEST_WAIT_MS)
      const results = await query(
        [
          `SELECT * ${from}${seriesOf(kind, newest)} AND time = ${timeLiteral(newestTime)}`,
          ...missing.map((f) => `SELECT last(${ident(f)}) ${from} AND time < ${timeLiteral(newestTime)}`),
        ].join('; '),
      )
      for (const row of rows(results.find((r) => r.statement_id === 0))) takeFields(kind, row, values)
      let time = Object.keys(values).length > 0 ? newestTime : -Infinity
      missing.forEach((field, i) => {
        if (values[field] !== undefined) return
        const row = rows(results.find((r) => r.statement_id === i + 1))[0]
        if (!row || typeof row.last !== 'number') return
        values[field] = row.last
        time = Math.max(time, row.time as number)
      })
      return time === -Infinity ? null : { time, values }
    },

    async lastReadings(type, since) {
      const kind = kindOf(type)
      const from = `FROM ${rawPolicy(type)}.${ident(type)}`
      // One statement: the newest row of each device (LIMIT applies per GROUP BY series). Not
      // last(*), which reports time 0 in some versions when it selects several fields.
      // The writes InfluxDB has in hand while the query is out: a write can begin and end within it.
      const overlapping: WriteInHand[] = inHand ? [inHand] : []
      watchers.add(overlapping)
      let result: QueryResult[]
      try {
        result = await query(`SELECT * ${from} WHERE time > ${timeLiteral(since)} GROUP BY "device" ORDER BY time DESC LIMIT 1`)
      } finally {
        watchers.delete(overlapping)
      }
      const out: LastReading[] = []
      const unsure: { reading: LastReading; point: string }[] = []
      for (const row of rows(result[0])) {
        if (typeof row.device !== 'string' || typeof row.time !== 'number') continue
        const reading = { deviceId: row.device, time: row.time, values: takeFields(kind, row, {}) }
        out.push(reading)
        // Fields missing from a point of a write InfluxDB had in hand may be on their way (see
        // latest()): that point, its series and time, is read again once the write is done.
        if (Object.keys(reading.values).length < kind.fieldNames.length && overlapping.some((write) => holds(write, reading.deviceId))) {
          unsure.push({ reading, point: `SELECT * ${from} WHERE "device" = ${str(row.device)}${seriesOf(kind, row)} AND time = ${timeLiteral(row.time)}` })
        }
      }
      const write = inHand
      if (unsure.length > 0 && write) await settledWithin(write.done, LATEST_WAIT_MS)
      // A few hundred statements per request.
      for (let i = 0; i < unsure.length; i += 200) {
        const chunk = unsure.slice(i, i + 200)
        const results = await query(chunk.map((u) => u.point).join('; '))
        chunk.forEach(({ reading }, k) => {
          for (const row of rows(results.find((r) => r.statement_id === k))) takeFields(kind, row, reading.values)
        })
      }
      return out
    },

    async series(q) {
      checkField(kindOf(q.type), q.field)
      const range = clampRange(q.from, q.to)
      if (!range || checkLimit(q.limit) === 0) return []
      const aggregate = q.aggregate ?? 'mean'
      if (q.every !== undefined && aggregate !== 'last') {
        const total = (await windowTotals(q.type, q.deviceId, [q.field], range, checkEvery(q.every))).get(q.field)!
        return pointsOf(total, aggregate, q.limit)
      }
      const where = `WHERE "device" = ${str(q.deviceId)} AND time >= ${range.from}ms AND time < ${range.to}ms`
      const sql =
        q.every === undefined
          ? `SELECT ${ident(q.field)} AS value FROM ${rawPolicy(q.type)}.${ident(q.type)} ${where}`
          : `SELECT ${AGGREGATE_FN[aggregate]}(${ident(q.field)}) AS value FROM ${rawPolicy(q.type)}.${ident(q.type)} ${where} ` +
            `GROUP BY time(${checkEvery(q.every)}ms) fill(none)`
      const result = await query(`${sql} ORDER BY time DESC LIMIT ${q.limit}`)
      return rows(result[0])
        .map((r) => ({ time: r.time as number, value: r.value as number | null }))
        .reverse()
    },

    async readings(q) {
      const range = checkFieldsQuery(q)
      if (!range) return []
      const result = await query(
        `SELECT ${q.fields.map(ident).join(', ')} FROM ${rawPolicy(q.type)}.${ident(q.type)} ` +
          `WHERE "device" = ${str(q.deviceId)} AND time >= ${range.from}ms AND time < ${range.to}ms ORDER BY time DESC LIMIT ${q.limit}`,
      )
      const out: StoredReading[] = []
      for (const row of rows(result[0])) {
        const values: Record<string, number> = {}
        let any = false
        for (const field of q.fields) {
          const v = row[field]
          if (typeof v === 'number') {
            values[field] = v
            any = true
          }
        }
        if (any) out.push({ time: row.time as number, values })
      }
      return out.reverse()
    },

    async windows(q) {
      const range = checkFieldsQuery(q)
      if (!range) return []
      return fieldsWindowsOf(await windowTotals(q.type, q.deviceId, q.fields, range, checkEvery(q.every)), q.limit)
    },

    async cityAggregates(q) {
      checkField(kindOf(q.type), q.field)
      const range = clampRange(q.from, q.to)
      if (!range) return []
      const f = ident(q.field)
      const result = await query(
        `SELECT mean(${f}) AS mean, min(${f}) AS min, max(${f}) AS max, count(${f}) AS count FROM ${rawPolicy(q.type)}.${ident(q.type)} ` +
          `WHERE time >= ${range.from}ms AND time < ${range.to}ms GROUP BY "city"`,
      )
      return rows(result[0])
        .map((r): CityAggregate => ({
          city: String(r.city ?? ''),
          mean: r.mean as number,
          min: r.min as number,
          max: r.max as number,
          count: r.count as number,
        }))
        .sort((a, b) => (a.city < b.city ? -1 : a.city > b.city ? 1 : 0))
    },

    async deadLetters(q) {
      if (checkLimit(q.limit) === 0) return []
      const where: string[] = []
      if (q.deviceId !== undefined) where.push(`"device" = ${str(q.deviceId)}`)
      if (q.from !== undefined) where.push(`time >= ${timeLiteral(q.from)}`)
      if (q.to !== undefined) where.push(`time < ${timeLiteral(q.to)}`)
      const result = await query(
        `SELECT "topic", "reason", "payload", "device", "code" FROM ${policy}.${ident(DEAD_LETTERS)} ` +
          `${where.length ? `WHERE ${where.join(' AND ')} ` : ''}ORDER BY time DESC LIMIT ${q.limit}`,
      )
      return rows(result[0]).map(
        (r): DeadLetter => ({
          deviceId: String(r.device ?? ''),
          receivedAt: r.time as number,
          topic: String(r.topic ?? ''),
          code: String(r.code ?? ''),
          reason: String(r.reason ?? ''),
          payload: String(r.payload ?? ''),
        }),
      )
    },

    async health(): Promise<StorageHealth> {
      let version = ''
      try {
        // /ping answers without credentials on 1.x, so the credentials are checked by a query below.
        await request('/ping', '', 'GET', (h) => (version = String(h['x-influxdb-version'] ?? '')))
      } catch (err) {
        const detail = err instanceof HttpError ? `InfluxDB at ${url} answered ${err.statusCode} to /ping` : unreachable(err).message
        return { ok: false, detail }
      }
      try {
        const policies = rows((await query(`SHOW RETENTION POLICIES ON ${ident(database)}`, false))[0])
        if (!policies.some((p) => p.name === rp)) {
          return { ok: false, detail: `InfluxDB at ${url} has no retention policy "${rp}" on database "${database}" (init has not run)` }
        }
      } catch (err) {
        const message = (err as Error).message
        if (/database not found/.test(message)) {
          return { ok: false, detail: `InfluxDB at ${url} has no database "${database}" (init has not run)` }
        }
        return { ok: false, detail: err instanceof StorageUnavailableError ? message : `InfluxDB at ${url}: ${message}` }
      }
      return { ok: true, detail: `InfluxDB${version ? ` ${version}` : ''} at ${url} is up, database "${database}" ready` }
    },

    async close() {
      closed = true
      clearInterval(settleTimer)
      await settling
      await writing
    },
  }
}

interface SeriesTime {
  line: string
  type: string
  device: string
  time: number
}

/**
 * A line's measurement, device and time, read without decoding the fields (this runs per line
 * on the ingest path); a line with escapes goes through the full decoder; undefined when
 * it cannot be read (InfluxDB then refuses it with its own reason).
 */
function seriesTime(line: string): SeriesTime | undefined {
  const space = line.indexOf(' ')
  const last = line.lastIndexOf(' ')
  const tagAt = line.indexOf(',device=')
  const time = Number(line.slice(last + 1))
  if (space > 0 && tagAt > 0 && tagAt < space && !line.slice(0, space).includes('\\') && Number.isSafeInteger(time)) {
    const end = line.indexOf(',', tagAt + 8)
    return { line, type: line.slice(0, line.indexOf(',')), device: line.slice(tagAt + 8, end === -1 || end > space ? space : end), time }
  }
  try {
    const d = decodeLine(line)
    return d.tags.device === undefined ? undefined : { line, type: d.measurement, device: d.tags.device, time: d.time }
  } catch {
    return undefined
  }
}

/**
 * The measurement of the line at `start` when it is of our own form (a kind's type, unescaped,
 * then a comma), read in the bytes; undefined for anything else.
 */
function typeOfLine(bytes: Buffer, start: number): DeviceType | undefined {
  for (const [type, name] of TYPE_BYTES) {
    if (bytes[start + name.length] !== COMMA) continue
    let i = 0
    while (i < name.length && bytes[start + i] === name[i]) i++
    if (i === name.length) return type
  }
  return undefined
}

/** The number after the last space of the line from `start` to `end` (its newline), read in the bytes; NaN when it is not all digits. */
function timeOfLine(bytes: Buffer, start: number, end: number): number {
  let first = end
  while (first > start && bytes[first - 1] !== SPACE) first--
  if (first === start || first === end) return Number.NaN
  let time = 0
  for (let i = first; i < end; i++) {
    const digit = bytes[i]! - 48
    if (digit < 0 || digit > 9) return Number.NaN
    time = time * 10 + digit
  }
  return time
}

/** A batch that ends in a newline, so that every line does (the contract asks for it; a missing last one is added). */
function endingInNewline(batch: Buffer): Buffer {
  return batch.length === 0 || batch[batch.length - 1] === NEWLINE ? batch : Buffer.concat([batch, Buffer.from('\n')])
}

/** Where lines lie in a batch: line i is bytes lines[2i] to lines[2i + 1], its newline included. */
type LineRanges = number[]

/** Every line of a batch that ends in a newline, empty ones left out: the one place a batch is split into lines. */
function lineRanges(batch: Buffer): LineRanges {
  const lines: LineRanges = []
  for (let start = 0; start < batch.length; ) {
    const next = batch.indexOf(NEWLINE, start) + 1
    if (next === 0) break
    if (next - start > 1) lines.push(start, next)
    start = next
  }
  return lines
}

/** Lines `from` to `to` as one request body: the batch's own bytes when they lie together, else a copy of them. */
function bodyOf(batch: Buffer, lines: LineRanges, from: number, to: number): Buffer {
  let size = 0
  let together = true
  for (let i = from; i < to; i++) {
    size += lines[2 * i + 1]! - lines[2 * i]!
    if (i > from && lines[2 * i] !== lines[2 * i - 1]) together = false
  }
  if (together) return batch.subarray(lines[2 * from], lines[2 * to - 1])
  const body = Buffer.allocUnsafe(size)
  let at = 0
  for (let i = from; i < to; i++) at += batch.copy(body, at, lines[2 * i], lines[2 * i + 1])
  return body
}

const COMMA = 44
const SPACE = 32
/** Each kind's type, with its bytes (types are ASCII). */
const TYPE_BYTES = (Object.keys(KINDS) as DeviceType[]).map((type) => [type, Buffer.from(type)] as const)

/** A readings write InfluxDB has in hand: while it stores it, a point's fields become visible one by one. */
interface WriteInHand {
  batch: Buffer
  /** Its devices, listed when a reader first asks (latest(), lastReadings()), not on the ingest path. */
  devices?: Set<string>
  done: Promise<void>
}

function holds(write: WriteInHand, deviceId: string): boolean {
  if (!write.devices) {
    write.devices = new Set()
    for (const line of batchLines(write.batch)) {
      const device = seriesTime(line)?.device
      if (device !== undefined) write.devices.add(device)
    }
  }
  return write.devices.has(deviceId)
}

/** A row's numeric fields of its kind, added to `values`. */
function takeFields(kind: Kind, row: Record<string, unknown>, values: Record<string, number>): Record<string, number> {
  for (const field of kind.fieldNames) if (typeof row[field] === 'number') values[field] = row[field] as number
  return values
}

/** The conditions naming a row's series beyond its device: its kind's tags as the row has them. */
function seriesOf(kind: Kind, row: Record<string, unknown>): string {
  return kind.tagNames.map((tag) => ` AND ${ident(tag)} = ${str(typeof row[tag] === 'string' ? (row[tag] as string) : '')}`).join('')
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    const settle = () => {
      clearTimeout(timer)
      resolve()
    }
    promise.then(settle, settle)
  })
}

/** The server's own words: InfluxDB 1.x puts them in {"error": …} and the X-Influxdb-Error header. */
function serverMessage(err: HttpError): string {
  if (typeof err.json?.error === 'string') return err.json.error
  const header = err.headers?.['x-influxdb-error']
  if (typeof header === 'string' && header) return header
  return err.body || err.message
}

/** Retry-After is seconds (or an HTTP date) per RFC 9110; the client library reads it as ms. */
function retryAfterMs(err: HttpError): number | undefined {
  const raw = err.headers?.['retry-after']
  const value = Array.isArray(raw) ? raw[0] : raw
  if (!value) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

/** Shard group duration InfluxDB would choose itself for a policy of this many hours. */
function shardGroupHours(hours: number): number {
  if (hours < 48) return 1
  if (hours <= 24 * 183) return 24
  return 24 * 7
}

/** Parses the Go durations SHOW RETENTION POLICIES prints, e.g. "720h0m0s"; "0s" is infinite. */
function goDurationMs(d: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d)
  if (!m) return NaN
  return (Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)) * 1000
}

/** InfluxQL identifier: always double-quoted, backslash and quote escaped. */
function ident(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`
}

/** InfluxQL string literal; a raw newline is a syntax error there, so it is escaped too. */
function str(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`
}

function timeLiteral(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new RangeError(`time must be whole epoch milliseconds, got ${ms}`)
  return `${Math.min(MAX_TIME_MS, Math.max(0, ms))}ms`
}

/**
 * Line protocol string field (1.x): backslash and double quote escaped. Newlines stay raw: the
 * 1.x parser accepts them inside quotes and stores them as they are, while a `\n` escape would
 * be stored as two characters.
 */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** Line protocol tag value: comma, equals and space escaped; tags cannot hold a newline. */
function escapeTag(value: string): string {
  return value.replace(/[\r\n]/g, ' ').replace(/([,= \\])/g, '\\$1')
}


/**
 * The client reports a request that timed out but leaves it open (Node's 'timeout' event only
 * notifies), so a store that never answers would collect one open socket per attempt. Each
 * request gets a signal, aborted when it times out: Node then destroys its socket.
 */
function abortOnTimeout(transport: Transport): void {
  const send = transport.send.bind(transport)
  transport.send = (path, body, options, callbacks) => {
    const controller = new AbortController()
    send(path, body, { ...options, signal: controller.signal }, {
      ...callbacks,
      error(error) {
        if (error instanceof RequestTimedOutError) controller.abort()
        callbacks?.error?.(error)
      },
    })
  }
}
