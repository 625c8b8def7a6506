import { flushSync } from 'react-dom'
import { live, type LiveMode } from './connection.ts'

/**
 * The benchmark's baselines (bench/dashboard.ts), loaded by main.tsx with a dynamic import only
 * when the page URL asks for one, so the app's bundle carries none of it:
 *
 *   ?baseline=per-message   every socket message applied and published as it arrives;
 *   ?baseline=per-update    every single device update, each rendered at once with React's
 *                           flushSync (React state per incoming update, as a naive app would do).
 */

/** The mode the page URL asks for (`?baseline=per-message|per-update`), 'frame' otherwise. */
export function modeFromUrl(search: string): LiveMode {
  const baseline = new URLSearchParams(search).get('baseline')
  return baseline === 'per-message' || baseline === 'per-update' ? baseline : 'frame'
}

/** Puts the tab's connection manager in the baseline mode the URL asks for (before it connects). */
export function installBaseline(search: string): LiveMode {
  const mode = modeFromUrl(search)
  live.setMode(mode)
  live.setNotifyWrapper(mode === 'per-update' ? (fn) => flushSync(fn) : undefined)
  return mode
}
