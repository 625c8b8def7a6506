import type { AlertView, RuleView } from '../../../shared/operations.ts'
import type { Words } from '../../../shared/words.ts'
import { describeRule, fieldInfo, formatDuration, ruleWords, type Rule } from './rules.ts'
import type { Alert } from './store.ts'

/**
 * How alerts and rules are shown: the API's and the pushes' views (shapes in
 * shared/operations.ts), and an alert's message.
 */

export type { AlertView, RuleView }

export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

/** `silenced`: whether a silence matches it now (silences.ts), which the alert itself does not hold. */
export function alertView(a: Alert, silenced = false): AlertView {
  return { ...a, openedAt: iso(a.openedAt)!, acknowledgedAt: iso(a.acknowledgedAt), resolvedAt: iso(a.resolvedAt), silenced }
}

export function ruleView(rule: Rule): RuleView {
  const scope: RuleView['scope'] = {}
  if (rule.deviceId !== null) scope.deviceId = rule.deviceId
  if (rule.type !== null) scope.type = rule.type
  if (rule.city !== null) scope.city = rule.city
  const unit = rule.kind === 'threshold' && rule.field ? fieldInfo(rule.type ?? undefined, rule.field).unit : ''
  return { ...rule, scope, unit, description: describeRule(rule), descriptionWords: ruleWords(rule) }
}

/** A value as alerts show it: 2 decimals below 10, 1 below 100, none above. */
export function round(value: number): number {
  const abs = Math.abs(value)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2
  return Number(value.toFixed(digits))
}

/** One sentence: what opened the alert. `interval` is the device's reporting interval (silent rules). */
export function alertMessage(rule: Rule, device: { name: string }, value: number | null, interval?: number): string {
  if (rule.kind === 'silent') {
    const expected = interval ? ` (expected every ${formatDuration(interval)})` : ''
    const gap = interval ? `more than ${formatDuration(5 * interval)}` : 'more than 5 reporting intervals'
    return `${device.name} is silent: nothing received for ${gap}${expected}`
  }
  const info = fieldInfo(rule.type ?? undefined, rule.field!)
  const unit = info.unit && info.unit !== '0–1' && rule.aggregate !== 'count' ? ` ${info.unit}` : ''
  const what = rule.window !== null ? `${formatDuration(rule.window)} ${rule.aggregate} ${info.label}` : info.label
  return `${what} ${value === null ? '?' : round(value)}${unit} ${rule.op} ${rule.threshold}${unit} at ${device.name}`
}

/**
 * What alertMessage says, as a code and its figures, for the page to word in its language
 * (dashboard/app/alerts/words.ts): `threshold` (field key and English label, value, op,
 * threshold, the unit shown, the device; window and aggregate when windowed) or `silent` (the
 * device; its interval when known).
 */
export function alertWords(rule: Rule, device: { name: string }, value: number | null, interval?: number): Words {
  if (rule.kind === 'silent') return { code: 'silent', params: interval ? { device: device.name, interval } : { device: device.name } }
  const info = fieldInfo(rule.type ?? undefined, rule.field!)
  const unit = info.unit && info.unit !== '0–1' && rule.aggregate !== 'count' ? info.unit : ''
  const params: Words['params'] = { field: rule.field!, label: info.label, value: value === null ? '?' : round(value), op: rule.op!, threshold: rule.threshold!, unit, device: device.name }
  if (rule.window !== null) Object.assign(params, { window: rule.window, aggregate: rule.aggregate ?? 'mean' })
  return { code: 'threshold', params }
}
