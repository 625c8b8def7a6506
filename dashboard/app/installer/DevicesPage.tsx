import { useEffect, useState } from 'react'
import type { User } from '../api/types.ts'
import { installerApi } from './api.ts'
import { loadConfig, useLoad } from './data.ts'
import { ROUTES } from './router.ts'
import { ago, Link, StatusBadge } from './ui.tsx'

/** Devices per page. */
const PAGE_SIZE = 50

/** The devices this user may see (installers: theirs and their cities'), by id, a page at a time (searched by the server), to open one's commissioning view. */
export function DevicesPage({ user }: { user: User & { cities?: string[] } }) {
  const [config] = useLoad(loadConfig)
  const [search, setSearch] = useState('')
  const [query, setQuery] = useState('')
  const [status, setStatus] = useState('active')
  const [offset, setOffset] = useState(0)
  // The server searches and pages (a fleet of thousands is never loaded at once); typing waits a beat.
  // Only a changed search goes back to the first page: on mount (or typing back to the same
  // words) the timer would otherwise undo a "Next" clicked within its beat.
  useEffect(() => {
    const next = search.trim()
    if (next === query) return
    const timer = setTimeout(() => {
      setQuery(next)
      setOffset(0)
    }, 300)
    return () => clearTimeout(timer)
  }, [search, query])
  const key = JSON.stringify({ query, status, offset })
  const [devices, reload] = useLoad(() => installerApi.devices({ search: query, status, limit: PAGE_SIZE, offset }), key)
  const items = devices.state === 'ready' ? devices.value.items : []
  const total = devices.state === 'ready' ? devices.value.total : 0

  const canManage = user.role === 'installer' || user.role === 'admin'
  const scope =
    user.role === 'installer' ? (user.cities?.length ? `Your devices and those of ${user.cities.join(', ')}` : 'The devices you registered') : 'Every device'

  return (
    <section className="inst-card" aria-labelledby="devices-title" data-testid="installer-devices">
      <div className="inst-title-row">
        <h1 id="devices-title">Devices</h1>
        {canManage && (
          <Link to={ROUTES.register} className="inst-button" data-testid="devices-register">
            + Register
          </Link>
        )}
      </div>
      <p className="inst-sub">{scope}.</p>
      <div className="inst-row inst-filters">
        <input type="search" aria-label="Search devices" placeholder="Search name or id…" value={search} onChange={(e) => setSearch(e.target.value)} data-testid="installer-search" />
        <select
          aria-label="Status"
          value={status}
          onChange={(e) => {
            setStatus(e.target.value)
            setOffset(0)
          }} data-testid="installer-status-filter">
          <option value="active">Active</option>
          <option value="revoked">Revoked</option>
          <option value="decommissioned">Decommissioned</option>
          <option value="">All</option>
        </select>
      </div>
      {devices.state === 'error' ? (
        <p className="error" role="alert">
          Could not load the devices: {devices.message}{' '}
          <button type="button" className="inst-linkbutton" onClick={reload}>
            Try again
          </button>
        </p>
      ) : devices.state === 'loading' ? (
        <p className="loading" role="status">
          Loading…
        </p>
      ) : items.length === 0 ? (
        <p className="inst-hint" data-testid="installer-devices-empty">
          {query || status !== 'active' ? 'No device matches.' : `No devices here yet.${canManage ? ' Register one, or import a CSV file.' : ''}`}
        </p>
      ) : (
        <>
          <Pager offset={offset} shown={items.length} total={total} onOffset={setOffset} />
          <ul className="inst-list">
            {items.map((d) => (
              <li key={d.id}>
                <Link to={ROUTES.device(d.id)} className="inst-list-item" data-testid="installer-device-item" data-device-id={d.id}>
                  <span className={`inst-conn ${d.connected ? 'on' : 'off'}`} title={d.connected ? 'connected' : 'not connected'} aria-label={d.connected ? 'connected' : 'not connected'} />
                  <span className="inst-list-text">
                    <span className="inst-list-name">{d.name}</span>
                    <span className="inst-list-meta">
                      {config.state === 'ready' ? (config.value.kinds.find((k) => k.type === d.type)?.label ?? d.type) : d.type} ·{' '}
                      {config.state === 'ready' ? (config.value.cities.find((c) => c.id === d.city)?.name ?? d.city) : d.city}
                      {typeof d.lastSeen === 'number' ? ` · seen ${ago(d.lastSeen)}` : ''}
                    </span>
                  </span>
                  <StatusBadge status={d.status} />
                </Link>
              </li>
            ))}
          </ul>
          {total > PAGE_SIZE && <Pager offset={offset} shown={items.length} total={total} onOffset={setOffset} bottom />}
        </>
      )}
    </section>
  )
}

/** "51–100 of 5,001" with the previous and next pages. */
function Pager({ offset, shown, total, onOffset, bottom }: { offset: number; shown: number; total: number; onOffset: (offset: number) => void; bottom?: boolean }) {
  const n = (x: number) => x.toLocaleString('en-GB')
  // Test ids on the top pager only (the bottom one repeats it after a long page).
  const id = (name: string) => (bottom ? undefined : name)
  return (
    <div className="inst-row inst-pager" data-testid={id('installer-pager')}>
      <span className="inst-hint" role={bottom ? undefined : 'status'} data-testid={id('installer-range')} data-total={total}>
        {n(offset + 1)}–{n(offset + shown)} of {n(total)}
      </span>
      <button type="button" className="inst-secondary" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - PAGE_SIZE))} data-testid={id('installer-prev')}>
        Previous
      </button>
      <button type="button" className="inst-secondary" disabled={offset + shown >= total} onClick={() => onOffset(offset + PAGE_SIZE)} data-testid={id('installer-next')}>
        Next
      </button>
    </div>
  )
}
