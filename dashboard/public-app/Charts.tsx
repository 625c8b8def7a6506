import { useMemo, useState } from 'react'
import { Bar, BarChart, CartesianGrid, Cell, Line, LineChart, ReferenceArea, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import { band as bandOf, BANDS, EAQI_POLLUTANTS, THRESHOLDS, type Level, type Pollutant } from '../../devices/aqi.ts'
import type { HistoryHour } from './api.ts'
import { bandName, formatNumber, formatTime, pollutantName, pollutantSymbol, strings } from './i18n.ts'
import { LOCALES, TIME_ZONE, type Lang } from '../i18n/lang.ts'

/**
 * The last 24 hours (hourly index as coloured bars) and 7 days (one pollutant's hourly means over
 * the index bands). Each chart has a caption and its data as a table, for those who cannot see it.
 */

const LABELS: Record<Pollutant, string> = { pm25: 'PM2.5', pm10: 'PM10', no2: 'NO₂', o3: 'O₃', so2: 'SO₂' }
const dayFormat = (lang: Lang) => new Intl.DateTimeFormat(LOCALES[lang], { timeZone: TIME_ZONE, weekday: 'short', day: 'numeric' })
const hourFormat = (lang: Lang) => new Intl.DateTimeFormat(LOCALES[lang], { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit' })

interface Now {
  index: number | null
  band: string | null
  driving: Pollutant | null
}

export default function Charts({ hours, lang, now }: { hours?: HistoryHour[]; lang: Lang; now: Now }) {
  const t = strings(lang)
  const [chosen, setChosen] = useState<Pollutant | undefined>(undefined)
  const pollutant = chosen ?? now.driving ?? 'pm25'
  const hf = useMemo(() => hourFormat(lang), [lang])
  // The last 23 closed hours, then the index now (the last 60 minutes), so the chart ends where the card is.
  const last24 = useMemo(
    () => [
      ...(hours ?? []).slice(-23).map((h) => ({ time: Date.parse(h.time), label: hf.format(Date.parse(h.time)), index: h.index, band: h.band, driving: h.drivingPollutant })),
      { time: Number.MAX_SAFE_INTEGER, label: t.now, index: now.index, band: now.band, driving: now.driving },
    ],
    [hours, now.index, now.band, now.driving, hf, t.now],
  )
  const week = useMemo(() => (hours ?? []).map((h) => ({ time: Date.parse(h.time), value: h.values[pollutant] ?? null })), [hours, pollutant])
  const df = dayFormat(lang)
  const symbol = pollutantSymbol(lang, pollutant, LABELS[pollutant])
  const weekMax = Math.max(THRESHOLDS[pollutant][2], ...week.map((w) => w.value ?? 0)) * 1.1
  const any24 = last24.some((h) => h.index !== null)
  const anyWeek = week.some((w) => w.value !== null)
  const ready = hours !== undefined

  return (
    <div className="charts" data-testid="charts" data-ready={ready}>
      <figure className="card chart">
        <figcaption>
          <h2>{t.last24h}</h2>
          <p className="small">{t.last24hNote}</p>
        </figcaption>
        {ready && !any24 ? (
          <p className="small muted">{t.noHistory}</p>
        ) : (
          <div className="chart-box" aria-hidden="true">
            <ResponsiveContainer width="100%" height={180}>
              <BarChart data={last24} margin={{ top: 8, right: 8, bottom: 0, left: -24 }}>
                <CartesianGrid vertical={false} stroke="#d5dbe0" />
                <XAxis dataKey="label" interval="preserveStartEnd" minTickGap={20} tick={{ fontSize: 12, fill: '#3d4852' }} />
                <YAxis domain={[0, 6]} ticks={[1, 2, 3, 4, 5, 6]} allowDecimals={false} tick={{ fontSize: 12, fill: '#3d4852' }} />
                <Tooltip
                  formatter={(value, _name, item) => {
                    const p = (item.payload as { band: string | null; driving: Pollutant | null })
                    return [p.band ? `${value} · ${bandName(lang, p.band as never)}${p.driving ? ` (${pollutantSymbol(lang, p.driving, LABELS[p.driving])})` : ''}` : '—', t.index]
                  }}
                />
                <Bar dataKey="index" isAnimationActive={false} radius={[3, 3, 0, 0]}>
                  {last24.map((h) => (
                    <Cell key={h.time} fill={h.index ? bandOf(h.index as Level).color : '#cfd6dc'} stroke="#1f2933" strokeWidth={0.5} />
                  ))}
                </Bar>
              </BarChart>
            </ResponsiveContainer>
          </div>
        )}
        <details>
          <summary>{t.showTable}</summary>
          <table>
            <thead>
              <tr>
                <th scope="col">{t.hour}</th>
                <th scope="col">{t.index}</th>
              </tr>
            </thead>
            <tbody>
              {last24.map((h) => (
                <tr key={h.time}>
                  <td>{h.time === Number.MAX_SAFE_INTEGER ? t.now : formatTime(lang, new Date(h.time).toISOString(), true)}</td>
                  <td>{h.index ? `${h.index} · ${bandName(lang, h.band as never)}${h.driving ? ` (${pollutantSymbol(lang, h.driving, LABELS[h.driving])})` : ''}` : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      </figure>

      <figure className="card chart">
        <figcaption>
          <h2>{t.last7d}</h2>
          <p className="small">{t.last7dNote(`${symbol} (${pollutantName(lang, pollutant)})`)}</p>
        </figcaption>
        <div className="pollutant-switch" role="group" aria-label={t.chooseCharted}>
          {EAQI_POLLUTANTS.map((p) => (
            <button key={p} type="button" aria-pressed={p === pollutant} onClick={() => setChosen(p)} data-testid={`chart-pollutant-${p}`}>
              {pollutantSymbol(lang, p, LABELS[p])}
            </button>
          ))}
        </div>
        {ready && !anyWeek ? (
          <p className="small muted">{t.noHistory}</p>
        ) : (
          <div className="chart-box" aria-hidden="true">
            <ResponsiveContainer width="100%" height={220}>
              <LineChart data={week} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
                {BANDS.map((b) => {
                  const lower = b.level === 1 ? 0 : THRESHOLDS[pollutant][b.level - 2]!
                  const upper = b.level === 6 ? weekMax : THRESHOLDS[pollutant][b.level - 1]!
                  if (lower >= weekMax) return null
                  return <ReferenceArea key={b.id} y1={lower} y2={Math.min(upper, weekMax)} fill={b.color} fillOpacity={0.28} strokeOpacity={0} ifOverflow="hidden" />
                })}
                <CartesianGrid vertical={false} stroke="#d5dbe0" strokeDasharray="3 3" />
                <XAxis dataKey="time" type="number" domain={['dataMin', 'dataMax']} tickFormatter={(v: number) => df.format(v)} minTickGap={28} tick={{ fontSize: 12, fill: '#3d4852' }} />
                <YAxis domain={[0, Math.ceil(weekMax)]} tick={{ fontSize: 12, fill: '#3d4852' }} />
                <Tooltip labelFormatter={(v) => formatTime(lang, new Date(Number(v)).toISOString(), true)} formatter={(v) => [`${formatNumber(lang, Number(v))} µg/m³`, symbol]} />
                <Line type="monotone" dataKey="value" stroke="#1f2933" strokeWidth={2} dot={false} connectNulls={false} isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
          </div>
        )}
        <details>
          <summary>{t.showTable}</summary>
          <table>
            <thead>
              <tr>
                <th scope="col">{t.hour}</th>
                <th scope="col">
                  {symbol} (µg/m³)
                </th>
              </tr>
            </thead>
            <tbody>
              {week
                .filter((w) => w.value !== null)
                .map((w) => (
                  <tr key={w.time}>
                    <td>{formatTime(lang, new Date(w.time).toISOString(), true)}</td>
                    <td>{formatNumber(lang, w.value!)}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </details>
      </figure>
    </div>
  )
}
