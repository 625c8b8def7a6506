import { useEffect, useRef, useState } from 'react'
import type { BaseMap } from '../shared/config.ts'
import type { AirQualityResponse, CityAirQuality, HistoryResponse } from '../server/public/schemas.ts'
import type { StatisticsResponse } from '../server/public/statistics.ts'

export type { AirQualityResponse, CityAirQuality, HistoryResponse, StatisticsResponse }
export type { HistoryHour, PollutantNow, StationSummary } from '../server/public/schemas.ts'

/** How often the page asks again; the server's snapshot answers revalidate with ETags (304). */
export const REFRESH_MS = 10_000
export const HISTORY_REFRESH_MS = 60_000
/** The year's statistics change hour by hour; the server keeps them 10 minutes. */
export const STATISTICS_REFRESH_MS = 10 * 60_000

export class LoadError extends Error {}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  // no-cache: always revalidate; unchanged answers come back as 304 from the ETag.
  const response = await fetch(url, { cache: 'no-cache', headers: { accept: 'application/json' }, signal })
  if (!response.ok) throw new LoadError(`${response.status} ${url}`)
  return (await response.json()) as T
}

export const fetchCity = (city: string, signal?: AbortSignal) => getJson<AirQualityResponse>(`/api/public/air-quality?city=${encodeURIComponent(city)}`, signal)
export const fetchHistory = (city: string, signal?: AbortSignal) =>
  getJson<HistoryResponse>(`/api/public/air-quality/history?city=${encodeURIComponent(city)}`, signal)

/** This calendar year so far, for one city and its stations. */
export const fetchStatistics = (city: string, signal?: AbortSignal) =>
  getJson<StatisticsResponse>(`/api/public/air-quality/statistics?city=${encodeURIComponent(city)}`, signal)
/** Every city's index now, for the overview. */
export const fetchAllCities = (_key: string, signal?: AbortSignal) => getJson<AirQualityResponse>('/api/public/air-quality', signal)

const NO_BASE_MAP: BaseMap = { styleUrl: null, pmtilesUrl: null, attribution: null }
let baseMap: Promise<BaseMap> | undefined
/** The configured base map (/api/config), asked once for both maps; without an answer, the outline. */
export function fetchBaseMap(): Promise<BaseMap> {
  baseMap ??= fetch('/api/config')
    .then((r) => (r.ok ? (r.json() as Promise<{ baseMap?: BaseMap }>) : ({} as { baseMap?: BaseMap })))
    .then((c) => c.baseMap ?? NO_BASE_MAP)
    .catch(() => NO_BASE_MAP)
  return baseMap
}

/** The base map for a map component: undefined until /api/config has answered (or failed). */
export function useBaseMap(): BaseMap | undefined {
  const [base, setBase] = useState<BaseMap | undefined>(undefined)
  useEffect(() => {
    let cancelled = false
    void fetchBaseMap().then((b) => !cancelled && setBase(b))
    return () => {
      cancelled = true
    }
  }, [])
  return base
}

export interface Polled<T> {
  data: T | undefined
  error: boolean
  /** When the current data was received, ms. */
  receivedAt: number
}

/**
 * Fetches `load(key)` now and every `everyMs` while the page is visible; a new key starts over.
 * Keeps showing the last data on a failed refresh, flagging the error.
 */
export function usePolling<T>(key: string | undefined, load: (key: string, signal: AbortSignal) => Promise<T>, everyMs: number): Polled<T> {
  const [state, setState] = useState<Polled<T> & { key?: string }>({ data: undefined, error: false, receivedAt: 0 })
  const loadRef = useRef(load)
  loadRef.current = load

  useEffect(() => {
    if (!key) return
    let timer: ReturnType<typeof setTimeout> | undefined
    let controller: AbortController | undefined
    let stopped = false
    const run = async () => {
      controller = new AbortController()
      try {
        const data = await loadRef.current(key, controller.signal)
        if (!stopped) setState({ key, data, error: false, receivedAt: Date.now() })
      } catch (e) {
        if (!stopped && !(e instanceof DOMException && e.name === 'AbortError')) setState((s) => ({ ...s, error: true }))
      }
      if (!stopped) schedule()
    }
    const schedule = () => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        if (document.visibilityState === 'hidden') schedule()
        else void run()
      }, everyMs)
    }
    const onVisible = () => {
      if (document.visibilityState === 'visible') {
        clearTimeout(timer)
        void run()
      }
    }
    setState((s) => (s.key === key ? s : { key, data: undefined, error: false, receivedAt: 0 }))
    void run()
    document.addEventListener('visibilitychange', onVisible)
    return () => {
      stopped = true
      clearTimeout(timer)
      controller?.abort()
      document.removeEventListener('visibilitychange', onVisible)
    }
  }, [key, everyMs])

  return state.key === key ? state : { data: undefined, error: false, receivedAt: 0 }
}
