import { Suspense, lazy, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { band as bandOf, EAQI_POLLUTANTS, EAQI_VERSION, type BandId, type Level, type Pollutant } from '../../devices/aqi.ts'
import { fetchCity, fetchHistory, HISTORY_REFRESH_MS, REFRESH_MS, usePolling, type CityAirQuality, type StationSummary } from './api.ts'
import { CITIES, findCity, type PublicCity, initialCity, initialStation, nearestCity, rememberCity, rememberStation } from './cities.ts'
import { advice, bandName, formatAgo, formatNumber, formatTime, pollutantName, pollutantSymbol, strings, type Strings } from './i18n.ts'
import { LANGS, type Lang } from '../i18n/lang.ts'
import { useLang } from '../i18n/react.tsx'
import { byName } from './natural-sort.ts'
import { Scale } from './Scale.tsx'
import { yearStrings } from './year-i18n.ts'

// Below the fold and heavy (Recharts, maplibre-gl): loaded when their section nears the viewport.
const Charts = lazy(() => import('./Charts.tsx'))
const StationMap = lazy(() => import('./StationMap.tsx'))
// Live over Socket.IO: the client library comes with this chunk, not with the first paint.
const MobilityNow = lazy(() => import('./MobilityNow.tsx'))
const YearSoFar = lazy(() => import('./YearSoFar.tsx'))
// The ten cities' index now, as a list and a map: its own request, made when scrolled near.
const CitiesOverview = lazy(() => import('./CitiesOverview.tsx'))

const NO_INDEX = { color: '#5f6b76', textColor: '#ffffff' }

export function App() {
  const { lang, setLang } = useLang()
  const [cityId, setCityId] = useState<string>(initialCity)
  const [stationId, setStationId] = useState<string | null>(initialStation)
  const city = findCity(cityId) ?? CITIES[0]!
  const t = strings(lang)
  const now = usePolling(city.id, fetchCity, REFRESH_MS)
  const history = usePolling(city.id, fetchHistory, HISTORY_REFRESH_MS)
  const loaded = now.data?.items[0]
  // Natural order everywhere the stations appear (list and map): "#2" before "#10".
  const data = useMemo(() => (loaded ? { ...loaded, stations: byName(loaded.stations, lang) } : undefined), [loaded, lang])

  useEffect(() => {
    document.title = `${t.airIn(city.name)} · ${t.appTitle}`
  }, [city.name, t])

  const chooseCity = (id: string) => {
    setCityId(id)
    rememberCity(id)
    setStationId(null)
    rememberStation(null)
  }
  const chooseStation = (id: string | null) => {
    setStationId(id)
    rememberStation(id)
  }
  /** The first answer (or failure) is in: the rest of the page can take its place below. */
  const settled = data !== undefined || now.error
  const station = stationId ? data?.stations.find((s) => s.id === stationId) : undefined
  const y = yearStrings(lang)

  return (
    <>
      <a className="skip" href="#main">
        {t.skip}
      </a>
      <header className="top">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <div>
            <p className="brand-title">{t.appTitle}</p>
            <p className="brand-sub">{t.appSubtitle}</p>
          </div>
        </div>
        <nav className="top-nav" aria-label={t.language}>
          <div className="lang" role="group" aria-label={t.language}>
            {LANGS.map((l) => (
              <button key={l} type="button" lang={l} aria-pressed={lang === l} data-testid={`lang-${l}`} onClick={() => setLang(l)}>
                {l.toUpperCase()}
                <span className="visually-hidden"> {l === 'it' ? 'Italiano' : 'English'}</span>
              </button>
            ))}
          </div>
          <a className="operators" href="/dashboard" data-testid="operators-link">
            {document.documentElement.dataset.staff === 'true' ? t.openDashboard : t.operators}
          </a>
        </nav>
      </header>

      <main id="main" tabIndex={-1}>
        <div className="city-row">
          <h1 data-testid="city-title">{t.airIn(city.name)}</h1>
          <label className="city-picker">
            <span>{t.city}</span>
            <select value={city.id} onChange={(e) => chooseCity(e.target.value)} data-testid="city-select">
              {CITIES.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
          <Nearest lang={lang} onCity={chooseCity} />
        </div>

        {now.error && (
          <p className="notice" role="status" data-testid="load-error">
            {t.loadError}
          </p>
        )}
        {!data ? (
          <p className="loading" role="status">
            {t.loading}
          </p>
        ) : (
          <div className="layout">
            <div className="col">
              <IndexCard data={data} lang={lang} t={t} />
              {data.index.band && <Advice band={data.index.band} lang={lang} t={t} />}
              <Pollutants data={data} lang={lang} t={t} />
            </div>
            <div className="col">
              <Deferred fallback={t.chartsLoading} testId="charts-section" reserve="charts">
                <Charts hours={history.data?.hours} lang={lang} now={{ index: data.index.value, band: data.index.band, driving: data.index.drivingPollutant }} />
              </Deferred>
              <section className="card" aria-labelledby="stations-title">
                <h2 id="stations-title">{t.stations}</h2>
                <Deferred fallback={t.mapLoading} testId="map-section" reserve="map">
                  <StationMap city={city} stations={data.stations} lang={lang} label={t.stationsMap(city.name)} selected={station?.id ?? null} onSelect={chooseStation} />
                </Deferred>
                {station && <StationPanel key={station.id} city={city} station={station} number={data.stations.indexOf(station) + 1} lang={lang} t={t} onClose={() => chooseStation(null)} />}
                <StationList data={data} lang={lang} t={t} selected={station?.id ?? null} onSelect={chooseStation} />
              </section>
            </div>
          </div>
        )}
        {/* What comes below the index waits for it: drawn while the page still says "loading", it
            would be pushed down when the data arrives (a layout shift of half the screen). */}
        {settled && (
          <>
            <Deferred fallback={y.loading} testId="year-section" reserve="year" ready={data !== undefined}>
              <YearSoFar city={city} lang={lang} />
            </Deferred>
            <Deferred fallback={t.loading} testId="overview-section" reserve="overview" ready={data !== undefined}>
              <CitiesOverview
                lang={lang}
                current={city.id}
                onCity={(id: string) => {
                  chooseCity(id)
                  window.scrollTo(0, 0)
                  document.getElementById('main')?.focus()
                }}
              />
            </Deferred>
            <Deferred fallback={t.loading} testId="mobility-section" reserve="mobility" ready={data !== undefined}>
              <MobilityNow city={city} lang={lang} />
            </Deferred>
          </>
        )}
      </main>
      {settled && <Footer city={city.id} lang={lang} t={t} license={now.data?.license} attribution={now.data?.attribution} />}
    </>
  )
}

function IndexCard({ data, lang, t }: { data: CityAirQuality; lang: Lang; t: Strings }) {
  const i = data.index
  const b = i.value ? bandOf(i.value as Level) : undefined
  const style = b ? { background: b.color, color: b.textColor } : { background: NO_INDEX.color, color: NO_INDEX.textColor }
  const driving = i.drivingPollutant ? data.pollutants.find((p) => p.pollutant === i.drivingPollutant) : undefined
  let message: string | undefined
  if (!b) {
    if (data.status === 'no-stations') message = t.noStations(data.name)
    else if (data.status === 'incomplete') message = t.incomplete
    else message = t.stale(data.lastUpdate ? formatTime(lang, data.lastUpdate, true) : null)
  }
  const summary = b
    ? `${t.indexName}, ${data.name}: ${bandName(lang, b.id)}, ${t.indexOf(b.level)}. ${i.drivingPollutant ? `${t.drivenBy}: ${pollutantName(lang, i.drivingPollutant)}.` : ''}`
    : `${t.indexName}, ${data.name}: ${t.noIndex}.`
  return (
    <section className="index-card" style={style} data-testid="aqi-card" data-level={i.value ?? ''} data-band={i.band ?? ''} data-status={data.status} aria-labelledby="index-title">
      <h2 id="index-title" className="index-title">
        {t.indexName}
      </h2>
      <p className="visually-hidden" aria-live="polite" aria-atomic="true">
        {summary}
      </p>
      {b ? (
        <div className="index-main" aria-hidden="true">
          <span className="index-number" data-testid="aqi-value">
            {b.level}
          </span>
          <div>
            <p className="index-word" data-testid="aqi-band">
              {bandName(lang, b.id)}
            </p>
            <p className="index-of">{t.indexOf(b.level)}</p>
          </div>
        </div>
      ) : (
        <div className="index-main">
          <p className="index-word" data-testid="aqi-band">
            {t.noIndex}
          </p>
        </div>
      )}
      <IndexSteps level={b?.level} />
      {message && <p className="index-message" data-testid="aqi-message">{message}</p>}
      {driving && driving.value !== null && (
        <p className="index-driver" data-testid="aqi-pollutant" data-pollutant={driving.pollutant}>
          {t.drivenBy}: <strong>{pollutantSymbol(lang, driving.pollutant, driving.label)}</strong> · {pollutantName(lang, driving.pollutant)},{' '}
          {formatNumber(lang, driving.value)} {driving.unit}
        </p>
      )}
      <p className="index-updated" data-testid="last-update">
        {t.updated}: {data.lastUpdate ? t.updatedAt(formatTime(lang, data.lastUpdate, true), formatAgo(lang, data.lastUpdate)) : '—'}
      </p>
    </section>
  )
}

/** Six small steps under the number, the current one raised: where the band sits on the scale. */
function IndexSteps({ level }: { level?: number }) {
  return (
    <div className="index-steps" aria-hidden="true">
      {[1, 2, 3, 4, 5, 6].map((l) => (
        <span key={l} className={l === level ? 'current' : ''} style={{ background: bandOf(l as Level).color }} />
      ))}
    </div>
  )
}

function Advice({ band, lang, t }: { band: BandId; lang: Lang; t: Strings }) {
  const a = advice(lang, band)
  return (
    <section className="card advice" aria-labelledby="advice-title" data-testid="advice">
      <h2 id="advice-title">{a.headline}</h2>
      <div className="advice-grid">
        <div>
          <h3>{t.forEveryone}</h3>
          <p data-testid="advice-general">{a.general}</p>
        </div>
        <div>
          <h3>{t.forSensitive}</h3>
          <p data-testid="advice-sensitive">{a.sensitive}</p>
          <p className="small">{t.sensitiveWho}</p>
        </div>
      </div>
    </section>
  )
}

function Pollutants({ data, lang, t }: { data: CityAirQuality; lang: Lang; t: Strings }) {
  return (
    <section className="card" aria-labelledby="pollutants-title">
      <h2 id="pollutants-title">{t.pollutants}</h2>
      <p className="small">{t.pollutantsNote}</p>
      <ul className="pollutants">
        {EAQI_POLLUTANTS.map((p) => {
          const x = data.pollutants.find((q) => q.pollutant === p)
          const symbol = pollutantSymbol(lang, p, x?.label ?? p)
          const b = x?.level ? bandOf(x.level as Level) : undefined
          const driving = data.index.drivingPollutant === p
          return (
            <li key={p} data-testid={`pollutant-${p}`} data-level={x?.level ?? ''} className={driving ? 'driving' : ''}>
              <div className="pollutant-head">
                <span className="pollutant-name">
                  <strong>{symbol}</strong> <span className="small">{pollutantName(lang, p)}</span>
                </span>
                <span className="pollutant-value">
                  {x?.value !== null && x?.value !== undefined ? (
                    <>
                      {formatNumber(lang, x.value)} <span className="unit">{x.unit}</span>
                    </>
                  ) : (
                    <span className="muted">{x?.status === 'incomplete' ? t.notEnoughData : t.noData}</span>
                  )}
                </span>
                {b && (
                  <span className="band-tag" style={{ background: b.color, color: b.textColor }}>
                    {bandName(lang, b.id)}
                  </span>
                )}
              </div>
              <Scale pollutant={p} value={x?.level ? x.value : null} lang={lang} label={t.scaleOf(symbol)} />
            </li>
          )
        })}
      </ul>
    </section>
  )
}

function StationList({ data, lang, t, selected, onSelect }: { data: CityAirQuality; lang: Lang; t: Strings; selected: string | null; onSelect: (id: string) => void }) {
  if (data.stations.length === 0) return <p className="small">{t.noStations(data.name)}</p>
  return (
    <ul className="stations" data-testid="station-list">
      {data.stations.map((s, i) => {
        const b = s.index ? bandOf(s.index.value as Level) : undefined
        return (
          <li key={s.id} data-testid="station" data-station={s.id} data-level={s.index?.value ?? ''}>
            <button type="button" className="station-open" aria-pressed={s.id === selected} onClick={() => onSelect(s.id)}>
              <span className="station-number" style={{ background: b?.color ?? NO_INDEX.color, color: b?.textColor ?? NO_INDEX.textColor }} aria-hidden="true">
                {i + 1}
              </span>
              <span>
                <span className="station-name">{s.name}</span>
                <span className="station-band">
                  {b ? `${b.level} · ${bandName(lang, b.id)}` : t.stationStatus[s.status]}
                  {s.index && ` (${pollutantSymbol(lang, s.index.drivingPollutant as Pollutant, labelOf(s.index.drivingPollutant))})`}
                  {s.lastReadingAt && ` · ${formatTime(lang, s.lastReadingAt)}`}
                </span>
              </span>
            </button>
          </li>
        )
      })}
    </ul>
  )
}

/** One station, opened from the map or the list: its index now and its year so far. */
function StationPanel({ city, station, number, lang, t, onClose }: { city: PublicCity; station: StationSummary; number: number; lang: Lang; t: Strings; onClose: () => void }) {
  const y = yearStrings(lang)
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    // Opened by a tap on the map: bring the panel into view and move the focus to it.
    heading.current?.focus({ preventScroll: true })
    heading.current?.scrollIntoView({ block: 'nearest' })
  }, [])
  const b = station.index ? bandOf(station.index.value as Level) : undefined
  return (
    <section className="station-panel" data-testid="station-panel" data-station={station.id} aria-labelledby="station-panel-title">
      <div className="station-panel-head">
        <h3 id="station-panel-title" ref={heading} tabIndex={-1}>
          <span className="visually-hidden">{y.station} </span>
          {number}. {station.name}
        </h3>
        <button type="button" className="station-close" onClick={onClose} data-testid="station-close">
          {y.close}
        </button>
      </div>
      <p data-testid="station-panel-index">
        {b ? (
          <>
            <span className="band-tag" style={{ background: b.color, color: b.textColor }}>
              {b.level} · {bandName(lang, b.id)}
            </span>
            {station.index && ` ${t.drivenBy}: ${pollutantSymbol(lang, station.index.drivingPollutant as Pollutant, labelOf(station.index.drivingPollutant))}`}
          </>
        ) : (
          t.stationStatus[station.status] || t.noIndex
        )}
      </p>
      <p className="small">
        {y.lastReading}: {station.lastReadingAt ? `${formatTime(lang, station.lastReadingAt, true)} (${formatAgo(lang, station.lastReadingAt)})` : '—'}
      </p>
      <Suspense fallback={<p className="small">{y.loading}</p>}>
        <YearSoFar city={city} lang={lang} station={{ id: station.id, name: station.name }} headingLevel={3} />
      </Suspense>
    </section>
  )
}

