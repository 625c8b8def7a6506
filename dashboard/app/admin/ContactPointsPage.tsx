import { useState, type FormEvent } from 'react'
import { adminApi, errorMessage, type ContactPointView, type DeliveryView } from '../installer/api.ts'
import { useLoad } from '../installer/data.ts'
import { ConfirmButton, formatDateTime } from '../installer/ui.tsx'

/**
 * Contact points (admins): where alert notifications go — webhooks (signed JSON) and e-mail.
 * List, create, enable or disable, delete, send a test, and each one's newest deliveries.
 */

export function ContactPointsPage() {
  const [points, reload] = useLoad(adminApi.contactPoints)
  const [notice, setNotice] = useState('')

  if (points.state === 'error') return <p className="error" role="alert">Could not load the contact points: {points.message}</p>
  if (points.state !== 'ready') return <p className="loading" role="status">Loading…</p>
  const { items, email, defaultSecret } = points.value
  const changed = (message: string) => {
    setNotice(message)
    reload()
  }

  return (
    <div className="inst-stack" data-testid="contact-points-page">
      <CreateContactPoint email={email} defaultSecret={defaultSecret} onCreated={(cp) => changed(`Created ${cp.name}.`)} />
      <p className="inst-ok" role="status" data-testid="contact-points-notice">
        {notice}
      </p>
      <section className="inst-card" aria-labelledby="cp-title">
        <h1 id="cp-title">Contact points</h1>
        <p className="inst-hint">
          Alerts of one rule in one city opened close together go out as one message; a group sends at most one message per interval, and a “resolved” message when its
          last alert resolves (README: notification settings).
        </p>
        {items.length === 0 ? (
          <p data-testid="contact-points-empty">No contact points yet: alerts reach only the dashboard.</p>
        ) : (
          <ul className="adm-users">
            {items.map((cp) => (
              <ContactPointItem key={cp.id} cp={cp} onChanged={changed} />
            ))}
          </ul>
        )}
      </section>
    </div>
  )
}

