import type { Logger } from 'pino'
import { StorageUnavailableError, type DeadLetter, type Storage } from './storage/contract.ts'
import type { Wal } from './wal.ts'
import { RECORD_DEAD_LETTER, RECORD_END, RECORD_READING } from './records.ts'

/**
 * Moves durable records from the write-ahead log into storage, one batch in flight at a time
 * (large batches, bounded in-flight writes: what InfluxDB 1.x handles best), in log order.
 * A batch ships when it is full or when flushIntervalMs has passed since the last shipment, so
 * a quiet system stores a reading at once and a busy one writes full batches.
 * Only after storage confirms a batch is its position checkpointed; while storage is down the
 * shipper retries with backoff (or the server's Retry-After) and the log absorbs the backlog.
 */

export interface ShipperOptions {
  wal: Wal
  storage: Storage
  logger: Logger
  batchSize?: number
  flushIntervalMs?: number
  maxBackoffMs?: number
  /** Called after each stored batch, for live freshness metrics. */
  onStored?: (readings: number, deadLetters: number) => void
}

export interface ShipperStats {
  storedReadings: number
  storedDeadLetters: number
  storageRejected: number
  batches: number
  failedAttempts: number
  /** Last storage failure, cleared by the next success. */
  storageError?: string
  lastStoredAt?: number
}

