import { memo, useEffect, useMemo, useState } from 'react'
import { groupAlerts } from '../../shared/operations.ts'
import { ApiError } from '../api/client.ts'
import { ops, type Alert, type AlertGroup, type SilenceView, type TimelineEvent } from '../api/ops.ts'
import type { AppConfig, User } from '../api/types.ts'
import { cityName } from '../devices/format.ts'
import { formatAge } from '../live/health.ts'
import { alertStore, useAlerts } from './hooks.ts'

type View = 'active' | 'open' | 'acknowledged' | 'resolved' | 'silences'

const SEVERITY: Record<string, { label: string }> = {
  critical: { label: 'Critical' },
  warning: { label: 'Warning' },
  info: { label: 'Info' },
}

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

const timeFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' })
const at = (iso: string | null) => (iso ? timeFormat.format(Date.parse(iso)) : '—')

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
          Alerts <span className="muted">{counts.open} open · {counts.acknowledged} acknowledged</span>
        </h2>
        <div className="segmented" role="group" aria-label="Which alerts">
          {VIEWS.filter((v) => v !== 'silences' || canAck).map((v) => (
            <button key={v} type="button" className="secondary" aria-pressed={view === v} onClick={() => setView(v)} data-testid={`alerts-view-${v}`}>
              {VIEW_LABEL[v]}
            </button>
          ))}
        </div>
      </header>
      {error && (
        <p className="error" role="alert">
          Could not load the alerts: {error}
        </p>
      )}
      {view === 'silences' ? (
        <SilencesView config={config} />
      ) : !loaded && !error ? (
        <p className="muted">Loading alerts…</p>
      ) : items.length === 0 ? (
        <p className="empty-state" data-testid="alerts-empty">
          {view === 'resolved' ? 'No resolved alerts yet.' : view === 'active' ? 'No active alerts. All quiet.' : `No ${view} alerts.`}
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
      {groups.length > MAX_GROUPS && <p className="muted">Showing the {MAX_GROUPS} most urgent of {groups.length} groups.</p>}
    </section>
  )
}

