import { memo, useEffect, useState } from 'react'
import { ApiError } from '../api/client.ts'
import { ops, type Alert } from '../api/ops.ts'
import type { AppConfig, User } from '../api/types.ts'
import { cityName } from '../devices/format.ts'
import { formatAge } from '../live/health.ts'
import { alertStore, useAlerts } from './hooks.ts'

type View = 'active' | 'open' | 'acknowledged' | 'resolved'

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

const timeFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' })
const at = (iso: string | null) => (iso ? timeFormat.format(Date.parse(iso)) : '—')

interface Props {
  config: AppConfig
  user: User
  onSelectDevice: (id: string) => void
}

/** The alert list: active ones (open, then acknowledged; most urgent first), or the resolved ones. */
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

  const items = view === 'resolved' ? (resolved ?? []) : view === 'active' ? active : active.filter((a) => a.state === view)

  return (
    <section className="alerts-panel" aria-labelledby="alerts-title" data-testid="alerts-panel">
      <header className="alerts-head">
        <h2 id="alerts-title">
          Alerts <span className="muted">{counts.open} open · {counts.acknowledged} acknowledged</span>
        </h2>
        <div className="segmented" role="group" aria-label="Which alerts">
          {(['active', 'open', 'acknowledged', 'resolved'] as const).map((v) => (
            <button key={v} type="button" className="secondary" aria-pressed={view === v} onClick={() => setView(v)} data-testid={`alerts-view-${v}`}>
              {v === 'active' ? 'Active' : v === 'open' ? 'Open' : v === 'acknowledged' ? 'Acknowledged' : 'Resolved'}
            </button>
          ))}
        </div>
      </header>
      {error && (
        <p className="error" role="alert">
          Could not load the alerts: {error}
        </p>
      )}
      {!loaded && !error ? (
        <p className="muted">Loading alerts…</p>
      ) : items.length === 0 ? (
        <p className="empty-state" data-testid="alerts-empty">
          {view === 'resolved' ? 'No resolved alerts yet.' : view === 'active' ? 'No active alerts. All quiet.' : `No ${view} alerts.`}
        </p>
      ) : (
        <ul className="alert-list" data-testid="alert-list">
          {items.slice(0, 300).map((a) => (
            <AlertItem key={a.id} alert={a} config={config} canAck={canAck} onSelectDevice={onSelectDevice} />
          ))}
        </ul>
      )}
      {items.length > 300 && <p className="muted">Showing the 300 most urgent of {items.length}.</p>}
    </section>
  )
}

interface ItemProps {
  alert: Alert
  config: AppConfig
  canAck: boolean
  onSelectDevice?: (id: string) => void
  compact?: boolean
}

/** One alert: severity, what and where in words, since when, its state, and Acknowledge. */
export const AlertItem = memo(function AlertItem({ alert: a, config, canAck, onSelectDevice, compact }: ItemProps) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
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
    <li className={`alert-item sev-${a.severity} state-${a.state}${compact ? ' compact' : ''}`} data-testid="alert-item" data-alert-id={a.id} data-state={a.state} data-device-id={a.deviceId}>
      <span className="alert-sev" title={sev.label}>
        <SeverityIcon severity={a.severity} />
        <span className="visually-hidden">{sev.label}</span>
      </span>
      <div className="alert-body">
        <p className="alert-title">
          <strong>{a.ruleName}</strong>
          <span className={`alert-state ${a.state}`}>{a.state === 'open' ? 'Open' : a.state === 'acknowledged' ? 'Acknowledged' : 'Resolved'}</span>
        </p>
        <p className="alert-message" data-testid="alert-message">
          {a.message}
        </p>
        <p className="alert-meta">
          {onSelectDevice ? (
            <button type="button" className="link" onClick={() => onSelectDevice(a.deviceId)} data-testid="alert-device">
              {a.deviceName}
            </button>
          ) : (
            a.deviceName
          )}{' '}
          · {cityName(config, a.city)} · opened {at(a.openedAt)} ({formatAge(Date.now() - Date.parse(a.openedAt))} ago)
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
      </div>
      {canAck && a.state === 'open' && (
        <button type="button" className="ack" onClick={ack} disabled={busy} data-testid="alert-ack">
          {busy ? 'Acknowledging…' : 'Acknowledge'}
        </button>
      )}
    </li>
  )
})

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
