import { useEffect, useRef, useState } from 'react'
import type { Family } from '../../devices/kinds.ts'
import type { AppConfig } from './api/types.ts'
import { HEALTH, HEALTH_STATES } from './live/health.ts'
import { EMPTY_FILTERS, hasFilters, type Filters } from './view.ts'

/** Words for the families the config's kinds name (devices/kinds.ts). */
const FAMILY_LABELS: Record<Family, string> = { environment: 'Environment', traffic: 'Traffic', infomobility: 'Infomobility' }

interface Props {
  config: AppConfig
  filters: Filters
  onChange: (next: Filters) => void
  shown: number
  total: number
}

/** City, family, type, state and search: one set of filters for the map and the list, kept in the URL. */
export function FilterBar({ config, filters, onChange, shown, total }: Props) {
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
    <form className="filter-bar" role="search" aria-label="Filter devices" onSubmit={(e) => e.preventDefault()} data-testid="filter-bar">
      <label>
        City
        <select value={filters.city} onChange={(e) => set({ city: e.target.value })} data-testid="city-filter">
          <option value="">All of Tuscany</option>
          {config.cities.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name} ({c.province})
            </option>
          ))}
        </select>
      </label>
      <label>
        Family
        <select
          value={filters.family}
          onChange={(e) => {
            const family = e.target.value
            const keepType = !filters.type || !family || config.kinds[filters.type]?.family === family
            set({ family, type: keepType ? filters.type : '' })
          }}
          data-testid="family-filter"
        >
          <option value="">All families</option>
          {families.map((f) => (
            <option key={f} value={f}>
              {FAMILY_LABELS[f]}
            </option>
          ))}
        </select>
      </label>
      <label>
        Type
        <select value={filters.type} onChange={(e) => set({ type: e.target.value })} data-testid="device-type-filter">
          <option value="">All types</option>
          {types.map(([t, k]) => (
            <option key={t} value={t}>
              {k.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        State
        <select value={filters.state} onChange={(e) => set({ state: e.target.value as Filters['state'] })} data-testid="state-filter">
          <option value="">Any state</option>
          {HEALTH_STATES.map((s) => (
            <option key={s} value={s}>
              {HEALTH[s].symbol} {HEALTH[s].label}
            </option>
          ))}
        </select>
      </label>
      <label className="search">
        Search
        <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Id or name" data-testid="device-search" />
      </label>
      <span className="filter-count" role="status" data-testid="filter-count">
        {shown === total ? `${total.toLocaleString('en-GB')} devices` : `${shown.toLocaleString('en-GB')} of ${total.toLocaleString('en-GB')} devices`}
      </span>
      {hasFilters(filters) && (
        <button type="button" className="secondary" onClick={() => onChange(EMPTY_FILTERS)} data-testid="clear-filters">
          Clear filters
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
        title="The address holds the filters, the map view and the selected device"
        data-testid="copy-link"
      >
        {copied ? 'Link copied' : 'Copy link to this view'}
      </button>
    </form>
  )
}
