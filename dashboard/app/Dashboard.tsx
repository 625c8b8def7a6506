import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type KeyboardEvent } from 'react'
import { AlertsPanel } from './alerts/AlertsPanel.tsx'
import { alertStore, useAlerts } from './alerts/hooks.ts'
import { useAlertWords } from './alerts/words.ts'
import { RulesPanel } from './alerts/RulesPanel.tsx'
import { api } from './api/client.ts'
import { ops } from './api/ops.ts'
import type { AppConfig, Device, User } from './api/types.ts'
import { DeviceList } from './devices/DeviceList.tsx'
import { DevicePanel } from './devices/DevicePanel.tsx'
import { FilterBar } from './FilterBar.tsx'
import { navigate, ROUTES } from './installer/router.ts'
import { live, type FlushBatch } from './live/connection.ts'
import { describeLive } from './live/describe.ts'
import { useLiveFlush, useLiveStatus } from './live/hooks.ts'
import { Legend } from './map/Legend.tsx'
import { MapView, type FlyRequest } from './map/MapView.tsx'
import { CityOverview } from './overview/CityOverview.tsx'
import { useTheme } from './theme.ts'
import { LanguageSwitch, useStrings } from '../i18n/react.tsx'
import { APP_STRINGS } from './strings.ts'
import { matchesFilters, parseView, SIDE_TABS, writeView, type Filters, type SideTab } from './view.ts'

/** A device list refresh at most this often when the stream mentions devices we have not listed. */
const REFRESH_MIN_MS = 30_000

interface Props {
  user: User
  onLogout: () => void
  /** The stream says the session ended: back to the login page. */
  onSessionEnd: () => void
}

