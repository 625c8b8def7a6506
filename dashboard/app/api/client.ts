import type { AppConfig, Bbox, City, Device, FieldInfo, KindInfo, Latest, Point, User } from './types.ts'

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
    const err = (data as { error?: { code?: string; message?: string } } | null)?.error
    const retry = Number(res.headers.get('retry-after'))
    const error = new ApiError(
      err?.message ?? `${res.status} ${res.statusText || 'error'}`,
      res.status,
      err?.code ?? String(res.status),
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
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

interface RawField extends FieldInfo {
  name?: string
}
interface RawKind {
  type?: string
  family: string
  label: string
  fields: RawField[] | Record<string, FieldInfo>
  tags?: { name: string; label: string }[] | Record<string, string | { label: string }>
}
interface RawConfig {
  mapStyleUrl?: string | null
  cities: City[]
  bbox?: Bbox
  region?: { bbox: Bbox }
  kinds: RawKind[] | Record<string, RawKind>
}

/**
 * Accepts /api/config both as the contract first described it (`bbox`, kinds and fields keyed
 * by name) and as dashboard/server sends it (`region.bbox`, arrays of kinds, fields and tags).
 */
export function normaliseConfig(raw: RawConfig): AppConfig {
  const kinds: Record<string, KindInfo> = {}
  const entries: [string, RawKind][] = Array.isArray(raw.kinds) ? raw.kinds.map((k) => [k.type ?? '', k]) : Object.entries(raw.kinds)
  for (const [type, k] of entries) {
    const fields: Record<string, FieldInfo> = {}
    const rawFields: [string, FieldInfo][] = Array.isArray(k.fields) ? k.fields.map((f) => [f.name ?? '', f]) : Object.entries(k.fields)
    for (const [name, f] of rawFields) fields[name] = { unit: f.unit, label: f.label, minimum: f.minimum, maximum: f.maximum }
    const tags: Record<string, string> = {}
    if (Array.isArray(k.tags)) for (const t of k.tags) tags[t.name] = t.label
    else for (const [name, t] of Object.entries(k.tags ?? {})) tags[name] = typeof t === 'string' ? t : t.label
    kinds[type] = { family: k.family, label: k.label, fields, tags }
  }
  const bbox = raw.bbox ?? raw.region?.bbox
  if (!bbox) throw new ApiError('The server sent a configuration without the region (bbox).', 200, 'bad-config')
  return { mapStyleUrl: raw.mapStyleUrl ?? null, cities: raw.cities, bbox, kinds }
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
      const latest = await request<Latest | null>('GET', `/api/devices/${encodeURIComponent(id)}/latest`)
      return latest && latest.time !== null && latest.time !== undefined ? latest : null
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
