import type { AppConfig, Device } from '../api/types.ts'

/** Formatting shared by the panel, the list and the chart. English UI, Tuscan clock. */

const numberFormats = new Map<number, Intl.NumberFormat>()
function numberFormat(digits: number): Intl.NumberFormat {
  let f = numberFormats.get(digits)
  if (!f) numberFormats.set(digits, (f = new Intl.NumberFormat('en-GB', { maximumFractionDigits: digits })))
  return f
}

/** A value with sensible precision: more decimals for small numbers (occupancy 0.125), fewer for large. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value)
  return numberFormat(abs === 0 || abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3).format(value)
}

export function formatValue(value: unknown, unit?: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value)
  if (value === null || value === undefined || value === '') return '—'
  return String(value)
}

const timeFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' })
const shortTimeFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' })
const dateTimeFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium' })

export const formatTime = (ms: number) => (Number.isFinite(ms) ? timeFormat.format(ms) : '—')
export const formatShortTime = (ms: number) => (Number.isFinite(ms) ? shortTimeFormat.format(ms) : '—')
export const formatDateTime = (ms: number) => (Number.isFinite(ms) ? dateTimeFormat.format(ms) : '—')

export function typeLabel(config: AppConfig, type: string): string {
  return config.kinds[type]?.label ?? type
}

export function cityName(config: AppConfig, id: string): string {
  return config.cities.find((c) => c.id === id)?.name ?? id
}

/** The field charted first: the first measured one, skipping a moving device's coordinates. */
export function defaultChartField(config: AppConfig, type: string): string | undefined {
  const names = Object.keys(config.kinds[type]?.fields ?? {})
  return names.find((n) => n !== 'lat' && n !== 'lon') ?? names[0]
}

/** Client-side device search: every word must appear in the name, id, type label or city. */
export function matchesSearch(config: AppConfig, device: Device, search: string): boolean {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean)
  if (words.length === 0) return true
  const hay = `${device.name} ${device.id} ${typeLabel(config, device.type)} ${cityName(config, device.city)}`.toLowerCase()
  return words.every((w) => hay.includes(w))
}

/**
 * Readings the last hour should hold by the device's interval, counted only since it was
 * registered: a device 5 minutes old on a 60 s interval owes 5, not 60.
 */
export function expectedLastHour(device: Pick<Device, 'interval' | 'createdAt'>, now: number): { expected: number; since?: number } {
  const created = Date.parse(device.createdAt)
  const hourAgo = now - 3_600_000
  const since = Number.isFinite(created) && created > hourAgo ? created : undefined
  const window = now - (since ?? hourAgo)
  return { expected: Math.max(0, Math.floor(window / 1000 / device.interval)), ...(since !== undefined && { since }) }
}