export default function Dashboard({ user, onLogout, onSessionEnd }: Props) {
  // The URL holds the view: filters, selection, side tab and map position (view.ts).
  const initial = useRef(parseView(window.location.search)).current
  const [config, setConfig] = useState<AppConfig | null>(null)
  const [devices, setDevices] = useState<Device[]>([])
  const [loadError, setLoadError] = useState('')
  const [filters, setFilters] = useState<Filters>({ city: initial.city, family: initial.family, type: initial.type, state: initial.state, q: initial.q })
  const [selectedId, setSelectedId] = useState<string | null>(initial.device)
  const [tab, setTab] = useState<SideTab>(initial.tab)
  const [fly, setFly] = useState<FlyRequest | null>(null)
  const [focusedCity, setFocusedCity] = useState(initial.city)
  const [theme, toggleTheme] = useTheme()
  const t = useStrings(APP_STRINGS).top

  useEffect(() => {
    live.connect()
    return () => live.close()
  }, [])

  // The whole region (one subscription per city: the server has no "all"): the overview needs
  // every city whatever the filters; an installer's region is their own cities.
  const userCities = user.cities
  useEffect(() => {
    if (!config) return
    const all = userCities?.length ? userCities : config.cities.map((c) => c.id)
    live.setSubscriptions(all.map((c) => ({ city: c })))
  }, [config, userCities])

  const { state: liveState } = useLiveStatus()
  useEffect(() => {
    if (liveState === 'expired') onSessionEnd()
    // On every (re)connection: device health and alerts afresh (pushes may have been missed).
    if (liveState !== 'live') return
    ops.deviceStates().then(
      (r) => live.ingestHealth(r.items),
      () => {},
    )
    void alertStore.reload()
    void alertStore.reloadRules()
  }, [liveState, onSessionEnd])

  useEffect(() => {
    let cancelled = false
    Promise.all([api.config(), api.allDevices()]).then(
      ([c, d]) => {
        if (cancelled) return
        setConfig(c)
        setDevices(d)
      },
      (e: unknown) => !cancelled && setLoadError(e instanceof Error ? e.message : String(e)),
    )
    return () => {
      cancelled = true
    }
  }, [])

  useEffect(() => {
    writeView({ ...filters, device: selectedId, tab })
  }, [filters, selectedId, tab])

  // A device registered after the page loaded shows up in the stream first: refresh the list then.
  const known = useMemo(() => new Set(devices.map((d) => d.id)), [devices])
  const lastRefresh = useRef(Date.now())
  useLiveFlush(
    useCallback(
      (batch: FlushBatch) => {
        if (Date.now() - lastRefresh.current < REFRESH_MIN_MS) return
        for (const id of batch.changed) {
          if (known.has(id)) continue
          lastRefresh.current = Date.now()
          api.allDevices().then(setDevices, () => {})
          return
        }
      },
      [known],
    ),
  )

  // Filtering by state follows health changes (not every reading).
  const stateFilter = filters.state
  const healthVersion = useSyncExternalStore(
    live.subscribe,
    () => (stateFilter ? live.getHealthVersion() : 0),
    () => 0,
  )
  const filtered = useMemo(
    () => (config ? devices.filter((d) => matchesFilters(config, d, live.getHealth(d.id), filters)) : []),
    // healthVersion re-runs it when states change.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [config, devices, filters, healthVersion],
  )

  const changeFilters = useCallback((next: Filters) => {
    setFilters((prev) => {
      if (next.city !== prev.city) {
        setFly((f) => ({ city: next.city, seq: (f?.seq ?? 0) + 1 }))
        setFocusedCity(next.city)
      }
      return next
    })
  }, [])
  // A city card shows that city: the filter follows (the list, the map and the URL agree), and
  // the map flies there even when the filter already named it.
  const flyTo = useCallback((city: string) => {
    setFilters((prev) => (prev.city === city ? prev : { ...prev, city }))
    setFly((f) => ({ city, seq: (f?.seq ?? 0) + 1 }))
    setFocusedCity(city)
  }, [])

  const selected = selectedId ? devices.find((d) => d.id === selectedId) : undefined
  const select = useCallback((id: string) => setSelectedId(id), [])
  const selectedRef = useRef(selectedId)
  selectedRef.current = selectedId
  // Closing the panel from inside it would drop focus to <body>: return it to the device's row.
  const closePanel = useCallback(() => {
    const id = selectedRef.current
    const inPanel = document.activeElement?.closest('[data-testid="device-panel"]')
    setSelectedId(null)
    if (id && inPanel) requestAnimationFrame(() => document.querySelector<HTMLElement>(`button[data-device-id="${CSS.escape(id)}"]`)?.focus())
  }, [])
  const showTab = useCallback((t: SideTab) => {
    setSelectedId(null)
    setTab(t)
  }, [])

  return (
    <div className="app">
      <header className="topbar">
        <h1>
          Piazza <span className="subtitle">{t.subtitle}</span>
        </h1>
        <LiveBadge />
        <AlertBadge onOpen={() => showTab('alerts')} />
        <span className="spacer" />
        <a
          href={ROUTES.devices}
          style={{ color: '#fff', fontWeight: 600 }}
          data-testid="nav-devices"
          onClick={(e) => {
            e.preventDefault()
            navigate(ROUTES.devices)
          }}
        >
          {user.role === 'admin' ? t.devicesUsers : t.devices}
        </a>
        <button type="button" className="theme-toggle" onClick={toggleTheme} aria-pressed={theme === 'dark'} data-testid="theme-toggle" title={t.darkTitle}>
          <span aria-hidden="true">{theme === 'dark' ? '☀' : '☾'}</span> {theme === 'dark' ? t.light : t.dark}
        </button>
        <LanguageSwitch className="lang-switch topbar-lang" />
        <span className="user" data-testid="current-user">
          {user.username} <small>({t.role[user.role] ?? user.role})</small>
        </span>
        <button type="button" onClick={onLogout} data-testid="logout">
          {t.logout}
        </button>
      </header>
      {loadError ? (
        <p className="error page-error" role="alert" data-testid="load-error">
          {t.loadError} {loadError}
        </p>
      ) : !config ? (
        <p className="loading" role="status">
          {t.loadingDevices}
        </p>
      ) : (
        <>
          <FilterBar config={config} filters={filters} onChange={changeFilters} shown={filtered.length} total={devices.length} />
          <div className="workspace">
            <DeviceList config={config} devices={filtered} selectedId={selectedId} onSelect={select} />
            <div className="map-area">
              <MapView config={config} devices={devices} filters={filters} selectedId={selectedId} onSelect={select} initialView={initial.map} fly={fly} theme={theme} />
              <Legend config={config} type={filters.type || undefined} />
              <AlertToast onOpen={() => showTab('alerts')} />
            </div>
            <div className="side">
              {selected ? (
                <DevicePanel key={selected.id} config={config} device={selected} devices={devices} user={user} onClose={closePanel} />
              ) : (
                <SidePanel tab={tab} onTab={setTab}>
                  {tab === 'cities' && <CityOverview config={config} devices={devices} focused={focusedCity} onFly={flyTo} />}
                  {tab === 'alerts' && <AlertsPanel config={config} user={user} onSelectDevice={select} />}
                  {tab === 'rules' && <RulesPanel config={config} user={user} />}
                </SidePanel>
              )}
            </div>
          </div>
        </>
      )}
    </div>
  )
}