function CreateContactPoint({ email, defaultSecret, onCreated }: { email: boolean; defaultSecret: boolean; onCreated: (cp: ContactPointView) => void }) {
  const [kind, setKind] = useState<'webhook' | 'email'>('webhook')
  const [name, setName] = useState('')
  const [url, setUrl] = useState('')
  const [secret, setSecret] = useState('')
  const [addresses, setAddresses] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (!name.trim()) return setError('Give the contact point a name.')
    const list = addresses
      .split(/[\s,;]+/)
      .map((a) => a.trim())
      .filter(Boolean)
    if (kind === 'webhook' && !/^https?:\/\//.test(url.trim())) return setError('The URL must start with http:// or https://.')
    if (kind === 'webhook' && secret && secret.length < 16) return setError('The secret needs at least 16 characters.')
    if (kind === 'email' && list.length === 0) return setError('Give at least one e-mail address.')
    setBusy(true)
    setError('')
    try {
      const created = await adminApi.createContactPoint(
        kind === 'webhook' ? { kind, name: name.trim(), url: url.trim(), ...(secret ? { secret } : {}) } : { kind, name: name.trim(), addresses: list },
      )
      setName('')
      setUrl('')
      setSecret('')
      setAddresses('')
      onCreated(created)
    } catch (err) {
      setError(errorMessage(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="inst-card inst-form" onSubmit={submit} noValidate data-testid="cp-create-form" aria-labelledby="cp-create-title">
      <h2 id="cp-create-title">New contact point</h2>
      <label htmlFor="cp-kind">Kind</label>
      <select id="cp-kind" value={kind} onChange={(e) => setKind(e.target.value as 'webhook' | 'email')} data-testid="cp-kind">
        <option value="webhook">Webhook (signed JSON POST)</option>
        <option value="email">E-mail</option>
      </select>
      <label htmlFor="cp-name">Name</label>
      <input id="cp-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" data-testid="cp-name" />
      {kind === 'webhook' ? (
        <>
          <label htmlFor="cp-url">URL</label>
          <input id="cp-url" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://ops.example.org/piazza" data-testid="cp-url" />
          <label htmlFor="cp-secret">Signing secret (16+ characters){defaultSecret ? '; empty: the server’s default' : ''}</label>
          <input id="cp-secret" type="password" autoComplete="new-password" value={secret} onChange={(e) => setSecret(e.target.value)} data-testid="cp-secret" />
          <p className="inst-hint">Shown never again: the receiver checks X-Piazza-Signature with it.</p>
        </>
      ) : (
        <>
          <label htmlFor="cp-addresses">Addresses (comma or space separated)</label>
          <input id="cp-addresses" value={addresses} onChange={(e) => setAddresses(e.target.value)} placeholder="turno@comune.example" data-testid="cp-addresses" />
          {!email && <p className="inst-hint">E-mail is not configured on this server (SMTP_URL).</p>}
        </>
      )}
      <p className="error" role="alert" data-testid="cp-create-error">
        {error}
      </p>
      <button type="submit" className="inst-primary" aria-disabled={busy} data-testid="cp-create-submit">
        {busy ? 'Creating…' : 'Create contact point'}
      </button>
    </form>
  )
}

const outcomeClass = (d: DeliveryView) => (d.outcome === 'delivered' ? 'inst-badge inst-badge-active' : d.outcome === 'failed' ? 'inst-badge inst-badge-revoked' : 'inst-badge')

function ContactPointItem({ cp, onChanged }: { cp: ContactPointView; onChanged: (message: string) => void }) {
  const [log, setLog] = useState<DeliveryView[] | null>(null)
  const [error, setError] = useState('')
  const [testing, setTesting] = useState(false)
  const showLog = async () => {
    try {
      setLog((await adminApi.deliveries(cp.id)).items)
    } catch (e) {
      setError(errorMessage(e))
    }
  }
  const run = async (work: () => Promise<unknown>, message: string) => {
    setError('')
    try {
      await work()
      onChanged(message)
    } catch (e) {
      setError(errorMessage(e))
    }
  }
  const test = async () => {
    setTesting(true)
    setError('')
    try {
      const d = await adminApi.testContactPoint(cp.id)
      onChanged(d.outcome === 'delivered' ? `Test sent to ${cp.name}.` : `Test to ${cp.name} failed: ${d.error ?? d.outcome}`)
      await showLog()
    } catch (e) {
      setError(errorMessage(e))
    } finally {
      setTesting(false)
    }
  }
  return (
    <li className={`adm-user${cp.enabled ? '' : ' adm-disabled'}`} data-testid="cp-item" data-id={cp.id} data-kind={cp.kind}>
      <div className="adm-user-head">
        <strong>{cp.name}</strong>
        <span className="inst-badge">{cp.kind === 'webhook' ? 'webhook' : 'e-mail'}</span>
        {!cp.enabled && <span className="inst-badge inst-badge-revoked">disabled</span>}
      </div>
      <p className="inst-hint">
        {cp.kind === 'webhook' ? `${cp.url} · signed with ${cp.secret === 'own' ? 'its own secret' : 'the server’s default secret'}` : cp.addresses.join(', ')}
      </p>
      <div className="inst-actions inst-actions-wrap">
        <button type="button" className="inst-secondary" onClick={test} disabled={testing} data-testid="cp-test">
          {testing ? 'Sending…' : 'Send test'}
        </button>
        <button type="button" className="inst-secondary" onClick={() => (log ? setLog(null) : void showLog())} data-testid="cp-log-toggle">
          {log ? 'Hide deliveries' : 'Deliveries'}
        </button>
        <button
          type="button"
          className="inst-secondary"
          data-testid="cp-toggle"
          onClick={() => run(() => adminApi.updateContactPoint(cp.id, { enabled: !cp.enabled }), `${cp.enabled ? 'Disabled' : 'Enabled'} ${cp.name}.`)}
        >
          {cp.enabled ? 'Disable' : 'Enable'}
        </button>
        <ConfirmButton
          label="Delete"
          confirmLabel="Delete"
          question={`Delete ${cp.name} and its delivery log?`}
          danger
          testid="cp-delete"
          onConfirm={() => run(() => adminApi.deleteContactPoint(cp.id), `Deleted ${cp.name}.`)}
        />
      </div>
      <p className="error" role="alert">
        {error}
      </p>
      {log && (
        <ul className="adm-audit" data-testid="cp-log">
          {log.length === 0 && <li>No deliveries yet.</li>}
          {log.map((d) => (
            <li key={d.id} data-testid="cp-delivery" data-outcome={d.outcome} data-status={d.status}>
              <div className="adm-audit-head">
                <span className={outcomeClass(d)}>{d.outcome}</span>
                <span className="inst-badge">{d.status}</span>
                <small>{formatDateTime(Date.parse(d.startedAt))}</small>
                <small>
                  {d.attempts} attempt{d.attempts === 1 ? '' : 's'}
                  {d.httpStatus !== null ? ` · HTTP ${d.httpStatus}` : ''}
                </small>
              </div>
              <div>{d.summary}</div>
              {d.error && <div className="error">{d.error}</div>}
            </li>
          ))}
        </ul>
      )}
    </li>
  )
}
