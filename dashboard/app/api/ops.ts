import type { Static } from 'typebox'
import type { DeadLetter as ServerDeadLetter } from '../../../ingest/storage/contract.ts'
import type { AlertState, Op, RuleAggregate, Severity } from '../../shared/operations.ts'
import type { AlertSchema, RuleSchema, SilenceView, TimelineEvent } from '../../shared/operations.ts'
import { normalisePoints, request } from './client.ts'
import type { Point } from './types.ts'
import type { DeviceHealth, HealthState } from '../live/health.ts'

/**
 * The operators' calls: device health, alerts and their rules (dashboard/server/operations/alerts/routes.ts,
 * device-states.ts), dead letters, aggregated series, and the official air-quality index of the
 * public API (the same numbers citizens see).
 */

// The wire types are the server's schemas (type-only imports: nothing of the server is bundled).
export type { AlertState, Op, RuleAggregate, Severity } from '../../shared/operations.ts'
export type Alert = Static<typeof AlertSchema>
export type AlertRule = Static<typeof RuleSchema>
export type DeadLetter = ServerDeadLetter
export type { AlertGroup, SilenceView, TimelineEvent } from '../../shared/operations.ts'

/** What POST /api/alerts/ack answers. */
export interface BulkAck {
  acknowledged: Alert[]
  already: number[]
  resolved: number[]
  missing: number[]
}

/** A silence as sent to POST /api/alert-silences: at least one matcher, a reason, an end. */
export interface SilenceInput {
  ruleId?: number
  deviceId?: string
  city?: string
  reason: string
  duration?: string
  endsAt?: string
}

export interface AlertCounts {
  open: number
  acknowledged: number
}

export interface DerivedField {
  name: string
  type: string
  label: string
  unit: string
}

/** A rule as sent to POST (no nulls) or PATCH (null removes an optional key). */
export interface RuleInput {
  name: string
  kind?: 'threshold' | 'silent' | null
  field?: string | null
  op?: Op | null
  threshold?: number | null
  deviceId?: string | null
  type?: string | null
  city?: string | null
  window?: number | string | null
  aggregate?: RuleAggregate | null
  minDuration?: number | string | null
  hysteresis?: number | null
  severity?: Severity | null
  enabled?: boolean
}

/** The push the server sends per tick: the changes (capped), how many it left out, counts now. */
export interface AlertsPush {
  changes: Alert[]
  more: number
  counts: AlertCounts
  opened: number
  acknowledged: number
  resolved: number
}

export interface Series {
  points: Point[]
  /** The window the server aggregated over, ms; null for raw readings. */
  every: number | null
  aggregate: string | null
  unit: string
}

export interface CityAirQuality {
  city: string
  status: string
  index: { value: number | null; band: string | null; label: string | null; drivingPollutant: string | null }
}

const q = (params: Record<string, string | number | undefined>) => {
  const s = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, String(v))
  const text = s.toString()
  return text ? `?${text}` : ''
}
const enc = encodeURIComponent

export const ops = {
  deviceStates: () => request<{ items: DeviceHealth[]; counts: Record<HealthState, number> }>('GET', '/api/device-states'),

  alerts: (params: { state?: AlertState; device?: string; limit?: number } = {}) =>
    request<{ items: Alert[]; total: number; counts: AlertCounts }>('GET', `/api/alerts${q(params)}`),
  ack: (id: number) => request<Alert>('POST', `/api/alerts/${id}/ack`),
  ackMany: (body: { ids: number[] } | { group: { ruleId: number; city: string } }) => request<BulkAck>('POST', '/api/alerts/ack', body),
  timeline: (id: number) => request<{ alert: Alert; events: TimelineEvent[] }>('GET', `/api/alerts/${id}/timeline`),
  comment: (id: number, text: string) => request<TimelineEvent>('POST', `/api/alerts/${id}/comments`, { text }),
  assign: (id: number, assignee: string | null) => request<Alert>('PUT', `/api/alerts/${id}/assignee`, { assignee }),
  assignees: () => request<{ items: { username: string; role: string }[] }>('GET', '/api/alert-assignees'),
  silences: () => request<{ items: SilenceView[] }>('GET', '/api/alert-silences'),
  createSilence: (input: SilenceInput) => request<SilenceView>('POST', '/api/alert-silences', input),
  endSilence: (id: number) => request<SilenceView>('DELETE', `/api/alert-silences/${id}`),

  rules: () => request<{ items: AlertRule[]; derivedFields: DerivedField[] }>('GET', '/api/alert-rules'),
  createRule: (input: RuleInput) => request<AlertRule>('POST', '/api/alert-rules', input),
  updateRule: (id: number, patch: Partial<RuleInput>) => request<AlertRule>('PATCH', `/api/alert-rules/${id}`, patch),
  deleteRule: (id: number) => request<null>('DELETE', `/api/alert-rules/${id}`),

  deadLetters: (device: string, limit = 20) => request<{ items: DeadLetter[] }>('GET', `/api/dead-letters${q({ device, limit })}`),

  /** One field of one device over [from, to), aggregated server-side over `every` when given. */
  async series(id: string, field: string, from: number, to: number, every?: string, aggregate?: RuleAggregate): Promise<Series> {
    const raw = await request<{ points: unknown; every: number | null; aggregate: string | null; unit: string }>(
      'GET',
      `/api/devices/${enc(id)}/readings${q({ field, from, to, every, aggregate: every ? aggregate : undefined })}`,
    )
    return { points: normalisePoints(raw), every: raw.every, aggregate: raw.aggregate, unit: raw.unit }
  },

  /** The official EAQI per city (hourly means, completeness rules); the same as the public pages. */
  airQuality: () => request<{ items: CityAirQuality[] }>('GET', '/api/public/air-quality'),
}
