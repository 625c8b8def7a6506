import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import { ops } from '../api/ops.ts'
import type { AppConfig, Device, Point } from '../api/types.ts'
import type { FlushBatch } from '../live/connection.ts'
import { useLiveFlush } from '../live/hooks.ts'
import { useTheme } from '../theme.ts'
import { useStrings } from '../../i18n/react.tsx'
import { cachedPerLocale } from '../locale.ts'
import { fieldLabel, unitLabel } from './kind-strings.ts'
import { DEVICE_STRINGS } from './strings.ts'
import { defaultChartField, formatDateTime, formatNumber, formatShortTime, formatTime, formatValue } from './format.ts'
import { chooseEvery, mergeRows, mergeSeries, pointsFromUpdates, RANGES, toCsv, type RangeKey } from './series.ts'

interface SeriesSpec {
  deviceId: string
  field: string
}

interface Props {
  config: AppConfig
  device: Device
  /** Every device, to compare with. */
  devices: readonly Device[]
}

const MAX_SERIES = 4
/** Devices' clocks may run this far ahead of ours (ingest accepts 5 minutes). */
const FUTURE_MS = 5 * 60_000
/** Aggregated views re-read their newest window at most this often while readings arrive. */
const TAIL_REFRESH_MS = 10_000
/** Colour and dash per series: told apart without colour too. */
const STYLES = [
  { light: '#1f5f99', dark: '#7ab8ff', dash: undefined },
  { light: '#c2410c', dark: '#ffa45c', dash: '7 4' },
  { light: '#15803d', dark: '#6ee7a0', dash: '2 3' },
  { light: '#7e22ce', dark: '#d0a2ff', dash: '10 3 2 3' },
] as const

const keyOf = (s: SeriesSpec) => `${s.deviceId}:${s.field}`
const toLocalInput = (ms: number) => {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000)
  return d.toISOString().slice(0, 16)
}

/**
 * A device's fields over 1 h, 24 h, 7 d, 30 d or a custom range, aggregated by the server to a few
 * hundred points, the newest end kept live: raw readings are appended as they stream in,
 * aggregated views re-read their newest window. Other fields, or other devices' fields, can be
 * overlaid (up to four series, two units); the shown data downloads as CSV.
 */
