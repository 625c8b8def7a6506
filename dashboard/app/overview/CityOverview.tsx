import { memo, useEffect, useMemo, useState } from 'react'
import { useAlerts } from '../alerts/hooks.ts'
import { ops, type CityAirQuality } from '../api/ops.ts'
import type { AppConfig, Device } from '../api/types.ts'
import { live } from '../live/connection.ts'
import { healthText } from '../live/health.ts'
import { useLang } from '../../i18n/react.tsx'
import { cachedPerLocale } from '../locale.ts'
import { OVERVIEW_STRINGS } from './strings.ts'
import { summarise, ON_TIME_S, type AreaSummary } from './summary.ts'

/** Recomputed on this beat, not per update: a glance panel need not move faster than the eye. */
const REFRESH_MS = 2000
const AIR_REFRESH_MS = 60_000

const formats = cachedPerLocale((locale) => [0, 1].map((digits) => new Intl.NumberFormat(locale, { maximumFractionDigits: digits })))

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
  const { lang } = useLang()
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
    [config, devices, active, airQuality, tick, lang],
  )

  return (
    <section className="city-overview" aria-labelledby="overview-title" data-testid="city-overview">
      <h2 id="overview-title" className="visually-hidden">
        {OVERVIEW_STRINGS[lang].heading}
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
  const t = OVERVIEW_STRINGS[useLang().lang]
  const [fmt, fmt1] = formats() as [Intl.NumberFormat, Intl.NumberFormat]
  const active = alerts.open + alerts.acknowledged
  const label = [
    area.name,
    air.label ? t.airLabel(air.label, air.pollutant) : t.airUnknown,
    t.silentLate(devices.silent, devices.late),
    t.openAlerts(alerts.open),
  ].join('; ')
  return (
    <button
      type="button"
      className={`city-card${area.id ? '' : ' region'}${focused ? ' focused' : ''}${alerts.open ? ' alerting' : ''}`}
      onClick={() => onFly(area.id)}
      aria-label={t.showOnMap(label)}
      aria-pressed={focused}
      data-testid="city-card"
      data-city={area.id || 'region'}
    >
      <span className="city-card-head">
        <span className="city-card-name">{area.name}</span>
        <span className={`alert-count${alerts.open ? ' open' : active ? ' acked' : ''}`} data-testid="city-alerts" data-open={alerts.open}>
          {alerts.open ? `⚠ ${t.open(alerts.open)}` : active ? t.acked(active) : t.noAlerts}
        </span>
      </span>
      <span className="kpis">
        <span className="kpi air" data-testid="city-air" data-level={air.level ?? ''}>
          <span className="kpi-label">{t.air}</span>
          {air.label ? (
            <span className="kpi-value">
              <span className="chip" style={{ background: air.color!, color: air.ink! }}>
                {air.label}
              </span>
              {air.pollutant && <span className="kpi-sub">{air.pollutant}</span>}
              {air.indicative && (
                <span className="kpi-sub" title={t.latestTitle}>
                  {t.latest}
                </span>
              )}
            </span>
          ) : (
            <span className="kpi-value muted">{air.status === 'no-stations' ? t.noStations : t.noIndex}</span>
          )}
        </span>
        <span className="kpi">
          <span className="kpi-label">{t.traffic}</span>
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
          <span className="kpi-label">{t.parking}</span>
          <span className="kpi-value" data-testid="city-parking">
            {parking.areas === 0 ? (
              <span className="muted">—</span>
            ) : (
              <>
                {t.free(fmt.format(parking.free))} <span className="kpi-sub">{t.of(fmt.format(parking.total))}{parking.full ? ` · ${t.full(parking.full)}` : ''}</span>
              </>
            )}
          </span>
        </span>
        <span className="kpi">
          <span className="kpi-label">{t.buses}</span>
          <span className="kpi-value" data-testid="city-buses">
            {buses.onTime === null ? (
              <span className="muted">—</span>
            ) : (
              <>
                {t.onTime(fmt.format(buses.onTime * 100))}{' '}
                <span className="kpi-sub" title={t.onTimeTitle(ON_TIME_S / 60)}>
                  {t.avg} {buses.meanDelay! >= 0 ? '+' : '−'}
                  {fmt1.format(Math.abs(buses.meanDelay!) / 60)} min
                </span>
              </>
            )}
          </span>
        </span>
      </span>
      <span className="device-states" data-testid="city-devices" data-live={devices.live} data-late={devices.late} data-silent={devices.silent}>
        <span className="st live" title={healthText('live').label}>
          {healthText('live').symbol} {t.live(fmt.format(devices.live))}
        </span>
        <span className={`st late${devices.late ? ' some' : ''}`} title={healthText('late').label}>
          {healthText('late').symbol} {t.late(fmt.format(devices.late))}
        </span>
        <span className={`st silent${devices.silent ? ' some' : ''}`} title={healthText('silent').label}>
          {healthText('silent').symbol} {t.silent(fmt.format(devices.silent))}
        </span>
      </span>
    </button>
  )
})
