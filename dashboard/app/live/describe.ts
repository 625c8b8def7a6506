import { wordsText } from '../api/error-text.ts'
import { appLang } from '../locale.ts'
import type { LiveStatus } from './connection.ts'
import { LIVE_STRINGS } from './strings.ts'

/**
 * The live connection in plain words for the top bar: what is happening and how old the data on
 * screen is. Socket.IO's own messages ("xhr poll error", "websocket error", "timeout") describe a
 * transport, not the situation, so they are never shown: an operator reads "Cannot reach the
 * server" and the age of what they are looking at.
 */

/** Socket.IO / engine.io transport failures: the server could not be reached. */
const TRANSPORT_ERROR = /xhr|poll|websocket|transport|timeout|network|connection refused|ECONN/i

export function formatDataAge(ms: number): string {
  const u = LIVE_STRINGS[appLang()].units
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} ${u.s}`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} ${u.min}`
  const h = Math.floor(m / 60)
  return `${h} ${u.h} ${m % 60} ${u.min}`
}

export interface LiveDescription {
  /** What is happening, in words (a live region: it changes only with the state). */
  text: string
  /** How old the data on screen is, when not live ('' when live). */
  age: string
  /** The longer explanation (title, screen readers). */
  detail: string
}

export function describeLive(status: LiveStatus, lastDataAt: number | undefined, now: number): LiveDescription {
  const lang = appLang()
  const t = LIVE_STRINGS[lang]
  const age = lastDataAt === undefined ? t.noDataLong : t.dataAgeLong(formatDataAge(now - lastDataAt))
  const shortAge = lastDataAt === undefined ? t.noDataShort : t.dataAgeShort(formatDataAge(now - lastDataAt))
  switch (status.state) {
    case 'live':
      return { text: t.live, age: '', detail: t.liveDetail }
    case 'connecting':
      return { text: t.connecting, age: '', detail: t.connectingDetail }
    case 'reconnecting':
      return { text: t.reconnecting, age: shortAge, detail: t.reconnectingDetail(age) }
    case 'error': {
      const unreachable = !status.message || TRANSPORT_ERROR.test(status.message)
      return unreachable
        ? { text: t.unreachable, age: shortAge, detail: t.unreachableDetail(age) }
        : { text: t.refused, age: shortAge, detail: t.refusedDetail(wordsText(status.message!, status.words, lang), age) }
    }
    case 'expired':
      return { text: t.expired, age: '', detail: t.expiredDetail }
    default:
      return { text: t.offline, age: shortAge, detail: t.offlineDetail(age) }
  }
}
