import { isDeviceType, KINDS, type Kind } from '../../devices/kinds.ts'
import type { FieldsQuery } from './contract.ts'

/** Checks on query arguments, shared by both stores so they refuse and clamp alike. */

/** InfluxDB's largest timestamp (int64 ns) in ms. */
export const MAX_TIME_MS = 9_223_372_036_854

export function kindOf(type: string): Kind {
  if (!isDeviceType(type)) throw new RangeError(`unknown device type '${type}'`)
  return KINDS[type]
}

export function checkField(kind: Kind, field: string): void {
  if (!kind.fieldNames.includes(field)) throw new RangeError(`unknown field '${field}' for ${kind.type}`)
}

export function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`limit must be a whole number ≥ 0, got ${limit}`)
  return limit
}

export function checkEvery(every: number): number {
  if (!Number.isSafeInteger(every) || every <= 0) throw new RangeError(`every must be a whole number of ms > 0, got ${every}`)
  return every
}

/** Clamped to InfluxDB's representable range, so both stores answer alike; null when empty. */
export function clampRange(from: number, to: number): { from: number; to: number } | null {
  if (!Number.isFinite(from) || !Number.isFinite(to)) throw new RangeError('from and to must be epoch milliseconds')
  const f = Math.max(0, Math.ceil(from))
  const t = Math.min(MAX_TIME_MS, Math.ceil(to))
  return f < t ? { from: f, to: t } : null
}

/**
 * A several-fields query (readings, windows) checked: the type and every field known, the limit
 * valid. Its clamped range, or null when there is nothing to answer (an empty range, a limit of 0,
 * no fields).
 */
export function checkFieldsQuery(q: FieldsQuery): { from: number; to: number } | null {
  const kind = kindOf(q.type)
  for (const field of q.fields) checkField(kind, field)
  const range = clampRange(q.from, q.to)
  return !range || checkLimit(q.limit) === 0 || q.fields.length === 0 ? null : range
}
