import { fetchStatistics, STATISTICS_REFRESH_MS, usePolling, type StatisticsResponse } from './api.ts'
import type { PublicCity } from './cities.ts'
import { formatNumber } from './i18n.ts'
import { LOCALES, TIME_ZONE, type Lang } from '../i18n/lang.ts'
import { sourceName, yearStrings, type YearStrings } from './year-i18n.ts'

/**
 * "This year so far": the calendar year's statistics against the EU limit values, for the city
 * (each figure at its worst station) or for one station, from /api/public/air-quality/statistics.
 * A table with a caption and header cells, so screen readers read each value with its figure.
 */

type Limit = StatisticsResponse['limitValues'][number]
type CityStats = StatisticsResponse['cities'][number]
type StationStats = CityStats['stations'][number]

const MEAN_POLLUTANTS = ['pm25', 'pm10', 'no2', 'o3', 'so2', 'co'] as const
const LABELS: Record<string, { it: string; en: string; unit: string }> = {
  pm25: { it: 'PM2,5', en: 'PM2.5', unit: 'µg/m³' },
  pm10: { it: 'PM10', en: 'PM10', unit: 'µg/m³' },
  no2: { it: 'NO₂', en: 'NO₂', unit: 'µg/m³' },
  o3: { it: 'O₃', en: 'O₃', unit: 'µg/m³' },
  so2: { it: 'SO₂', en: 'SO₂', unit: 'µg/m³' },
  co: { it: 'CO', en: 'CO', unit: 'mg/m³' },
}

export interface YearRow {
  id: string
  label: string
  value: number | null
  text: string
  /** The limit or target value and its source, when the law sets one for this figure. */
  limit: string | null
  capture: number | null
  /** For a city: the station the figure is taken at. */
  at: string | null
}

function limitText(lang: Lang, t: YearStrings, l: Limit | undefined): string | null {
  if (!l) return null
  const n = (v: number) => formatNumber(lang, v)
  const head = l.kind === 'target value' ? t.target(n(l.value), l.unit) : t.limit(n(l.value), l.unit)
  const per = l.allowedPerYear !== null && l.averaging !== 'max-daily-8h-mean' ? t.perYear(l.allowedPerYear) : ''
  return `${head}${per} (${sourceName(lang, l.source)}); ${t.from2030(n(l.from2030.value), l.unit, l.from2030.allowedPerYear)} (${sourceName(lang, l.from2030.source)})`
}

/** The rows of the table for a city (worst station per figure) or for one of its stations. */
export function yearRows(lang: Lang, body: StatisticsResponse, city: CityStats, stationId?: string): YearRow[] {
  const t = yearStrings(lang)
  const limit = (id: string) => body.limitValues.find((l) => l.id === id)
  const station = stationId ? city.stations.find((s) => s.id === stationId) : undefined
  const byId = (id: string | null) => (id ? city.stations.find((s) => s.id === id) : undefined)
  const nameOf = (s: StationStats | undefined) => (s ? s.name : null)
  const rows: YearRow[] = []
  for (const p of MEAN_POLLUTANTS) {
    const label = LABELS[p]!
    const from = station ?? byId(city.worst.pollutants[p]?.station ?? null)
    const value = station ? (station.pollutants[p]?.mean ?? null) : (city.worst.pollutants[p]?.value ?? null)
    rows.push({
      id: `${p}-mean`,
      label: t.annualMean(label[lang]),
      value,
      text: value === null ? t.noValue : `${formatNumber(lang, value)} ${label.unit}`,
      limit: limitText(lang, t, limit(`${p}-year`)),
      capture: from?.pollutants[p]?.dataCapture ?? null,
      at: station ? null : nameOf(from),
    })
  }
  const count = (
    id: string,
    label: string,
    pick: (s: StationStats) => number,
    worst: { value: number | null; station: string | null },
    capture: (s: StationStats) => number,
    limitId: string,
    averaged = false,
  ) => {
    const from = station ?? byId(worst.station)
    const value = station ? pick(station) : worst.value
    const l = limit(limitId)
    const n = value === null ? t.noValue : formatNumber(lang, value)
    const allowed = l?.allowedPerYear ?? null
    rows.push({
      id,
      label,
      value,
      text: value === null || allowed === null ? n : averaged ? t.allowedAveraged(n, allowed) : t.ofAllowed(n, allowed),
      limit: limitText(lang, t, l),
      capture: from ? capture(from) : null,
      at: station ? null : nameOf(from),
    })
  }
  count('pm10-days-over-50', t.pm10Days, (s) => s.pm10DaysOver50, city.worst.pm10DaysOver50, (s) => s.pm10DayCapture, 'pm10-day')
  count('no2-hours-over-200', t.no2Hours, (s) => s.no2HoursOver200, city.worst.no2HoursOver200, (s) => s.pollutants.no2?.dataCapture ?? 0, 'no2-hour')
  count('o3-days-over-120', t.o3Days, (s) => s.o3DaysOver120, city.worst.o3DaysOver120, (s) => s.o3DayCapture, 'o3-8h', true)
  return rows
}

