import { useEffect, useRef, useState } from 'react'
import type { AppConfig } from './api/types.ts'
import { HEALTH_STATES } from './live/health.ts'
import { useStrings } from '../i18n/react.tsx'
import { appLocale } from './locale.ts'
import { APP_STRINGS } from './strings.ts'
import { healthText } from './live/health.ts'
import { typeLabel } from './devices/format.ts'
import { EMPTY_FILTERS, hasFilters, type Filters } from './view.ts'

interface Props {
  config: AppConfig
  filters: Filters
  onChange: (next: Filters) => void
  shown: number
  total: number
}

/** City, family, type, state and search: one set of filters for the map and the list, kept in the URL. */
export function FilterBar({ config, filters, onChange, shown, total }: Props) {
  const t = useStrings(APP_STRINGS).filters
  const n = (x: number) => x.toLocaleString(appLocale())
  const set = (patch: Partial<Filters>) => onChange({ ...filters, ...patch })
  const families = [...new Set(Object.values(config.kinds).map((k) => k.family))]
  const types = Object.entries(config.kinds).filter(([, k]) => !filters.family || k.family === filters.family)
  // Typing updates the search a beat later, so each keystroke does not refilter thousands of devices.
  const [q, setQ] = useState(filters.q)
  const latest = useRef(filters)
  latest.current = filters
  useEffect(() => setQ(filters.q), [filters.q])
  useEffect(() => {
    if (q === latest.current.q) return
    const timer = setTimeout(() => onChange({ ...latest.current, q }), 150)
    return () => clearTimeout(timer)
  }, [q, onChange])
  const [copied, setCopied] = useState(false)

  return (
    <form className="filter-bar" role="search" aria-label={t.label} onSubmit={(e) => e.preventDefault()} data-testid="filter-bar">
      <label>
        {t.city}
        <select value={filters.city} onChange={(e) => set({ city: e.target.value })} data-testid="city-filter">
          <option value="">{t.allTuscany}</option>
          {config.cities.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name} ({c.province})
            </option>
          ))}
        </select>
      </label>
      <label>
        {t.family}
        <select
          value={filters.family}
          onChange={(e) => {
            const family = e.target.value
            const keepType = !filters.type || !family || config.kinds[filters.type]?.family === family
            set({ family, type: keepType ? filters.type : '' })
          }}
          data-testid="family-filter"
        >
          <option value="">{t.allFamilies}</option>
          {families.map((f) => (
            <option key={f} value={f}>
              {t.families[f] ?? f}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t.type}
        <select value={filters.type} onChange={(e) => set({ type: e.target.value })} data-testid="device-type-filter">
          <option value="">{t.allTypes}</option>
          {types.map(([tp]) => (
            <option key={tp} value={tp}>
              {typeLabel(config, tp)}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t.state}
        <select value={filters.state} onChange={(e) => set({ state: e.target.value as Filters['state'] })} data-testid="state-filter">
          <option value="">{t.anyState}</option>
          {HEALTH_STATES.map((s) => (
            <option key={s} value={s}>
              {healthText(s).symbol} {healthText(s).label}
            </option>
          ))}
        </select>
      </label>
      <label className="search">
        {t.search}
        <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder={t.searchPlaceholder} data-testid="device-search" />
      </label>
      <span className="filter-count" role="status" data-testid="filter-count">
        {shown === total ? t.devices(n(total)) : t.shownOf(n(shown), n(total))}
      </span>
      {hasFilters(filters) && (
        <button type="button" className="secondary" onClick={() => onChange(EMPTY_FILTERS)} data-testid="clear-filters">
          {t.clear}
        </button>
      )}
      <button
        type="button"
        className="secondary"
        onClick={() => {
          void navigator.clipboard?.writeText(window.location.href).then(
            () => {
              setCopied(true)
              setTimeout(() => setCopied(false), 2000)
            },
            () => {},
          )
        }}
        title={t.copyTitle}
        data-testid="copy-link"
      >
        {copied ? t.copied : t.copy}
      </button>
    </form>
  )
}