/** "Nearest city": the browser's position (asked only on this button), then the city whose centre is nearest. */
function Nearest({ lang, onCity }: { lang: Lang; onCity: (id: string) => void }) {
  const y = yearStrings(lang)
  const [state, setState] = useState<{ kind: 'idle' | 'locating' | 'denied' | 'unsupported' } | { kind: 'found'; city: string; km: number }>({ kind: 'idle' })
  const locate = () => {
    if (!('geolocation' in navigator)) return setState({ kind: 'unsupported' })
    setState({ kind: 'locating' })
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        const n = nearestCity(pos.coords.latitude, pos.coords.longitude)
        onCity(n.city.id)
        setState({ kind: 'found', city: n.city.id, km: n.km })
      },
      () => setState({ kind: 'denied' }),
      { timeout: 15_000, maximumAge: 10 * 60_000 },
    )
  }
  const found = state.kind === 'found' ? findCity(state.city) : undefined
  const message =
    state.kind === 'locating'
      ? y.locating
      : state.kind === 'denied'
        ? y.denied
        : state.kind === 'unsupported'
          ? y.noGeolocation
          : state.kind === 'found' && found
            ? y.nearestIs(found.name, formatNumber(lang, Math.round(state.km * 10) / 10))
            : ''
  return (
    <div className="nearest">
      <button type="button" onClick={locate} data-testid="nearest-city" disabled={state.kind === 'locating'}>
        <span aria-hidden="true">⌖ </span>
        {y.nearest}
      </button>
      <p className="small" role="status" data-testid="nearest-status" data-city={state.kind === 'found' ? state.city : ''}>
        {message}
      </p>
    </div>
  )
}

