import { lazy, Suspense, useMemo } from 'react'
import { band as bandOf, type Level } from '../../devices/aqi.ts'
import { fetchAllCities, REFRESH_MS, usePolling } from './api.ts'
import { CITIES, type CityNow } from './cities.ts'
import { bandName, strings } from './i18n.ts'
import { type Lang } from '../i18n/lang.ts'
import { yearStrings } from './year-i18n.ts'

/**
 * "All cities": the index now in each of the ten cities, as a list (buttons that open the city)
 * and on a map of the region. One request for every city (/api/public/air-quality), made when
 * the section nears the viewport; the map (maplibre) loads after the list.
 */

const CitiesMap = lazy(() => import('./CitiesMap.tsx'))
const NO_INDEX = { color: '#5f6b76', textColor: '#ffffff' }

export default function CitiesOverview({ lang, current, onCity }: { lang: Lang; current: string; onCity: (id: string) => void }) {
  const t = strings(lang)
  const y = yearStrings(lang)
  const all = usePolling('all', fetchAllCities, REFRESH_MS)
  const items = all.data?.items
  const cities: CityNow[] = useMemo(
    () =>
      CITIES.map((c) => {
        const now = items?.find((i) => i.city === c.id)
        return { id: c.id, name: c.name, lat: c.lat, lon: c.lon, level: now?.index.value ?? null }
      }),
    [items],
  )
  return (
    <section className="card overview" aria-labelledby="overview-title" data-testid="overview" data-loaded={items !== undefined}>
      <h2 id="overview-title">{y.overview}</h2>
      <p className="small">{y.overviewNote}</p>
      {all.error && !items && <p className="small">{t.loadError}</p>}
      <div className="overview-grid">
        <ul className="overview-list">
          {cities.map((c) => {
            const b = c.level ? bandOf(c.level as Level) : undefined
            return (
              <li key={c.id} data-testid="overview-city" data-city={c.id} data-level={c.level ?? ''}>
                <button type="button" aria-current={c.id === current ? 'true' : undefined} onClick={() => onCity(c.id)} aria-label={`${y.showCity(c.name)}: ${b ? `${bandName(lang, b.id)}, ${t.indexOf(b.level)}` : t.noIndex}`}>
                  <span className="station-number" style={{ background: b?.color ?? NO_INDEX.color, color: b?.textColor ?? NO_INDEX.textColor }} aria-hidden="true">
                    {b ? b.level : '–'}
                  </span>
                  <span className="overview-name">{c.name}</span>
                  <span className="overview-band" aria-hidden="true">
                    {items === undefined ? t.loading : b ? bandName(lang, b.id) : t.noIndex}
                  </span>
                </button>
              </li>
            )
          })}
        </ul>
        {/* The map's box is there from the start, the same size as the map: nothing moves when it comes. */}
        {items ? (
          <Suspense fallback={<MapBox text={t.mapLoading} />}>
            <CitiesMap cities={cities} lang={lang} current={current} onCity={onCity} label={y.citiesMap} />
          </Suspense>
        ) : (
          <MapBox text={t.mapLoading} />
        )}
      </div>
    </section>
  )
}

function MapBox({ text }: { text: string }) {
  return (
    <div className="map overview-map map-placeholder">
      <p className="small">{text}</p>
    </div>
  )
}
