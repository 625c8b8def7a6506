import { useMemo, useState } from 'react'
import type { User } from '../api/types.ts'
import { installerApi } from './api.ts'
import { loadConfig, useLoad } from './data.ts'
import { ROUTES } from './router.ts'
import { ago, Link, StatusBadge } from './ui.tsx'

/** The devices this user may see (installers: theirs and their cities'), newest first, to open one's commissioning view. */
export function DevicesPage({ user }: { user: User & { cities?: string[] } }) {
  const [config] = useLoad(loadConfig)
  const [devices, reload] = useLoad(installerApi.devices)
  const [search, setSearch] = useState('')
  const [status, setStatus] = useState('active')

  const items = useMemo(() => {
    if (devices.state !== 'ready') return []
    const words = search.toLowerCase().split(/\s+/).filter(Boolean)
    return [...devices.value.items]
      .filter((d) => !status || d.status === status)
      .filter((d) => words.every((w) => `${d.name} ${d.id} ${d.city} ${d.type}`.toLowerCase().includes(w)))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
  }, [devices, search, status])

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
        <input type="search" aria-label="Search devices" placeholder="Search name, id, city…" value={search} onChange={(e) => setSearch(e.target.value)} data-testid="installer-search" />
        <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value)} data-testid="installer-status-filter">
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
          No devices here yet.{canManage ? ' Register one, or import a CSV file.' : ''}
        </p>
      ) : (
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
      )}
    </section>
  )
}