export function DeviceChart({ config, device, devices }: Props) {
  const [theme] = useTheme()
  const t = useStrings(DEVICE_STRINGS).chart
  const primaryField = defaultChartField(config, device.type) ?? ''
  const [specs, setSpecs] = useState<SeriesSpec[]>(() => (primaryField ? [{ deviceId: device.id, field: primaryField }] : []))
  const [range, setRange] = useState<RangeKey>('1h')
  const [custom, setCustom] = useState(() => ({ from: toLocalInput(Date.now() - 6 * 3_600_000), to: toLocalInput(Date.now()) }))
  const [data, setData] = useState<Record<string, Point[]>>({})
  const [status, setStatus] = useState<'loading' | 'ready' | 'error'>('loading')
  const [error, setError] = useState('')
  const [notice, setNotice] = useState('')
  const [loadedAt, setLoadedAt] = useState(0)

  const byId = useMemo(() => new Map(devices.map((d) => [d.id, d])), [devices])
  const fieldInfo = (s: SeriesSpec) => {
    const d = byId.get(s.deviceId) ?? (s.deviceId === device.id ? device : undefined)
    return d ? config.kinds[d.type]?.fields[s.field] : undefined
  }
  const fieldName = (s: SeriesSpec) => {
    const d = byId.get(s.deviceId) ?? (s.deviceId === device.id ? device : undefined)
    return d ? fieldLabel(config, d.type, s.field) : s.field
  }
  const labelOf = (s: SeriesSpec) => {
    const info = fieldInfo(s)
    const name = s.deviceId === device.id ? '' : `${byId.get(s.deviceId)?.name ?? s.deviceId}: `
    return `${name}${info ? fieldName(s) : s.field}`
  }

  // The time window: a range ending now (live), or a custom one.
  const win = useMemo(() => {
    if (range === 'custom') {
      const from = Date.parse(custom.from)
      const to = Date.parse(custom.to)
      const ok = Number.isFinite(from) && Number.isFinite(to) && from < to
      const rangeMs = ok ? to - from : 3_600_000
      return { from: ok ? from : Date.now() - 3_600_000, to: ok ? to : Date.now(), live: ok && Date.now() - to < 60_000, ...chooseEvery(rangeMs), rangeMs, valid: ok }
    }
    const rangeMs = RANGES.find((r) => r.key === range)!.ms
    const to = Date.now()
    return { from: to - rangeMs, to, live: true, ...chooseEvery(rangeMs), rangeMs, valid: true }
    // loadedAt restarts a live window after a reload.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [range, custom, loadedAt])

  const specsKey = specs.map(keyOf).join('|')
  useEffect(() => {
    if (!win.valid || specs.length === 0) return
    let cancelled = false
    setData({})
    setStatus('loading')
    // A live window ends now, at the time of the request (device clocks may run a little ahead).
    const to = win.live && range !== 'custom' ? Date.now() + FUTURE_MS : win.to
    const from = win.live && range !== 'custom' ? Date.now() - win.rangeMs : win.from
    Promise.all(specs.map((s) => ops.series(s.deviceId, s.field, from, to, win.every, 'mean'))).then(
      (results) => {
        if (cancelled) return
        const since = win.live ? Date.now() - win.rangeMs : win.from
        // Live points may have arrived while the history loaded: merge, do not replace.
        setData((prev) => Object.fromEntries(specs.map((s, i) => [keyOf(s), mergeSeries(prev[keyOf(s)] ?? [], results[i]!.points, since)])))
        setStatus('ready')
      },
      (e: unknown) => {
        if (cancelled) return
        setError(e instanceof Error ? e.message : String(e))
        setStatus('error')
      },
    )
    return () => {
      cancelled = true
    }
    // specsKey stands for specs.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [specsKey, win])

  // Live at the right edge. Raw views take the streamed readings; aggregated ones re-read their
  // newest window now and then (a streamed reading cannot be folded into a server mean).
  const dirty = useRef(new Set<string>())
  useLiveFlush(
    useCallback(
      (batch: FlushBatch) => {
        if (!win.live) return
        const fresh: Record<string, Point[]> = {}
        for (const s of specs) {
          if (!batch.changed.has(s.deviceId)) continue
          if (win.ms !== null) {
            dirty.current.add(keyOf(s))
            continue
          }
          const points = pointsFromUpdates(batch.updates, s.deviceId, s.field)
          if (points.length > 0) fresh[keyOf(s)] = points
        }
        if (Object.keys(fresh).length === 0) return
        const since = Date.now() - win.rangeMs
        setData((prev) => {
          const next = { ...prev }
          for (const [k, points] of Object.entries(fresh)) next[k] = mergeSeries(prev[k] ?? [], points, since)
          return next
        })
      },
      [specs, win],
    ),
  )
  useEffect(() => {
    if (!win.live || win.ms === null) return
    const everyMs = win.ms
    const timer = setInterval(() => {
      const keys = [...dirty.current]
      dirty.current.clear()
      const targets = specs.filter((s) => keys.includes(keyOf(s)))
      if (targets.length === 0) return
      const now = Date.now()
      const tailFrom = Math.floor((now - everyMs) / everyMs) * everyMs
      void Promise.all(targets.map((s) => ops.series(s.deviceId, s.field, tailFrom, now + 1, win.every, 'mean').catch(() => null))).then((results) => {
        setData((prev) => {
          const next = { ...prev }
          targets.forEach((s, i) => {
            const r = results[i]
            if (!r) return
            const kept = (prev[keyOf(s)] ?? []).filter((p) => p.time < tailFrom && p.time >= now - win.rangeMs)
            next[keyOf(s)] = [...kept, ...r.points]
          })
          return next
        })
      })
    }, TAIL_REFRESH_MS)
    return () => clearInterval(timer)
  }, [specs, win])

  const units = [...new Set(specs.map((s) => fieldInfo(s)?.unit ?? ''))]
  const columns = specs.map((s, i) => ({ key: `s${i}`, spec: s, label: labelOf(s), unit: fieldInfo(s)?.unit ?? '', axis: units.indexOf(fieldInfo(s)?.unit ?? '') === 1 ? 'right' : 'left', style: STYLES[i]! }))
  const rows = useMemo(() => mergeRows(specs.map((s, i) => ({ key: `s${i}`, points: data[keyOf(s)] ?? [] }))), [data, specs])
  const total = specs.reduce((n, s) => n + (data[keyOf(s)]?.length ?? 0), 0)

  const addSeries = (s: SeriesSpec) => {
    if (specs.some((x) => keyOf(x) === keyOf(s))) return setNotice(t.alreadyShown)
    if (specs.length >= MAX_SERIES) return setNotice(t.maxSeries(MAX_SERIES))
    const unit = fieldInfo(s)?.unit ?? ''
    if (!units.includes(unit) && units.length >= 2) return setNotice(t.twoUnits(units.join(', '), unit))
    setNotice('')
    setSpecs([...specs, s])
  }

  const download = () => {
    const csv = toCsv(
      columns.map((c) => ({ key: c.key, header: `${byId.get(c.spec.deviceId)?.name ?? c.spec.deviceId} ${fieldName(c.spec)}${c.unit ? ` (${c.unit})` : ''}` })),
      rows,
    )
    const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }))
    const a = document.createElement('a')
    a.href = url
    a.download = `${device.id}-${range === 'custom' ? 'custom' : range}-${new Date(win.to).toISOString().slice(0, 16).replace(/[:T]/g, '')}.csv`
    document.body.append(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 1000)
  }

  const kind = config.kinds[device.type]
  const ownFields = Object.entries(kind?.fields ?? {})
  const rangeText = range === 'custom' ? `${formatDateTime(win.from)} – ${formatDateTime(win.to)}` : t.last(rangeLabel(RANGES.find((r) => r.key === range)!.ms, t.units))
  const aggregation = win.every ? t.meansOver(rangeLabel(win.ms!, t.units)) : t.everyReading
  const grid = theme === 'dark' ? '#334155' : '#e3e6ea'
  const ink = theme === 'dark' ? '#cbd5e1' : '#475569'
  const summary =
    total === 0
      ? t.noReadings(rangeText)
      : columns.map((c) => {
          const pts = data[keyOf(c.spec)] ?? []
          const last = pts[pts.length - 1]
          return `${t.points(c.label, pts.length)}${last ? t.latest(formatValue(last.value, unitLabel(c.unit)), formatTime(last.time)) : ''}`
        }).join('; ')

  return (
    <figure className="chart" data-testid="device-chart" data-points={total} data-status={status} data-range={range} data-series={specs.length}>
      <div className="chart-controls">
        <label className="chart-field">
          {t.field}
          <select
            value={specs[0]?.field ?? ''}
            onChange={(e) => setSpecs([{ deviceId: device.id, field: e.target.value }, ...specs.slice(1)])}
            data-testid="chart-field"
          >
            {ownFields.map(([name, info]) => (
              <option key={name} value={name}>
                {fieldLabel(config, device.type, name)} ({unitLabel(info.unit)})
              </option>
            ))}
          </select>
        </label>
        <div className="range-buttons" role="group" aria-label={t.timeRange}>
          {[...RANGES.map((r) => ({ key: r.key, label: rangeLabel(r.ms, t.units) })), { key: 'custom' as const, label: t.custom }].map((r) => (
            <button key={r.key} type="button" className="secondary" aria-pressed={range === r.key} onClick={() => setRange(r.key)} data-testid={`range-${r.key}`}>
              {r.label}
            </button>
          ))}
        </div>
      </div>
      {range === 'custom' && (
        <div className="custom-range">
          <label>
            {t.from}
            <input type="datetime-local" value={custom.from} max={custom.to} onChange={(e) => setCustom({ ...custom, from: e.target.value })} data-testid="range-from" />
          </label>
          <label>
            {t.to}
            <input type="datetime-local" value={custom.to} min={custom.from} onChange={(e) => setCustom({ ...custom, to: e.target.value })} data-testid="range-to" />
          </label>
          {!win.valid && <span className="error">{t.fromBeforeTo}</span>}
        </div>
      )}
      <figcaption>
        <span className="chart-caption">
          {rangeText} · {aggregation}
        </span>
        <span className="chart-actions">
          <button type="button" className="secondary" onClick={() => setLoadedAt(Date.now())} title={t.reloadTitle}>
            {t.reload}
          </button>
          <button type="button" className="secondary" onClick={download} disabled={total === 0} data-testid="chart-csv">
            {t.csv}
          </button>
        </span>
      </figcaption>
      <ul className="series-legend" aria-label={t.seriesShown}>
        {columns.map((c, i) => (
          <li key={c.key} data-testid="chart-series">
            <svg width="28" height="10" aria-hidden="true">
              <line x1="0" y1="5" x2="28" y2="5" stroke={theme === 'dark' ? c.style.dark : c.style.light} strokeWidth="3" strokeDasharray={c.style.dash} />
            </svg>
            {c.label} {c.unit && <span className="unit">({unitLabel(c.unit)}{units.length > 1 ? `, ${t.axis(c.axis as 'left' | 'right')}` : ''})</span>}
            {i > 0 && (
              <button type="button" className="remove" aria-label={t.remove(c.label)} onClick={() => setSpecs(specs.filter((_, j) => j !== i))}>
                ×
              </button>
            )}
          </li>
        ))}
      </ul>
      {status === 'error' && (
        <p className="error" role="alert">
          {t.loadError} {error}
        </p>
      )}
      <div className="chart-box" role="img" aria-label={summary}>
        {total === 0 ? (
          <p className="empty">{status === 'loading' ? t.loading : `${t.noReadings(rangeText)}.`}</p>
        ) : (
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={rows} margin={{ top: 8, right: units.length > 1 ? 0 : 12, bottom: 4, left: 0 }}>
              <CartesianGrid stroke={grid} />
              <XAxis
                dataKey="time"
                type="number"
                scale="time"
                domain={['dataMin', 'dataMax']}
                tickFormatter={win.rangeMs > 2 * 86_400_000 ? formatDay : formatShortTime}
                minTickGap={28}
                fontSize={12}
                stroke={ink}
              />
              <YAxis yAxisId="left" width={52} domain={['auto', 'auto']} tickFormatter={formatNumber} fontSize={12} stroke={ink} />
              {units.length > 1 && <YAxis yAxisId="right" orientation="right" width={52} domain={['auto', 'auto']} tickFormatter={formatNumber} fontSize={12} stroke={ink} />}
              <Tooltip
                labelFormatter={(t) => formatDateTime(Number(t))}
                formatter={(v, name) => {
                  const c = columns.find((x) => x.key === name)
                  return [formatValue(Number(v), unitLabel(c?.unit)), c?.label ?? String(name)]
                }}
                contentStyle={theme === 'dark' ? { background: '#0f172a', border: '1px solid #334155', color: '#e2e8f0' } : undefined}
              />
              {columns.map((c) => (
                <Line
                  key={c.key}
                  yAxisId={c.axis}
                  type="monotone"
                  dataKey={c.key}
                  stroke={theme === 'dark' ? c.style.dark : c.style.light}
                  strokeDasharray={c.style.dash}
                  strokeWidth={2}
                  dot={(data[keyOf(c.spec)]?.length ?? 0) <= 60 ? { r: 2.5, strokeWidth: 0, fill: theme === 'dark' ? c.style.dark : c.style.light } : false}
                  connectNulls
                  isAnimationActive={false}
                />
              ))}
            </LineChart>
          </ResponsiveContainer>
        )}
      </div>
      <CompareControls config={config} device={device} devices={devices} specs={specs} onAdd={addSeries} />
      {notice && (
        <p className="notice-inline" role="status">
          {notice}
        </p>
      )}
    </figure>
  )
}

const dayFormats = cachedPerLocale((locale) => new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short' }))
function formatDay(ms: number): string {
  return dayFormats().format(ms)
}

/** A range or window in words: "24 h", "7 d" ("7 g" in Italian), "5 min". */
function rangeLabel(ms: number, u: { h: string; d: string; min: string }): string {
  const s = ms / 1000
  if (s % 86400 === 0) return `${s / 86400} ${u.d}`
  if (s % 3600 === 0) return `${s / 3600} ${u.h}`
  return `${s / 60} ${u.min}`
}

/** Adds another field of this device, or a field of another device, to the chart. */
function CompareControls({ config, device, devices, specs, onAdd }: { config: AppConfig; device: Device; devices: readonly Device[]; specs: SeriesSpec[]; onAdd: (s: SeriesSpec) => void }) {
  const fields = Object.entries(config.kinds[device.type]?.fields ?? {}).filter(([name]) => !specs.some((s) => s.deviceId === device.id && s.field === name))
  const [other, setOther] = useState('')
  const otherDevice = devices.find((d) => d.id === other.trim() || `${d.name} (${d.id})` === other.trim())
  const otherFields = Object.entries(config.kinds[otherDevice?.type ?? '']?.fields ?? {})
  const [otherField, setOtherField] = useState('')
  const t = useStrings(DEVICE_STRINGS).chart
  const chosenField = otherFields.some(([n]) => n === otherField) ? otherField : (otherFields.find(([n]) => n === specs[0]?.field)?.[0] ?? otherFields[0]?.[0] ?? '')
  // Suggest devices of the same type first, then the rest (a datalist of a few hundred at most).
  const suggestions = useMemo(
    () => [...devices.filter((d) => d.type === device.type && d.id !== device.id), ...devices.filter((d) => d.type !== device.type)].slice(0, 300),
    [devices, device],
  )
  return (
    <div className="compare">
      {fields.length > 0 && (
        <label>
          {t.addField}
          <select value="" onChange={(e) => e.target.value && onAdd({ deviceId: device.id, field: e.target.value })} data-testid="chart-add-field">
            <option value="">{t.choose}</option>
            {fields.map(([name, info]) => (
              <option key={name} value={name}>
                {fieldLabel(config, device.type, name)} ({unitLabel(info.unit)})
              </option>
            ))}
          </select>
        </label>
      )}
      <form
        className="compare-device"
        onSubmit={(e) => {
          e.preventDefault()
          if (otherDevice && chosenField) {
            onAdd({ deviceId: otherDevice.id, field: chosenField })
            setOther('')
          }
        }}
      >
        <label>
          {t.compareWith}
          <input list="compare-devices" value={other} onChange={(e) => setOther(e.target.value)} placeholder={t.comparePlaceholder} data-testid="chart-compare-device" />
        </label>
        <datalist id="compare-devices">
          {suggestions.map((d) => (
            <option key={d.id} value={`${d.name} (${d.id})`} />
          ))}
        </datalist>
        {otherDevice && otherFields.length > 0 && (
          <select value={chosenField} onChange={(e) => setOtherField(e.target.value)} aria-label={t.otherField} data-testid="chart-compare-field">
            {otherFields.map(([name, info]) => (
              <option key={name} value={name}>
                {fieldLabel(config, otherDevice.type, name)} ({unitLabel(info.unit)})
              </option>
            ))}
          </select>
        )}
        <button type="submit" className="secondary" disabled={!otherDevice} data-testid="chart-compare-add">
          {t.add}
        </button>
      </form>
    </div>
  )
}
