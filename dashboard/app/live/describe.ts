import type { LiveStatus } from './connection.ts'

/**
 * The live connection in plain words for the top bar: what is happening and how old the data on
 * screen is. Socket.IO's own messages ("xhr poll error", "websocket error", "timeout") describe a
 * transport, not the situation, so they are never shown: an operator reads "Cannot reach the
 * server" and the age of what they are looking at.
 */

/** Socket.IO / engine.io transport failures: the server could not be reached. */
const TRANSPORT_ERROR = /xhr|poll|websocket|transport|timeout|network|connection refused|ECONN/i

export function formatDataAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  return `${h} h ${m % 60} min`
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
  const age = lastDataAt === undefined ? 'No live data yet' : `Data shown is ${formatDataAge(now - lastDataAt)} old`
  const shortAge = lastDataAt === undefined ? 'no live data yet' : `data ${formatDataAge(now - lastDataAt)} old`
  switch (status.state) {
    case 'live':
      return { text: 'Live', age: '', detail: 'Connected: values update as devices report.' }
    case 'connecting':
      return { text: 'Connecting…', age: '', detail: 'Opening the live connection to the server.' }
    case 'reconnecting':
      return { text: 'Connection lost, reconnecting', age: shortAge, detail: `The live connection dropped; trying again. ${age}.` }
    case 'error': {
      const unreachable = !status.message || TRANSPORT_ERROR.test(status.message)
      return unreachable
        ? { text: 'Cannot reach the server, retrying', age: shortAge, detail: `The server does not answer (network down, or the server is restarting); trying again. ${age}.` }
        : { text: 'The server refused live data', age: shortAge, detail: `The server refused the live connection: ${status.message}. ${age}.` }
    }
    case 'expired':
      return { text: 'Session ended: sign in again', age: '', detail: 'Your session has ended; live data stopped.' }
    default:
      return { text: 'Offline', age: shortAge, detail: `Not connected to live data. ${age}.` }
  }
}
