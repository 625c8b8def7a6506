import { useMemo, useState, type FormEvent } from 'react'
import { ops, type AlertRule, type Op, type RuleAggregate, type RuleInput, type Severity } from '../api/ops.ts'
import type { AppConfig, User } from '../api/types.ts'
import { alertStore, useAlerts } from './hooks.ts'
import { useStrings } from '../../i18n/react.tsx'
import { fieldLabel, typeLabel } from '../devices/kind-strings.ts'
import { ALERT_STRINGS } from './strings.ts'
import { useAlertWords } from './words.ts'
import { useErrorText } from '../api/error-text.ts'

interface Props {
  config: AppConfig
  user: User
}

interface Draft {
  name: string
  kind: 'threshold' | 'silent'
  field: string
  op: Op
  threshold: string
  type: string
  city: string
  deviceId: string
  /** Seconds, '' for none. */
  window: string
  aggregate: RuleAggregate
  /** Minutes. */
  minDuration: string
  hysteresis: string
  severity: Severity
  enabled: boolean
}

const EMPTY: Draft = {
  name: '',
  kind: 'threshold',
  field: '',
  op: '>',
  threshold: '',
  type: '',
  city: '',
  deviceId: '',
  window: '',
  aggregate: 'mean',
  minDuration: '0',
  hysteresis: '0',
  severity: 'warning',
  enabled: true,
}

/** Window seconds ('' for each reading), in the menu's order; the words are in strings.ts. */
const WINDOWS = ['', '300', '600', '900', '1800', '3600', '86400']

/** Ready-made rules for the usual cases; the form stays editable. Labels and names in strings.ts. */
const PRESETS: { id: keyof (typeof ALERT_STRINGS)['en']['rules']['presets']; draft: Partial<Draft> }[] = [
  { id: 'pm10', draft: { field: 'pm10', op: '>', threshold: '50', type: 'air-quality', window: '3600', aggregate: 'mean', hysteresis: '5' } },
  { id: 'slow', draft: { field: 'averageVehicleSpeed', op: '<', threshold: '10', type: 'traffic-counter', window: '600', aggregate: 'mean', minDuration: '5', hysteresis: '2' } },
  { id: 'parking', draft: { field: 'availableSpotNumber', op: '<=', threshold: '0', type: 'parking', minDuration: '5', severity: 'info' } },
  { id: 'bus', draft: { field: 'delayMinutes', op: '>', threshold: '5', type: 'bus', hysteresis: '1' } },
  { id: 'silent', draft: { kind: 'silent', minDuration: '0', severity: 'critical' } },
]

function toDraft(r: AlertRule): Draft {
  return {
    name: r.name,
    kind: r.kind,
    field: r.field ?? '',
    op: r.op ?? '>',
    threshold: r.threshold === null ? '' : String(r.threshold),
    type: r.type ?? '',
    city: r.city ?? '',
    deviceId: r.deviceId ?? '',
    window: r.window === null ? '' : String(r.window),
    aggregate: r.aggregate ?? 'mean',
    minDuration: String(r.minDuration / 60),
    hysteresis: String(r.hysteresis),
    severity: r.severity,
    enabled: r.enabled,
  }
}

function toInput(d: Draft): RuleInput {
  const base: RuleInput = {
    name: d.name.trim(),
    kind: d.kind,
    type: d.type || null,
    city: d.city || null,
    deviceId: d.deviceId.trim() || null,
    minDuration: Math.round(Number(d.minDuration || '0') * 60),
    severity: d.severity,
    enabled: d.enabled,
  }
  if (d.kind === 'silent') return { ...base, field: null, op: null, threshold: null, window: null, aggregate: null, hysteresis: null }
  return {
    ...base,
    field: d.field,
    op: d.op,
    threshold: d.threshold.trim() === '' ? (undefined as unknown as number) : Number(d.threshold),
    window: d.window ? Number(d.window) : null,
    aggregate: d.window ? d.aggregate : null,
    hysteresis: Number(d.hysteresis || '0'),
  }
}

/** Drops keys a new rule does not send (the API's POST refuses nulls it has no use for). */
function forCreate(input: RuleInput): RuleInput {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined)) as RuleInput
}

