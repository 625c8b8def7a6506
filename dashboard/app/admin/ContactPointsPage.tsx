import { useState } from 'react'
import { useStrings } from '../../i18n/react.tsx'
import { adminApi, type ContactPointView, type DeliveryView } from '../installer/api.ts'
import { useLoad } from '../installer/data.ts'
import { ConfirmButton } from '../installer/ui.tsx'
import { AdminForm, Field } from './AdminForm.tsx'
import { ADMIN_STRINGS } from './strings.ts'
import { useDateTime } from './table.tsx'
import { useErrorText } from '../api/error-text.ts'

/**
 * Contact points (admins): where alert notifications go — webhooks (signed JSON) and e-mail.
 * List, create, enable or disable, delete, send a test, and each one's newest deliveries.
 */

export function ContactPointsPage() {
  const { contacts: t, list: tl } = useStrings(ADMIN_STRINGS)
  const [points, reload] = useLoad(adminApi.contactPoints)
  const [notice, setNotice] = useState('')

  if (points.state === 'error') return <p className="error" role="alert">{t.loadError} {points.message}</p>
  if (points.state !== 'ready') return <p className="loading" role="status">{tl.loading}</p>
  const { items, email, defaultSecret } = points.value
  const changed = (message: string) => {
    setNotice(message)
    reload()
  }

  return (
    <div className="inst-stack" data-testid="contact-points-page">
      <CreateContactPoint email={email} defaultSecret={defaultSecret} onCreated={(cp) => changed(t.created(cp.name))} />
      <p className="inst-ok" role="status" data-testid="contact-points-notice">
        {notice}
      </p>
      <section className="inst-card" aria-labelledby="cp-title">
        <h1 id="cp-title">{t.title}</h1>
        <p className="inst-hint">{t.about}</p>
        {items.length === 0 ? (
          <p data-testid="contact-points-empty">{t.empty}</p>
        ) : (
          <ul className="adm-cards">
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
  const t = useStrings(ADMIN_STRINGS).contacts
  const [kind, setKind] = useState<'webhook' | 'email'>('webhook')
  const [name, setName] = useState('')
  const [url, setUrl] = useState('')
  const [secret, setSecret] = useState('')
  const [addresses, setAddresses] = useState('')
  const submit = async () => {
    if (!name.trim()) return t.giveName
    const list = addresses
      .split(/[\s,;]+/)
      .map((a) => a.trim())
      .filter(Boolean)
    if (kind === 'webhook' && !/^https?:\/\//.test(url.trim())) return t.badUrl
    if (kind === 'webhook' && secret && secret.length < 16) return t.shortSecret
    if (kind === 'email' && list.length === 0) return t.giveAddress
    const created = await adminApi.createContactPoint(
      kind === 'webhook' ? { kind, name: name.trim(), url: url.trim(), ...(secret ? { secret } : {}) } : { kind, name: name.trim(), addresses: list },
    )
    setName('')
    setUrl('')
    setSecret('')
    setAddresses('')
    onCreated(created)
  }
  return (
    <AdminForm prefix="cp-create" title={t.newPoint} submitLabel={t.create} busyLabel={t.creating} submit={submit}>
      <Field id="cp-kind" label={t.kind}>
        <select id="cp-kind" value={kind} onChange={(e) => setKind(e.target.value as 'webhook' | 'email')} data-testid="cp-kind">
          <option value="webhook">{t.webhookKind}</option>
          <option value="email">{t.emailKind}</option>
        </select>
      </Field>
      <Field id="cp-name" label={t.name}>
        <input id="cp-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" data-testid="cp-name" />
      </Field>
      {kind === 'webhook' ? (
        <>
          <Field id="cp-url" label={t.url}>
            <input id="cp-url" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://ops.example.org/piazza" data-testid="cp-url" />
          </Field>
          <Field id="cp-secret" label={`${t.secret}${defaultSecret ? t.secretDefault : ''}`}>
            <input id="cp-secret" type="password" autoComplete="new-password" value={secret} onChange={(e) => setSecret(e.target.value)} data-testid="cp-secret" />
          </Field>
          <p className="inst-hint">{t.secretHint}</p>
        </>
      ) : (
        <>
          <Field id="cp-addresses" label={t.addresses}>
            <input id="cp-addresses" value={addresses} onChange={(e) => setAddresses(e.target.value)} placeholder="turno@comune.example" data-testid="cp-addresses" />
          </Field>
          {!email && <p className="inst-hint">{t.noEmail}</p>}
        </>
      )}
    </AdminForm>
  )
}

const outcomeClass = (d: DeliveryView) => (d.outcome === 'delivered' ? 'inst-badge inst-badge-active' : d.outcome === 'failed' ? 'inst-badge inst-badge-revoked' : 'inst-badge')

function ContactPointItem({ cp, onChanged }: { cp: ContactPointView; onChanged: (message: string) => void }) {
  const errorText = useErrorText()
  const t = useStrings(ADMIN_STRINGS).contacts
  const dateTime = useDateTime()
  const [log, setLog] = useState<DeliveryView[] | null>(null)
  const [error, setError] = useState('')
  const [testing, setTesting] = useState(false)
  const showLog = async () => {
    try {
      setLog((await adminApi.deliveries(cp.id)).items)
    } catch (e) {
      setError(errorText(e))
    }
  }
  const run = async (work: () => Promise<unknown>, message: string) => {
    setError('')
    try {
      await work()
      onChanged(message)
    } catch (e) {
      setError(errorText(e))
    }
  }
  const test = async () => {
    setTesting(true)
    setError('')
    try {
      const d = await adminApi.testContactPoint(cp.id)
      onChanged(d.outcome === 'delivered' ? t.testSent(cp.name) : t.testFailed(cp.name, d.error ?? d.outcome))
      await showLog()
    } catch (e) {
      setError(errorText(e))
    } finally {
      setTesting(false)
    }
  }
  return (
    <li className={`adm-user${cp.enabled ? '' : ' adm-disabled'}`} data-testid="cp-item" data-id={cp.id} data-kind={cp.kind}>
      <div className="adm-user-head">
        <strong>{cp.name}</strong>
        <span className="inst-badge">{cp.kind === 'webhook' ? t.webhook : t.email}</span>
        {!cp.enabled && <span className="inst-badge inst-badge-revoked">{t.disabled}</span>}
      </div>
      <p className="inst-hint">
        {cp.kind === 'webhook' ? `${cp.url} · ${cp.secret === 'own' ? t.signedOwn : t.signedDefault}` : cp.addresses.join(', ')}
      </p>
      <div className="inst-actions inst-actions-wrap">
        <button type="button" className="inst-secondary" onClick={test} disabled={testing} data-testid="cp-test">
          {testing ? t.sending : t.sendTest}
        </button>
        <button type="button" className="inst-secondary" onClick={() => (log ? setLog(null) : void showLog())} data-testid="cp-log-toggle">
          {log ? t.hideDeliveries : t.deliveries}
        </button>
        <button
          type="button"
          className="inst-secondary"
          data-testid="cp-toggle"
          onClick={() => run(() => adminApi.updateContactPoint(cp.id, { enabled: !cp.enabled }), cp.enabled ? t.disabledNotice(cp.name) : t.enabledNotice(cp.name))}
        >
          {cp.enabled ? t.disable : t.enable}
        </button>
        <ConfirmButton
          label={t.delete}
          confirmLabel={t.delete}
          question={t.deleteQuestion(cp.name)}
          danger
          testid="cp-delete"
          onConfirm={() => run(() => adminApi.deleteContactPoint(cp.id), t.deleted(cp.name))}
        />
      </div>
      <p className="error" role="alert">
        {error}
      </p>
      {log && (
        <ul className="adm-audit" data-testid="cp-log">
          {log.length === 0 && <li>{t.noDeliveries}</li>}
          {log.map((d) => (
            <li key={d.id} data-testid="cp-delivery" data-outcome={d.outcome} data-status={d.status}>
              <div className="adm-audit-head">
                <span className={outcomeClass(d)}>{d.outcome}</span>
                <span className="inst-badge">{d.status}</span>
                <small>{dateTime(Date.parse(d.startedAt))}</small>
                <small>
                  {t.attempts(d.attempts)}
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
