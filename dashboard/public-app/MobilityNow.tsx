import { useEffect, useRef, useState, type ReactNode } from 'react'
import { io } from 'socket.io-client'
import type { DeviceType } from '../../devices/kinds.ts'
import type { LiveUpdate } from '../shared/realtime.ts'
import type { PublicCity } from './cities.ts'
import { formatNumber } from './i18n.ts'
import { type Lang } from '../i18n/lang.ts'
import { delayText, mobilityStrings, type MobilityStrings } from './mobility-i18n.ts'

/**
 * "Getting around now": the city's buses (route, delay, a schematic map that moves), car parks
 * (free spaces and their trend since the page opened) and bike-share docks (bikes and free docks),
 * live over the one public Socket.IO room family: `{ public: true, city, type }` for the three
 * types; the subscribe answers carry the current state, `update` messages the changes. Names come
 * once from the open-data feeds (parking JSON, GBFS station_information), which the live room does
 * not carry. Loaded lazily (with socket.io-client) when the section nears the viewport.
 */

const TYPES = ['bus', 'parking', 'bike-dock'] as const satisfies readonly DeviceType[]
type Live = Record<string, LiveUpdate>
type Trend = 'rising' | 'falling' | 'steady'

interface Names {
  parks: Record<string, string>
  docks: Record<string, string>
}

async function loadNames(city: string): Promise<Names> {
  const names: Names = { parks: {}, docks: {} }
  try {
    const parking = (await (await fetch(`/api/public/parking?city=${city}`)).json()) as { items: { id: string; name: string }[] }
    for (const p of parking.items) names.parks[p.id] = p.name
    const gbfs = (await (await fetch(`/api/public/gbfs/${city}/station_information.json`)).json()) as { data: { stations: { station_id: string; name: { text: string }[] }[] } }
    for (const s of gbfs.data.stations) names.docks[s.station_id] = s.name[0]?.text ?? s.station_id
  } catch {
    // Names are a nicety: without them the ids stand in.
  }
  return names
}

function useMobility(city: string) {
  const [live, setLive] = useState<Live>({})
  const [state, setState] = useState<'connecting' | 'live' | 'offline'>('connecting')
  const trends = useRef<Record<string, Trend>>({})

  useEffect(() => {
    setLive({})
    trends.current = {}
    const socket = io({ transports: ['websocket', 'polling'] })
    const apply = (updates: LiveUpdate[]) =>
      setLive((prev) => {
        const next = { ...prev }
        for (const u of updates) {
          if (u.city !== city) continue
          const before = prev[u.id]?.values.availableSpotNumber
          const after = u.values.availableSpotNumber
          if (typeof before === 'number' && typeof after === 'number' && before !== after) trends.current[u.id] = after > before ? 'rising' : 'falling'
          next[u.id] = u
        }
        return next
      })
    const subscribe = () => {
      for (const type of TYPES) {
        socket.emit('subscribe', { public: true, city, type }, (answer: { ok: boolean; snapshot?: LiveUpdate[] }) => {
          if (answer.ok && answer.snapshot) apply(answer.snapshot)
        })
      }
    }
    socket.on('connect', () => {
      setState('live')
      subscribe()
    })
    socket.on('disconnect', () => setState('offline'))
    socket.on('connect_error', () => setState('offline'))
    socket.on('resync', subscribe)
    socket.on('update', (message: { updates: LiveUpdate[] }) => apply(message.updates))
    return () => {
      socket.disconnect()
    }
  }, [city])
  return { live, state, trends: trends.current }
}

const num = (v: unknown) => (typeof v === 'number' ? v : undefined)

