import { useEffect, useState, type FormEvent } from 'react'
import type { User } from '../api/types.ts'
import { adminApi, type AuditEntry, type AuditQuery } from '../installer/api.ts'
import { ROUTES } from '../installer/router.ts'
import { Link } from '../installer/ui.tsx'
import { useStrings } from '../../i18n/react.tsx'
import { ADMIN_STRINGS } from './strings.ts'
import { useDateTime, useNumber } from './table.tsx'
import { useErrorText } from '../api/error-text.ts'

/** Who changed which device or user, when, and what: newest first, filtered (admins). */

const ACTIONS = [
  '',
  'device.',
  'device.create',
  'device.update',
  'device.rotate',
  'device.revoke',
  'device.decommission',
  'user.',
  'user.create',
  'user.update',
  'user.password-reset',
  'user.disable',
  'user.enable',
  'contact-point.',
  'contact-point.create',
  'contact-point.update',
  'contact-point.delete',
  'contact-point.test',
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
  const errorText = useErrorText()
  const { audit: t, shell } = useStrings(ADMIN_STRINGS)
  const dateTime = useDateTime()
  const n = useNumber()
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
        setError(errorText(e))
        setLoading(false)
      },
    )
    return () => {
      cancelled = true
    }
  }, [query])

  if (user.role !== 'admin') return <p className="error">{shell.deniedAudit}</p>

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
      setError(errorText(e))
    }
  }

  return (
    <div className="inst-stack adm-audit-page" data-testid="audit-page">
      <form className="inst-card inst-form" onSubmit={apply} aria-labelledby="audit-title">
        <h1 id="audit-title">{t.title}</h1>
        <div className="inst-row">
          <div>
            <label htmlFor="audit-actor">{t.who}</label>
            <input id="audit-actor" value={actor} onChange={(e) => setActor(e.target.value)} placeholder={t.whoPlaceholder} data-testid="audit-actor" />
          </div>
          <div>
            <label htmlFor="audit-target">{t.target}</label>
            <input id="audit-target" value={target} onChange={(e) => setTarget(e.target.value)} placeholder={t.targetPlaceholder} data-testid="audit-target" />
          </div>
        </div>
        <label htmlFor="audit-action">{t.what}</label>
        <select id="audit-action" value={action} onChange={(e) => setAction(e.target.value)} data-testid="audit-action">
          {ACTIONS.map((value) => (
            <option key={value} value={value}>
              {t.actions[value]}
            </option>
          ))}
        </select>
        <div className="inst-row">
          <div>
            <label htmlFor="audit-from">{t.from}</label>
            <input id="audit-from" type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} data-testid="audit-from" />
          </div>
          <div>
            <label htmlFor="audit-to">{t.to}</label>
            <input id="audit-to" type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} data-testid="audit-to" />
          </div>
        </div>
        <button type="submit" data-testid="audit-apply">
          {t.show}
        </button>
      </form>
      <section className="inst-card" aria-live="polite">
        <p className="error" role="alert" data-testid="audit-error">
          {error}
        </p>
        {loading ? (
          <p className="loading">{t.loading}</p>
        ) : (
          <>
            <p className="inst-hint" data-testid="audit-total">
              {t.total(total, n(total))}
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
                    {dateTime(Date.parse(e.at))} · {t.by} <strong>{e.actor}</strong>
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
                {t.more}
              </button>
            )}
          </>
        )}
      </section>
    </div>
  )
}
