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
  /** The store's method, counted under `call`. */
  const counted =
    <A extends unknown[], R>(call: keyof StorageCalls, method: (...args: A) => R) =>
    (...args: A): R => {
      calls[call] += 1
      return method.apply(inner, args)
    }
  const storage: Storage = {
    ...inner,
    kind: inner.kind,
    series: counted('ranges', inner.series),
    windows: counted('ranges', inner.windows),
    readings: counted('ranges', inner.readings),
    latest: counted('latest', inner.latest),
    lastReadings: counted('lastReadings', inner.lastReadings),
  }
  return { storage, calls }
}
