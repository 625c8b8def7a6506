import { Suspense, lazy, useCallback, useEffect, useState } from 'react'
import { ApiError, api, setUnauthorizedHandler } from './api/client.ts'
import type { User } from './api/types.ts'
import { LoginPage } from './auth/LoginPage.tsx'
import { isDashboardPath, isInstallerOrAdminPath, navigate, ROUTES, usePath } from './installer/router.ts'
import { NotFound } from './NotFound.tsx'

// The dashboard (maplibre, recharts) loads only after login, so the login page stays small.
const Dashboard = lazy(() => import('./Dashboard.tsx'))
// Installer and admin pages (/dashboard/installer/…, /dashboard/admin/…): their own lazy chunk.
const InstallerApp = lazy(() => import('./installer/InstallerApp.tsx'))

const SESSION_ENDED = 'Your session has ended. Please sign in again.'

type Session = { state: 'checking' } | { state: 'anonymous'; notice?: string } | { state: 'signed-in'; user: User }

export function App() {
  const [session, setSession] = useState<Session>({ state: 'checking' })
  const path = usePath()
  // Installers start on their devices page rather than the operators' map.
  const installerHome = session.state === 'signed-in' && session.user.role === 'installer' && /^\/(dashboard\/?)?$/.test(path)
  useEffect(() => {
    if (installerHome) navigate(ROUTES.devices, { replace: true })
  }, [installerHome])

  useEffect(() => {
    let cancelled = false
    api.me().then(
      ({ user }) => !cancelled && setSession({ state: 'signed-in', user }),
      (e: unknown) => {
        if (cancelled) return
        const notice = e instanceof ApiError && e.status !== 401 ? e.message : undefined
        setSession({ state: 'anonymous', notice })
      },
    )
    // Any later 401 means the session ended (expired, logged out elsewhere): back to the login page.
    setUnauthorizedHandler(() => setSession({ state: 'anonymous', notice: SESSION_ENDED }))
    return () => {
      cancelled = true
      setUnauthorizedHandler(undefined)
    }
  }, [])

  const onSessionEnd = useCallback(() => setSession({ state: 'anonymous', notice: SESSION_ENDED }), [])
  const onLogin = useCallback((user: User) => setSession({ state: 'signed-in', user }), [])
  const onLogout = useCallback(async () => {
    try {
      await api.logout()
    } finally {
      setSession({ state: 'anonymous' })
    }
  }, [])

  if (session.state === 'checking') return <p className="loading" role="status">Loading…</p>
  if (session.state === 'anonymous')
    return (
      <>
        {session.notice && (
          <p className="notice" role="status">
            {session.notice}
          </p>
        )}
        <LoginPage onLogin={onLogin} />
      </>
    )
  if (installerHome || isInstallerOrAdminPath(path))
    return (
      <Suspense fallback={<p className="loading" role="status">Loading…</p>}>
        <InstallerApp user={session.user} onLogout={onLogout} onSessionEnd={onSessionEnd} />
      </Suspense>
    )
  if (!isDashboardPath(path)) return <NotFound path={path} />
  return (
    <Suspense fallback={<p className="loading" role="status">Loading the dashboard…</p>}>
      <Dashboard user={session.user} onLogout={onLogout} onSessionEnd={onSessionEnd} />
    </Suspense>
  )
}
