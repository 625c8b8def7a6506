import { useMemo, useRef, useState, type FormEvent } from 'react'
import type { User } from '../api/types.ts'
import { installerApi, errorMessage, type DeviceWithSecret, type MqttInfo, type RawConfig } from './api.ts'
import { ConnectionSheetView } from './ConnectionSheetView.tsx'
import { loadConfig, loadMqtt, useLoad } from './data.ts'
import { CITY_RADIUS_KM } from '../../../devices/region.ts'
import { LocationPicker, roundCoord } from './LocationPicker.tsx'
import { navigate, ROUTES } from './router.ts'
import { buildSheet } from './sheet.ts'
import { parseMetaValue } from './ui.tsx'

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

  if (config.state === 'error') return <p className="error" role="alert">Could not load the configuration: {config.message}</p>
  if (mqtt.state === 'error') return <p className="error" role="alert">Could not load the broker settings: {mqtt.message}</p>
  if (config.state !== 'ready' || mqtt.state !== 'ready') return <p className="loading" role="status">Loading…</p>

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
  return <ConnectionSheetView sheet={sheet} device={device} onDone={onDone} doneLabel="I saved it — start commissioning" />
}

function RegisterForm({ config, user, onCreated }: { config: RawConfig; user: User & { cities?: string[] }; onCreated: (d: DeviceWithSecret) => void }) {
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
    if (!navigator.geolocation) return fail('This browser cannot tell its position: tap the map or type the coordinates.')
    setLocating(true)
    navigator.geolocation.getCurrentPosition(
      (p) => {
        setLocating(false)
        setLocation({ lat: roundCoord(p.coords.latitude), lon: roundCoord(p.coords.longitude) })
      },
      (e) => {
        setLocating(false)
        fail(`No position from the phone (${e.message || 'denied'}): tap the map or type the coordinates.`)
      },
      { enableHighAccuracy: true, timeout: 15_000 },
    )
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (busy) return
    if (!name.trim()) return fail('Give the device a name, e.g. the street and number.', 'name')
    if (!location) return fail('Set where the device stands: tap the map, use your position, or type latitude and longitude.', 'location')
    const every = Number(interval)
    if (!validInterval(interval)) return fail('The reporting interval is a whole number of seconds from 1 to 86400.', 'interval')
    const metadata: Record<string, string | number | boolean> = {}
    for (const row of meta) {
      const key = row.key.trim()
      if (!key || !row.value.trim()) continue
      if (key in metadata) return fail(`The metadata key '${key}' appears twice.`)
      metadata[key] = parseMetaValue(row.value)
    }
    setBusy(true)
    setError({ message: '' })
    try {
      onCreated(await installerApi.register({ type, city: cityId, name: name.trim(), lat: location.lat, lon: location.lon, interval: every, metadata }))
    } catch (err) {
      fail(errorMessage(err))
      setBusy(false)
    }
  }

  return (
    <form className="inst-card inst-form" onSubmit={submit} noValidate data-testid="register-form" aria-labelledby="register-title">
      <h1 id="register-title">Register a device</h1>

      <label htmlFor="register-type">Type</label>
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
            {k.label}
          </option>
        ))}
      </select>
      {kind && <p className="inst-hint">Sends: {kind.fields.map((f) => `${f.name} (${f.unit})`).join(', ')}</p>}

      <label htmlFor="register-name">Name</label>
      <input id="register-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={120} placeholder="e.g. Viale Gramsci 12" autoComplete="off" data-testid="register-name" />

      <label htmlFor="register-city">City</label>
      <select id="register-city" value={cityId} onChange={(e) => setCityId(e.target.value)} data-testid="register-city">
        {allowedCities.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name} ({c.province})
          </option>
        ))}
      </select>

      <fieldset className="inst-fieldset">
        <legend>Location</legend>
        <p className="inst-hint">Tap the map where the device stands; drag the pin to adjust. The shaded circle is the city area within {CITY_RADIUS_KM} km of the centre of {city?.name}; zoom in with + to place the pin precisely.</p>
        <LocationPicker cities={config.cities} city={city} value={location} onChange={setLocation} baseMap={config.baseMap} testid="register-map" />
        <div className="inst-row">
          <div>
            <label htmlFor="register-lat">Latitude</label>
            <input id="register-lat" inputMode="decimal" value={lat} onChange={(e) => setLat(e.target.value.replace(',', '.'))} placeholder="43.7781" data-testid="register-lat" />
          </div>
          <div>
            <label htmlFor="register-lon">Longitude</label>
            <input id="register-lon" inputMode="decimal" value={lon} onChange={(e) => setLon(e.target.value.replace(',', '.'))} placeholder="11.2656" data-testid="register-lon" />
          </div>
        </div>
        <button type="button" className="inst-secondary" onClick={useMyPosition} disabled={locating} data-testid="register-locate">
          {locating ? 'Finding your position…' : 'Use my position'}
        </button>
      </fieldset>

      <label htmlFor="register-interval">Reports every (seconds)</label>
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
        <legend>Metadata</legend>
        <p className="inst-hint">Anything useful later: serial number, mounting height, firmware… Empty rows are left out.</p>
        {meta.map((row, i) => (
          <div className="inst-row inst-meta-row" key={i}>
            <input aria-label={`Metadata name ${i + 1}`} value={row.key} onChange={(e) => setMeta(meta.map((r, j) => (j === i ? { ...r, key: e.target.value } : r)))} placeholder="name" data-testid={`register-meta-key-${i}`} />
            <input aria-label={`Metadata value ${i + 1}`} value={row.value} onChange={(e) => setMeta(meta.map((r, j) => (j === i ? { ...r, value: e.target.value } : r)))} placeholder="value" data-testid={`register-meta-value-${i}`} />
            <button type="button" className="inst-icon" aria-label={`Remove metadata row ${i + 1}`} onClick={() => setMeta(meta.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        ))}
        <button type="button" className="inst-secondary" onClick={() => setMeta([...meta, { key: '', value: '' }])} data-testid="register-meta-add">
          Add metadata
        </button>
      </fieldset>

      <p ref={errorRef} className="error" role="alert" data-testid="register-error">
        {shownError}
      </p>
      <button type="submit" className="inst-primary" aria-disabled={busy} data-testid="register-submit">
        {busy ? 'Registering…' : 'Register and get the connection sheet'}
      </button>
    </form>
  )
}
