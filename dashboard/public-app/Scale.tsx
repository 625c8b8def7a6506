import { BANDS, bandRange, THRESHOLDS, type Level, type Pollutant } from '../../devices/aqi.ts'
import { bandName, formatNumber } from './i18n.ts'
import { type Lang } from '../i18n/lang.ts'

/**
 * A pollutant's six bands as equal segments, with a marker at the value (placed proportionally
 * inside its band). Drawn for the eye; screen readers get the same in words via aria-label.
 */
export function Scale({ pollutant, value, lang, label }: { pollutant: Pollutant; value: number | null; lang: Lang; label: string }) {
  const bounds = THRESHOLDS[pollutant]
  let position: number | undefined
  if (value !== null) {
    let level = 1
    for (const b of bounds) if (value >= b) level += 1
    const { from, to } = bandRange(pollutant, level as Level)
    const top = to ?? from * 1.5
    const within = Math.min(1, Math.max(0, (value - from) / (top - from)))
    position = ((level - 1 + within) / 6) * 100
  }
  const described = BANDS.map((b) => {
    const { from, to } = bandRange(pollutant, b.level)
    return `${bandName(lang, b.id)} ${formatNumber(lang, from)}${to === undefined ? '+' : `–${formatNumber(lang, to)}`}`
  }).join(', ')
  return (
    <div className="scale" role="img" aria-label={`${label}: ${described}`}>
      <div className="scale-bar">
        {BANDS.map((b) => (
          <span key={b.id} className="scale-segment" style={{ background: b.color }} />
        ))}
        {position !== undefined && <span className="scale-marker" style={{ left: `${position}%` }} />}
      </div>
      <div className="scale-ticks" aria-hidden="true">
        {bounds.map((b, i) => (
          <span key={b} style={{ left: `${((i + 1) / 6) * 100}%` }}>
            {formatNumber(lang, b)}
          </span>
        ))}
      </div>
    </div>
  )
}
