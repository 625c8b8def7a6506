import { useMemo, useRef, useState, type FormEvent } from 'react'
import type { User } from '../api/types.ts'
import { installerApi, type DeviceWithSecret, type MqttInfo, type RawConfig } from './api.ts'
import { ConnectionSheetView } from './ConnectionSheetView.tsx'
import { loadConfig, loadMqtt, useLoad } from './data.ts'
import { CITY_RADIUS_KM } from '../../../devices/region.ts'
import { LocationPicker, roundCoord } from './LocationPicker.tsx'
import { navigate, ROUTES } from './router.ts'
import { buildSheet } from './sheet.ts'
import { parseMetaValue } from './ui.tsx'
import { useStrings } from '../../i18n/react.tsx'
import { fieldLabelOr, typeLabelOr, unitLabel } from '../devices/kind-strings.ts'
import { INSTALLER_STRINGS } from './strings.ts'
import { useErrorText } from '../api/error-text.ts'

/**
 * Register a device on the street corner: type, name, city, where it stands (tap the map, use the
 * phone's position, or type coordinates), how often it reports, and free metadata. On success the
 * connection sheet with the secret is shown once, then the commissioning view.
 */

interface MetaRow {
  key: string
  value: string
}

/** The form's own checks that name one field. */
type CheckedField = 'name' | 'location' | 'interval'

const validInterval = (text: string) => {
  const every = Number(text)
  return text.trim() !== '' && Number.isInteger(every) && every >= 1 && every <= 86400
}

const SUGGESTED_META: MetaRow[] = [
  { key: 'serial', value: '' },
  { key: 'mounting_height_m', value: '' },
]

export function RegisterPage({ user }: { user: User & { cities?: string[] } }) {
  const [config] = useLoad(loadConfig)
  const [mqtt] = useLoad(loadMqtt)
  const [created, setCreated] = useState<DeviceWithSecret | null>(null)
  const t = useStrings(INSTALLER_STRINGS).register

  if (config.state === 'error')
    return (
      <p className="error" role="alert">
        {t.configError} {config.message}
      </p>
    )
  if (mqtt.state === 'error')
    return (
      <p className="error" role="alert">
        {t.mqttError} {mqtt.message}
      </p>
    )
  if (config.state !== 'ready' || mqtt.state !== 'ready')
    return (
      <p className="loading" role="status">
        {t.loading}
      </p>
    )

  if (created) {
    const device = { id: created.id, type: created.type, name: created.name, city: created.city }
    return (
      <SheetFor
        device={device}
        secret={created.secret}
        mqtt={mqtt.value}
        // Leaving the page drops the secret with it; the form is not shown again on the way out.
        onDone={() => navigate(ROUTES.device(device.id))}
      />
    )
  }
  return <RegisterForm config={config.value} user={user} onCreated={setCreated} />
}

function SheetFor({ device, secret, mqtt, onDone }: { device: { id: string; type: string; name: string; city: string }; secret: string; mqtt: MqttInfo; onDone: () => void }) {
  const sheet = useMemo(() => buildSheet({ device, secret, mqtt, fallbackHost: window.location.hostname }), [device, secret, mqtt])
  const t = useStrings(INSTALLER_STRINGS).register
  return <ConnectionSheetView sheet={sheet} device={device} onDone={onDone} doneLabel={t.startCommissioning} />
}