const VIEWS = ['active', 'open', 'acknowledged', 'resolved', 'silences'] as const
const VIEW_LABEL: Record<View, string> = { active: 'Active', open: 'Open', acknowledged: 'Acknowledged', resolved: 'Resolved', silences: 'Silences' }

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

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
  const [expanded, setExpanded] = useState<boolean | null>(null)
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set())
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const [silencing, setSilencing] = useState(false)
  const open = expanded ?? g.total === 1
  const sev = SEVERITY[g.severity] ?? SEVERITY.warning!
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
      setError(e instanceof ApiError ? e.message : String(e))
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
        <span className="alert-sev" title={sev.label}>
          <SeverityIcon severity={g.severity} />
        </span>
        <div className="alert-body">
          <p className="alert-title">
            <strong data-testid="group-rule">{g.ruleName}</strong>
            <span className={`severity-chip sev-${g.severity}`} data-testid="group-severity">
              {sev.label}
            </span>
          </p>
          <p className="alert-group-counts" data-testid="group-counts">
            {cityName(config, g.city)} · {plural(g.total, 'device')} · <span className={g.open > 0 ? 'count-open' : ''}>{g.open} open</span> · {g.acknowledged} acknowledged
            {g.silenced > 0 && (
              <span className="silenced-chip" data-testid="group-silenced" title="A silence mutes their notifications">
                {' '}
                <MuteIcon /> {g.silenced} silenced
              </span>
            )}
          </p>
          <p className="alert-meta">
            {g.total > 1 ? `first ${at(g.firstOpenedAt)}, newest ${at(g.lastOpenedAt)}` : `opened ${at(g.firstOpenedAt)}`} ({formatAge(Date.now() - Date.parse(g.lastOpenedAt))} ago)
          </p>
        </div>
      </div>
      <div className="alert-group-actions">
        <button type="button" className="secondary" aria-expanded={open} onClick={() => setExpanded(!open)} data-testid="group-toggle">
          {open ? 'Hide devices' : `Show ${plural(g.total, 'device')}`}
        </button>
        {canAck && g.open > 0 && (
          <button type="button" className="ack" disabled={busy} onClick={() => void run({ group: { ruleId: g.ruleId, city: g.city } })} data-testid="group-ack">
            {busy ? 'Acknowledging…' : g.open === 1 && g.total === 1 ? 'Acknowledge' : `Acknowledge all ${g.open}`}
          </button>
        )}
        {canAck && open && chosen.length > 0 && (
          <button type="button" className="ack" disabled={busy} onClick={() => void run({ ids: chosen.map((a) => a.id) })} data-testid="group-ack-selected">
            Acknowledge {chosen.length} selected
          </button>
        )}
        {canAck && (
          <button type="button" className="secondary" aria-expanded={silencing} onClick={() => setSilencing(!silencing)} data-testid="group-silence">
            Silence…
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
              Select all {selectable.length} open
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
          {alerts.length > MAX_PER_GROUP && <p className="muted">Showing the {MAX_PER_GROUP} most urgent of {alerts.length}.</p>}
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
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const [details, setDetails] = useState(false)
  const sev = SEVERITY[a.severity] ?? SEVERITY.warning!
  const ack = async () => {
    setBusy(true)
    setError('')
    try {
      await alertStore.ack(a.id)
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e))
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
      <span className="alert-sev" title={sev.label}>
        {selected !== undefined ? (
          <input type="checkbox" aria-label={`Select ${a.deviceName}`} checked={selected} onChange={(e) => onSelect?.(a.id, e.target.checked)} data-testid="alert-select" />
        ) : (
          <SeverityIcon severity={a.severity} />
        )}
        <span className="visually-hidden">{sev.label}</span>
      </span>
      <div className="alert-body">
        <p className="alert-title">
          <strong>{grouped ? a.deviceName : a.ruleName}</strong>
          <span>
            {a.silenced && (
              <span className="silenced-chip" data-testid="alert-silenced" title="A silence mutes its notifications">
                <MuteIcon /> Silenced
              </span>
            )}{' '}
            <span className={`alert-state ${a.state}`}>{a.state === 'open' ? 'Open' : a.state === 'acknowledged' ? 'Acknowledged' : 'Resolved'}</span>
          </span>
        </p>
        <p className="alert-message" data-testid="alert-message">
          {a.message}
        </p>
        <p className="alert-meta">
          {grouped ? (
            <>
              {onSelectDevice && (
                <button type="button" className="link" onClick={() => onSelectDevice(a.deviceId)} data-testid="alert-device">
                  Show on map
                </button>
              )}{' '}
              · opened {at(a.openedAt)}
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
              · {cityName(config, a.city)} · opened {at(a.openedAt)} ({formatAge(Date.now() - Date.parse(a.openedAt))} ago)
            </>
          )}
          {a.state !== 'resolved' && a.kind === 'threshold' && a.lastValue !== null && a.lastValue !== a.value && (
            <>
              {' '}
              · now {a.lastValue}
              {a.unit && a.unit !== '0–1' ? ` ${a.unit}` : ''}
            </>
          )}
        </p>
        {a.acknowledgedBy && (
          <p className="alert-meta" data-testid="alert-acknowledged">
            Acknowledged by <strong>{a.acknowledgedBy}</strong> at {at(a.acknowledgedAt)}
          </p>
        )}
        {a.assignee && (
          <p className="alert-meta" data-testid="alert-assignee">
            Assigned to <strong>{a.assignee}</strong>
          </p>
        )}
        {a.state === 'resolved' && (
          <p className="alert-meta">
            Resolved {at(a.resolvedAt)} ({resolvedWhy(a.resolvedReason)})
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
            {busy ? 'Acknowledging…' : 'Acknowledge'}
          </button>
        )}
        {!compact && (
          <button type="button" className="secondary" aria-expanded={details} onClick={() => setDetails(!details)} data-testid="alert-details-toggle">
            {details ? 'Hide timeline' : 'Timeline'}
          </button>
        )}
      </div>
    </li>
  )
})

