import { useState } from 'react'
import { useStrings } from '../../i18n/react.tsx'
import type { User } from '../api/types.ts'
import { ADMIN_STRINGS } from '../admin/strings.ts'
import { Pager, SortHeader, useDateTime, usePaging, useSettled, type SortState } from '../admin/table.tsx'
import { installerApi } from './api.ts'
import { loadConfig, useLoad } from './data.ts'
import { ROUTES } from './router.ts'
import { Link } from './ui.tsx'

/** Devices per page. */
const PAGE_SIZE = 50

type DeviceSort = 'name' | 'id' | 'city' | 'type' | 'status' | 'lastSeen'

/**
 * The devices this user may see (installers: theirs and their cities'), a table a page at a time:
 * the server searches, sorts (names in natural order) and pages, so a fleet of thousands is never
 * loaded at once. A name opens the device's commissioning view.
 */
export function DevicesPage({ user }: { user: User & { cities?: string[] } }) {
  const { devices: t, list: tl } = useStrings(ADMIN_STRINGS)
  const dateTime = useDateTime()
  const [config] = useLoad(loadConfig)
  const [search, setSearch] = useState('')
  const query = useSettled(search)
  const [status, setStatus] = useState('active')
  const [order, setOrder] = useState<SortState<DeviceSort>>({ sort: 'name', order: 'asc' })
  // The page belongs to one question: a new search, filter or order starts again at the first page.
  const question = JSON.stringify({ query, status, order })
  const [offset, setOffset] = usePaging(question)
  const key = JSON.stringify({ question, offset })
  // The page on screen stays until the next one arrives: the range shown is the loaded page's.
  const [devices, reload] = useLoad(
    async () => ({ ...(await installerApi.devices({ search: query, status, sort: order.sort, order: order.order, limit: PAGE_SIZE, offset })), at: offset }),
    key,
  )
  const items = devices.state === 'ready' ? devices.value.items : []
  const total = devices.state === 'ready' ? devices.value.total : 0
  const shownAt = devices.state === 'ready' ? devices.value.at : offset

  const canManage = user.role === 'installer' || user.role === 'admin'
  const scope = user.role === 'installer' ? (user.cities?.length ? t.scopeCities(user.cities.join(', ')) : t.scopeOwn) : t.scopeAll
  const cityName = (id: string) => (config.state === 'ready' ? (config.value.cities.find((c) => c.id === id)?.name ?? id) : id)
  const typeName = (type: string) => (config.state === 'ready' ? (config.value.kinds.find((k) => k.type === type)?.label ?? type) : type)
  const header = (column: DeviceSort, className?: string) => <SortHeader label={t.columns[column]} column={column} state={order} onSort={setOrder} className={className} />

  return (
    <section className="inst-card adm-list" aria-labelledby="devices-title" data-testid="installer-devices">
      <div className="inst-title-row">
        <h1 id="devices-title">{t.title}</h1>
        {canManage && (
          <Link to={ROUTES.register} className="inst-button" data-testid="devices-register">
            {t.register}
          </Link>
        )}
      </div>
      <p className="inst-sub">{scope}.</p>
      <div className="adm-toolbar">
        <input type="search" aria-label={t.search} placeholder={t.searchPlaceholder} value={search} onChange={(e) => setSearch(e.target.value)} data-testid="installer-search" />
        <select aria-label={t.status} value={status} onChange={(e) => setStatus(e.target.value)} data-testid="installer-status-filter">
          {['active', 'revoked', 'decommissioned', ''].map((s) => (
            <option key={s} value={s}>
              {t.statuses[s]}
            </option>
          ))}
        </select>
      </div>
      {devices.state === 'error' ? (
        <p className="error" role="alert">
          {t.loadError} {devices.message}{' '}
          <button type="button" className="inst-linkbutton" onClick={reload}>
            {tl.retry}
          </button>
        </p>
      ) : devices.state === 'loading' ? (
        <p className="loading" role="status">
          {tl.loading}
        </p>
      ) : items.length === 0 ? (
        <p className="inst-hint" data-testid="installer-devices-empty">
          {query || status !== 'active' ? t.noMatch : `${t.none}${canManage ? t.noneManage : ''}`}
        </p>
      ) : (
        <>
          <Pager prefix="installer" offset={shownAt} shown={items.length} total={total} pageSize={PAGE_SIZE} onOffset={setOffset} />
          <div className="adm-table-scroll">
            <table className="adm-table" aria-label={t.table} data-testid="installer-devices-table">
              <thead>
                <tr>
                  {header('name', 'adm-col-name')}
                  {header('id')}
                  {header('city')}
                  {header('type')}
                  {header('status')}
                  {header('lastSeen')}
                </tr>
              </thead>
              <tbody>
                {items.map((d) => (
                  <tr key={d.id} data-testid="installer-device-row" data-device-id={d.id}>
                    <td className="adm-col-name">
                      <span className={`inst-conn ${d.connected ? 'on' : 'off'}`} title={d.connected ? t.connected : t.notConnected} aria-label={d.connected ? t.connected : t.notConnected} role="img" />
                      <Link to={ROUTES.device(d.id)} data-testid="installer-device-item" data-device-id={d.id}>
                        {d.name}
                      </Link>
                    </td>
                    <td>
                      <code>{d.id}</code>
                    </td>
                    <td>{cityName(d.city)}</td>
                    <td>{typeName(d.type)}</td>
                    <td>
                      <span className={`inst-badge inst-badge-${d.status}`} data-testid="device-status-badge" data-status={d.status}>
                        {t.status1[d.status] ?? d.status}
                      </span>
                    </td>
                    <td className="adm-nowrap">{typeof d.lastSeen === 'number' ? dateTime(d.lastSeen) : t.never}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {total > PAGE_SIZE && <Pager prefix="installer" offset={shownAt} shown={items.length} total={total} pageSize={PAGE_SIZE} onOffset={setOffset} bottom />}
        </>
      )}
    </section>
  )
}