const LABELS: Record<string, string> = { pm25: 'PM2.5', pm10: 'PM10', no2: 'NO₂', o3: 'O₃', so2: 'SO₂' }
const labelOf = (p: string) => LABELS[p] ?? p

function Footer({ city, lang, t, license, attribution }: { city: string; lang: Lang; t: Strings; license?: { name: string; url: string }; attribution?: string }) {
  const embed = `<iframe src="${location.origin}/widget/${city}?theme=light&lang=${lang}" title="${t.appTitle}" width="340" height="210" style="border:0"></iframe>`
  return (
    <footer className="foot">
      <section aria-labelledby="open-data-title">
        <h2 id="open-data-title">{t.openData}</h2>
        <p>{t.openDataText}</p>
        <ul className="links">
          <li>
            <a href="/api/docs">{t.apiDocs}</a>
          </li>
          <li>
            <a href={`/api/public/air-quality/history?city=${city}&format=csv`} data-testid="download-csv">
              {t.downloadCsv} (7 d)
            </a>
          </li>
          <li>
            <a href={`/api/public/stations?city=${city}&format=csv`}>{t.downloadCsv} ({t.stations.toLowerCase()})</a>
          </li>
        </ul>
        {license && (
          <p data-testid="license">
            {t.license}:{' '}
            <a href={license.url} rel="license">
              {license.name}
            </a>{' '}
            · {attribution}
          </p>
        )}
      </section>
      <section aria-labelledby="embed-title">
        <h2 id="embed-title">{t.embed}</h2>
        <pre>
          <code>{embed}</code>
        </pre>
      </section>
      <p className="small">{t.about(EAQI_VERSION)}</p>
    </footer>
  )
}