const TIMELINE_LABEL: Record<string, string> = {
  opened: 'Opened',
  acknowledged: 'Acknowledged',
  comment: 'Comment',
  assigned: 'Assigned',
  resolved: 'Resolved',
}

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
  const [events, setEvents] = useState<TimelineEvent[] | null>(null)
  const [error, setError] = useState('')
  const [text, setText] = useState('')
  const [busy, setBusy] = useState(false)
  const [staff, setStaff] = useState<string[]>([])
  const [reload, setReload] = useState(0)

  useEffect(() => {
    let cancelled = false
    ops.timeline(a.id).then(
      (r) => !cancelled && setEvents(r.events),
      (e) => !cancelled && setError(e instanceof ApiError ? e.message : String(e)),
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
      setError(e instanceof ApiError ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="alert-details" data-testid="alert-details">
      {canEdit && a.state !== 'resolved' && (
        <label className="assign">
          Assigned to{' '}
          <select
            value={a.assignee ?? ''}
            disabled={busy}
            onChange={(e) => void act(async () => alertStore.update(await ops.assign(a.id, e.target.value || null)))}
            data-testid="alert-assign"
          >
            <option value="">nobody</option>
            {[...new Set([...staff, ...(a.assignee ? [a.assignee] : [])])].map((u) => (
              <option key={u} value={u}>
                {u}
              </option>
            ))}
          </select>
        </label>
      )}
      <ol className="timeline" data-testid="alert-timeline">
        {events === null && !error && <li className="muted">Loading the timeline…</li>}
        {events?.map((e, i) => (
          <li key={i} data-testid="timeline-event" data-kind={e.kind}>
            <span className="timeline-at">{at(e.at)}</span> <strong>{TIMELINE_LABEL[e.kind] ?? e.kind}</strong>
            {e.actor && <> by {e.actor}</>}
            {e.kind === 'assigned' && <> to {e.assignee ?? 'nobody'}</>}
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
          <input value={text} onChange={(e) => setText(e.target.value)} placeholder="Add a comment" maxLength={2000} aria-label="Comment" data-testid="alert-comment-text" />
          <button type="submit" disabled={busy || !text.trim()} data-testid="alert-comment-submit">
            Comment
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

const DURATIONS = [
  ['1h', '1 hour'],
  ['4h', '4 hours'],
  ['8h', '8 hours'],
  ['1d', '1 day'],
  ['7d', '7 days'],
] as const

/** Mutes a group: this rule in this city, this rule everywhere, or everything in this city. */
function SilenceForm({ config, ruleId, city, onDone }: { config: AppConfig; ruleId: number; city: string; onDone: () => void }) {
  const [scope, setScope] = useState<'rule-city' | 'rule' | 'city'>('rule-city')
  const [duration, setDuration] = useState<string>('1h')
  const [reason, setReason] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
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
      setError(e instanceof ApiError ? e.message : String(e))
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
        Mute{' '}
        <select value={scope} onChange={(e) => setScope(e.target.value as typeof scope)} data-testid="silence-scope">
          <option value="rule-city">this rule in {cityName(config, city)}</option>
          <option value="rule">this rule everywhere</option>
          <option value="city">every alert in {cityName(config, city)}</option>
        </select>
      </label>
      <label>
        for{' '}
        <select value={duration} onChange={(e) => setDuration(e.target.value)} data-testid="silence-duration">
          {DURATIONS.map(([v, label]) => (
            <option key={v} value={v}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Reason <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} required data-testid="silence-reason" />
      </label>
      <button type="submit" disabled={busy || !reason.trim()} data-testid="silence-submit">
        {busy ? 'Silencing…' : 'Silence'}
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
  const { rules } = useAlerts()
  const [items, setItems] = useState<SilenceView[] | null>(null)
  const [error, setError] = useState('')
  const [reload, setReload] = useState(0)
  useEffect(() => {
    let cancelled = false
    ops.silences().then(
      (r) => !cancelled && setItems(r.items),
      (e) => !cancelled && setError(e instanceof ApiError ? e.message : String(e)),
    )
    return () => {
      cancelled = true
    }
  }, [reload])
  const end = async (id: number) => {
    try {
      await ops.endSilence(id)
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e))
    }
    setReload((n) => n + 1)
  }
  const ruleName = (id: number | null) => (id === null ? null : (rules.find((r) => r.id === id)?.name ?? `rule ${id}`))
  if (error)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    )
  if (!items) return <p className="muted">Loading silences…</p>
  if (items.length === 0)
    return (
      <p className="empty-state" data-testid="silences-empty">
        No silences. Mute a group from its card (Silence…).
      </p>
    )
  return (
    <ul className="silence-list" data-testid="silence-list">
      {items.map((s) => (
        <li key={s.id} className={`silence-item ${s.state}`} data-testid="silence-item" data-silence-id={s.id} data-state={s.state}>
          <p>
            <strong>{[ruleName(s.ruleId), s.deviceId, s.city && cityName(config, s.city)].filter(Boolean).join(' · ')}</strong>{' '}
            <span className="muted">({s.state === 'active' ? 'muting' : s.state === 'pending' ? 'not started' : 'over'})</span>
          </p>
          <p className="alert-meta">
            {at(s.startsAt)} → {at(s.endsAt)} · by {s.createdBy}
            {s.endedBy && <> · ended early by {s.endedBy}</>} · “{s.reason}”
          </p>
          {s.state !== 'expired' && (
            <button type="button" className="secondary" onClick={() => void end(s.id)} data-testid="silence-end">
              End now
            </button>
          )}
        </li>
      ))}
    </ul>
  )
}

function resolvedWhy(reason: string | null): string {
  switch (reason) {
    case 'cleared':
      return 'back within the limit'
    case 'reporting':
      return 'the device reports again'
    case 'rule-changed':
      return 'the rule was changed'
    case 'rule-disabled':
      return 'the rule was disabled'
    case 'rule-deleted':
      return 'the rule was deleted'
    case 'device-inactive':
      return 'the device was taken out of service'
    default:
      return reason ?? 'resolved'
  }
}
