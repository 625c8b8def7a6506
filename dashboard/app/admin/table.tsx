import { useEffect, useMemo, useState } from 'react'
import { LOCALES, TIME_ZONE } from '../../i18n/lang.ts'
import { useLang, useStrings } from '../../i18n/react.tsx'
import { ADMIN_STRINGS } from './strings.ts'

/**
 * The pieces of the admin lists (devices, users): a sortable column header, the pager, a search
 * that waits a beat, numbers and dates in the page's language. The server searches, sorts and
 * pages; these only say what to ask for.
 */

export type Order = 'asc' | 'desc'
export interface SortState<K extends string> {
  sort: K
  order: Order
}

/** A column header that sorts by its key; a second click reverses the order. */
export function SortHeader<K extends string>({ label, column, state, onSort, className }: { label: string; column: K; state: SortState<K>; onSort: (s: SortState<K>) => void; className?: string }) {
  const t = useStrings(ADMIN_STRINGS).list
  const active = state.sort === column
  return (
    <th scope="col" className={className} aria-sort={active ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button
        type="button"
        className="adm-sort"
        data-testid={`sort-${column}`}
        data-active={active}
        title={active ? (state.order === 'asc' ? t.sortedAsc : t.sortedDesc) : t.sortBy}
        onClick={() => onSort({ sort: column, order: active && state.order === 'asc' ? 'desc' : 'asc' })}
      >
        {label}
        <span aria-hidden="true" className="adm-sort-mark">
          {active ? (state.order === 'asc' ? '▲' : '▼') : '↕'}
        </span>
      </button>
    </th>
  )
}

/** "51–100 of 5,001" with first, previous, next and last page; test ids on the top pager only. */
export function Pager({ offset, shown, total, pageSize, onOffset, prefix, bottom }: { offset: number; shown: number; total: number; pageSize: number; onOffset: (offset: number) => void; prefix: string; bottom?: boolean }) {
  const t = useStrings(ADMIN_STRINGS).list
  const n = useNumber()
  const id = (name: string) => (bottom ? undefined : `${prefix}-${name}`)
  const lastOffset = Math.max(0, Math.floor((total - 1) / pageSize) * pageSize)
  return (
    <nav className="adm-pager" aria-label={t.paging} data-testid={id('pager')}>
      <span className="adm-range" role={bottom ? undefined : 'status'} data-testid={id('range')} data-total={total} data-offset={offset}>
        {t.range(n(total === 0 ? 0 : offset + 1), n(offset + shown), n(total))}
      </span>
      <span className="adm-pager-buttons">
        <button type="button" className="inst-secondary" disabled={offset === 0} onClick={() => onOffset(0)} data-testid={id('first')}>
          « <span className="adm-pager-word">{t.first}</span>
        </button>
        <button type="button" className="inst-secondary" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - pageSize))} data-testid={id('prev')}>
          ‹ <span className="adm-pager-word">{t.previous}</span>
        </button>
        <button type="button" className="inst-secondary" disabled={offset + shown >= total} onClick={() => onOffset(offset + pageSize)} data-testid={id('next')}>
          <span className="adm-pager-word">{t.next}</span> ›
        </button>
        <button type="button" className="inst-secondary" disabled={offset + shown >= total} onClick={() => onOffset(lastOffset)} data-testid={id('last')}>
          <span className="adm-pager-word">{t.last}</span> »
        </button>
      </span>
    </nav>
  )
}

/**
 * The page's offset within one question (search, filters, order): a new question starts again at
 * the first page, and coming back to an earlier question does not bring back its old page.
 */
export function usePaging(question: string): [number, (offset: number) => void] {
  const [paging, setPaging] = useState({ question, offset: 0 })
  if (paging.question !== question) setPaging({ question, offset: 0 })
  const offset = paging.question === question ? paging.offset : 0
  return [offset, (next: number) => setPaging({ question, offset: next })]
}

/** The text typed, once it has rested for a beat (the server searches on each change). */
export function useSettled(text: string, ms = 300): string {
  const [settled, setSettled] = useState(text.trim())
  useEffect(() => {
    const timer = setTimeout(() => setSettled(text.trim()), ms)
    return () => clearTimeout(timer)
  }, [text, ms])
  return settled
}

export function useNumber(): (n: number) => string {
  const { lang } = useLang()
  return useMemo(() => {
    const f = new Intl.NumberFormat(LOCALES[lang])
    return (n: number) => f.format(n)
  }, [lang])
}

/** Date and time in Tuscany's time, in the page's language; '—' for no time. */
export function useDateTime(): (ms: number | undefined) => string {
  const { lang } = useLang()
  return useMemo(() => {
    const f = new Intl.DateTimeFormat(LOCALES[lang], { dateStyle: 'medium', timeStyle: 'short', timeZone: TIME_ZONE })
    return (ms: number | undefined) => (ms !== undefined && Number.isFinite(ms) ? f.format(ms) : '—')
  }, [lang])
}
