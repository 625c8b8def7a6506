import { useVirtualizer } from '@tanstack/react-virtual'
import { memo, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react'
import type { AppConfig, Device } from '../api/types.ts'
import { live } from '../live/connection.ts'
import { useLang } from '../../i18n/react.tsx'
import { healthText } from '../live/health.ts'
import { appLocale } from '../locale.ts'
import { DEVICE_STRINGS } from './strings.ts'
import { useDeviceHealth, useDeviceState, useHealthVersion } from '../live/hooks.ts'
import { healthOf } from '../map/features.ts'
import { grade } from '../map/levels.ts'
import { cityName, typeLabel } from './format.ts'
import { DEVICE_SORTS, isDeviceSort, sortDevices, type DeviceSort } from './sort.ts'

/** A row's height before it is measured (names may wrap to two lines). */
const ESTIMATED_ROW_PX = 68
const SORT_KEY = 'piazza.deviceSort'
/** The benchmark's baseline (`?baseline=full-list`, bench/dashboard.ts): every row in the page, as an unvirtualised list has. */
const EVERY_ROW = typeof window !== 'undefined' && new URLSearchParams(window.location.search).get('baseline') === 'full-list'

interface Props {
  config: AppConfig
  /** Already filtered (FilterBar). */
  devices: readonly Device[]
  selectedId: string | null
  onSelect: (id: string) => void
}

function initialSort(): DeviceSort {
  try {
    const saved = localStorage.getItem(SORT_KEY) ?? ''
    return isDeviceSort(saved) ? saved : 'name'
  } catch {
    return 'name'
  }
}

/**
 * The accessible way to pick a device: keyboard-operable (Tab to the list, arrows to move,
 * Enter to open), and the same choice a map click makes. Each row shows the device's full name,
 * its state and value in words. Every device is in it, however many: only the rows in view are
 * in the DOM (virtualised), so 5,000 devices scroll like 50.
 */
export function DeviceList({ config, devices, selectedId, onSelect }: Props) {
  const [sort, setSort] = useState<DeviceSort>(initialSort)
  const { lang } = useLang()
  const t = DEVICE_STRINGS[lang].list
  // Problems first follows health changes (not every reading).
  const healthVersion = useHealthVersion()
  const sorted = useMemo(
    () => sortDevices(config, devices, sort, (d) => healthOf(d, live.getHealth(d.id))),
    // healthVersion re-sorts when states change, only for the state order.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [config, devices, sort, sort === 'state' ? healthVersion : 0, lang],
  )
  const scroller = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({
    count: sorted.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ESTIMATED_ROW_PX,
    overscan: EVERY_ROW ? sorted.length : 6,
    getItemKey: (i) => sorted[i]!.id,
  })

  // A device picked (on the map, or from a link) comes into view in the list; later list
  // changes leave the operator's scroll position alone.
  const sortedRef = useRef(sorted)
  sortedRef.current = sorted
  useEffect(() => {
    if (!selectedId) return
    const i = sortedRef.current.findIndex((d) => d.id === selectedId)
    if (i >= 0) virtualizer.scrollToIndex(i, { align: 'auto' })
  }, [selectedId, virtualizer])

  const changeSort = (next: DeviceSort) => {
    setSort(next)
    try {
      localStorage.setItem(SORT_KEY, next)
    } catch {
      // Private mode: the order is not remembered, that is all.
    }
  }

  // Arrow keys move between rows (scrolling the next one into the DOM), so a long list is not a long Tab chain.
  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => {
    const current = Number((document.activeElement as HTMLElement | null)?.dataset.index ?? -1)
    let next = -1
    if (e.key === 'ArrowDown') next = Math.min(sorted.length - 1, current + 1)
    else if (e.key === 'ArrowUp') next = Math.max(0, current - 1)
    else if (e.key === 'Home') next = 0
    else if (e.key === 'End') next = sorted.length - 1
    else return
    e.preventDefault()
    virtualizer.scrollToIndex(next, { align: 'auto' })
    const focus = (tries: number) => {
      const button = scroller.current?.querySelector<HTMLButtonElement>(`button[data-index="${next}"]`)
      if (button) button.focus()
      else if (tries > 0) requestAnimationFrame(() => focus(tries - 1))
    }
    focus(10)
  }

  const items = virtualizer.getVirtualItems()
  return (
    <section className="device-list" aria-labelledby="device-list-title" data-testid="device-list">
      <h2 id="device-list-title">
        {t.title}{' '}
        <span className="list-count" role="status" data-testid="device-count" data-count={sorted.length}>
          {sorted.length.toLocaleString(appLocale())}
        </span>
      </h2>
      <label className="device-sort">
        {t.sortBy}
        <select value={sort} onChange={(e) => changeSort(e.target.value as DeviceSort)} data-testid="device-sort">
          {DEVICE_SORTS.map((s) => (
            <option key={s.id} value={s.id}>
              {t.sorts[s.id]}
            </option>
          ))}
        </select>
      </label>
      {sorted.length === 0 ? (
        <p className="empty">{t.none}</p>
      ) : (
        <div className="device-scroll" ref={scroller} data-testid="device-scroll">
          <ul onKeyDown={onKeyDown} style={{ height: virtualizer.getTotalSize() }} aria-label={t.listLabel(sorted.length.toLocaleString(appLocale()))}>
            {items.map((item) => {
              const d = sorted[item.index]!
              return (
                <li
                  key={item.key}
                  data-index={item.index}
                  ref={virtualizer.measureElement}
                  aria-setsize={sorted.length}
                  aria-posinset={item.index + 1}
                  style={{ transform: `translateY(${item.start}px)` }}
                >
                  <DeviceRow config={config} device={d} index={item.index} selected={d.id === selectedId} onSelect={onSelect} />
                </li>
              )
            })}
          </ul>
        </div>
      )}
    </section>
  )
}

interface RowProps {
  config: AppConfig
  device: Device
  index: number
  selected: boolean
  onSelect: (id: string) => void
}

/** One row; it subscribes to its own device, so a live update re-renders only that row. */
const DeviceRow = memo(function DeviceRow({ config, device, index, selected, onSelect }: RowProps) {
  const state = useDeviceState(device.id)
  // The row's words and numbers follow the language (the row is memoised).
  useLang()
  const health = healthOf(device, useDeviceHealth(device.id))
  const g = grade(device.type, state?.values, device.status === 'active')
  const stale = health === 'silent'
  return (
    <button
      type="button"
      className={`device-row state-${health}`}
      aria-pressed={selected}
      data-testid="device-list-item"
      data-device-id={device.id}
      data-index={index}
      data-state={health}
      onClick={() => onSelect(device.id)}
    >
      <span className="swatch" style={{ background: stale ? '#9aa0a6' : g.color }} aria-hidden="true" />
      <span className="device-row-text">
        <span className="device-row-name" data-testid="device-row-name">
          {device.name}
        </span>
        <span className="device-row-meta">
          {typeLabel(config, device.type)} · {cityName(config, device.city)}
        </span>
        <span className="device-row-value">{g.kind === 'level' ? `${g.text} · ${g.detail}` : g.text}</span>
      </span>
      <span className={`state-pill ${health}`} data-testid="device-state">
        <span aria-hidden="true">{healthText(health).symbol}</span> {healthText(health).label}
      </span>
    </button>
  )
})
