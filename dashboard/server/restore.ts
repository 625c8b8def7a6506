import type { Logger } from 'pino'
import { DEVICE_TYPES, type DeviceType } from '../../devices/kinds.ts'
import type { DeviceRef } from '../../devices/registry.ts'
import type { LastReading, Storage } from '../../ingest/storage/contract.ts'

/**
 * Memory across restarts: at start, in the background, each device's newest stored reading (within
 * `windowMs`) is handed to the device-state tracker (last seen, so live / late / silent instead of
 * 'pending') and to the live hub (its newest values, so a browser opening the map sees them).
 *
 * One storage.lastReadings() per device type, at most `concurrency` at a time; the answers are
 * applied in chunks with a yield between them so ingest keeps its turn. Storage may not be open
 * yet at start (ingest opens it, retrying): a failed query is retried with backoff. Whatever
 * arrived meanwhile wins: the tracker and the hub ignore a restore for a device they have heard from.
 */

export interface RestoreTargets {
  storage: Pick<Storage, 'lastReadings'>
  lookup(id: string): DeviceRef | undefined
  live: { seed(device: DeviceRef, reading: { time: number; values: Record<string, number> }): boolean }
  states: { restore(deviceId: string, readingTime: number): boolean }
  logger: Logger
  clock?: () => number
}

export interface RestoreOptions {
  /** How far back to look for a device's newest reading. Default 7 days. */
  windowMs?: number
  /** Types queried at once. Default 2. */
  concurrency?: number
  /** Attempts per type while storage is not answering (backoff 500 ms doubling, at most 30 s). Default 12. */
  attempts?: number
  /** Devices applied between two yields. Default 500. */
  chunk?: number
}

export interface RestoreResult {
  devices: number
  states: number
  live: number
  failedTypes: DeviceType[]
}

export const DEFAULT_RESTORE_WINDOW_MS = 7 * 86_400_000

export function restoreFromStorage(targets: RestoreTargets, options: RestoreOptions = {}): { done: Promise<RestoreResult>; cancel(): void } {
  const { storage, lookup, live, states, logger } = targets
  const clock = targets.clock ?? Date.now
  const windowMs = options.windowMs ?? DEFAULT_RESTORE_WINDOW_MS
  const concurrency = Math.max(1, options.concurrency ?? 2)
  const attempts = Math.max(1, options.attempts ?? 12)
  const chunk = Math.max(1, options.chunk ?? 500)
  const result: RestoreResult = { devices: 0, states: 0, live: 0, failedTypes: [] }
  let cancelled = false
  const waits = new Set<() => void>()

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        waits.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      waits.add(done)
    })
  const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

  async function query(type: DeviceType): Promise<LastReading[] | undefined> {
    for (let attempt = 0; attempt < attempts && !cancelled; attempt++) {
      try {
        return await storage.lastReadings(type, clock() - windowMs)
      } catch (err) {
        if (attempt === attempts - 1) {
          logger.warn({ err, type }, 'restore: could not read the newest stored readings; devices of this type start as not seen')
          return undefined
        }
        await pause(Math.min(30_000, 500 * 2 ** attempt))
      }
    }
    return undefined
  }

  async function restoreType(type: DeviceType): Promise<void> {
    const readings = await query(type)
    if (!readings) {
      if (!cancelled) result.failedTypes.push(type)
      return
    }
    for (let i = 0; i < readings.length && !cancelled; i += chunk) {
      for (const reading of readings.slice(i, i + chunk)) {
        const device = lookup(reading.deviceId)
        // Gone from the registry, or re-registered as another type: nothing to restore.
        if (!device || device.type !== type) continue
        result.devices += 1
        if (states.restore(device.id, reading.time)) result.states += 1
        if (Object.keys(reading.values).length > 0 && live.seed({ id: device.id, type: device.type, city: device.city }, reading)) result.live += 1
      }
      await yieldTurn()
    }
  }

  const done = (async () => {
    const started = clock()
    const queue = [...DEVICE_TYPES]
    const worker = async () => {
      for (let type = queue.shift(); type !== undefined && !cancelled; type = queue.shift()) await restoreType(type)
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker))
    if (!cancelled) logger.info({ ...result, ms: clock() - started }, 'restore: devices judged from their newest stored readings')
    return result
  })()

  return {
    done,
    cancel() {
      cancelled = true
      for (const wake of [...waits]) wake()
    },
  }
}
