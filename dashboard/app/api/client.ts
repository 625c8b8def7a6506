import type { Words } from '../../shared/words.ts'
import type { AppConfig, Device, FieldInfo, KindInfo, Latest, Point, RawConfig, User } from './types.ts'

/**
 * Thin fetch wrapper for the Piazza API. Every non-2xx answer becomes an ApiError carrying the
 * server's `{ error: { status, code, message } }` so screens can show the precise reason.
 */

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    /** Seconds, from Retry-After on 429. */
    readonly retryAfter?: number,
    /** The message's code and figures, when the server gave them: errorText words it in the page's language. */
    readonly words?: Words,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** Called on any 401 from a call other than login/me, so the app can return to the login page. */
let onUnauthorized: (() => void) | undefined
export function setUnauthorizedHandler(handler: (() => void) | undefined): void {
  onUnauthorized = handler
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch {
    throw new ApiError('Cannot reach the Piazza server. Check your connection and try again.', 0, 'network')
  }
  const text = await res.text()
  let data: unknown = null
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = null
    }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; words?: Words } } | null)?.error
    const retry = Number(res.headers.get('retry-after'))
    const error = new ApiError(
      err?.message ?? `${res.status} ${res.statusText || 'error'}`,
      res.status,
      err?.code ?? String(res.status),
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
      err?.words,
    )
    if (res.status === 401 && !path.startsWith('/api/auth/')) onUnauthorized?.()
    throw error
  }
  return data as T
}

/** Accepts ISO strings and epoch milliseconds; NaN when neither. */
export function toMillis(time: unknown): number {
  if (typeof time === 'number') return time
  if (typeof time === 'string') return Date.parse(time)
  return Number.NaN
}

/** The readings endpoint may answer with an array or `{ points }`; values may be null for gaps. */
export function normalisePoints(data: unknown): Point[] {
  const raw = Array.isArray(data) ? data : ((data as { points?: unknown } | null)?.points ?? [])
  if (!Array.isArray(raw)) return []
  const points: Point[] = []
  for (const p of raw as { time?: unknown; value?: unknown }[]) {
    const time = toMillis(p?.time)
    if (Number.isFinite(time) && typeof p.value === 'number' && Number.isFinite(p.value)) points.push({ time, value: p.value })
  }
  return points.sort((a, b) => a.time - b.time)
}

/**
 * The app's view of /api/config (dashboard/shared/config.ts): kinds keyed by type and their
 * fields keyed by name (both in the server's order), tags as name → label, the region's bbox at
 * the top.
 */
export function normaliseConfig(raw: RawConfig): AppConfig {
  const kinds: Record<string, KindInfo> = {}
  for (const k of raw.kinds) {
    const fields: Record<string, FieldInfo> = {}
    for (const f of k.fields) fields[f.name] = f
    const tags: Record<string, string> = {}
    for (const t of k.tags) tags[t.name] = t.label
    kinds[k.type] = { ...k, fields, tags }
  }
  return { ...raw, bbox: raw.region.bbox, kinds }
}

const query = (params: Record<string, string | number | undefined>) => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

export const api = {
  login: (username: string, password: string) => request<{ user: User; token?: string }>('POST', '/api/auth/login', { username, password }),
  logout: () => request<unknown>('POST', '/api/auth/logout'),
  me: () => request<{ user: User }>('GET', '/api/auth/me'),
  config: async () => normaliseConfig(await request<RawConfig>('GET', '/api/config')),
  device: (id: string) => request<Device>('GET', `/api/devices/${encodeURIComponent(id)}`),

  /** The latest reading, or null when the device has none yet (404, null body or `time: null`). */
  async latest(id: string): Promise<Latest | null> {
    try {
      // `time: null` (and no values) when the device has not reported yet.
      const latest = await request<Latest | { time: null } | null>('GET', `/api/devices/${encodeURIComponent(id)}/latest`)
      return latest && latest.time !== null && latest.time !== undefined ? (latest as Latest) : null
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null
      throw e
    }
  },

  async readings(id: string, field: string, from: Date, to: Date): Promise<Point[]> {
    const q = query({ field, from: from.toISOString(), to: to.toISOString() })
    return normalisePoints(await request<unknown>('GET', `/api/devices/${encodeURIComponent(id)}/readings${q}`))
  },

  /**
   * Every device, paged so a server-side cap on `limit` still gives the full list; the map and
   * the list both need all of them (a few thousand at most).
   */
  async allDevices(pageSize = 1000): Promise<Device[]> {
    const all: Device[] = []
    // The page cap only guards against a server that ignores offset.
    for (let pages = 0; pages < 200; pages++) {
      const page = await request<{ items: Device[]; total?: number }>('GET', `/api/devices${query({ limit: pageSize, offset: all.length })}`)
      all.push(...page.items)
      if (page.items.length === 0 || typeof page.total !== 'number' || all.length >= page.total) break
    }
    return all
  },
}
