import { Suspense, lazy, useCallback, useEffect, useState } from 'react'
import { ApiError, api, setUnauthorizedHandler } from './api/client.ts'
import type { User } from './api/types.ts'
import { LoginPage } from './auth/LoginPage.tsx'
import { AUTH_STRINGS } from './auth/strings.ts'
import { useLang } from '../i18n/react.tsx'
import { setAppLang } from './locale.ts'
import { isDashboardPath, isInstallerOrAdminPath, navigate, ROUTES, usePath } from './installer/router.ts'
import { NotFound } from './NotFound.tsx'

// The dashboard (maplibre, recharts) loads only after login, so the login page stays small.
const Dashboard = lazy(() => import('./Dashboard.tsx'))
// Installer and admin pages (/dashboard/installer/…, /dashboard/admin/…): their own lazy chunk.
const InstallerApp = lazy(() => import('./installer/InstallerApp.tsx'))

// A notice is a key, so it follows a language switch while shown.
const SESSION_ENDED = { key: 'sessionEnded' } as const

type Session = { state: 'checking' } | { state: 'anonymous'; notice?: string | typeof SESSION_ENDED } | { state: 'signed-in'; user: User }

export function App() {
  const { lang } = useLang()
  // Before the children render: formatters and grades outside React read it.
  setAppLang(lang)
  const t = AUTH_STRINGS[lang]
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

  if (session.state === 'checking') return <p className="loading" role="status">{t.loading}</p>
  if (session.state === 'anonymous')
    return (
      <>
        {session.notice && (
          <p className="notice" role="status">
            {typeof session.notice === 'string' ? session.notice : t[session.notice.key]}
          </p>
        )}
        <LoginPage onLogin={onLogin} />
      </>
    )
  if (installerHome || isInstallerOrAdminPath(path))
    return (
      <Suspense fallback={<p className="loading" role="status">{t.loading}</p>}>
        <InstallerApp user={session.user} onLogout={onLogout} onSessionEnd={onSessionEnd} />
      </Suspense>
    )
  if (!isDashboardPath(path)) return <NotFound path={path} />
  return (
    <Suspense fallback={<p className="loading" role="status">{t.loadingDashboard}</p>}>
      <Dashboard user={session.user} onLogout={onLogout} onSessionEnd={onSessionEnd} />
    </Suspense>
  )
}
