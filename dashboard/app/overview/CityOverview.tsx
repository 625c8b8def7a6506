import { memo, useEffect, useMemo, useState } from 'react'
import { useAlerts } from '../alerts/hooks.ts'
import { ops, type CityAirQuality } from '../api/ops.ts'
import type { AppConfig, Device } from '../api/types.ts'
import { live } from '../live/connection.ts'
import { HEALTH } from '../live/health.ts'
import { summarise, ON_TIME_S, type AreaSummary } from './summary.ts'

/** Recomputed on this beat, not per update: a glance panel need not move faster than the eye. */
const REFRESH_MS = 2000
const AIR_REFRESH_MS = 60_000

const fmt = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 })
const fmt1 = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 1 })

interface Props {
  config: AppConfig
  devices: readonly Device[]
  /** The city card the map is showing ('' region). */
  focused: string
  onFly: (city: string) => void
}

/** A panel per city and one for the whole region: what is wrong, and where, at a glance. */
export function CityOverview({ config, devices, focused, onFly }: Props) {
  const { active } = useAlerts()
  const [tick, setTick] = useState(0)
  const [airQuality, setAirQuality] = useState<ReadonlyMap<string, CityAirQuality>>(new Map())

  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), REFRESH_MS)
    return () => clearInterval(timer)
  }, [])

  useEffect(() => {
    let cancelled = false
    const load = () =>
      ops.airQuality().then(
        (r) => !cancelled && setAirQuality(new Map(r.items.map((c) => [c.city, c]))),
        () => {},
      )
    void load()
    const timer = setInterval(load, AIR_REFRESH_MS)
    return () => {
      cancelled = true
      clearInterval(timer)
    }
  }, [])

  const areas = useMemo(
    () =>
      summarise({
        cities: config.cities,
        devices,
        values: (id) => live.getDevice(id)?.values,
        health: (id) => live.getHealth(id),
        alerts: active,
        airQuality,
      }),
    // `tick` re-reads the live values on the beat.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [config, devices, active, airQuality, tick],
  )

  return (
    <section className="city-overview" aria-labelledby="overview-title" data-testid="city-overview">
      <h2 id="overview-title" className="visually-hidden">
        Cities at a glance
      </h2>
      <ul>
        {areas.map((a) => (
          <li key={a.id || 'region'}>
            <CityCard area={a} focused={focused === a.id} onFly={onFly} />
          </li>
        ))}
      </ul>
    </section>
  )
}

const CityCard = memo(function CityCard({ area, focused, onFly }: { area: AreaSummary; focused: boolean; onFly: (city: string) => void }) {
  const { air, traffic, parking, buses, devices, alerts } = area
  const active = alerts.open + alerts.acknowledged
  const label = [
    area.name,
    air.label ? `air ${air.label}${air.pollutant ? `, worst ${air.pollutant}` : ''}` : 'air quality unknown',
    `${devices.silent} silent, ${devices.late} late`,
    `${alerts.open} open alerts`,
  ].join('; ')
  return (
    <button
      type="button"
      className={`city-card${area.id ? '' : ' region'}${focused ? ' focused' : ''}${alerts.open ? ' alerting' : ''}`}
      onClick={() => onFly(area.id)}
      aria-label={`${label}. Show on the map`}
      aria-pressed={focused}
      data-testid="city-card"
      data-city={area.id || 'region'}
    >
      <span className="city-card-head">
        <span className="city-card-name">{area.name}</span>
        <span className={`alert-count${alerts.open ? ' open' : active ? ' acked' : ''}`} data-testid="city-alerts" data-open={alerts.open}>
          {alerts.open ? `⚠ ${alerts.open} open` : active ? `${active} ack’d` : 'No alerts'}
        </span>
      </span>
      <span className="kpis">
        <span className="kpi air" data-testid="city-air" data-level={air.level ?? ''}>
          <span className="kpi-label">Air</span>
          {air.label ? (
            <span className="kpi-value">
              <span className="chip" style={{ background: air.color!, color: air.ink! }}>
                {air.label}
              </span>
              {air.pollutant && <span className="kpi-sub">{air.pollutant}</span>}
              {air.indicative && (
                <span className="kpi-sub" title="No complete hour for the official index yet: the worst band of the latest readings">
                  (latest)
                </span>
              )}
            </span>
          ) : (
            <span className="kpi-value muted">{air.status === 'no-stations' ? 'No stations' : 'No index yet'}</span>
          )}
        </span>
        <span className="kpi">
          <span className="kpi-label">Traffic</span>
          <span className="kpi-value" data-testid="city-traffic">
            {traffic.occupancy === null ? (
              <span className="muted">—</span>
            ) : (
              <>
                {traffic.band} <span className="kpi-sub">{fmt.format(traffic.occupancy)} %{traffic.speed !== null && ` · ${fmt.format(traffic.speed)} km/h`}</span>
              </>
            )}
          </span>
        </span>
        <span className="kpi">
          <span className="kpi-label">Parking</span>
          <span className="kpi-value" data-testid="city-parking">
            {parking.areas === 0 ? (
              <span className="muted">—</span>
            ) : (
              <>
                {fmt.format(parking.free)} free <span className="kpi-sub">of {fmt.format(parking.total)}{parking.full ? ` · ${parking.full} full` : ''}</span>
              </>
            )}
          </span>
        </span>
        <span className="kpi">
          <span className="kpi-label">Buses</span>
          <span className="kpi-value" data-testid="city-buses">
            {buses.onTime === null ? (
              <span className="muted">—</span>
            ) : (
              <>
                {fmt.format(buses.onTime * 100)} % on time{' '}
                <span className="kpi-sub" title={`on time: at most ${ON_TIME_S / 60} min late`}>
                  avg {buses.meanDelay! >= 0 ? '+' : '−'}
                  {fmt1.format(Math.abs(buses.meanDelay!) / 60)} min
                </span>
              </>
            )}
          </span>
        </span>
      </span>
      <span className="device-states" data-testid="city-devices" data-live={devices.live} data-late={devices.late} data-silent={devices.silent}>
        <span className="st live" title="live">
          {HEALTH.live.symbol} {fmt.format(devices.live)} live
        </span>
        <span className={`st late${devices.late ? ' some' : ''}`} title="late">
          {HEALTH.late.symbol} {fmt.format(devices.late)} late
        </span>
        <span className={`st silent${devices.silent ? ' some' : ''}`} title="silent">
          {HEALTH.silent.symbol} {fmt.format(devices.silent)} silent
        </span>
      </span>
    </button>
  )
})
