import { memo, type KeyboardEvent } from 'react'
import type { AppConfig, Device } from '../api/types.ts'
import { HEALTH } from '../live/health.ts'
import { useDeviceHealth, useDeviceState } from '../live/hooks.ts'
import { healthOf } from '../map/features.ts'
import { grade } from '../map/levels.ts'
import { cityName, typeLabel } from './format.ts'

/** Rows rendered at most; beyond that the user narrows the search (keeps the DOM light). */
const MAX_ROWS = 200

interface Props {
  config: AppConfig
  /** Already filtered (FilterBar). */
  devices: readonly Device[]
  selectedId: string | null
  onSelect: (id: string) => void
}

/**
 * The accessible way to pick a device: keyboard-operable (Tab to the list, arrows to move,
 * Enter to open), and the same choice a map click makes. Each row shows the device's state and
 * value in words.
 */
export function DeviceList({ config, devices, selectedId, onSelect }: Props) {
  const shown = devices.slice(0, MAX_ROWS)

  // Arrow keys move between rows, so a long list is not a long Tab chain to walk.
  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => {
    const buttons = [...e.currentTarget.querySelectorAll<HTMLButtonElement>('button[data-device-id]')]
    const i = buttons.indexOf(document.activeElement as HTMLButtonElement)
    let next = -1
    if (e.key === 'ArrowDown') next = Math.min(buttons.length - 1, i + 1)
    else if (e.key === 'ArrowUp') next = Math.max(0, i - 1)
    else if (e.key === 'Home') next = 0
    else if (e.key === 'End') next = buttons.length - 1
    else return
    e.preventDefault()
    buttons[next]?.focus()
  }

  return (
    <section className="device-list" aria-labelledby="device-list-title" data-testid="device-list">
      <h2 id="device-list-title">
        Devices{' '}
        <span className="list-count" role="status" data-testid="device-count">
          {devices.length === shown.length ? `${devices.length}` : `first ${shown.length} of ${devices.length}; search to narrow`}
        </span>
      </h2>
      {devices.length === 0 ? (
        <p className="empty">No device matches the filters.</p>
      ) : (
        <ul onKeyDown={onKeyDown}>
          {shown.map((d) => (
            <DeviceRow key={d.id} config={config} device={d} selected={d.id === selectedId} onSelect={onSelect} />
          ))}
        </ul>
      )}
    </section>
  )
}

interface RowProps {
  config: AppConfig
  device: Device
  selected: boolean
  onSelect: (id: string) => void
}

/** One row; it subscribes to its own device, so a live update re-renders only that row. */
const DeviceRow = memo(function DeviceRow({ config, device, selected, onSelect }: RowProps) {
  const state = useDeviceState(device.id)
  const health = healthOf(device, useDeviceHealth(device.id))
  const g = grade(device.type, state?.values, device.status === 'active')
  const stale = health === 'silent'
  return (
    <li>
      <button
        type="button"
        className={`device-row state-${health}`}
        aria-pressed={selected}
        data-testid="device-list-item"
        data-device-id={device.id}
        data-state={health}
        onClick={() => onSelect(device.id)}
      >
        <span className="swatch" style={{ background: stale ? '#9aa0a6' : g.color }} aria-hidden="true" />
        <span className="device-row-text">
          <span className="device-row-name">{device.name}</span>
          <span className="device-row-meta">
            {typeLabel(config, device.type)} · {cityName(config, device.city)}
          </span>
          <span className="device-row-value">{g.kind === 'level' ? `${g.text} · ${g.detail}` : g.text}</span>
        </span>
        <span className={`state-pill ${health}`} data-testid="device-state">
          <span aria-hidden="true">{HEALTH[health].symbol}</span> {HEALTH[health].label}
        </span>
      </button>
    </li>
  )
})
