import { useEffect, useState, type FormEvent } from 'react'
import type { User } from '../api/types.ts'
import { adminApi, errorMessage, type AuditEntry, type AuditQuery } from '../installer/api.ts'
import { ROUTES } from '../installer/router.ts'
import { formatDateTime, Link } from '../installer/ui.tsx'

/** Who changed which device or user, when, and what: newest first, filtered (admins). */

const ACTIONS = [
  ['', 'Any change'],
  ['device.', 'Any device change'],
  ['device.create', 'Device registered'],
  ['device.update', 'Device edited'],
  ['device.rotate', 'Secret rotated'],
  ['device.revoke', 'Device revoked'],
  ['device.decommission', 'Device decommissioned'],
  ['user.', 'Any user change'],
  ['user.create', 'User created'],
  ['user.update', 'Role or cities changed'],
  ['user.password-reset', 'Password reset'],
  ['user.disable', 'User disabled'],
  ['user.enable', 'User enabled'],
  ['contact-point.', 'Any contact-point change'],
  ['contact-point.create', 'Contact point created'],
  ['contact-point.update', 'Contact point changed'],
  ['contact-point.delete', 'Contact point deleted'],
  ['contact-point.test', 'Test notification sent'],
] as const

const PAGE = 50

function show(value: unknown): string {
  if (value === undefined) return '—'
  if (typeof value === 'string') return `'${value}'`
  return JSON.stringify(value)
}

/** "name: 'A' → 'B'" per field. */
export function describeChanges(changes: AuditEntry['changes']): string[] {
  return Object.entries(changes).map(([field, c]) => ('from' in c ? `${field}: ${show(c.from)} → ${show(c.to)}` : `${field}: ${show(c.to)}`))
}

/** A local datetime-local value to an ISO instant. */
const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined)

export function AuditPage({ user }: { user: User }) {
  const [actor, setActor] = useState('')
  const [target, setTarget] = useState('')
  const [action, setAction] = useState('')
  const [from, setFrom] = useState('')
  const [to, setTo] = useState('')
  const [query, setQuery] = useState<AuditQuery>({})
  const [items, setItems] = useState<AuditEntry[]>([])
  const [total, setTotal] = useState(0)
  const [error, setError] = useState('')
  const [loading, setLoading] = useState(true)

  useEffect(() => {
    let cancelled = false
    setLoading(true)
    adminApi.audit({ ...query, limit: PAGE }).then(
      (r) => {
        if (cancelled) return
        setItems(r.items)
        setTotal(r.total)
        setError('')
        setLoading(false)
      },
      (e: unknown) => {
        if (cancelled) return
        setError(errorMessage(e))
        setLoading(false)
      },
    )
    return () => {
      cancelled = true
    }
  }, [query])

  if (user.role !== 'admin') return <p className="error">Only admins see the audit log.</p>

  const apply = (e: FormEvent) => {
    e.preventDefault()
    setQuery({ actor: actor.trim() || undefined, target: target.trim() || undefined, action: action || undefined, from: toIso(from), to: toIso(to) })
  }
  const more = async () => {
    try {
      const r = await adminApi.audit({ ...query, limit: PAGE, offset: items.length })
      setItems([...items, ...r.items])
      setTotal(r.total)
    } catch (e) {
      setError(errorMessage(e))
    }
  }

  return (
    <div className="inst-stack" data-testid="audit-page">
      <form className="inst-card inst-form" onSubmit={apply} aria-labelledby="audit-title">
        <h1 id="audit-title">Audit log</h1>
        <div className="inst-row">
          <div>
            <label htmlFor="audit-actor">Who</label>
            <input id="audit-actor" value={actor} onChange={(e) => setActor(e.target.value)} placeholder="user name" data-testid="audit-actor" />
          </div>
          <div>
            <label htmlFor="audit-target">Device or user</label>
            <input id="audit-target" value={target} onChange={(e) => setTarget(e.target.value)} placeholder="id or user name" data-testid="audit-target" />
          </div>
        </div>
        <label htmlFor="audit-action">What</label>
        <select id="audit-action" value={action} onChange={(e) => setAction(e.target.value)} data-testid="audit-action">
          {ACTIONS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <div className="inst-row">
          <div>
            <label htmlFor="audit-from">From</label>
            <input id="audit-from" type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} data-testid="audit-from" />
          </div>
          <div>
            <label htmlFor="audit-to">To</label>
            <input id="audit-to" type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} data-testid="audit-to" />
          </div>
        </div>
        <button type="submit" data-testid="audit-apply">
          Show
        </button>
      </form>
      <section className="inst-card" aria-live="polite">
        <p className="error" role="alert" data-testid="audit-error">
          {error}
        </p>
        {loading ? (
          <p className="loading">Loading…</p>
        ) : (
          <>
            <p className="inst-hint" data-testid="audit-total">
              {total} change{total === 1 ? '' : 's'}
            </p>
            <ul className="adm-audit">
              {items.map((e) => (
                <li key={e.id} data-testid="audit-entry" data-action={e.action} data-target={e.target}>
                  <div className="adm-audit-head">
                    <span className="adm-audit-action">{e.action}</span>
                    <span className="adm-audit-target">
                      {e.targetType === 'device' ? <Link to={ROUTES.device(e.target)}>{e.target}</Link> : e.target}
                    </span>
                  </div>
                  <div className="inst-hint">
                    {formatDateTime(Date.parse(e.at))} · by <strong>{e.actor}</strong>
                    {Object.entries(e.details)
                      .filter(([k]) => k !== 'note')
                      .map(([k, v]) => ` · ${k} ${v}`)
                      .join('')}
                  </div>
                  {Object.keys(e.changes).length > 0 && (
                    <ul className="adm-changes">
                      {describeChanges(e.changes).map((line) => (
                        <li key={line}>{line}</li>
                      ))}
                    </ul>
                  )}
                </li>
              ))}
            </ul>
            {items.length < total && (
              <button type="button" className="inst-secondary" onClick={more} data-testid="audit-more">
                Show more
              </button>
            )}
          </>
        )}
      </section>
    </div>
  )
}
