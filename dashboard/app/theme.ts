import { useCallback, useEffect, useSyncExternalStore } from 'react'

/**
 * Light or dark theme. Remembered in localStorage once the operator picks one; until then it
 * follows the system's prefers-color-scheme (and keeps following it). Applied as
 * `data-theme` on <html>, which the stylesheet reads (the dark colours apply to the operators'
 * dashboard, `.app`; the login and installer pages stay light) and the map style follows.
 */

export type Theme = 'light' | 'dark'
const KEY = 'piazza-theme'
const listeners = new Set<() => void>()

function stored(): Theme | null {
  try {
    const v = localStorage.getItem(KEY)
    return v === 'light' || v === 'dark' ? v : null
  } catch {
    return null
  }
}

function system(): Theme {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

export function currentTheme(): Theme {
  return stored() ?? system()
}

function apply(): void {
  const theme = currentTheme()
  document.documentElement.dataset.theme = theme
  for (const l of [...listeners]) l()
}

export function setTheme(theme: Theme): void {
  try {
    localStorage.setItem(KEY, theme)
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  apply()
}

/** Call once at start: applies the theme and follows the system while no choice is stored. */
export function initTheme(): void {
  apply()
  if (typeof matchMedia === 'function') matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => stored() === null && apply())
}

const subscribe = (l: () => void) => {
  listeners.add(l)
  return () => {
    listeners.delete(l)
  }
}

export function useTheme(): [Theme, () => void] {
  const theme = useSyncExternalStore(subscribe, currentTheme, () => 'light' as Theme)
  const toggle = useCallback(() => setTheme(currentTheme() === 'dark' ? 'light' : 'dark'), [])
  useEffect(() => {
    document.documentElement.dataset.theme = theme
  }, [theme])
  return [theme, toggle]
}