/** Tabs for the side panel: arrow keys move between them (WAI-ARIA tabs pattern). */
function SidePanel({ tab, onTab, children }: { tab: SideTab; onTab: (t: SideTab) => void; children: React.ReactNode }) {
  const { counts } = useAlerts()
  const t = useStrings(APP_STRINGS).top
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const i = SIDE_TABS.indexOf(tab)
    let next = -1
    if (e.key === 'ArrowRight') next = (i + 1) % SIDE_TABS.length
    else if (e.key === 'ArrowLeft') next = (i + SIDE_TABS.length - 1) % SIDE_TABS.length
    else return
    e.preventDefault()
    onTab(SIDE_TABS[next]!)
    requestAnimationFrame(() => document.getElementById(`tab-${SIDE_TABS[next]}`)?.focus())
  }
  return (
    <div className="side-panel">
      <div className="tabs" role="tablist" aria-label={t.sidePanel} onKeyDown={onKeyDown}>
        {SIDE_TABS.map((id) => (
          <button
            key={id}
            id={`tab-${id}`}
            type="button"
            role="tab"
            aria-selected={tab === id}
            aria-controls={`tabpanel-${id}`}
            tabIndex={tab === id ? 0 : -1}
            onClick={() => onTab(id)}
            data-testid={`tab-${id}`}
          >
            {t.tabs[id]}
            {id === 'alerts' && counts.open > 0 && <span className="tab-badge">{counts.open}</span>}
          </button>
        ))}
      </div>
      <div className="tabpanel" role="tabpanel" id={`tabpanel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {children}
      </div>
    </div>
  )
}

function AlertBadge({ onOpen }: { onOpen: () => void }) {
  const { counts } = useAlerts()
  const t = useStrings(APP_STRINGS).top
  return (
    <button
      type="button"
      className={`alert-badge${counts.open ? ' open' : ''}`}
      onClick={onOpen}
      data-testid="alert-badge"
      data-open={counts.open}
      data-acknowledged={counts.acknowledged}
      aria-label={t.alertBadgeLabel(counts.open, counts.acknowledged)}
    >
      <span aria-hidden="true">{counts.open ? '⚠' : '✓'}</span> {counts.open ? t.openAlerts(counts.open) : t.noOpenAlerts}
      {counts.acknowledged > 0 && <small> · {t.acked(counts.acknowledged)}</small>}
    </button>
  )
}

/** A new alert, announced over the map (no layout shift) and to screen readers; gone after a few seconds. */
function AlertToast({ onOpen }: { onOpen: () => void }) {
  const { last } = useAlerts()
  const t = useStrings(APP_STRINGS).top
  const [shown, setShown] = useState<typeof last>(null)
  const { alertText } = useAlertWords()
  useEffect(() => {
    if (!last || last.opened === 0) return
    setShown(last)
    const timer = setTimeout(() => setShown(null), 8000)
    return () => clearTimeout(timer)
  }, [last])
  return (
    <div className="toast-region" role="status" aria-live="polite">
      {shown && (
        <button type="button" className={`toast sev-${shown.newest?.severity ?? 'warning'}`} onClick={onOpen} data-testid="alert-toast">
          <span aria-hidden="true">⚠</span>{' '}
          {shown.opened === 1 && shown.newest ? (
            <>
              {t.newAlert} <strong>{shown.newest.ruleName}</strong> — {alertText(shown.newest)}
            </>
          ) : (
            <>
              <strong>{t.newAlerts(shown.opened)}</strong>
              {shown.newest && ` (${shown.newest.ruleName}…)`}
            </>
          )}
        </button>
      )}
    </div>
  )
}

function LiveBadge() {
  const status = useLiveStatus()
  // Away from live, the data's age grows: re-read it every second.
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    if (status.state === 'live') return
    setNow(Date.now())
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [status.state])
  const { text, age, detail } = describeLive(status, live.getLastDataAt(), now)
  return (
    <span className={`live-badge live-${status.state}`} data-testid="live-status" data-state={status.state} title={detail}>
      <span className="dot" aria-hidden="true" />
      <span role="status">{text}</span>
      {age && (
        <small className="live-age" data-testid="live-age">
          · {age}
        </small>
      )}
    </span>
  )
}
