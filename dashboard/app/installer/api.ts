import { ApiError } from '../api/client.ts'
import type { Device, RawConfig } from '../api/types.ts'
import type { CommissioningState } from '../../shared/commissioning.ts'
import type { Words } from '../../shared/words.ts'

/**
 * The installer and admin calls of the Piazza API (dashboard/server/devices/lifecycle-routes.ts,
 * device-import.ts, users.ts, audit.ts). Errors become ApiError with the server's message and its words (api/error-text.ts says them in the page's language); a
 * 401 also fires `piazza:unauthorized` on window, which the installer and admin shells turn into
 * "your session has ended".
 */

export const UNAUTHORIZED_EVENT = 'piazza:unauthorized'

async function request<T>(method: string, path: string, body?: unknown, options: { contentType?: string; raw?: boolean } = {}): Promise<T> {
  let res: Response
  const headers: Record<string, string> = { accept: options.raw ? 'text/csv, */*' : 'application/json' }
  let payload: BodyInit | undefined
  if (body !== undefined) {
    headers['content-type'] = options.contentType ?? 'application/json'
    payload = typeof body === 'string' ? body : JSON.stringify(body)
  }
  try {
    res = await fetch(path, { method, credentials: 'same-origin', headers, body: payload })
  } catch {
    throw new ApiError('Cannot reach the Piazza server. Check your connection and try again.', 0, 'network')
  }
  const text = await res.text()
  if (!res.ok) {
    let err: { code?: string; message?: string; words?: Words } | undefined
    try {
      err = (JSON.parse(text) as { error?: { code?: string; message?: string; words?: Words } }).error
    } catch {
      err = undefined
    }
    if (res.status === 401 && typeof window !== 'undefined') window.dispatchEvent(new Event(UNAUTHORIZED_EVENT))
    throw new ApiError(err?.message ?? `${res.status} ${res.statusText || 'error'}`, res.status, err?.code ?? String(res.status), undefined, err?.words)
  }
  if (options.raw) return text as T
  return (text ? JSON.parse(text) : null) as T
}

// ---------------------------------------------------------------- shapes

// /api/config is the server's schema (dashboard/shared/config.ts), as the installer pages read it.
export type { City as CityInfo, ConfigKind as KindInfo, FieldInfo, RawConfig } from '../api/types.ts'

export interface MqttInfo {
  host: string | null
  port: number | null
  wsPort: number | null
  wsPath: string
  /** MQTT over TLS / secure WebSocket; null when TLS is off (older servers: absent). */
  tlsPort?: number | null
  wssPort?: number | null
  protocol: string
  topics: { telemetry: string; status: string; errors: string }
  examples: Record<string, Record<string, number | string>>
}

export type Metadata = Record<string, string | number | boolean>

export interface NewDeviceInput {
  type: string
  city: string
  name: string
  lat?: number
  lon?: number
  interval?: number
  metadata?: Metadata
}

export type DeviceWithSecret = Device & { secret: string }

// The commissioning view's shape is the server's (dashboard/shared/commissioning.ts).
export type { ContactPointPatch, ContactPointView, DeliveryView, NewContactPoint } from '../../shared/notify.ts'
import type { ContactPointPatch, ContactPointView, DeliveryView, NewContactPoint } from '../../shared/notify.ts'
export type { Check, CheckState, CommissioningReading, CommissioningState, Stage } from '../../shared/commissioning.ts'

export interface ImportRow {
  line: number
  status: 'create' | 'created' | 'exists' | 'error'
  id?: string
  type?: string
  city?: string
  name?: string
  errors: string[]
  warnings: string[]
  /** What each error says, in order (api/error-text.ts rowText words it); null where the server has no words. */
  errorWords: (Words | null)[]
  warningWords: Words[]
}
export interface ImportReport {
  dryRun: boolean
  ok: boolean
  summary: { rows: number; create: number; created: number; exists: number; errors: number }
  rows: ImportRow[]
  secretsCsv?: string
}

