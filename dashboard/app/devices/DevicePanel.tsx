import { useEffect, useState } from 'react'
import { useAlerts } from '../alerts/hooks.ts'
import { AlertItem } from '../alerts/AlertsPanel.tsx'
import { api, toMillis } from '../api/client.ts'
import { ops, type DeadLetter } from '../api/ops.ts'
import type { AppConfig, Device, User } from '../api/types.ts'
import { live } from '../live/connection.ts'
import { formatAge, formatAgo, healthText } from '../live/health.ts'
import { useStrings } from '../../i18n/react.tsx'
import { appLocale } from '../locale.ts'
import { fieldLabel, tagLabel, unitLabel } from './kind-strings.ts'
import { DEVICE_STRINGS } from './strings.ts'
import { useDeviceConnection, useDeviceHealth, useDeviceState } from '../live/hooks.ts'
import { healthOf } from '../map/features.ts'
import { grade } from '../map/levels.ts'
import { DeviceChart } from './DeviceChart.tsx'
import { cityName, expectedLastHour, formatDateTime, formatTime, formatValue, typeLabel } from './format.ts'

interface Props {
  config: AppConfig
  /** The device as listed; details are refreshed from GET /api/devices/:id on open. */
  device: Device
  devices: readonly Device[]
  user: User
  onClose: () => void
}

