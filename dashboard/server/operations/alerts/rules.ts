import Type, { type Static, type TSchema } from 'typebox'
import { DEVICE_TYPES, DeviceTypeSchema, KINDS, type DeviceType } from '../../../../devices/kinds.ts'
import { cityIds, findCity } from '../../../../devices/region.ts'
import { DEVICE_ID_PATTERN } from '../../../../devices/registry.ts'
import { OPS, RULE_AGGREGATES, RULE_KINDS, SEVERITIES, type Op, type RuleAggregate, type RuleKind, type Severity } from '../../../shared/operations.ts'
import { words, type Words } from '../../../shared/words.ts'

// The rule vocabulary lives with the browsers' protocol (shared/operations.ts, with RuleSchema, the rule view).
export { OPS, RULE_AGGREGATES, RULE_KINDS, SEVERITIES, type Op, type RuleAggregate, type RuleKind, type Severity }

/**
 * Alert rules: what they say, how they are validated, and which fields they may watch.
 *
 * A threshold rule watches one field of the devices in its scope (one device, a type, a city, or
 * a type in a city; everything when unscoped): with no window it judges each reading, with a
 * window it judges an aggregate (mean, min, max, count or last) over the window ending at each
 * reading. It opens an alert when `value op threshold` has held for `minDuration` seconds, and
 * resolves it once the value is back past the threshold by `hysteresis` (for `>`: value ≤
 * threshold − hysteresis). A `silent` rule opens an alert when a device of its scope has been
 * silent (devices-states.ts) for `minDuration` seconds and resolves it when it reports again.
 *
 * Besides the kinds' own fields, rules may watch derived fields (DERIVED_FIELDS): a parking
 * area's occupancy in percent, a bus's delay in minutes.
 */

export interface DerivedField {
  type: DeviceType
  label: string
  unit: string
  compute(values: Record<string, unknown>): number | undefined
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

export const DERIVED_FIELDS: Readonly<Record<string, DerivedField>> = {
  occupancyPercent: {
    type: 'parking',
    label: 'Occupancy',
    unit: '%',
    compute(v) {
      const free = num(v.availableSpotNumber)
      const total = num(v.totalSpotNumber)
      return free === undefined || !total ? undefined : ((total - free) / total) * 100
    },
  },
  delayMinutes: {
    type: 'bus',
    label: 'Delay',
    unit: 'min',
    compute(v) {
      const d = num(v.delay)
      return d === undefined ? undefined : d / 60
    },
  },
}

/** The types whose readings carry this field (own or derived). */
export function typesWithField(field: string): DeviceType[] {
  const derived = DERIVED_FIELDS[field]
  if (derived) return [derived.type]
  return DEVICE_TYPES.filter((t) => KINDS[t].fieldNames.includes(field))
}

/** A field's value in a reading of a device of this type (derived fields computed). */
export function fieldValue(type: DeviceType, field: string, values: Record<string, unknown>): number | undefined {
  const derived = DERIVED_FIELDS[field]
  if (derived) return derived.type === type ? derived.compute(values) : undefined
  return num(values[field])
}

export function fieldInfo(type: DeviceType | undefined, field: string): { label: string; unit: string } {
  const derived = DERIVED_FIELDS[field]
  if (derived) return { label: derived.label, unit: derived.unit }
  const types = type ? [type] : typesWithField(field)
  for (const t of types) {
    const f = KINDS[t].fields[field]
    if (f) return { label: f.label, unit: f.unit }
  }
  return { label: field, unit: '' }
}

export function compare(op: Op, value: number, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold
    case '>=':
      return value >= threshold
    case '<':
      return value < threshold
    case '<=':
      return value <= threshold
  }
}

// ------------------------------------------------------------------------------------ schemas

const Duration = (description: string) =>
  Type.Union([Type.Integer({ minimum: 0, maximum: 30 * 86400 }), Type.String({ pattern: '^\\d{1,7}(s|m|h|d)?$', maxLength: 9 })], {
    description: `${description}: seconds, or a duration such as 90s, 10m, 1h, 1d.`,
  })