export function createShipper(options: ShipperOptions) {
  const { wal, storage, logger, batchSize = 5000, flushIntervalMs = 1000, maxBackoffMs = 30_000 } = options
  const stats: ShipperStats = { storedReadings: 0, storedDeadLetters: 0, storageRejected: 0, batches: 0, failedAttempts: 0 }
  let lastShipAt = 0
  /** Shutting down: ship partial batches now and stop when the log is empty. */
  let draining = false
  /** The drain timed out: stop retrying, leave the rest in the log. */
  let abandoned = false
  let wake: (() => void) | undefined
  let timer: NodeJS.Timeout | undefined
  let storageWasDown = false

  let waitingForData = false
  const unsubscribe = wal.onDurable(() => {
    if (waitingForData && wal.unreadRecords() >= batchSize) wake?.()
  })

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve
      timer = setTimeout(resolve, ms)
    }).finally(() => {
      clearTimeout(timer)
      wake = undefined
    })

  async function run() {
    while (!abandoned) {
      const unread = wal.unreadRecords()
      if (unread === 0 && draining) break
      const sinceLast = Date.now() - lastShipAt
      if (unread === 0 || (unread < batchSize && sinceLast < flushIntervalMs && !draining)) {
        waitingForData = true
        await sleep(unread === 0 ? flushIntervalMs : flushIntervalMs - sinceLast)
        waitingForData = false
        continue
      }
      const batch = await withLocalRetry('read the write-ahead log', () => wal.readBatch(batchSize))
      if (!batch) break
      if (batch.count > 0) {
        const stored = await store(batch.bytes)
        if (!stored) break // abandoned while storage is down: the log keeps the batch for the next start
      }
      const confirmed = await withLocalRetry('checkpoint the write-ahead log', () => {
        wal.confirm(batch.end)
        return true
      })
      if (!confirmed) break
      lastShipAt = Date.now()
    }
  }

  /**
   * Runs a step on the local disk (reading a segment, writing the checkpoint), retrying with
   * backoff when it throws: opening a file fails with EMFILE while the process is out of file
   * descriptors (a connection flood), and that passes. Both steps can be repeated safely: a
   * failed read leaves the read position alone, and confirming the same position twice is the
   * same as once. Undefined when the shipper is abandoned meanwhile, so a step must return a value.
   */
  async function withLocalRetry<T extends object | boolean>(what: string, step: () => T): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = step()
        if (attempt > 0) logger.info({ attempts: attempt + 1 }, `shipper: could ${what} again`)
        return result
      } catch (err) {
        stats.failedAttempts += 1
        const wait = Math.min(maxBackoffMs, 100 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2)
        if (attempt === 0) logger.error({ err, retryInMs: Math.round(wait) }, `shipper: cannot ${what}; retrying`)
        if (abandoned) return undefined
        await sleep(wait)
        if (abandoned) return undefined
      }
    }
  }

  /**
   * Stores one batch of records (the log's bytes, changed in place), retrying until it is stored
   * or the shipper is stopped.
   */
  async function store(records: Buffer): Promise<boolean> {
    // The readings' lines are moved together over their records' kind marks, in place: storage
    // gets the log's own bytes, with nothing made per reading.
    let end = 0
    let readings = 0
    const letters: DeadLetter[] = []
    for (let start = 0; start < records.length; ) {
      const newline = records.indexOf(RECORD_END, start)
      const next = newline === -1 ? records.length : newline + 1
      const kind = records[start]
      if (kind === RECORD_READING) {
        records.copyWithin(end, start + 1, next)
        end += next - start - 1
        readings += 1
      } else if (kind === RECORD_DEAD_LETTER) letters.push(JSON.parse(records.toString('utf8', start + 1, next)) as DeadLetter)
      else if (kind !== RECORD_END) logger.error({ record: records.toString('utf8', start, Math.min(next, start + 200)) }, 'write-ahead log holds a record of unknown kind; skipped')
      start = next
    }
    const lines = records.subarray(0, end)
    let attempt = 0
    for (;;) {
      try {
        const result = readings ? await storage.write(lines) : { rejected: [] }
        const now = Date.now()
        // This attempt's letters: the log's, and one per line storage refused this time (an
        // attempt after a failed one must not store the refused lines' letters again).
        const all = [...letters]
        for (const { line, reason } of result.rejected) {
          all.push({ deviceId: deviceOf(line), receivedAt: now, topic: '', code: 'storage-rejected', reason, payload: line.slice(0, 4096) })
        }
        if (all.length) await storage.writeDeadLetters(all)
        stats.storedReadings += readings - result.rejected.length
        stats.storedDeadLetters += all.length
        stats.storageRejected += result.rejected.length
        stats.batches += 1
        stats.lastStoredAt = now
        stats.storageError = undefined
        if (storageWasDown) logger.info({ storage: storage.kind }, 'storage is back; catching up from the write-ahead log')
        storageWasDown = false
        options.onStored?.(readings - result.rejected.length, all.length)
        return true
      } catch (err) {
        stats.failedAttempts += 1
        stats.storageError = (err as Error).message
        const retryable = err instanceof StorageUnavailableError
        const backoff = Math.min(maxBackoffMs, 250 * 2 ** Math.min(attempt, 10))
        const wait = retryable && err.retryAfterMs !== undefined ? err.retryAfterMs : backoff * (0.5 + Math.random() / 2)
        if (!storageWasDown) {
          logger.error({ err, storage: storage.kind, retryInMs: Math.round(wait) }, 'storage write failed; readings stay in the write-ahead log and are retried')
        }
        storageWasDown = true
        attempt += 1
        if (abandoned) return false
        await sleep(wait)
        if (abandoned) return false
      }
    }
  }

  const running = run().catch((err: unknown) => {
    logger.fatal({ err }, 'shipper stopped unexpectedly')
    throw err
  })

  return {
    stats: (): ShipperStats => ({ ...stats }),
    /** Ships what the log holds (bounded by timeoutMs), then stops. Unshipped records stay in the log. */
    async close(timeoutMs = 10_000): Promise<void> {
      await wal.settled()
      const deadline = setTimeout(() => {
        abandoned = true
        wake?.()
      }, timeoutMs)
      draining = true
      wake?.()
      await running.catch(() => {})
      clearTimeout(deadline)
      unsubscribe()
    },
  }
}

function deviceOf(line: string): string {
  const match = /,device=([^, ]+)/.exec(line)
  return match?.[1] ?? 'unknown'
}

export type Shipper = ReturnType<typeof createShipper>
