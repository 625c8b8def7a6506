import { join } from 'node:path'
import type { Logger } from 'pino'
import type { ValidationLimits } from '../devices/readings.ts'
import { createPipeline, type PipelineOptions } from './pipeline.ts'
import { createShipper, type Shipper } from './shipper.ts'
import type { Storage } from './storage/contract.ts'
import { openWal } from './wal.ts'

/**
 * Ingest: the pipeline (validate → log → acknowledge) in front, the shipper (log → storage)
 * behind, joined by the write-ahead log in the data directory. Storage being down or slow
 * never blocks acknowledgement until the log's disk budget is used up.
 */

export interface IngestOptions {
  dataDir: string
  storage: Storage
  logger: Logger
  walBudgetBytes: number
  walFsync?: boolean
  batchSize?: number
  flushIntervalMs?: number
  limits?: ValidationLimits
  onAccepted?: PipelineOptions['onAccepted']
  onRejected?: PipelineOptions['onRejected']
  deadLettersPerHour?: PipelineOptions['deadLettersPerHour']
}

export interface IngestHealth {
  ok: boolean
  storage: { kind: string; ok: boolean; detail: string }
  /** Records durable in the log but not yet confirmed by storage. */
  backlogBytes: number
  overBudget: boolean
  lastStoredAt?: number
}

export async function createIngest(options: IngestOptions) {
  const { storage, logger } = options
  const wal = await openWal({
    dir: join(options.dataDir, 'wal'),
    budgetBytes: options.walBudgetBytes,
    fsync: options.walFsync,
    logger,
  })
  const pipeline = createPipeline({ wal, logger, limits: options.limits, onAccepted: options.onAccepted, onRejected: options.onRejected, deadLettersPerHour: options.deadLettersPerHour })

  let storageDetail = 'starting'
  let storageReady = false
  let closing = false
  let shipper: Shipper | undefined
  let cancelRetryWait: (() => void) | undefined

  // Storage may be down at start: keep acknowledging into the log and start shipping once it answers.
  const started = (async () => {
    for (let attempt = 0; !closing; attempt++) {
      try {
        await storage.init()
        storageReady = true
        storageDetail = 'ok'
        shipper = createShipper({ wal, storage, logger, batchSize: options.batchSize, flushIntervalMs: options.flushIntervalMs })
        return
      } catch (err) {
        storageDetail = (err as Error).message
        if (attempt === 0) logger.error({ err, storage: storage.kind }, 'storage is not ready; readings are kept in the write-ahead log until it is')
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(30_000, 500 * 2 ** attempt))
          cancelRetryWait = () => {
            clearTimeout(timer)
            resolve()
          }
        })
      }
    }
  })()

  return {
    accept: pipeline.accept,
    refuse: pipeline.refuse,
    counters: pipeline.counters,
    wal,

    stats() {
      return { pipeline: { ...pipeline.counters }, wal: wal.stats(), shipper: shipper?.stats() }
    },

    async health(): Promise<IngestHealth> {
      const walStats = wal.stats()
      const shipperStats = shipper?.stats()
      let storageHealth = { ok: false, detail: storageDetail }
      if (storageReady) {
        storageHealth = await storage.health()
        if (storageHealth.ok && shipperStats?.storageError) storageHealth = { ok: false, detail: shipperStats.storageError }
      }
      return {
        ok: storageHealth.ok && !walStats.overBudget && !walStats.failing,
        storage: { kind: storage.kind, ...storageHealth },
        backlogBytes: walStats.unconfirmedBytes,
        overBudget: walStats.overBudget,
        lastStoredAt: shipperStats?.lastStoredAt,
      }
    },

    /**
     * Call after the sources stopped delivering: makes every acknowledged record durable, ships
     * what it can within drainTimeoutMs, and leaves the rest in the log for the next start.
     */
    async close(drainTimeoutMs = 10_000): Promise<void> {
      closing = true
      cancelRetryWait?.()
      // Not drained(): with the log over its budget and storage down, that would wait forever.
      await wal.settled()
      await started
      await shipper?.close(drainTimeoutMs)
      await wal.close()
      await storage.close()
    },
  }
}

export type Ingest = Awaited<ReturnType<typeof createIngest>>
