import { memo, useEffect, useMemo, useState } from 'react'
import { groupAlerts } from '../../shared/operations.ts'
import { ops, type Alert, type AlertGroup, type SilenceView, type TimelineEvent } from '../api/ops.ts'
import type { AppConfig, User } from '../api/types.ts'
import { cityName } from '../devices/format.ts'
import { formatAgo } from '../live/health.ts'
import { useLang } from '../../i18n/react.tsx'
import { appLang, appLocale, cachedPerLocale } from '../locale.ts'
import { ALERT_STRINGS } from './strings.ts'
import { alertStore, useAlerts } from './hooks.ts'
import { useAlertWords } from './words.ts'
import { useErrorText } from '../api/error-text.ts'

type View = 'active' | 'open' | 'acknowledged' | 'resolved' | 'silences'

/** The alerts' words in the app's language (memoised cards call useLang() to re-render on a switch). */
const words = () => ALERT_STRINGS[appLang()]
const severityLabel = (severity: string) => words().severity[severity] ?? words().severity.warning!

/** Shape as well as colour: an octagon for critical, a triangle for warning, a circle for info. */
export function SeverityIcon({ severity, size = 22 }: { severity: string; size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" className="severity-icon">
      {severity === 'critical' ? (
        <polygon points="8,2 16,2 22,8 22,16 16,22 8,22 2,16 2,8" fill="#c8102e" stroke="#fff" strokeWidth="1.2" />
      ) : severity === 'warning' ? (
        <polygon points="12,2 23,21 1,21" fill="#f5a300" stroke="#1f2933" strokeWidth="1" />
      ) : (
        <circle cx="12" cy="12" r="10" fill="#1d4e89" stroke="#fff" strokeWidth="1.2" />
      )}
      {severity === 'info' ? (
        <path d="M12 10.5v7 M12 6.5v.5" stroke="#fff" strokeWidth="2.6" strokeLinecap="round" />
      ) : (
        <path d={severity === 'warning' ? 'M12 9v5.5 M12 17.5v.3' : 'M12 6.5v7 M12 16.8v.4'} stroke={severity === 'warning' ? '#1f2933' : '#fff'} strokeWidth="2.6" strokeLinecap="round" />
      )}
    </svg>
  )
}

/** A crossed-out bell: muted by a silence (drawn, not an emoji: control-room machines may lack an emoji font). */
function MuteIcon() {
  return (
    <svg width="14" height="14" viewBox="0 0 24 24" aria-hidden="true" className="mute-icon">
      <path d="M6 17h12l-1.6-2.2V10a4.4 4.4 0 0 0-8.8 0v4.8L6 17z M10 19.5a2 2 0 0 0 4 0" fill="none" stroke="currentColor" strokeWidth="2" strokeLinejoin="round" />
      <path d="M4 4l16 16" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" />
    </svg>
  )
}