/** Details of one device. Mount it with `key={device.id}` so its state starts fresh per device. */
export function DevicePanel({ config, device: listed, devices, user, onClose }: Props) {
  const [details, setDetails] = useState<Partial<Device>>({})
  const t = useStrings(DEVICE_STRINGS).panel
  const device: Device = { ...listed, ...details }
  const { id, type, city } = listed
  const state = useDeviceState(id)
  const healthInfo = useDeviceHealth(id)
  const health = healthOf(device, healthInfo)
  // The stream's `status` events are newer than the details fetched on open.
  const connection = useDeviceConnection(id)
  const connected = connection?.connected ?? device.connected
  const kind = config.kinds[type]
  const fields = Object.entries(kind?.fields ?? {})
  const { active } = useAlerts()
  const alerts = active.filter((a) => a.deviceId === id)
  const [now, setNow] = useState(Date.now())

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [])

  useEffect(() => {
    let cancelled = false
    // Fresh details (connected, lastSeen) and the latest reading, which seeds the live state
    // through the same path as the stream so a newer live value is never overwritten.
    api.device(id).then(
      (d) => !cancelled && setDetails(d),
      () => {},
    )
    api.latest(id).then(
      (latest) => {
        if (!cancelled && latest) live.ingest([{ id, type, city, time: latest.time, values: latest.values }])
      },
      () => {},
    )
    return () => {
      cancelled = true
    }
  }, [id, type, city])

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !(e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement)) onClose()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onClose])

  const g = grade(device.type, state?.values, device.status === 'active')
  const lastSeen = healthInfo?.lastSeen ?? state?.time ?? toMillis(device.lastSeen)
  // Tags (lane, route) and anything else the reading carries beyond the kind's fields.
  const extras = Object.entries(state?.values ?? {}).filter(([k]) => !kind?.fields[k])
  const canAck = user.role === 'operator' || user.role === 'admin'

  return (
    <aside className="device-panel" aria-labelledby="device-panel-title" data-testid="device-panel" data-device-id={device.id}>
      <header className="panel-header">
        <div>
          <h2 id="device-panel-title" data-testid="device-name">
            {device.name}
          </h2>
          <p className="panel-sub">
            <span data-testid="device-type">{typeLabel(config, device.type)}</span> · <span data-testid="device-city">{cityName(config, device.city)}</span> ·{' '}
            <code>{device.id}</code>
          </p>
        </div>
        <button type="button" className="close" onClick={onClose} aria-label={t.close} data-testid="device-panel-close">
          ×
        </button>
      </header>

      <div className="panel-status">
        <span className={`state-pill big ${health}`} data-testid="device-health" data-state={health}>
          <span aria-hidden="true">{healthText(health).symbol}</span> {healthText(health).label}
          {healthInfo && health !== 'live' && health !== 'inactive' && <small> {t.forAge(formatAge(now - healthInfo.since))}</small>}
        </span>
        <span className="level-chip" style={{ background: health === 'silent' ? '#9aa0a6' : g.color, color: g.ink }} data-testid="device-level">
          {g.text}
          {g.kind === 'level' && <small> · {g.detail}</small>}
        </span>
      </div>
      {health === 'silent' && <p className="stale-note">{t.staleNote(formatAgo(now - lastSeen))}</p>}

      {alerts.length > 0 && (
        <section className="panel-section" aria-label={t.activeAlerts}>
          <h3>{t.alerts}</h3>
          <ul className="alert-list compact">
            {alerts.map((a) => (
              <AlertItem key={a.id} alert={a} config={config} canAck={canAck} compact />
            ))}
          </ul>
        </section>
      )}

      <table className="values" data-testid="latest-values">
        <caption>
          {t.latestValues}
          {state && <span className="caption-time">{t.at(formatTime(state.time))}</span>}
        </caption>
        <tbody>
          {fields.map(([name, info]) => {
            const value = state?.values[name]
            return (
              <tr key={name} data-testid={`latest-value-${name}`} data-value={typeof value === 'number' ? value : ''}>
                <th scope="row">{fieldLabel(config, type, name)}</th>
                <td>{formatValue(value, unitLabel(info.unit))}</td>
              </tr>
            )
          })}
          {extras.map(([name, value]) => (
            <tr key={name} data-testid={`latest-value-${name}`} data-value={String(value ?? '')}>
              <th scope="row">{tagLabel(config, type, name)}</th>
              <td>{formatValue(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>

      {fields.length > 0 && <DeviceChart config={config} device={device} devices={devices} />}

      <DeviceHealthSection device={device} mainField={kind?.mainField} lastSeen={lastSeen} now={now} connected={connected} />

      <section className="panel-section" aria-label={t.about}>
        <h3>{t.device}</h3>
        <dl className="facts">
          <dt>{t.status}</dt>
          <dd data-testid="device-status">{t.statuses[device.status] ?? device.status}</dd>
          <dt>{t.reportsEvery}</dt>
          <dd>{formatAge(device.interval * 1000)}</dd>
          <dt>{t.location}</dt>
          <dd>
            {coordinate(device.lat)}, {coordinate(device.lon)}
          </dd>
          <dt>{t.registered}</dt>
          <dd>{t.registeredBy(formatDateTime(Date.parse(device.createdAt)), device.createdBy)}</dd>
          {Object.entries(device.metadata ?? {}).map(([k, v]) => (
            <MetaRow key={k} name={k} value={v} />
          ))}
        </dl>
      </section>
    </aside>
  )
}

const coordinate = (v: number) => v.toLocaleString(appLocale(), { minimumFractionDigits: 5, maximumFractionDigits: 5 })

function MetaRow({ name, value }: { name: string; value: string | number | boolean }) {
  return (
    <>
      <dt>{name}</dt>
      <dd data-testid={`device-meta-${name}`}>{String(value)}</dd>
    </>
  )
}

/** Last seen, readings per hour against what the interval promises, and refused payloads with why. */
function DeviceHealthSection({ device, mainField, lastSeen, now, connected }: { device: Device; mainField: string | undefined; lastSeen: number; now: number; connected: boolean | undefined }) {
  const [counts, setCounts] = useState<{ lastHour: number; perHour24: number } | null>(null)
  const [rejected, setRejected] = useState<DeadLetter[] | null>(null)
  const { expected, since } = expectedLastHour(device, now)
  const t = useStrings(DEVICE_STRINGS).panel

  useEffect(() => {
    let cancelled = false
    const t = Date.now()
    // Readings are counted by the kind's main field, the one (nearly) every reading carries.
    const field = mainField
    if (field) {
      const sum = (pts: { value: number }[]) => pts.reduce((n, p) => n + p.value, 0)
      Promise.all([ops.series(device.id, field, t - 3_600_000, t, '300s', 'count'), ops.series(device.id, field, t - 86_400_000, t, '3600s', 'count')]).then(
        ([hour, day]) => !cancelled && setCounts({ lastHour: sum(hour.points), perHour24: sum(day.points) / 24 }),
        () => {},
      )
    }
    ops.deadLetters(device.id, 10).then(
      (r) => !cancelled && setRejected(r.items),
      () => !cancelled && setRejected([]),
    )
    return () => {
      cancelled = true
    }
  }, [device.id, mainField])

  return (
    <section className="panel-section" aria-label={t.health} data-testid="device-health-section">
      <h3>{t.health}</h3>
      <dl className="facts">
        <dt>{t.connection}</dt>
        <dd data-testid="device-connected" data-connected={connected === undefined ? 'unknown' : String(connected)}>
          {connected === undefined ? t.unknown : connected ? t.connected : t.notConnected}
        </dd>
        <dt>{t.lastReading}</dt>
        <dd data-testid="device-last-seen">{Number.isFinite(lastSeen) ? `${formatDateTime(lastSeen)} (${formatAgo(now - lastSeen)})` : t.noneYet}</dd>
        <dt>{t.readingsLastHour}</dt>
        <dd data-testid="device-readings-per-hour">
          {counts ? (
            <>
              {counts.lastHour}{' '}
              <span className="muted">
                {t.ofExpected(expected)}
                {since !== undefined && t.registeredAgo(formatAgo(now - since))}
              </span>
            </>
          ) : (
            '…'
          )}
        </dd>
        <dt>{t.perHour24}</dt>
        <dd>{counts ? counts.perHour24.toLocaleString(appLocale(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }) : '…'}</dd>
      </dl>
      <h4>{t.rejected}</h4>
      {rejected === null ? (
        <p className="muted">{t.loading}</p>
      ) : rejected.length === 0 ? (
        <p className="muted" data-testid="device-rejected-none">
          {t.noneRecently}
        </p>
      ) : (
        <ul className="rejected" data-testid="device-rejected">
          {rejected.map((r, i) => (
            <li key={`${r.receivedAt}-${i}`}>
              <span className="rejected-time">{formatDateTime(r.receivedAt)}</span> <code>{r.code}</code>
              <span className="rejected-reason">{r.reason}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
