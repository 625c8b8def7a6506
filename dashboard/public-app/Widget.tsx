import { useEffect } from 'react'
import { band as bandOf, type Level } from '../../devices/aqi.ts'
import { fetchCity, usePolling } from './api.ts'
import { findCity } from './cities.ts'
import { bandName, formatAgo, formatNumber, formatTime, pollutantName, pollutantSymbol, strings } from './i18n.ts'
import { detectLanguage, type Lang } from '../i18n/lang.ts'

/**
 * The embeddable card, `/widget/<city>?theme=light|dark&lang=it|en`: the index now, in colour,
 * word and number, what drives it and when it was measured, linking to the full page. Any site
 * may frame it (security.ts sends frame-ancestors * for /widget/ only).
 */

export const WIDGET_REFRESH_MS = 60_000

export function widgetParams(path: string, search: string, navigatorLanguages: readonly string[], documentLang?: string) {
  const params = new URLSearchParams(search)
  const cityId = decodeURIComponent(path.replace(/^\/widget\//, '').split('/')[0] ?? '')
  const theme = params.get('theme') === 'dark' ? 'dark' : 'light'
  const queryLang = params.get('lang')
  const lang: Lang = queryLang === 'it' || queryLang === 'en' ? queryLang : detectLanguage(null, navigatorLanguages, documentLang)
  return { city: findCity(cityId), theme, lang } as const
}

export function Widget() {
  const { city, theme, lang } = widgetParams(location.pathname, location.search, navigator.languages ?? [navigator.language], document.documentElement.lang)
  const t = strings(lang)
  const polled = usePolling(city?.id, fetchCity, WIDGET_REFRESH_MS)
  const data = polled.data?.items[0]

  useEffect(() => {
    document.documentElement.dataset.theme = theme
    document.documentElement.lang = lang
    if (city) document.title = `${t.airIn(city.name)} · ${t.appTitle}`
  }, [theme, lang, city, t])

  if (!city) {
    const asked = decodeURIComponent(location.pathname.replace(/^\/widget\//, '').split('/')[0] ?? '')
    return (
      <article className="widget-card" data-testid="not-found" data-theme={theme}>
        <h1>{t.notFoundTitle}</h1>
        <p>{t.widgetUnknownCity(asked)}</p>
        <a href="/" target="_blank" rel="noopener" className="widget-link">
          {t.notFoundHome} →
        </a>
      </article>
    )
  }
  const level = data?.index.value
  const b = level ? bandOf(level as Level) : undefined
  const driving = data?.index.drivingPollutant ? data.pollutants.find((p) => p.pollutant === data.index.drivingPollutant) : undefined
  const href = `/?city=${city.id}`

  return (
    <article className="widget-card" data-testid="widget" data-theme={theme} data-level={level ?? ''} aria-labelledby="widget-title">
      <header>
        <h1 id="widget-title">{t.airIn(city.name)}</h1>
        <a href={href} target="_blank" rel="noopener" className="widget-link">
          {t.widgetDetails}
          <span className="visually-hidden"> ({t.airIn(city.name)})</span> →
        </a>
      </header>
      {!data ? (
        <p role="status">{polled.error ? t.loadError : t.loading}</p>
      ) : (
        <>
          <div className="widget-index" style={b ? { background: b.color, color: b.textColor } : undefined} data-testid="widget-index">
            {b ? (
              <>
                <span className="widget-number" aria-hidden="true">
                  {b.level}
                </span>
                <span className="widget-word">
                  {bandName(lang, b.id)}
                  <span className="visually-hidden">, {t.indexOf(b.level)}</span>
                </span>
              </>
            ) : (
              <span className="widget-word">{t.noIndex}</span>
            )}
          </div>
          <p className="widget-meta">
            {driving && driving.value !== null && (
              <>
                {t.drivenBy}: <strong>{pollutantSymbol(lang, driving.pollutant, driving.label)}</strong> ({pollutantName(lang, driving.pollutant)}) {formatNumber(lang, driving.value)} {driving.unit}
                <br />
              </>
            )}
            {data.lastUpdate && (
              <>
                {t.updated}: {formatTime(lang, data.lastUpdate)} ({formatAgo(lang, data.lastUpdate)})
              </>
            )}
          </p>
          <p className="widget-foot">
            {t.indexName} · {data.index.version}
          </p>
        </>
      )}
    </article>
  )
}