const DeviceIdSchema = Type.String({ pattern: DEVICE_ID_PATTERN, description: 'Only this device.' })
const CityIdSchema = Type.String({ minLength: 1, maxLength: 64, description: `A city id: ${cityIds.join(', ')}` })
const ScopeSchema = Type.Object(
  { deviceId: Type.Optional(DeviceIdSchema), type: Type.Optional(DeviceTypeSchema), city: Type.Optional(CityIdSchema) },
  { additionalProperties: false, description: 'The same as the top-level deviceId, type, city.' },
)
const NameSchema = Type.String({ minLength: 1, maxLength: 120 })
const KindSchema = Type.Enum([...RULE_KINDS], { description: 'threshold (default): a field against a threshold; silent: a device stops reporting.' })
const FieldSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  description: `A field of the devices in scope (see /api/config), or a derived one: ${Object.keys(DERIVED_FIELDS).join(', ')}. Required for threshold rules.`,
})
const OpSchema = Type.Enum([...OPS], { description: 'Required for threshold rules.' })
const ThresholdSchema = Type.Number({ description: "In the field's unit. Required for threshold rules." })
const WindowSchema = Duration('Aggregate over this window ending at each reading')
const AggregateSchema = Type.Enum([...RULE_AGGREGATES], { description: 'With window: mean (default), min, max, count or last.' })
const MinDurationSchema = Duration('The condition must hold this long before an alert opens (default 0)')
const HysteresisSchema = Type.Number({ minimum: 0, description: "An open alert resolves once the value is back past the threshold by this much (field's unit, default 0)." })
const SeveritySchema = Type.Enum([...SEVERITIES], { description: 'Default warning.' })
const EnabledSchema = Type.Boolean({ description: 'Default true; a disabled rule resolves its open alerts and judges nothing.' })

export const NewRuleSchema = Type.Object(
  {
    name: NameSchema,
    kind: Type.Optional(KindSchema),
    field: Type.Optional(FieldSchema),
    op: Type.Optional(OpSchema),
    threshold: Type.Optional(ThresholdSchema),
    deviceId: Type.Optional(DeviceIdSchema),
    type: Type.Optional(DeviceTypeSchema),
    city: Type.Optional(CityIdSchema),
    scope: Type.Optional(ScopeSchema),
    window: Type.Optional(Type.Union([WindowSchema, Type.Null()])),
    aggregate: Type.Optional(AggregateSchema),
    minDuration: Type.Optional(MinDurationSchema),
    hysteresis: Type.Optional(HysteresisSchema),
    severity: Type.Optional(SeveritySchema),
    enabled: Type.Optional(EnabledSchema),
  },
  { additionalProperties: false },
)
export type NewRuleInput = Static<typeof NewRuleSchema>

const orNull = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]))

/** A PATCH: any of the fields; null removes an optional one (scope keys, window). */
export const RulePatchSchema = Type.Object(
  {
    name: Type.Optional(NameSchema),
    kind: orNull(KindSchema),
    field: orNull(FieldSchema),
    op: orNull(OpSchema),
    threshold: orNull(ThresholdSchema),
    deviceId: orNull(DeviceIdSchema),
    type: orNull(DeviceTypeSchema),
    city: orNull(CityIdSchema),
    scope: orNull(ScopeSchema),
    window: orNull(WindowSchema),
    aggregate: orNull(AggregateSchema),
    minDuration: orNull(MinDurationSchema),
    hysteresis: orNull(HysteresisSchema),
    severity: orNull(SeveritySchema),
    enabled: Type.Optional(EnabledSchema),
  },
  { additionalProperties: false },
)
export type RulePatchInput = Static<typeof RulePatchSchema>

/** A rule as the engine and the API hold it. */
export interface Rule {
  id: number
  name: string
  kind: RuleKind
  field: string | null
  op: Op | null
  threshold: number | null
  deviceId: string | null
  type: DeviceType | null
  city: string | null
  /** Seconds, or null. */
  window: number | null
  aggregate: RuleAggregate | null
  minDuration: number
  hysteresis: number
  severity: Severity
  enabled: boolean
  createdBy: string
  createdAt: string
  updatedAt: string
}

/** A rule's definition (what is validated and stored), without id and bookkeeping. */
export type RuleDefinition = Omit<Rule, 'id' | 'createdBy' | 'createdAt' | 'updatedAt'>

/** A request the rules refuse; routes turn it into a 400 with this message. */
export class RuleError extends Error {
  constructor(
    message: string,
    /** What the message says, for a page to word in its language. */
    readonly words?: Words,
  ) {
    super(message)
    this.name = 'RuleError'
  }
}

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

export function parseDuration(name: string, value: number | string): number {
  if (typeof value === 'number') return value
  const match = /^(\d{1,7})(s|m|h|d)?$/.exec(value)
  if (!match) throw new RuleError(`${name} must be seconds or a duration such as 90s, 10m, 1h; got "${value}"`, words('duration-format', { name, value }))
  const seconds = Number(match[1]) * UNIT_S[match[2] ?? 's']!
  if (seconds > 30 * 86400) throw new RuleError(`${name} must be at most 30 days; got "${value}"`, words('duration-max', { name, value }))
  return seconds
}

export interface DeviceLookup {
  (id: string): { id: string; type: DeviceType; city: string } | undefined
}

/**
 * Checks a definition as a whole (what the schema cannot: a field the scope's devices have, a
 * known city, a device that exists) and returns it normalised; throws RuleError.
 */
