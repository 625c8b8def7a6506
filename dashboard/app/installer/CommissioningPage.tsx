import { useEffect, useMemo, useState, type FormEvent } from 'react'
import type { User } from '../api/types.ts'
import { installerApi, type CommissioningState, type DeviceWithSecret, type RawConfig, type Stage } from './api.ts'
import { ConnectionSheetView } from './ConnectionSheetView.tsx'
import { loadConfig, loadMqtt, useLoad } from './data.ts'
import { Link, ConfirmButton, StatusBadge, ago, formatClock, parseMetaValue } from './ui.tsx'
import { ROUTES } from './router.ts'
import { buildSheet } from './sheet.ts'
import { bannerFor } from './banner.ts'
import { useStrings } from '../../i18n/react.tsx'
import { fieldLabelOr, typeLabelOr, unitLabel } from '../devices/kind-strings.ts'
import { COMMISSIONING_STRINGS } from './commissioning-strings.ts'
import { useCheckWords } from './check-words.ts'
import { appLocale } from '../locale.ts'
import { live } from '../live/connection.ts'
import { useErrorText } from '../api/error-text.ts'
import { ApiError } from '../api/client.ts'

/**
 * One device being commissioned, live: waiting for the first connection → connected → first
 * reading (with its values) → plausible. Refused payloads appear at once with their exact reason.
 * From here the device's secret can be rotated, the device revoked, decommissioned or edited.
 *
 * Updates come over the tab's one Socket.IO connection (live/connection.ts `watchCommissioning`,
 * `commissioning:watch`); while the stream is down the page asks the API every few seconds instead.
 */

type LiveState = 'connecting' | 'live' | 'polling'
const POLL_MS = 5000

/** Milestones: reached (done), the one being waited for (current), later ones (todo). */
const STEPS: { stage: Stage; testid: string }[] = [
  { stage: 'waiting', testid: 'step-registered' },
  { stage: 'connected', testid: 'step-connected' },
  { stage: 'receiving', testid: 'step-reading' },
  { stage: 'plausible', testid: 'step-plausible' },
]
const ORDER: Record<Stage, number> = { waiting: 0, connected: 1, receiving: 2, plausible: 3, revoked: -1, decommissioned: -1 }


const CHECKS: (keyof CommissioningState['checks'])[] = ['connection', 'reading', 'values', 'location', 'interval']

function useCommissioning(id: string, onSessionEnd: () => void) {
  const errorText = useErrorText()
  const [state, setState] = useState<CommissioningState | null>(null)
  const [error, setError] = useState<{ status: number; message: string } | null>(null)
  const [liveState, setLive] = useState<LiveState>('connecting')

  useEffect(() => {
    let stopped = false
    let poll: ReturnType<typeof setInterval> | undefined
    const refresh = () =>
      installerApi.commissioning(id).then(
        (s) => !stopped && setState(s),
        (e: unknown) => !stopped && setError({ status: (e as { status?: number }).status ?? 0, message: errorText(e) }),
      )
    const startPolling = () => {
      if (poll || stopped) return
      setLive('polling')
      poll = setInterval(refresh, POLL_MS)
    }
    const stopPolling = () => {
      clearInterval(poll)
      poll = undefined
    }
    void refresh()
    // The tab's one socket (live/connection.ts): opened here when the dashboard has not already.
    live.connect()
    const unwatch = live.watchCommissioning(
      id,
      (s) => !stopped && setState(s),
      (answer) => {
        if (stopped) return
        if (answer.ok) {
          stopPolling()
          setLive('live')
        } else if (answer.error.status === 401) onSessionEnd()
        else {
          const { message, status, code, words } = answer.error
          setError({ status, message: errorText(new ApiError(message, status, code, undefined, words)) })
        }
      },
    )
    // While the stream is down (or refused), the API every few seconds instead.
    const onStatus = () => {
      if (stopped) return
      const { state: stream } = live.getStatus()
      if (stream === 'expired') onSessionEnd()
      else if (stream === 'reconnecting' || stream === 'error') startPolling()
    }
    const unsubscribe = live.subscribe(onStatus)
    onStatus()
    return () => {
      stopped = true
      stopPolling()
      unsubscribe()
      unwatch()
    }
  }, [id, onSessionEnd])
  return { state, setState, error, live: liveState }
}

