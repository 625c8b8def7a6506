import { useSyncExternalStore } from 'react'

/**
 * A very small path router for the installer and admin pages (no dependency): the URL is the
 * state, `navigate` pushes a path and tells every `usePath` user. The server answers every app
 * path with index.html, so a reload or a shared link opens the same page.
 */

export const ROUTES = {
  map: '/dashboard',
  devices: '/dashboard/installer',
  register: '/dashboard/installer/register',
  import: '/dashboard/installer/import',
  device: (id: string) => `/dashboard/installer/devices/${encodeURIComponent(id)}`,
  users: '/dashboard/admin/users',
  audit: '/dashboard/admin/audit',
  notifications: '/dashboard/admin/notifications',
}

const listeners = new Set<() => void>()
let listening = false

function subscribe(listener: () => void): () => void {
  if (!listening && typeof window !== 'undefined') {
    window.addEventListener('popstate', () => {
      for (const l of [...listeners]) l()
    })
    listening = true
  }
  listeners.add(listener)
  return () => listeners.delete(listener)
}

const currentPath = () => (typeof window === 'undefined' ? '/' : window.location.pathname)

export function usePath(): string {
  return useSyncExternalStore(subscribe, currentPath, currentPath)
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === window.location.pathname + window.location.search) return
  if (options.replace) window.history.replaceState(null, '', path)
  else window.history.pushState(null, '', path)
  for (const l of [...listeners]) l()
  window.scrollTo?.(0, 0)
}

/** Which installer/admin page a path names, with its parameter. */
export type Page =
  | { page: 'devices' }
  | { page: 'register' }
  | { page: 'import' }
  | { page: 'device'; id: string }
  | { page: 'users' }
  | { page: 'audit' }
  | { page: 'notifications' }
  | { page: 'unknown' }

export function matchPage(path: string): Page {
  const p = path.replace(/\/+$/, '')
  if (p === '/dashboard/installer') return { page: 'devices' }
  if (p === '/dashboard/installer/register') return { page: 'register' }
  if (p === '/dashboard/installer/import') return { page: 'import' }
  const device = /^\/dashboard\/installer\/devices\/([^/]+)$/.exec(p)
  if (device) return { page: 'device', id: decodeURIComponent(device[1]!) }
  if (p === '/dashboard/admin' || p === '/dashboard/admin/users') return { page: 'users' }
  if (p === '/dashboard/admin/audit') return { page: 'audit' }
  if (p === '/dashboard/admin/notifications') return { page: 'notifications' }
  return { page: 'unknown' }
}

/** Whether a path belongs to the installer or admin pages (App.tsx routes these here). */
export const isInstallerOrAdminPath = (path: string) => /^\/dashboard\/(installer|admin)(\/|$)/.test(path)

/** The operators' map: `/dashboard` (and `/`, where the operators' app answers when the public pages are not built). */
export const isDashboardPath = (path: string) => /^\/(dashboard\/?|index\.html)?$/.test(path)
