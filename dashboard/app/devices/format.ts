import type { AppConfig, Device } from '../api/types.ts'
import { cachedPerLocale } from '../locale.ts'
import { typeLabel as kindTypeLabel } from './kind-strings.ts'

/** Formatting shared by the panel, the list and the chart, in the app's language (locale.ts). */

const numberFormats = cachedPerLocale((locale) => [0, 1, 2, 3].map((digits) => new Intl.NumberFormat(locale, { maximumFractionDigits: digits })))
const numberFormat = (digits: number): Intl.NumberFormat => numberFormats()[digits]!

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

const dateFormats = cachedPerLocale((locale) => ({
  time: new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
  shortTime: new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' }),
  dateTime: new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' }),
}))

export const formatTime = (ms: number) => (Number.isFinite(ms) ? dateFormats().time.format(ms) : '—')
export const formatShortTime = (ms: number) => (Number.isFinite(ms) ? dateFormats().shortTime.format(ms) : '—')
export const formatDateTime = (ms: number) => (Number.isFinite(ms) ? dateFormats().dateTime.format(ms) : '—')

/** The type's label in the app's language. */
export function typeLabel(config: AppConfig, type: string): string {
  return kindTypeLabel(config, type)
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
  // The type in the page's language and in the server's English: either finds it.
  const hay = `${device.name} ${device.id} ${typeLabel(config, device.type)} ${config.kinds[device.type]?.label ?? ''} ${cityName(config, device.city)}`.toLowerCase()
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