function RegisterForm({ config, user, onCreated }: { config: RawConfig; user: User & { cities?: string[] }; onCreated: (d: DeviceWithSecret) => void }) {
  const errorText = useErrorText()
  const allowedCities = user.role === 'installer' && user.cities?.length ? config.cities.filter((c) => user.cities!.includes(c.id)) : config.cities
  const [type, setType] = useState(config.kinds[0]?.type ?? '')
  const [name, setName] = useState('')
  const [cityId, setCityId] = useState(allowedCities[0]?.id ?? '')
  const [lat, setLat] = useState('')
  const [lon, setLon] = useState('')
  const [interval, setInterval] = useState(String(config.kinds[0]?.defaultInterval ?? 60))
  const [intervalTouched, setIntervalTouched] = useState(false)
  const [meta, setMeta] = useState<MetaRow[]>(SUGGESTED_META)
  const [error, setError] = useState<{ message: string; field?: CheckedField }>({ message: '' })
  const [locating, setLocating] = useState(false)
  const [busy, setBusy] = useState(false)
  const errorRef = useRef<HTMLParagraphElement>(null)
  const t = useStrings(INSTALLER_STRINGS).register

  const kind = config.kinds.find((k) => k.type === type)
  const city = config.cities.find((c) => c.id === cityId)
  const latNum = Number(lat)
  const lonNum = Number(lon)
  const location = lat.trim() !== '' && lon.trim() !== '' && Number.isFinite(latNum) && Number.isFinite(lonNum) ? { lat: latNum, lon: lonNum } : undefined

  const setLocation = (v: { lat: number; lon: number }) => {
    setLat(String(v.lat))
    setLon(String(v.lon))
  }

  // A check's message goes as soon as its field is fixed: a stale one reads as still wrong.
  const fieldOk: Record<CheckedField, boolean> = { name: name.trim() !== '', location: location !== undefined, interval: validInterval(interval) }
  const shownError = error.field && fieldOk[error.field] ? '' : error.message

  const fail = (message: string, field?: CheckedField) => {
    setError({ message, field })
    requestAnimationFrame(() => errorRef.current?.scrollIntoView({ block: 'center' }))
  }

  const useMyPosition = () => {
    if (!navigator.geolocation) return fail(t.noGeolocation)
    setLocating(true)
    navigator.geolocation.getCurrentPosition(
      (p) => {
        setLocating(false)
        setLocation({ lat: roundCoord(p.coords.latitude), lon: roundCoord(p.coords.longitude) })
      },
      (e) => {
        setLocating(false)
        fail(t.noPosition(e.message || t.denied))
      },
      { enableHighAccuracy: true, timeout: 15_000 },
    )
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (busy) return
    if (!name.trim()) return fail(t.needName, 'name')
    if (!location) return fail(t.needLocation, 'location')
    const every = Number(interval)
    if (!validInterval(interval)) return fail(t.badInterval, 'interval')
    const metadata: Record<string, string | number | boolean> = {}
    for (const row of meta) {
      const key = row.key.trim()
      if (!key || !row.value.trim()) continue
      if (key in metadata) return fail(t.duplicateKey(key))
      metadata[key] = parseMetaValue(row.value)
    }
    setBusy(true)
    setError({ message: '' })
    try {
      onCreated(await installerApi.register({ type, city: cityId, name: name.trim(), lat: location.lat, lon: location.lon, interval: every, metadata }))
    } catch (err) {
      fail(errorText(err))
      setBusy(false)
    }
  }

  return (
    <form className="inst-card inst-form" onSubmit={submit} noValidate data-testid="register-form" aria-labelledby="register-title">
      <h1 id="register-title">{t.title}</h1>

      <label htmlFor="register-type">{t.type}</label>
      <select
        id="register-type"
        value={type}
        data-testid="register-type"
        onChange={(e) => {
          setType(e.target.value)
          const k = config.kinds.find((x) => x.type === e.target.value)
          if (k && !intervalTouched) setInterval(String(k.defaultInterval))
        }}
      >
        {config.kinds.map((k) => (
          <option key={k.type} value={k.type}>
            {typeLabelOr(k.type, k.label)}
          </option>
        ))}
      </select>
      {kind && (
        <p className="inst-hint">
          {t.sends} {kind.fields.map((f) => `${fieldLabelOr(f.name, f.name)} (${unitLabel(f.unit)})`).join(', ')}
        </p>
      )}

      <label htmlFor="register-name">{t.name}</label>
      <input id="register-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={120} placeholder={t.namePlaceholder} autoComplete="off" data-testid="register-name" />

      <label htmlFor="register-city">{t.city}</label>
      <select id="register-city" value={cityId} onChange={(e) => setCityId(e.target.value)} data-testid="register-city">
        {allowedCities.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name} ({c.province})
          </option>
        ))}
      </select>

      <fieldset className="inst-fieldset">
        <legend>{t.location}</legend>
        <p className="inst-hint">{t.locationHint(CITY_RADIUS_KM, city?.name ?? '')}</p>
        <LocationPicker cities={config.cities} city={city} value={location} onChange={setLocation} baseMap={config.baseMap} testid="register-map" />
        <div className="inst-row">
          <div>
            <label htmlFor="register-lat">{t.latitude}</label>
            <input id="register-lat" inputMode="decimal" value={lat} onChange={(e) => setLat(e.target.value.replace(',', '.'))} placeholder="43.7781" data-testid="register-lat" />
          </div>
          <div>
            <label htmlFor="register-lon">{t.longitude}</label>
            <input id="register-lon" inputMode="decimal" value={lon} onChange={(e) => setLon(e.target.value.replace(',', '.'))} placeholder="11.2656" data-testid="register-lon" />
          </div>
        </div>
        <button type="button" className="inst-secondary" onClick={useMyPosition} disabled={locating} data-testid="register-locate">
          {locating ? t.locating : t.useMyPosition}
        </button>
      </fieldset>

      <label htmlFor="register-interval">{t.interval}</label>
      <input
        id="register-interval"
        inputMode="numeric"
        value={interval}
        onChange={(e) => {
          setInterval(e.target.value)
          setIntervalTouched(true)
        }}
        data-testid="register-interval"
      />

      <fieldset className="inst-fieldset">
        <legend>{t.metadata}</legend>
        <p className="inst-hint">{t.metadataHint}</p>
        {meta.map((row, i) => (
          <div className="inst-row inst-meta-row" key={i}>
            <input aria-label={t.metaName(i + 1)} value={row.key} onChange={(e) => setMeta(meta.map((r, j) => (j === i ? { ...r, key: e.target.value } : r)))} placeholder={t.metaNamePlaceholder} data-testid={`register-meta-key-${i}`} />
            <input aria-label={t.metaValue(i + 1)} value={row.value} onChange={(e) => setMeta(meta.map((r, j) => (j === i ? { ...r, value: e.target.value } : r)))} placeholder={t.metaValuePlaceholder} data-testid={`register-meta-value-${i}`} />
            <button type="button" className="inst-icon" aria-label={t.removeMeta(i + 1)} onClick={() => setMeta(meta.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        ))}
        <button type="button" className="inst-secondary" onClick={() => setMeta([...meta, { key: '', value: '' }])} data-testid="register-meta-add">
          {t.addMeta}
        </button>
      </fieldset>

      <p ref={errorRef} className="error" role="alert" data-testid="register-error">
        {shownError}
      </p>
      <button type="submit" className="inst-primary" aria-disabled={busy} data-testid="register-submit">
        {busy ? t.registering : t.submit}
      </button>
    </form>
  )
}