/** Which height the section keeps from the start (public.css `.reserve-…`, per screen width). */
type Reserve = 'charts' | 'map' | 'year' | 'overview' | 'mobility'

/**
 * Renders its children (a lazy chunk) once the section comes near the viewport. Until then, and
 * while its chunk and data load, it keeps about the height it will have (`reserve`): what is below
 * it stays below the screen's edge when it arrives, so nothing the visitor sees moves (no layout
 * shift); the content inside keeps its own height as its data comes (fixed chart and map boxes,
 * lists that scroll). Not before the
 * content above it is in place (`ready`): while the page still says "loading", a section below is
 * in view, and an observer started then would fetch its chunk before the data pushed it down.
 */
function Deferred({ children, fallback, testId, reserve, ready = true }: { children: ReactNode; fallback: string; testId: string; reserve: Reserve; ready?: boolean }) {
  const ref = useRef<HTMLDivElement>(null)
  const [near, setNear] = useState(false)
  useEffect(() => {
    const el = ref.current
    if (near || !el || !ready) return
    if (!('IntersectionObserver' in window)) {
      setNear(true)
      return
    }
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        setNear(true)
        observer.disconnect()
      }
    }, { rootMargin: '200px 0px' })
    observer.observe(el)
    return () => observer.disconnect()
  }, [near, ready])
  const placeholder = (
    <p className="loading small" role="status">
      {fallback}
    </p>
  )
  return (
    <div ref={ref} className={`deferred reserve-${reserve}`} data-testid={testId} data-loaded={near}>
      {near ? <Suspense fallback={placeholder}>{children}</Suspense> : placeholder}
    </div>
  )
}
