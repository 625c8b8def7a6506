import { useEffect, useState } from 'react'
import type { AppConfig } from '../api/types.ts'
import { useStrings } from '../../i18n/react.tsx'
import { typeLabel } from '../devices/format.ts'
import { healthText, HEALTH_STATES, type HealthState } from '../live/health.ts'
import { MAP_STRINGS } from './strings.ts'
import { BADGE_COLORS } from './icons.ts'
import { NO_DATA, NOT_GRADED, SCALES, STALE } from './levels.ts'

/** The map's symbols in SVG, the same shapes the map draws (style.ts, icons.ts). */
export function StateIcon({ state, color = '#2c7bb6', size = 18 }: { state: HealthState | 'alert'; color?: string; size?: number }) {
  const fill = state === 'silent' ? STALE.color : state === 'pending' ? 'none' : state === 'inactive' ? NO_DATA.color : color
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" className={`state-icon state-${state}`}>
      {state === 'alert' && <circle cx="12" cy="12" r="10" fill="none" stroke="#d6246e" strokeWidth="3" />}
      <circle
        cx="10"
        cy="14"
        r={state === 'inactive' ? 3.5 : 6}
        fill={state === 'alert' ? color : fill}
        opacity={state === 'inactive' ? 0.6 : 1}
        stroke="currentColor"
        strokeWidth={state === 'pending' ? 2 : 1.2}
        transform={state === 'alert' ? 'translate(2 -2)' : undefined}
      />
      {state === 'late' && (
        <g transform="translate(17 7)">
          <circle r="6" fill={BADGE_COLORS.late} stroke="#fff" strokeWidth="1" />
          <path d="M0 0 V-3.6 M0 0 L2.8 1" stroke="#1f2933" strokeWidth="1.5" strokeLinecap="round" />
        </g>
      )}
      {state === 'silent' && (
        <g transform="translate(17 7)">
          <circle r="6" fill={BADGE_COLORS.silent} stroke="#fff" strokeWidth="1" />
          <path d="M-2.6 -2.6 L2.6 2.6 M2.6 -2.6 L-2.6 2.6" stroke="#fff" strokeWidth="1.6" strokeLinecap="round" />
        </g>
      )}
    </svg>
  )
}

/** Screens on which the legend starts collapsed. */
export const SMALL_SCREEN = '(max-width: 760px), (max-height: 560px)'

/**
 * Explains every mark on the map in words: the states (by shape, not only colour), alerts,
 * clusters, and each device type's colour scale with its bands and ranges.
 */
export function Legend({ config, type }: { config: AppConfig; type?: string }) {
  const t = useStrings(MAP_STRINGS).legend
  const graded = Object.keys(SCALES).filter((t) => config.kinds[t])
  // Open it would cover most of a phone's map: there it starts closed, one tap away.
  const [open, setOpen] = useState(() => typeof window === 'undefined' || !window.matchMedia(SMALL_SCREEN).matches)
  const [scaleType, setScaleType] = useState(type && SCALES[type] ? type : (graded[0] ?? ''))
  useEffect(() => {
    if (type && SCALES[type]) setScaleType(type)
  }, [type])
  const scale = SCALES[scaleType]

  return (
    <section className={`legend${open ? '' : ' collapsed'}`} aria-labelledby="legend-title" data-testid="map-legend">
      <h2 id="legend-title">
        <button type="button" className="legend-toggle" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="legend-toggle">
          {t.title} <span aria-hidden="true">{open ? '▾' : '▸'}</span>
        </button>
      </h2>
      {open && (
        <>
          <ul className="legend-states">
            {HEALTH_STATES.map((s) => (
              <li key={s} title={healthText(s).description}>
                <StateIcon state={s} />
                {healthText(s).label}
              </li>
            ))}
            <li title={t.activeAlertTitle}>
              <StateIcon state="alert" />
              {t.activeAlert}
            </li>
            <li title={t.groupTitle}>
              <span className="legend-cluster" aria-hidden="true">
                12
              </span>
              {t.group}
            </li>
          </ul>
          <label className="legend-scale-pick">
            {t.coloursFor}
            <select value={scaleType} onChange={(e) => setScaleType(e.target.value)} data-testid="legend-scale">
              {graded.map((type) => (
                <option key={type} value={type}>
                  {typeLabel(config, type)}
                </option>
              ))}
              {config.kinds.weather && <option value="weather">{typeLabel(config, 'weather')}</option>}
            </select>
          </label>
          {scale ? (
            <>
              <p className="legend-measure">
                <strong>{scale.title}</strong>: {scale.measure}
              </p>
              <ul className="legend-bands">
                {scale.bands.map((b) => (
                  <li key={b.id}>
                    <span className="swatch" style={{ background: b.color }} aria-hidden="true" />
                    <span className="band-name">{b.name}</span>
                    <span className="band-range">{b.range}</span>
                  </li>
                ))}
              </ul>
            </>
          ) : (
            <ul className="legend-bands">
              <li>
                <span className="swatch" style={{ background: NOT_GRADED.color }} aria-hidden="true" />
                <span className="band-name">{NOT_GRADED.name}</span>
              </li>
            </ul>
          )}
          <p className="legend-note">
            <span className="swatch" style={{ background: NO_DATA.color }} aria-hidden="true" /> {t.grey}
          </p>
        </>
      )}
    </section>
  )
}