const timeFormats = cachedPerLocale((locale) => new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' }))
const at = (iso: string | null) => (iso ? timeFormats().format(Date.parse(iso)) : '—')

interface Props {
  config: AppConfig
  user: User
  onSelectDevice: (id: string) => void
}

/** Groups shown at most; alerts per expanded group at most. */
const MAX_GROUPS = 200
const MAX_PER_GROUP = 300

/**
 * The alert list: active ones (open, then acknowledged) as one card per rule and city, most urgent
 * first, each expandable to its devices with bulk acknowledgement; the resolved ones flat; and
 * the silences.
 */
export function AlertsPanel({ config, user, onSelectDevice }: Props) {
  const { active, counts, loaded, error, last } = useAlerts()
  const [view, setView] = useState<View>('active')
  const [resolved, setResolved] = useState<Alert[] | null>(null)
  const canAck = user.role === 'operator' || user.role === 'admin'
  const t = ALERT_STRINGS[useLang().lang].panel

  useEffect(() => {
    if (view !== 'resolved') return
    let cancelled = false
    ops.alerts({ state: 'resolved', limit: 100 }).then(
      (r) => !cancelled && setResolved(r.items),
      () => !cancelled && setResolved([]),
    )
    return () => {
      cancelled = true
    }
    // A push that resolved something refreshes the list.
  }, [view, last?.seq])

  const items = view === 'resolved' ? (resolved ?? []) : view === 'active' || view === 'silences' ? active : active.filter((a) => a.state === view)
  const groups = useMemo(() => (view === 'resolved' || view === 'silences' ? [] : groupAlerts(items)), [items, view])
  const byId = useMemo(() => new Map(items.map((a) => [a.id, a])), [items])

  return (
    <section className="alerts-panel" aria-labelledby="alerts-title" data-testid="alerts-panel">
      <header className="alerts-head">
        <h2 id="alerts-title">
          {t.title} <span className="muted">{t.counts(counts.open, counts.acknowledged)}</span>
        </h2>
        <div className="segmented" role="group" aria-label={t.which}>
          {VIEWS.filter((v) => v !== 'silences' || canAck).map((v) => (
            <button key={v} type="button" className="secondary" aria-pressed={view === v} onClick={() => setView(v)} data-testid={`alerts-view-${v}`}>
              {t.views[v]}
            </button>
          ))}
        </div>
      </header>
      {error && (
        <p className="error" role="alert">
          {t.loadError} {error}
        </p>
      )}
      {view === 'silences' ? (
        <SilencesView config={config} />
      ) : !loaded && !error ? (
        <p className="muted">{t.loading}</p>
      ) : items.length === 0 ? (
        <p className="empty-state" data-testid="alerts-empty">
          {view === 'resolved' ? t.noResolved : view === 'active' ? t.allQuiet : view === 'open' ? t.noneOpen : t.noneAcked}
        </p>
      ) : view === 'resolved' ? (
        <ul className="alert-list" data-testid="alert-list">
          {items.slice(0, MAX_PER_GROUP).map((a) => (
            <AlertItem key={a.id} alert={a} config={config} canAck={canAck} onSelectDevice={onSelectDevice} />
          ))}
        </ul>
      ) : (
        <ul className="alert-groups" data-testid="alert-groups" data-count={groups.length}>
          {groups.slice(0, MAX_GROUPS).map((g) => (
            <GroupCard key={g.key} group={g} alerts={g.alertIds.map((id) => byId.get(id)!)} config={config} canAck={canAck} onSelectDevice={onSelectDevice} />
          ))}
        </ul>
      )}
      {groups.length > MAX_GROUPS && <p className="muted">{t.showingGroups(MAX_GROUPS, groups.length)}</p>}
    </section>
  )
}

const VIEWS = ['active', 'open', 'acknowledged', 'resolved', 'silences'] as const

interface GroupProps {
  group: AlertGroup
  alerts: Alert[]
  config: AppConfig
  canAck: boolean
  onSelectDevice?: (id: string) => void
}

/**
 * One rule in one city: severity, counts, since when; Acknowledge all; Silence; expanded, its
 * devices' alerts with a selection to acknowledge. A single alert shows expanded.
 */
const GroupCard = memo(function GroupCard({ group: g, alerts, config, canAck, onSelectDevice }: GroupProps) {
  const errorText = useErrorText()
  const [expanded, setExpanded] = useState<boolean | null>(null)
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set())
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const [silencing, setSilencing] = useState(false)
  const open = expanded ?? g.total === 1
  const t = ALERT_STRINGS[useLang().lang].group
  const sevLabel = severityLabel(g.severity)
  // Only alerts still open can be selected.
  const selectable = alerts.filter((a) => a.state === 'open')
  const chosen = selectable.filter((a) => selected.has(a.id))

  const run = async (body: Parameters<typeof alertStore.ackMany>[0]) => {
    setBusy(true)
    setError('')
    try {
      await alertStore.ackMany(body)
      setSelected(new Set())
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }
  const toggle = (id: number, on: boolean) =>
    setSelected((prev) => {
      const next = new Set(prev)
      if (on) next.add(id)
      else next.delete(id)
      return next
    })

  return (
    <li
      className={`alert-group sev-${g.severity}${g.open === 0 ? ' all-acknowledged' : ''}${g.silenced === g.total ? ' silenced' : ''}`}
      data-testid="alert-group"
      data-group-key={g.key}
      data-rule-id={g.ruleId}
      data-city={g.city}
      data-total={g.total}
      data-open={g.open}
      data-acknowledged={g.acknowledged}
      data-silenced={g.silenced}
    >
      <div className="alert-group-head">
        <span className="alert-sev" title={sevLabel}>
          <SeverityIcon severity={g.severity} />
        </span>
        <div className="alert-body">
          <p className="alert-title">
            <strong data-testid="group-rule">{g.ruleName}</strong>
            <span className={`severity-chip sev-${g.severity}`} data-testid="group-severity">
              {sevLabel}
            </span>
          </p>
          <p className="alert-group-counts" data-testid="group-counts">
            {cityName(config, g.city)} · {t.devices(g.total)} · <span className={g.open > 0 ? 'count-open' : ''}>{t.open(g.open)}</span> · {t.acked(g.acknowledged)}
            {g.silenced > 0 && (
              <span className="silenced-chip" data-testid="group-silenced" title={t.silencedTitle}>
                {' '}
                <MuteIcon /> {t.silenced(g.silenced)}
              </span>
            )}
          </p>
          <p className="alert-meta">
            {g.total > 1 ? t.firstNewest(at(g.firstOpenedAt), at(g.lastOpenedAt)) : t.opened(at(g.firstOpenedAt))} ({formatAgo(Date.now() - Date.parse(g.lastOpenedAt))})
          </p>
        </div>
      </div>
      <div className="alert-group-actions">
        <button type="button" className="secondary" aria-expanded={open} onClick={() => setExpanded(!open)} data-testid="group-toggle">
          {open ? t.hideDevices : t.showDevices(g.total)}
        </button>
        {canAck && g.open > 0 && (
          <button type="button" className="ack" disabled={busy} onClick={() => void run({ group: { ruleId: g.ruleId, city: g.city } })} data-testid="group-ack">
            {busy ? t.acknowledging : g.open === 1 && g.total === 1 ? t.acknowledge : t.acknowledgeAll(g.open)}
          </button>
        )}
        {canAck && open && chosen.length > 0 && (
          <button type="button" className="ack" disabled={busy} onClick={() => void run({ ids: chosen.map((a) => a.id) })} data-testid="group-ack-selected">
            {t.acknowledgeSelected(chosen.length)}
          </button>
        )}
        {canAck && (
          <button type="button" className="secondary" aria-expanded={silencing} onClick={() => setSilencing(!silencing)} data-testid="group-silence">
            {t.silence}
          </button>
        )}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {silencing && <SilenceForm config={config} ruleId={g.ruleId} city={g.city} onDone={() => setSilencing(false)} />}
      {open && (
        <>
          {canAck && selectable.length > 1 && (
            <label className="select-all">
              <input
                type="checkbox"
                checked={chosen.length === selectable.length}
                onChange={(e) => setSelected(new Set(e.target.checked ? selectable.map((a) => a.id) : []))}
                data-testid="group-select-all"
              />{' '}
              {t.selectAll(selectable.length)}
            </label>
          )}
          <ul className="alert-list" data-testid="alert-list">
            {alerts.slice(0, MAX_PER_GROUP).map((a) => (
              <AlertItem
                key={a.id}
                alert={a}
                config={config}
                canAck={canAck}
                onSelectDevice={onSelectDevice}
                selected={canAck && a.state === 'open' && g.total > 1 ? selected.has(a.id) : undefined}
                onSelect={toggle}
                grouped={g.total > 1}
              />
            ))}
          </ul>
          {alerts.length > MAX_PER_GROUP && <p className="muted">{words().panel.showingAlerts(MAX_PER_GROUP, alerts.length)}</p>}
        </>
      )}
    </li>
  )
})

interface ItemProps {
  alert: Alert
  config: AppConfig
  canAck: boolean
  onSelectDevice?: (id: string) => void
  compact?: boolean
  /** Defined: a checkbox to select it for a bulk acknowledgement. */
  selected?: boolean
  onSelect?: (id: number, on: boolean) => void
  /** Inside a group card (which names the rule and the city): titled by its device, tighter. */
  grouped?: boolean
}

/** One alert: severity, what and where in words, since when, its state, Acknowledge, and its details (timeline, comment, assign). */
export const AlertItem = memo(function AlertItem({ alert: a, config, canAck, onSelectDevice, compact, selected, onSelect, grouped }: ItemProps) {
  const errorText = useErrorText()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const [details, setDetails] = useState(false)
  const t = ALERT_STRINGS[useLang().lang].item
  const { alertText } = useAlertWords()
  const sevLabel = severityLabel(a.severity)
  const ack = async () => {
    setBusy(true)
    setError('')
    try {
      await alertStore.ack(a.id)
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <li
      className={`alert-item sev-${a.severity} state-${a.state}${compact || grouped ? ' compact' : ''}${a.silenced ? ' silenced' : ''}`}
      data-testid="alert-item"
      data-alert-id={a.id}
      data-state={a.state}
      data-device-id={a.deviceId}
      data-silenced={a.silenced ? 'true' : 'false'}
    >
      <span className="alert-sev" title={sevLabel}>
        {selected !== undefined ? (
          <input type="checkbox" aria-label={t.select(a.deviceName)} checked={selected} onChange={(e) => onSelect?.(a.id, e.target.checked)} data-testid="alert-select" />
        ) : (
          <SeverityIcon severity={a.severity} />
        )}
        <span className="visually-hidden">{sevLabel}</span>
      </span>
      <div className="alert-body">
        <p className="alert-title">
          <strong>{grouped ? a.deviceName : a.ruleName}</strong>
          <span>
            {a.silenced && (
              <span className="silenced-chip" data-testid="alert-silenced" title={t.silencedTitle}>
                <MuteIcon /> {t.silenced}
              </span>
            )}{' '}
            <span className={`alert-state ${a.state}`}>{t.states[a.state] ?? a.state}</span>
          </span>
        </p>
        <p className="alert-message" data-testid="alert-message">
          {alertText(a)}
        </p>
        <p className="alert-meta">
          {grouped ? (
            <>
              {onSelectDevice && (
                <button type="button" className="link" onClick={() => onSelectDevice(a.deviceId)} data-testid="alert-device">
                  {t.showOnMap}
                </button>
              )}{' '}
              · {t.opened(at(a.openedAt))}
            </>
          ) : onSelectDevice ? (
            <button type="button" className="link" onClick={() => onSelectDevice(a.deviceId)} data-testid="alert-device">
              {a.deviceName}
            </button>
          ) : (
            a.deviceName
          )}
          {!grouped && (
            <>
              {' '}
              · {cityName(config, a.city)} · {t.opened(at(a.openedAt))} ({formatAgo(Date.now() - Date.parse(a.openedAt))})
            </>
          )}
          {a.state !== 'resolved' && a.kind === 'threshold' && a.lastValue !== null && a.lastValue !== a.value && (
            <>
              {' '}
              · {t.now(`${a.lastValue.toLocaleString(appLocale())}${a.unit && a.unit !== '0–1' ? ` ${a.unit}` : ''}`)}
            </>
          )}
        </p>
        {a.acknowledgedBy && (
          <p className="alert-meta" data-testid="alert-acknowledged">
            {t.acknowledgedBy} <strong>{a.acknowledgedBy}</strong> {t.at(at(a.acknowledgedAt))}
          </p>
        )}
        {a.assignee && (
          <p className="alert-meta" data-testid="alert-assignee">
            {t.assignedTo} <strong>{a.assignee}</strong>
          </p>
        )}
        {a.state === 'resolved' && (
          <p className="alert-meta">
            {t.resolved(at(a.resolvedAt), resolvedWhy(a.resolvedReason))}
          </p>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {details && <AlertDetails alert={a} canEdit={canAck} />}
      </div>
      <div className="alert-actions">
        {canAck && a.state === 'open' && (
          <button type="button" className="ack" onClick={ack} disabled={busy} data-testid="alert-ack">
            {busy ? words().group.acknowledging : words().group.acknowledge}
          </button>
        )}
        {!compact && (
          <button type="button" className="secondary" aria-expanded={details} onClick={() => setDetails(!details)} data-testid="alert-details-toggle">
            {details ? t.hideTimeline : t.timeline}
          </button>
        )}
      </div>
    </li>
  )
})

let assigneesOnce: Promise<string[]> | undefined
const assignees = () => {
  assigneesOnce ??= ops.assignees().then(
    (r) => r.items.map((u) => u.username),
    (e) => {
      assigneesOnce = undefined
      throw e
    },
  )
  return assigneesOnce
}

/** An alert's timeline, read from the server, with a comment box and the assignee (staff). */
function AlertDetails({ alert: a, canEdit }: { alert: Alert; canEdit: boolean }) {
  const errorText = useErrorText()
  const [events, setEvents] = useState<TimelineEvent[] | null>(null)
  const [error, setError] = useState('')
  const [text, setText] = useState('')
  const [busy, setBusy] = useState(false)
  const [staff, setStaff] = useState<string[]>([])
  const [reload, setReload] = useState(0)
  const t = ALERT_STRINGS[useLang().lang].details

  useEffect(() => {
    let cancelled = false
    ops.timeline(a.id).then(
      (r) => !cancelled && setEvents(r.events),
      (e) => !cancelled && setError(errorText(e)),
    )
    return () => {
      cancelled = true
    }
    // Re-read when the alert itself changed (acknowledged, assigned, resolved) or after a comment.
  }, [a.id, a.state, a.assignee, a.acknowledgedAt, reload])

  useEffect(() => {
    if (!canEdit) return
    let cancelled = false
    assignees().then(
      (list) => !cancelled && setStaff(list),
      () => undefined,
    )
    return () => {
      cancelled = true
    }
  }, [canEdit])

  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true)
    setError('')
    try {
      await fn()
      setReload((n) => n + 1)
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="alert-details" data-testid="alert-details">
      {canEdit && a.state !== 'resolved' && (
        <label className="assign">
          {t.assignedTo}{' '}
          <select
            value={a.assignee ?? ''}
            disabled={busy}
            onChange={(e) => void act(async () => alertStore.update(await ops.assign(a.id, e.target.value || null)))}
            data-testid="alert-assign"
          >
            <option value="">{t.nobody}</option>
            {[...new Set([...staff, ...(a.assignee ? [a.assignee] : [])])].map((u) => (
              <option key={u} value={u}>
                {u}
              </option>
            ))}
          </select>
        </label>
      )}
      <ol className="timeline" data-testid="alert-timeline">
        {events === null && !error && <li className="muted">{t.loading}</li>}
        {events?.map((e, i) => (
          <li key={i} data-testid="timeline-event" data-kind={e.kind}>
            <span className="timeline-at">{at(e.at)}</span> <strong>{t.events[e.kind] ?? e.kind}</strong>
            {e.actor && <> {t.by(e.actor)}</>}
            {e.kind === 'assigned' && <> {t.to(e.assignee ?? t.nobody)}</>}
            {e.kind === 'comment' && <>: “{e.text}”</>}
            {e.kind === 'resolved' && e.text && <> ({resolvedWhy(e.text)})</>}
          </li>
        ))}
      </ol>
      {canEdit && (
        <form
          className="comment-form"
          onSubmit={(e) => {
            e.preventDefault()
            const body = text.trim()
            if (!body) return
            void act(async () => {
              await ops.comment(a.id, body)
              setText('')
            })
          }}
        >
          <input value={text} onChange={(e) => setText(e.target.value)} placeholder={t.commentPlaceholder} maxLength={2000} aria-label={t.comment} data-testid="alert-comment-text" />
          <button type="submit" disabled={busy || !text.trim()} data-testid="alert-comment-submit">
            {t.comment}
          </button>
        </form>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  )
}

const DURATIONS = ['1h', '4h', '8h', '1d', '7d'] as const

/** Mutes a group: this rule in this city, this rule everywhere, or everything in this city. */
function SilenceForm({ config, ruleId, city, onDone }: { config: AppConfig; ruleId: number; city: string; onDone: () => void }) {
  const errorText = useErrorText()
  const [scope, setScope] = useState<'rule-city' | 'rule' | 'city'>('rule-city')
  const [duration, setDuration] = useState<string>('1h')
  const [reason, setReason] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const t = ALERT_STRINGS[useLang().lang].silenceForm
  const submit = async () => {
    setBusy(true)
    setError('')
    try {
      await ops.createSilence({
        ...(scope !== 'city' ? { ruleId } : {}),
        ...(scope !== 'rule' ? { city } : {}),
        reason: reason.trim(),
        duration,
      })
      onDone()
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form
      className="silence-form"
      data-testid="silence-form"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <label>
        {t.mute}{' '}
        <select value={scope} onChange={(e) => setScope(e.target.value as typeof scope)} data-testid="silence-scope">
          <option value="rule-city">{t.ruleCity(cityName(config, city))}</option>
          <option value="rule">{t.rule}</option>
          <option value="city">{t.city(cityName(config, city))}</option>
        </select>
      </label>
      <label>
        {t.for}{' '}
        <select value={duration} onChange={(e) => setDuration(e.target.value)} data-testid="silence-duration">
          {DURATIONS.map((v) => (
            <option key={v} value={v}>
              {t.durations[v]}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t.reason} <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} required data-testid="silence-reason" />
      </label>
      <button type="submit" disabled={busy || !reason.trim()} data-testid="silence-submit">
        {busy ? t.silencing : t.silence}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  )
}

/** The silences: pending and active ones (with End now), then the latest ones over. */
function SilencesView({ config }: { config: AppConfig }) {
  const errorText = useErrorText()
  const { rules } = useAlerts()
  const [items, setItems] = useState<SilenceView[] | null>(null)
  const [error, setError] = useState('')
  const [reload, setReload] = useState(0)
  const t = ALERT_STRINGS[useLang().lang].silences
  useEffect(() => {
    let cancelled = false
    ops.silences().then(
      (r) => !cancelled && setItems(r.items),
      (e) => !cancelled && setError(errorText(e)),
    )
    return () => {
      cancelled = true
    }
  }, [reload])
  const end = async (id: number) => {
    try {
      await ops.endSilence(id)
    } catch (e) {
      setError(errorText(e))
    }
    setReload((n) => n + 1)
  }
  const ruleName = (id: number | null) => (id === null ? null : (rules.find((r) => r.id === id)?.name ?? t.rule(id)))
  if (error)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    )
  if (!items) return <p className="muted">{t.loading}</p>
  if (items.length === 0)
    return (
      <p className="empty-state" data-testid="silences-empty">
        {t.none}
      </p>
    )
  return (
    <ul className="silence-list" data-testid="silence-list">
      {items.map((s) => (
        <li key={s.id} className={`silence-item ${s.state}`} data-testid="silence-item" data-silence-id={s.id} data-state={s.state}>
          <p>
            <strong>{[ruleName(s.ruleId), s.deviceId, s.city && cityName(config, s.city)].filter(Boolean).join(' · ')}</strong>{' '}
            <span className="muted">({t.states[s.state] ?? s.state})</span>
          </p>
          <p className="alert-meta">
            {at(s.startsAt)} → {at(s.endsAt)} · {t.by(s.createdBy)}
            {s.endedBy && <> · {t.endedBy(s.endedBy)}</>} · “{s.reason}”
          </p>
          {s.state !== 'expired' && (
            <button type="button" className="secondary" onClick={() => void end(s.id)} data-testid="silence-end">
              {t.endNow}
            </button>
          )}
        </li>
      ))}
    </ul>
  )
}

function resolvedWhy(reason: string | null): string {
  const why = words().why
  return (reason && why[reason]) ?? reason ?? why.resolved!
}