export function CommissioningPage({ id, user, onSessionEnd }: { id: string; user: User; onSessionEnd: () => void }) {
  const errorText = useErrorText()
  const [config] = useLoad(loadConfig)
  const { state, error, live } = useCommissioning(id, onSessionEnd)
  const [rotated, setRotated] = useState<DeviceWithSecret | null>(null)
  const [editing, setEditing] = useState(false)
  const [actionError, setActionError] = useState('')
  const [, tick] = useState(0)
  const t = useStrings(COMMISSIONING_STRINGS)
  const checkWords = useCheckWords()
  // Keeps "12 s ago" current.
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 5000)
    return () => clearInterval(timer)
  }, [])

  if (error && !state) {
    return (
      <section className="inst-card">
        <p className="error" role="alert" data-testid="commissioning-error">
          {error.status === 403 ? t.notYours : error.status === 404 ? t.noSuch : ''}
          {error.message}
        </p>
        <Link to={ROUTES.devices}>{t.back}</Link>
      </section>
    )
  }
  if (!state || config.state !== 'ready') return <p className="loading" role="status">
        {t.loading}
      </p>

  if (rotated) return <RotatedSheet device={rotated} onDone={() => setRotated(null)} />

  const d = state.device
  const kind = config.value.kinds.find((k) => k.type === d.type)
  const canManage = user.role === 'admin' || user.role === 'installer'
  const active = d.status === 'active'
  const act = async (work: () => Promise<unknown>) => {
    setActionError('')
    try {
      await work()
    } catch (e) {
      setActionError(errorText(e))
    }
  }
  const stageIndex = ORDER[state.stage]
  const banner = bannerFor(state, Date.now())

  return (
    <div className="inst-stack" data-testid="commissioning" data-device-id={d.id}>
      <section className="inst-card">
        <div className="inst-title-row">
          <h1 data-testid="commissioning-name">{d.name}</h1>
          <StatusBadge status={d.status} />
        </div>
        <p className="inst-sub">
          <code>{d.id}</code> · {typeLabelOr(d.type, kind?.label)} · {d.cityName} · {t.every(d.interval)}
        </p>
        <p
          className={`inst-stage inst-stage-${banner.refused ? 'refused' : banner.silent ? 'silent' : state.stage}`}
          role="status"
          aria-live="polite"
          data-testid="commissioning-stage"
          data-stage={state.stage}
          data-silent={banner.silent}
          data-refused={banner.refused}
        >
          {banner.text}
        </p>
        <ol className="inst-steps" data-testid="commissioning-steps">
          {STEPS.map((step, i) => {
            const status = stageIndex < 0 ? (i === 0 ? 'done' : 'todo') : i <= stageIndex ? 'done' : i === stageIndex + 1 ? 'current' : 'todo'
            return (
              <li key={step.stage} data-state={status} data-testid={step.testid}>
                <span className="inst-step-dot" aria-hidden="true">
                  {status === 'done' ? '✓' : i + 1}
                </span>
                <span>{t.steps[step.stage]}</span>
              </li>
            )
          })}
        </ol>
        <p className="inst-live" data-testid="commissioning-live" data-state={live}>
          <span className="dot" aria-hidden="true" />
          {live === 'live' ? t.live : live === 'connecting' ? t.connecting : t.polling(POLL_MS / 1000)}
          {' · '}
          {state.connected ? t.deviceConnected : state.disconnectedAt ? t.deviceDisconnected(ago(state.disconnectedAt)) : t.deviceNotConnected}
        </p>
      </section>

      <section className="inst-card" aria-labelledby="rejections-title">
        <h2 id="rejections-title">
          {t.refused} <span className="inst-count">{state.rejected}</span>
        </h2>
        {state.rejections.length === 0 ? (
          <p className="inst-hint" data-testid="rejections-empty">
            {t.noneSoFar}
          </p>
        ) : (
          <ul className="inst-rejections" data-testid="commissioning-rejections">
            {state.rejections.map((r, i) => (
              <li key={`${r.at}-${i}`} data-testid="rejection" data-code={r.code}>
                <span className="inst-rejection-reason">{r.reason}</span>
                <span className="inst-rejection-meta">
                  {formatClock(r.at)} · {r.code}
                  {r.index !== undefined ? t.readingOfBatch(r.index + 1) : ''}
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="inst-card" aria-labelledby="reading-title">
        <h2 id="reading-title">{t.latest}</h2>
        {state.lastReading ? (
          <>
            <p className="inst-hint" data-testid="commissioning-accepted" data-count={state.accepted}>
              {t.deviceTime(formatClock(state.lastReading.time), ago(state.lastReading.receivedAt), state.accepted)}
            </p>
            <table className="inst-values" data-testid="commissioning-values">
              <tbody>
                {Object.entries(state.lastReading.values).map(([name, value]) => {
                  const field = kind?.fields.find((f) => f.name === name)
                  const tag = kind?.tags.find((t) => t.name === name)
                  return (
                    <tr key={name} data-testid={`commissioning-value-${name}`} data-value={String(value)}>
                      <th scope="row">{field ? fieldLabelOr(name, field.label) : (tag?.label ?? name)}</th>
                      <td>
                        {typeof value === 'number' ? value.toLocaleString(appLocale()) : String(value)} {unitLabel(field?.unit) ?? ''}
                      </td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </>
        ) : (
          <p className="inst-hint">{t.noReading}</p>
        )}
      </section>

      <section className="inst-card" aria-labelledby="checks-title">
        <h2 id="checks-title">{t.checksTitle}</h2>
        <ul className="inst-checks">
          {CHECKS.map((key) => (
            <li key={key} className={`inst-check inst-check-${state.checks[key].state}`} data-testid={`check-${key}`} data-state={state.checks[key].state}>
              <span className="inst-check-icon" aria-hidden="true">
                {{ ok: '✓', warn: '!', fail: '✕', pending: '…' }[state.checks[key].state]}
              </span>
              <span>
                <strong>{t.checks[key]}</strong> {checkWords(state.checks[key])}
              </span>
            </li>
          ))}
        </ul>
      </section>

      {canManage && (
        <section className="inst-card" aria-labelledby="actions-title">
          <h2 id="actions-title">{t.device}</h2>
          {editing ? (
            <EditDevice
              config={config.value}
              state={state}
              onDone={() => setEditing(false)}
              onSaved={() => {
                setEditing(false)
              }}
            />
          ) : (
            <div className="inst-actions inst-actions-wrap">
              <button type="button" className="inst-secondary" onClick={() => setEditing(true)} disabled={d.status === 'decommissioned'} data-testid="action-edit">
                {t.edit}
              </button>
              <ConfirmButton
                label={t.rotate}
                confirmLabel={t.rotateConfirm}
                question={t.rotateQuestion}
                testid="action-rotate"
                disabled={!active}
                onConfirm={() => act(async () => setRotated(await installerApi.rotate(d.id)))}
              />
              <ConfirmButton
                label={t.revoke}
                confirmLabel={t.revokeConfirm}
                question={t.revokeQuestion}
                testid="action-revoke"
                danger
                disabled={!active}
                onConfirm={() => act(() => installerApi.revoke(d.id))}
              />
              <ConfirmButton
                label={t.decommission}
                confirmLabel={t.decommissionConfirm}
                question={t.decommissionQuestion}
                testid="action-decommission"
                danger
                disabled={d.status === 'decommissioned'}
                onConfirm={() => act(() => installerApi.decommission(d.id))}
              />
            </div>
          )}
          <p className="error" role="alert" data-testid="action-error">
            {actionError}
          </p>
        </section>
      )}
      <p>
        <Link to={ROUTES.devices}>{t.allDevices}</Link>
      </p>
    </div>
  )
}

function RotatedSheet({ device, onDone }: { device: DeviceWithSecret; onDone: () => void }) {
  const [mqtt] = useLoad(loadMqtt)
  const sheetDevice = useMemo(() => ({ id: device.id, type: device.type, name: device.name, city: device.city }), [device])
  const t = useStrings(COMMISSIONING_STRINGS)
  if (mqtt.state === 'error')
    return (
      <p className="error">
        {t.mqttError} {mqtt.message}
      </p>
    )
  if (mqtt.state !== 'ready') return <p className="loading">{t.loadingShort}</p>
  const sheet = buildSheet({ device: sheetDevice, secret: device.secret, mqtt: mqtt.value, fallbackHost: window.location.hostname })
  return <ConnectionSheetView sheet={sheet} device={sheetDevice} onDone={onDone} doneLabel={t.backToCommissioning} rotated />
}

function EditDevice({ config, state, onDone, onSaved }: { config: RawConfig; state: CommissioningState; onDone: () => void; onSaved: () => void }) {
  const errorText = useErrorText()
  const d = state.device
  const [name, setName] = useState(d.name)
  const [lat, setLat] = useState(String(d.lat))
  const [lon, setLon] = useState(String(d.lon))
  const [interval, setInterval] = useState(String(d.interval))
  const [meta, setMeta] = useState('')
  const [loadedMeta, setLoadedMeta] = useState(false)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const t = useStrings(COMMISSIONING_STRINGS)

  useEffect(() => {
    installerApi.device(d.id).then(
      (device) => {
        setMeta(
          Object.entries(device.metadata)
            .map(([k, v]) => `${k}=${v}`)
            .join('\n'),
        )
        setLoadedMeta(true)
      },
      (e: unknown) => setError(errorText(e)),
    )
  }, [d.id])

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const metadata: Record<string, string | number | boolean> = {}
    for (const line of meta.split('\n')) {
      if (!line.trim()) continue
      const at = line.indexOf('=')
      if (at <= 0) return setError(t.metaFormat(line.trim()))
      metadata[line.slice(0, at).trim()] = parseMetaValue(line.slice(at + 1))
    }
    setBusy(true)
    setError('')
    try {
      await installerApi.update(d.id, { name: name.trim(), lat: Number(lat), lon: Number(lon), interval: Number(interval), ...(loadedMeta ? { metadata } : {}) })
      onSaved()
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="inst-form" onSubmit={submit} noValidate data-testid="edit-form">
      <label htmlFor="edit-name">{t.name}</label>
      <input id="edit-name" value={name} onChange={(e) => setName(e.target.value)} data-testid="edit-name" />
      <div className="inst-row">
        <div>
          <label htmlFor="edit-lat">{t.latitude}</label>
          <input id="edit-lat" inputMode="decimal" value={lat} onChange={(e) => setLat(e.target.value)} data-testid="edit-lat" />
        </div>
        <div>
          <label htmlFor="edit-lon">{t.longitude}</label>
          <input id="edit-lon" inputMode="decimal" value={lon} onChange={(e) => setLon(e.target.value)} data-testid="edit-lon" />
        </div>
      </div>
      <label htmlFor="edit-interval">{t.interval}</label>
      <input id="edit-interval" inputMode="numeric" value={interval} onChange={(e) => setInterval(e.target.value)} data-testid="edit-interval" />
      <label htmlFor="edit-meta">{t.metadata}</label>
      <textarea id="edit-meta" rows={3} value={meta} onChange={(e) => setMeta(e.target.value)} data-testid="edit-meta" disabled={!loadedMeta} />
      <p className="inst-hint">{t.fixed(config.cities.find((c) => c.id === d.city)?.name ?? d.city)}</p>
      <p className="error" role="alert" data-testid="edit-error">
        {error}
      </p>
      <div className="inst-actions">
        <button type="button" className="inst-secondary" onClick={onDone}>
          {t.cancel}
        </button>
        <button type="submit" aria-disabled={busy} data-testid="edit-save">
          {busy ? t.saving : t.save}
        </button>
      </div>
    </form>
  )
}