/** The rules: what each watches, in one sentence; operators and admins create, edit and delete them. */
export function RulesPanel({ config, user }: Props) {
  const errorText = useErrorText()
  const { rules, derivedFields } = useAlerts()
  const canEdit = user.role === 'operator' || user.role === 'admin'
  const t = useStrings(ALERT_STRINGS).rules
  const severities = useStrings(ALERT_STRINGS).severity
  const { ruleText } = useAlertWords()
  const [editing, setEditing] = useState<number | 'new' | null>(null)
  const [draft, setDraft] = useState<Draft>(EMPTY)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  // Every field a rule may watch: the kinds' own and the derived ones, with the types that have them.
  const fields = useMemo(() => {
    const out = new Map<string, { label: string; unit: string; types: string[] }>()
    for (const [type, k] of Object.entries(config.kinds)) {
      for (const [name, f] of Object.entries(k.fields)) {
        const e = out.get(name) ?? { label: fieldLabel(config, type, name), unit: f.unit, types: [] }
        e.types.push(type)
        out.set(name, e)
      }
    }
    for (const d of derivedFields) out.set(d.name, { label: t.derived(d.label), unit: d.unit, types: [d.type] })
    return out
  }, [config, derivedFields, t])
  const fieldInfo = fields.get(draft.field)
  const types = draft.kind === 'threshold' && fieldInfo ? fieldInfo.types : Object.keys(config.kinds)

  const open = (id: number | 'new', d: Draft) => {
    setEditing(id)
    setDraft(d)
    setError('')
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError('')
    try {
      const input = toInput(draft)
      if (editing === 'new') await ops.createRule(forCreate(input))
      else if (typeof editing === 'number') await ops.updateRule(editing, input)
      await alertStore.reloadRules()
      setEditing(null)
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }

  const remove = async (rule: AlertRule) => {
    if (!window.confirm(t.confirmDelete(rule.name))) return
    try {
      await ops.deleteRule(rule.id)
      await alertStore.reloadRules()
    } catch (err) {
      setError(errorText(err))
    }
  }

  const toggle = async (rule: AlertRule) => {
    try {
      await ops.updateRule(rule.id, { enabled: !rule.enabled })
      await alertStore.reloadRules()
    } catch (err) {
      setError(errorText(err))
    }
  }

  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }))

  return (
    <section className="rules-panel" aria-labelledby="rules-title" data-testid="rules-panel">
      <header className="alerts-head">
        <h2 id="rules-title">
          {t.title} <span className="muted">{rules.length}</span>
        </h2>
        {canEdit && editing === null && (
          <button type="button" onClick={() => open('new', EMPTY)} data-testid="rule-new">
            {t.new}
          </button>
        )}
      </header>
      {!canEdit && <p className="muted">{t.readOnly}</p>}

      {editing !== null && (
        <form className="rule-form" onSubmit={submit} data-testid="rule-form" aria-label={editing === 'new' ? t.new : t.edit}>
          {editing === 'new' && (
            <div className="presets" role="group" aria-label={t.startFrom}>
              {PRESETS.map((p) => (
                <button key={p.id} type="button" className="secondary" onClick={() => set({ ...EMPTY, name: t.presets[p.id].name, ...p.draft })}>
                  {t.presets[p.id].label}
                </button>
              ))}
            </div>
          )}
          <label className="wide">
            {t.name}
            <input value={draft.name} onChange={(e) => set({ name: e.target.value })} required maxLength={120} data-testid="rule-name" />
          </label>
          <label>
            {t.condition}
            <select value={draft.kind} onChange={(e) => set({ kind: e.target.value as Draft['kind'] })} data-testid="rule-kind">
              <option value="threshold">{t.threshold}</option>
              <option value="silent">{t.silent}</option>
            </select>
          </label>
          {draft.kind === 'threshold' && (
            <>
              <label>
                {t.field}
                <select value={draft.field} onChange={(e) => set({ field: e.target.value, type: fields.get(e.target.value)?.types.includes(draft.type) ? draft.type : '' })} required data-testid="rule-field">
                  <option value="">{t.choose}</option>
                  {[...fields.entries()].map(([name, f]) => (
                    <option key={name} value={name}>
                      {f.label} ({f.unit}) · {f.types.map((type) => typeLabel(config, type)).join(', ')}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                {t.of}
                <select value={draft.window} onChange={(e) => set({ window: e.target.value })} data-testid="rule-window">
                  {WINDOWS.map((v) => (
                    <option key={v} value={v}>
                      {t.windows[v]}
                    </option>
                  ))}
                </select>
              </label>
              {draft.window && (
                <label>
                  {t.aggregate}
                  <select value={draft.aggregate} onChange={(e) => set({ aggregate: e.target.value as RuleAggregate })} data-testid="rule-aggregate">
                    <option value="mean">{t.aggregates.mean}</option>
                    <option value="max">{t.aggregates.max}</option>
                    <option value="min">{t.aggregates.min}</option>
                    <option value="count">{t.aggregates.count}</option>
                    <option value="last">{t.aggregates.last}</option>
                  </select>
                </label>
              )}
              <div className="inline">
                <label>
                  {t.is}
                  <select value={draft.op} onChange={(e) => set({ op: e.target.value as Op })} data-testid="rule-op">
                    <option value=">">{t.ops['>']}</option>
                    <option value=">=">{t.ops['>=']}</option>
                    <option value="<">{t.ops['<']}</option>
                    <option value="<=">{t.ops['<=']}</option>
                  </select>
                </label>
                <label>
                  {t.thresholdLabel} {fieldInfo && <span className="unit">({fieldInfo.unit})</span>}
                  <input type="number" step="any" value={draft.threshold} onChange={(e) => set({ threshold: e.target.value })} required data-testid="rule-threshold" />
                </label>
                <label>
                  {t.hysteresis}
                  <input type="number" step="any" min="0" value={draft.hysteresis} onChange={(e) => set({ hysteresis: e.target.value })} data-testid="rule-hysteresis" />
                </label>
              </div>
            </>
          )}
          <div className="inline">
            <label>
              {t.type}
              <select value={draft.type} onChange={(e) => set({ type: e.target.value })} data-testid="rule-type">
                <option value="">{t.any}</option>
                {types.map((type) => (
                  <option key={type} value={type}>
                    {typeLabel(config, type)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              {t.city}
              <select value={draft.city} onChange={(e) => set({ city: e.target.value })} data-testid="rule-city">
                <option value="">{t.any}</option>
                {config.cities.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </label>
            <label>
              {t.deviceId}
              <input value={draft.deviceId} onChange={(e) => set({ deviceId: e.target.value })} placeholder={t.anyPlaceholder} data-testid="rule-device" />
            </label>
          </div>
          <div className="inline">
            <label>
              {t.forAtLeast}
              <input type="number" step="any" min="0" value={draft.minDuration} onChange={(e) => set({ minDuration: e.target.value })} data-testid="rule-min-duration" />
            </label>
            <label>
              {t.severity}
              <select value={draft.severity} onChange={(e) => set({ severity: e.target.value as Severity })} data-testid="rule-severity">
                <option value="critical">{severities.critical}</option>
                <option value="warning">{severities.warning}</option>
                <option value="info">{severities.info}</option>
              </select>
            </label>
            <label className="check">
              <input type="checkbox" checked={draft.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> {t.enabled}
            </label>
          </div>
          <p className="error" role="alert" data-testid="rule-error">
            {error}
          </p>
          <div className="form-actions">
            <button type="submit" disabled={busy} data-testid="rule-submit">
              {busy ? t.saving : editing === 'new' ? t.create : t.save}
            </button>
            <button type="button" className="secondary" onClick={() => setEditing(null)}>
              {t.cancel}
            </button>
          </div>
        </form>
      )}

      {rules.length === 0 ? (
        <p className="empty-state">
          {t.none}
          {canEdit ? t.createOne : ''}
        </p>
      ) : (
        <ul className="rule-list">
          {rules.map((r) => (
            <li key={r.id} className={`rule-item${r.enabled ? '' : ' disabled'}`} data-testid="rule-item" data-rule-id={r.id}>
              <div>
                <p className="rule-name">
                  <strong>{r.name}</strong> <span className={`sev-tag ${r.severity}`}>{(severities[r.severity] ?? r.severity).toLowerCase()}</span>
                  {!r.enabled && <span className="sev-tag off">{t.disabled}</span>}
                </p>
                <p className="rule-desc">{ruleText(r)}</p>
              </div>
              {canEdit && (
                <div className="rule-actions">
                  <button type="button" className="secondary" onClick={() => open(r.id, toDraft(r))} data-testid="rule-edit">
                    {t.editButton}
                  </button>
                  <button type="button" className="secondary" onClick={() => void toggle(r)} data-testid="rule-enabled">
                    {r.enabled ? t.disable : t.enable}
                  </button>
                  <button type="button" className="secondary danger" onClick={() => void remove(r)} data-testid="rule-delete">
                    {t.delete}
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {error && editing === null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  )
}
