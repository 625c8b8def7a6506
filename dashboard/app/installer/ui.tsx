import qrcode from 'qrcode-generator'
import { useEffect, useMemo, useRef, useState, type AnchorHTMLAttributes, type ReactNode } from 'react'
import { navigate } from './router.ts'
import './installer.css'
import { useLang } from '../../i18n/react.tsx'
import { appLang, cachedPerLocale } from '../locale.ts'
import { INSTALLER_STRINGS } from './strings.ts'

/** Shared pieces of the installer and admin pages: links, copy buttons, QR code. */

export function Link({ to, children, ...rest }: { to: string; children: ReactNode } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  return (
    <a
      href={to}
      {...rest}
      onClick={(e) => {
        rest.onClick?.(e)
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
        e.preventDefault()
        navigate(to)
      }}
    >
      {children}
    </a>
  )
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    // Without the clipboard API (plain http on a phone): select a hidden textarea and copy.
    const area = document.createElement('textarea')
    area.value = text
    area.setAttribute('readonly', '')
    area.style.position = 'fixed'
    area.style.opacity = '0'
    document.body.appendChild(area)
    area.select()
    let ok = false
    try {
      ok = document.execCommand('copy')
    } catch {
      ok = false
    }
    area.remove()
    return ok
  }
}

export function CopyButton({ text, label, testid }: { text: string; label: string; testid: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle')
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined)
  const t = INSTALLER_STRINGS[useLang().lang].ui
  useEffect(() => () => clearTimeout(timer.current), [])
  return (
    <button
      type="button"
      className={`inst-copy inst-copy-${state}`}
      data-testid={testid}
      data-state={state}
      aria-label={t.copyLabel(label)}
      onClick={async () => {
        setState((await copyText(text)) ? 'copied' : 'failed')
        clearTimeout(timer.current)
        timer.current = setTimeout(() => setState('idle'), 2000)
      }}
    >
      {state === 'copied' ? t.copied : state === 'failed' ? t.selectCopy : t.copy}
    </button>
  )
}

/** A QR code as SVG (one path), for phones and provisioning tools to scan. */
export function QrCode({ text, label, testid, size = 220 }: { text: string; label: string; testid: string; size?: number }) {
  const { path, count } = useMemo(() => {
    // Byte mode takes one character per byte: hand it the UTF-8 bytes.
    const bytes = String.fromCharCode(...new TextEncoder().encode(text))
    const qr = qrcode(0, 'M')
    qr.addData(bytes, 'Byte')
    qr.make()
    const n = qr.getModuleCount()
    let d = ''
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + 4} ${r + 4}h1v1h-1z`
    return { path: d, count: n + 8 }
  }, [text])
  return (
    <svg
      className="inst-qr"
      role="img"
      aria-label={label}
      width={size}
      height={size}
      viewBox={`0 0 ${count} ${count}`}
      shapeRendering="crispEdges"
      data-testid={testid}
      data-text={text.length}
    >
      <rect width={count} height={count} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  )
}

/** Offers text as a file download (a blob URL, revoked right after). */
export function downloadText(fileName: string, text: string, type = 'text/plain'): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }))
  const a = document.createElement('a')
  a.href = url
  a.download = fileName
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

/** A button that asks once more before doing something that cannot be undone. */
export function ConfirmButton({
  label,
  confirmLabel,
  question,
  onConfirm,
  testid,
  danger,
  disabled,
}: {
  label: string
  confirmLabel: string
  question: string
  onConfirm: () => void | Promise<void>
  testid: string
  danger?: boolean
  disabled?: boolean
}) {
  const [asking, setAsking] = useState(false)
  const [busy, setBusy] = useState(false)
  const t = INSTALLER_STRINGS[useLang().lang].ui
  if (!asking)
    return (
      <button type="button" className={danger ? 'inst-danger' : 'inst-secondary'} onClick={() => setAsking(true)} data-testid={testid} disabled={disabled}>
        {label}
      </button>
    )
  return (
    <div className="inst-confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button
        type="button"
        className={danger ? 'inst-danger' : undefined}
        data-testid={`${testid}-confirm`}
        disabled={busy}
        onClick={async () => {
          setBusy(true)
          try {
            await onConfirm()
          } finally {
            setBusy(false)
            setAsking(false)
          }
        }}
      >
        {busy ? t.working : confirmLabel}
      </button>
      <button type="button" className="inst-secondary" onClick={() => setAsking(false)} data-testid={`${testid}-cancel`}>
        {t.cancel}
      </button>
    </div>
  )
}

export function StatusBadge({ status }: { status: string }) {
  const t = INSTALLER_STRINGS[useLang().lang].ui
  return (
    <span className={`inst-badge inst-badge-${status}`} data-testid="device-status-badge" data-status={status}>
      {t.statuses[status] ?? status}
    </span>
  )
}

// In the app's language (locale.ts); the pages using them read useLang(), so they re-render on a switch.
const formats = cachedPerLocale((locale) => ({
  time: new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
  dateTime: new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' }),
}))
export const formatClock = (ms: number) => (Number.isFinite(ms) ? formats().time.format(ms) : '—')
export const formatDateTime = (ms: number) => (Number.isFinite(ms) ? formats().dateTime.format(ms) : '—')

/** "12 s ago", "3 min ago" for recent times, the clock time otherwise. */
export function ago(ms: number, now = Date.now()): string {
  const t = INSTALLER_STRINGS[appLang()].ui
  const s = Math.round((now - ms) / 1000)
  if (s < 5) return t.justNow
  if (s < 60) return t.secondsAgo(s)
  if (s < 3600) return t.minutesAgo(Math.round(s / 60))
  return formatDateTime(ms)
}

/** Turns a metadata value typed in a form into what the API stores (numbers and true/false typed). */
export function parseMetaValue(raw: string): string | number | boolean {
  const v = raw.trim()
  if (/^-?(0|[1-9]\d*)(\.\d+)?$/.test(v)) return Number(v)
  if (v === 'true' || v === 'false') return v === 'true'
  return v
}