const formatDay = (lang: Lang, iso: string) =>
  new Intl.DateTimeFormat(LOCALES[lang], { timeZone: TIME_ZONE, day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' }).format(new Date(iso))

export default function YearSoFar({ city, lang, station, headingLevel = 2 }: { city: PublicCity; lang: Lang; station?: { id: string; name: string }; headingLevel?: 2 | 3 }) {
  const t = yearStrings(lang)
  const stats = usePolling(city.id, fetchStatistics, STATISTICS_REFRESH_MS)
  const body = stats.data
  const mine = body?.cities.find((c) => c.city === city.id)
  const Heading = headingLevel === 2 ? 'h2' : 'h3'
  const headingId = `year-title-${station?.id ?? city.id}`
  return (
    <section className={headingLevel === 2 ? 'card year' : 'year'} aria-labelledby={headingId} data-testid={station ? 'station-year' : 'year'} data-city={city.id} data-year={body?.year ?? ''}>
      <Heading id={headingId}>{body ? (body.complete ? t.titleComplete(body.year) : t.title(body.year)) : t.title(new Date().getFullYear())}</Heading>
      {!body || !mine ? (
        <p className="small" role="status">
          {stats.error ? t.error : t.loading}
        </p>
      ) : (
        <YearTable lang={lang} t={t} body={body} city={mine} station={station} />
      )}
    </section>
  )
}

function YearTable({ lang, t, body, city, station }: { lang: Lang; t: YearStrings; body: StatisticsResponse; city: CityStats; station?: { id: string; name: string } }) {
  const rows = yearRows(lang, body, city, station?.id)
  return (
    <>
      <p className="small">
        {t.period(formatDay(lang, body.from), formatDay(lang, body.to))} {station ? t.stationNote(station.name) : t.cityNote}
      </p>
      <div className="year-scroll">
        <table className="year-table" data-testid="year-table">
          <caption className="visually-hidden">{t.caption(station?.name ?? city.name, body.year)}</caption>
          <thead>
            <tr>
              <th scope="col">{t.figure}</th>
              <th scope="col">{t.value}</th>
              <th scope="col">{t.capture}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-testid="year-row" data-figure={r.id} data-value={r.value ?? ''}>
                <th scope="row">
                  {r.label}
                  {r.limit && <span className="year-limit">{r.limit}</span>}
                </th>
                <td>
                  {r.text}
                  {r.at && <span className="year-at">{t.at(r.at)}</span>}
                </td>
                <td data-capture={r.capture ?? ''} className={r.capture !== null && r.capture < body.minimumDataCapture ? 'indicative' : ''}>
                  {r.capture === null ? t.noValue : `${formatNumber(lang, r.capture)}\u00a0%`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="small">{t.indicative(body.minimumDataCapture)}</p>
      <p className="small" data-testid="year-sources">
        {t.sources}
      </p>
      <p className="small">
        <a href={`/api/public/air-quality/statistics?city=${city.city}&format=csv`}>{t.csv}</a>
      </p>
    </>
  )
}