export default function MobilityNow({ city, lang }: { city: PublicCity; lang: Lang }) {
  const t = mobilityStrings(lang)
  const { live, state, trends } = useMobility(city.id)
  const [names, setNames] = useState<Names>({ parks: {}, docks: {} })
  const items = Object.values(live)
  const buses = items.filter((u) => u.type === 'bus').sort((a, b) => String(a.values.route).localeCompare(String(b.values.route), undefined, { numeric: true }) || a.id.localeCompare(b.id))
  const parks = items.filter((u) => u.type === 'parking')
  const docks = items.filter((u) => u.type === 'bike-dock')
  const known = `${parks.length}:${docks.length}`

  useEffect(() => {
    let stopped = false
    void loadNames(city.id).then((n) => !stopped && setNames(n))
    return () => {
      stopped = true
    }
  }, [city.id, known])

  return (
    <section className="card mobility" aria-labelledby="mobility-title" data-testid="mobility" data-state={state}>
      <h2 id="mobility-title">{t.title(city.name)}</h2>
      <p className="small" role="status" data-testid="mobility-state">
        {state === 'live' ? `● ${t.live}` : state === 'offline' ? t.offline : t.connecting}
      </p>
      <div className="mobility-grid">
        <div>
          <h3>{t.buses}</h3>
          <BusMap city={city} buses={buses} label={t.busesMap(city.name)} />
          <ListBox label={t.buses}>
            {buses.length === 0 ? (
              <p className="small">{t.noBuses}</p>
            ) : (
              <ul className="mobility-list" data-testid="buses" aria-live="polite">
                {buses.map((b) => {
                  const delay = num(b.values.delay)
                  return (
                    <li key={b.id} data-testid="bus" data-bus={b.id} data-delay={delay ?? ''}>
                      <strong>{t.route(String(b.values.route ?? '?'))}</strong> · <span data-testid="bus-delay">{delayText(lang, delay)}</span>
                    </li>
                  )
                })}
              </ul>
            )}
          </ListBox>
        </div>
        <div>
          <h3>{t.carParks}</h3>
          <ListBox label={t.carParks}>
            {parks.length === 0 ? <p className="small">{t.noCarParks}</p> : <ParkList parks={parks} names={names.parks} trends={trends} lang={lang} t={t} />}
          </ListBox>
        </div>
        <div>
          <h3>{t.bikes}</h3>
          <ListBox label={t.bikes}>
            {docks.length === 0 ? (
              <p className="small">{t.noBikes}</p>
            ) : (
              <ul className="mobility-list" data-testid="docks">
                {docks.map((d) => (
                  <li key={d.id} data-testid="dock" data-dock={d.id}>
                    <span>{names.docks[d.id] ?? d.id}</span> · <span data-testid="dock-counts">{t.bikesDocks(formatNumber(lang, num(d.values.availableBikeNumber) ?? 0), formatNumber(lang, num(d.values.freeSlotNumber) ?? 0))}</span>
                  </li>
                ))}
              </ul>
            )}
          </ListBox>
        </div>
      </div>
      <p className="small">
        <a href="/api/public/catalog">{t.feeds}</a>
      </p>
    </section>
  )
}

/**
 * A list that arrives and grows live, in a box of fixed height that scrolls: what comes later
 * (the snapshot, new buses) never changes the section's height, so nothing below it moves. A
 * focusable region, so the keyboard can scroll it too.
 */
function ListBox({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="mobility-box" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  )
}

function ParkList({ parks, names, trends, lang, t }: { parks: LiveUpdate[]; names: Record<string, string>; trends: Record<string, Trend>; lang: Lang; t: MobilityStrings }) {
  return (
    <ul className="mobility-list" data-testid="parks">
      {parks.map((p) => {
        const free = num(p.values.availableSpotNumber)
        const total = num(p.values.totalSpotNumber)
        const trend = trends[p.id] ?? 'steady'
        const arrow = trend === 'rising' ? '↑' : trend === 'falling' ? '↓' : '→'
        return (
          <li key={p.id} data-testid="park" data-park={p.id} data-free={free ?? ''} data-trend={trend}>
            <span>{names[p.id] ?? p.id}</span> ·{' '}
            <span data-testid="park-free">{free === undefined || total === undefined ? t.unknown : free === 0 ? t.full : t.free(formatNumber(lang, free), formatNumber(lang, total))}</span>{' '}
            <span aria-hidden="true">{arrow}</span>
            <span className="visually-hidden"> ({t[trend]})</span>
          </li>
        )
      })}
    </ul>
  )
}

/** The buses round the city centre (±3 km), as dots on a plain square: where they are and that they move; the list says the rest. */
function BusMap({ city, buses, label }: { city: PublicCity; buses: LiveUpdate[]; label: string }) {
  const spanLat = 3 / 111.32
  const spanLon = 3 / (111.32 * Math.cos((city.lat * Math.PI) / 180))
  const x = (lon: number) => 50 + ((lon - city.lon) / spanLon) * 50
  const y = (lat: number) => 50 - ((lat - city.lat) / spanLat) * 50
  return (
    <svg className="bus-map" viewBox="0 0 100 100" role="img" aria-label={label} data-testid="bus-map">
      <rect x="0" y="0" width="100" height="100" rx="4" className="bus-map-bg" />
      <circle cx="50" cy="50" r="2" className="bus-map-centre" />
      {buses.map((b) => {
        const lat = num(b.values.lat)
        const lon = num(b.values.lon)
        if (lat === undefined || lon === undefined) return null
        const cx = Math.min(98, Math.max(2, x(lon)))
        const cy = Math.min(98, Math.max(2, y(lat)))
        return (
          <g key={b.id} className="bus-dot" style={{ transform: `translate(${cx}px, ${cy}px)` }} data-testid="bus-dot" data-bus={b.id}>
            <circle r="3.2" />
            <text textAnchor="middle" dy="1.2">
              {String(b.values.route ?? '')}
            </text>
          </g>
        )
      })}
    </svg>
  )
}