export type Role = 'admin' | 'operator' | 'installer'
export interface AdminUser {
  username: string
  role: Role
  cities?: string[]
  disabled: boolean
  createdAt: string
}
export interface AuditEntry {
  id: number
  at: string
  actor: string
  action: string
  targetType: 'device' | 'user' | 'contact-point'
  target: string
  changes: Record<string, { from?: unknown; to?: unknown }>
  details: Record<string, string | number | boolean>
}
export interface AuditQuery {
  actor?: string
  target?: string
  action?: string
  from?: string
  to?: string
  limit?: number
  offset?: number
}

const enc = encodeURIComponent
const query = (params: Record<string, string | number | undefined>) => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

export const installerApi = {
  config: () => request<RawConfig>('GET', '/api/config'),
  mqtt: () => request<MqttInfo>('GET', '/api/mqtt'),
  /** One page of the devices this user may see, searched and filtered by the server. */
  devices: (q: { search?: string; status?: string; sort?: string; order?: 'asc' | 'desc'; limit: number; offset: number }) =>
    request<{ items: Device[]; total: number }>('GET', `/api/devices${query({ search: q.search || undefined, status: q.status || undefined, sort: q.sort, order: q.order, limit: q.limit, offset: q.offset })}`),
  device: (id: string) => request<Device>('GET', `/api/devices/${enc(id)}`),
  register: (input: NewDeviceInput) => request<DeviceWithSecret>('POST', '/api/devices', input),
  rotate: (id: string) => request<DeviceWithSecret>('POST', `/api/devices/${enc(id)}/rotate`),
  revoke: (id: string) => request<Device>('POST', `/api/devices/${enc(id)}/revoke`),
  decommission: (id: string) => request<Device>('POST', `/api/devices/${enc(id)}/decommission`),
  update: (id: string, patch: Partial<Pick<NewDeviceInput, 'name' | 'lat' | 'lon' | 'interval' | 'metadata'>>) => request<Device>('PATCH', `/api/devices/${enc(id)}`, patch),
  commissioning: (id: string) => request<CommissioningState>('GET', `/api/devices/${enc(id)}/commissioning`),
  importTemplate: () => request<string>('GET', '/api/devices/import/template', undefined, { raw: true }),
  importCsv: (csv: string, dryRun: boolean) => request<ImportReport>('POST', `/api/devices/import?dryRun=${dryRun}`, csv, { contentType: 'text/csv' }),
}

export const adminApi = {
  users: (q: { search?: string; role?: string; sort?: string; order?: 'asc' | 'desc'; limit: number; offset: number }) =>
    request<{ items: AdminUser[]; total: number }>('GET', `/api/users${query({ search: q.search || undefined, role: q.role || undefined, sort: q.sort, order: q.order, limit: q.limit, offset: q.offset })}`),
  createUser: (input: { username: string; password: string; role: Role; cities?: string[] }) => request<AdminUser>('POST', '/api/users', input),
  updateUser: (username: string, patch: { role?: Role; cities?: string[] | null; disabled?: boolean; password?: string }) =>
    request<AdminUser>('PATCH', `/api/users/${enc(username)}`, patch),
  audit: (q: AuditQuery) => request<{ items: AuditEntry[]; total: number; limit: number; offset: number }>('GET', `/api/audit${query({ ...q })}`),
  contactPoints: () => request<{ items: ContactPointView[]; email: boolean; defaultSecret: boolean }>('GET', '/api/contact-points'),
  createContactPoint: (input: NewContactPoint) => request<ContactPointView>('POST', '/api/contact-points', input),
  updateContactPoint: (id: number, patch: ContactPointPatch) => request<ContactPointView>('PATCH', `/api/contact-points/${id}`, patch),
  deleteContactPoint: (id: number) => request<null>('DELETE', `/api/contact-points/${id}`),
  testContactPoint: (id: number) => request<DeliveryView>('POST', `/api/contact-points/${id}/test`),
  deliveries: (id: number) => request<{ items: DeliveryView[] }>('GET', `/api/contact-points/${id}/deliveries?limit=20`),
}