export function checkDefinition(def: RuleDefinition, lookup: DeviceLookup): RuleDefinition {
  const out = { ...def }
  if (out.city !== null) {
    const city = findCity(out.city)
    if (!city) throw new RuleError(`unknown city '${out.city}'; cities: ${cityIds.join(', ')}`, words('unknown-city', { city: out.city, cities: cityIds.join(', ') }))
    out.city = city.id
  }
  if (out.deviceId !== null) {
    const device = lookup(out.deviceId)
    if (!device) throw new RuleError(`no device with id '${out.deviceId}'`, words('no-device', { id: out.deviceId }))
    if (out.type !== null && out.type !== device.type) throw new RuleError(`device '${device.id}' is a ${device.type}, not a ${out.type}`, words('device-type-mismatch', { id: device.id, type: device.type, expected: out.type }))
    if (out.city !== null && out.city !== device.city) throw new RuleError(`device '${device.id}' is in ${device.city}, not in ${out.city}`, words('device-city-mismatch', { id: device.id, city: device.city, expected: out.city }))
  }
  if (out.kind === 'silent') {
    if (out.window !== null) throw new RuleError('a silent rule has no window (use minDuration for how long the device must be silent)', words('silent-window'))
    out.field = null
    out.op = null
    out.threshold = null
    out.aggregate = null
    out.hysteresis = 0
    return out
  }
  if (out.field === null) throw new RuleError("missing required field 'field' (a threshold rule watches a field)", words('rule-needs-field'))
  if (out.op === null) throw new RuleError(`missing required field 'op' (one of ${OPS.join(', ')})`, words('rule-needs-op', { ops: OPS.join(', ') }))
  if (out.threshold === null) throw new RuleError("missing required field 'threshold'", words('rule-needs-threshold'))
  const scopeType = out.deviceId !== null ? lookup(out.deviceId)!.type : out.type
  const types = typesWithField(out.field)
  if (types.length === 0) {
    const known = [...new Set(DEVICE_TYPES.flatMap((t) => KINDS[t].fieldNames)), ...Object.keys(DERIVED_FIELDS)]
    throw new RuleError(`no device type has a field '${out.field}'; fields: ${known.join(', ')}`, words('no-such-field', { field: out.field, fields: known.join(', ') }))
  }
  if (scopeType !== null && !types.includes(scopeType)) {
    const fields = [...KINDS[scopeType].fieldNames, ...Object.entries(DERIVED_FIELDS).filter(([, d]) => d.type === scopeType).map(([n]) => n)]
    throw new RuleError(`${scopeType} devices have no field '${out.field}'; fields: ${fields.join(', ')}`, words('type-lacks-field', { type: scopeType, field: out.field, fields: fields.join(', ') }))
  }
  if (out.window === 0) out.window = null
  if (out.window === null) {
    if (out.aggregate !== null && out.aggregate !== 'last') throw new RuleError("'aggregate' needs 'window' (the time to aggregate over)", words('aggregate-needs-window'))
    out.aggregate = null
  } else {
    out.aggregate ??= 'mean'
  }
  return out
}

/** The definition of a new rule from a POST body (defaults applied, aliases resolved). */
export function definitionFromInput(input: NewRuleInput): RuleDefinition {
  const scope = input.scope ?? {}
  const pick = <K extends keyof typeof scope>(key: K) => {
    const flat = input[key]
    const nested = scope[key]
    if (flat !== undefined && nested !== undefined && flat !== nested) throw new RuleError(`'${key}' and 'scope.${key}' disagree`, words('scope-disagrees', { key }))
    return flat ?? nested ?? null
  }
  return {
    name: input.name.trim(),
    kind: input.kind ?? 'threshold',
    field: input.field ?? null,
    op: input.op ?? null,
    threshold: input.threshold ?? null,
    deviceId: pick('deviceId'),
    type: (pick('type') as DeviceType | null) ?? null,
    city: pick('city'),
    window: input.window === undefined || input.window === null ? null : parseDuration('window', input.window),
    aggregate: input.aggregate ?? null,
    minDuration: input.minDuration === undefined ? 0 : parseDuration('minDuration', input.minDuration),
    hysteresis: input.hysteresis ?? 0,
    severity: input.severity ?? 'warning',
    enabled: input.enabled ?? true,
  }
}

