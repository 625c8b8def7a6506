import type { Storage } from '../ingest/storage/contract.ts'

/** What a counting storage was asked: ranges are series, windows and readings calls. */
export interface StorageCalls {
  ranges: number
  latest: number
  lastReadings: number
}

/** Storage that counts what it is asked (tests of how much the snapshots read), answering from `inner`. */
export function countingStorage(inner: Storage): { storage: Storage; calls: StorageCalls } {
  const calls: StorageCalls = { ranges: 0, latest: 0, lastReadings: 0 }
  const storage: Storage = {
    ...inner,
    kind: inner.kind,
    series: (q) => {
      calls.ranges += 1
      return inner.series(q)
    },
    windows: (q) => {
      calls.ranges += 1
      return inner.windows(q)
    },
    readings: (q) => {
      calls.ranges += 1
      return inner.readings(q)
    },
    latest: (q) => {
      calls.latest += 1
      return inner.latest(q)
    },
    lastReadings: (type, since) => {
      calls.lastReadings += 1
      return inner.lastReadings(type, since)
    },
  }
  return { storage, calls }
}