/** A rule's definition after a PATCH (null clears optional keys). */
export function applyPatch(rule: RuleDefinition, patch: RulePatchInput): RuleDefinition {
  const out = { ...rule }
  const has = (key: string) => Object.prototype.hasOwnProperty.call(patch, key)
  if (patch.name !== undefined && patch.name !== null) out.name = patch.name.trim()
  if (has('kind')) out.kind = patch.kind ?? 'threshold'
  if (has('field')) out.field = patch.field ?? null
  if (has('op')) out.op = patch.op ?? null
  if (has('threshold')) out.threshold = patch.threshold ?? null
  if (patch.scope !== undefined) {
    const scope = patch.scope ?? {}
    out.deviceId = scope.deviceId ?? null
    out.type = scope.type ?? null
    out.city = scope.city ?? null
  }
  if (has('deviceId')) out.deviceId = patch.deviceId ?? null
  if (has('type')) out.type = patch.type ?? null
  if (has('city')) out.city = patch.city ?? null
  if (has('window')) out.window = patch.window === null || patch.window === undefined ? null : parseDuration('window', patch.window)
  if (has('aggregate')) out.aggregate = patch.aggregate ?? null
  if (has('minDuration')) out.minDuration = patch.minDuration === null || patch.minDuration === undefined ? 0 : parseDuration('minDuration', patch.minDuration)
  if (has('hysteresis')) out.hysteresis = patch.hysteresis ?? 0
  if (has('severity')) out.severity = patch.severity ?? 'warning'
  if (has('enabled')) out.enabled = patch.enabled ?? true
  // A field change to a rule with a window keeps its aggregate; a window removed drops it.
  if (out.window === null && out.aggregate !== null) out.aggregate = null
  return out
}

const AGG_TEXT: Record<RuleAggregate, string> = { mean: 'mean', min: 'minimum', max: 'maximum', count: 'count of readings', last: 'last value' }

export function formatDuration(seconds: number): string {
  if (seconds % 86400 === 0 && seconds >= 86400) return `${seconds / 86400} d`
  if (seconds % 3600 === 0 && seconds >= 3600) return `${seconds / 3600} h`
  if (seconds % 60 === 0 && seconds >= 60) return `${seconds / 60} min`
  return `${seconds} s`
}

/** One sentence: "10 min mean of Average speed < 10 km/h, for 5 min, traffic counters in Firenze". */
export function describeRule(rule: RuleDefinition): string {
  const only = rule.kind === 'threshold' && rule.field ? typesWithField(rule.field) : []
  const type = rule.type ?? (only.length === 1 ? only[0]! : null)
  const where = [rule.deviceId ? `device ${rule.deviceId}` : type ? `${KINDS[type].label.toLowerCase()}s` : 'all devices', rule.city ? `in ${findCity(rule.city)?.name ?? rule.city}` : '']
    .filter(Boolean)
    .join(' ')
  const lasting = rule.minDuration > 0 ? ` for ${formatDuration(rule.minDuration)}` : ''
  if (rule.kind === 'silent') return `Silent${lasting || ''}: ${where}`
  const info = fieldInfo(rule.type ?? undefined, rule.field!)
  const unit = info.unit && info.unit !== '0–1' ? ` ${info.unit}` : ''
  const what = rule.window !== null ? `${formatDuration(rule.window)} ${AGG_TEXT[rule.aggregate ?? 'mean']} of ${info.label}` : info.label
  return `${what} ${rule.op} ${rule.threshold}${rule.aggregate === 'count' ? '' : unit}${lasting}: ${where}`
}

/**
 * What describeRule says, as a code (the rule's kind) and its figures, for the page to word in its
 * language (dashboard/app/alerts/words.ts): minDuration; deviceId, or the type its scope or field
 * implies; city and its name; for threshold rules the field key and English label, op,
 * threshold, the unit shown, and window and aggregate when windowed.
 */
export function ruleWords(rule: RuleDefinition): Words {
  const only = rule.kind === 'threshold' && rule.field ? typesWithField(rule.field) : []
  const type = rule.type ?? (only.length === 1 ? only[0]! : null)
  const params: Words['params'] = { minDuration: rule.minDuration }
  if (rule.deviceId) params.deviceId = rule.deviceId
  else if (type) params.type = type
  if (rule.city) Object.assign(params, { city: rule.city, cityName: findCity(rule.city)?.name ?? rule.city })
  if (rule.kind === 'silent') return { code: 'silent', params }
  const info = fieldInfo(rule.type ?? undefined, rule.field!)
  Object.assign(params, { field: rule.field!, label: info.label, op: rule.op!, threshold: rule.threshold!, unit: info.unit && info.unit !== '0–1' && rule.aggregate !== 'count' ? info.unit : '' })
  if (rule.window !== null) Object.assign(params, { window: rule.window, aggregate: rule.aggregate ?? 'mean' })
  return { code: 'threshold', params }
}

/** Whether a device is in a rule's scope. */
export function inScope(rule: Pick<Rule, 'deviceId' | 'type' | 'city' | 'kind' | 'field'>, device: { id: string; type: DeviceType; city: string }): boolean {
  if (rule.deviceId !== null && rule.deviceId !== device.id) return false
  if (rule.type !== null && rule.type !== device.type) return false
  if (rule.city !== null && rule.city !== device.city) return false
  if (rule.kind === 'threshold' && !typesWithField(rule.field!).includes(device.type)) return false
  return true
}
