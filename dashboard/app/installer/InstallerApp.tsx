import { useEffect, type ReactNode } from 'react'
import { LanguageSwitch, useStrings } from '../../i18n/react.tsx'
import type { User } from '../api/types.ts'
import { live } from '../live/connection.ts'
import { AuditPage } from '../admin/AuditPage.tsx'
import { ContactPointsPage } from '../admin/ContactPointsPage.tsx'
import { ADMIN_STRINGS, type AdminStrings } from '../admin/strings.ts'
import { UsersPage } from '../admin/UsersPage.tsx'
import { useTheme } from '../theme.ts'
import { UNAUTHORIZED_EVENT } from './api.ts'
import { CommissioningPage } from './CommissioningPage.tsx'
import { DevicesPage } from './DevicesPage.tsx'
import { ImportPage } from './ImportPage.tsx'
import { RegisterPage } from './RegisterPage.tsx'
import { matchPage, ROUTES, usePath } from './router.ts'
import { Link } from './ui.tsx'

/**
 * The installer and admin pages under /dashboard/installer and /dashboard/admin, one lazy chunk
 * loaded by App.tsx, under the operators' dashboard's top bar (its colours, light and dark, and
 * the language switch). Pages a role may not use say so (the server refuses them anyway).
 */

interface Props {
  user: User & { cities?: string[] }
  onLogout: () => void
  onSessionEnd: () => void
}

/** The lists and admin pages use the window's width; the installers' forms stay a phone-wide column. */
const WIDE = new Set(['devices', 'users', 'audit', 'notifications'])

export default function InstallerApp({ user, onLogout, onSessionEnd }: Props) {
  const t = useStrings(ADMIN_STRINGS).shell
  const path = usePath()
  const route = matchPage(path)
  // The tab's one live connection: a page that needs it opens it (commissioning); leaving the
  // installer pages (logout, or the dashboard, which opens its own subscriptions) closes it.
  useEffect(() => () => live.close(), [])
  // Any 401 from these pages ends the session.
  useEffect(() => {
    const handler = () => onSessionEnd()
    window.addEventListener(UNAUTHORIZED_EVENT, handler)
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, handler)
  }, [onSessionEnd])
  const title = route.page === 'device' ? `${t.titles.device} ${route.id}` : t.titles[route.page]!
  useEffect(() => {
    document.title = `${title} · Piazza`
  }, [title])

  const canManage = user.role === 'installer' || user.role === 'admin'
  const denied = (what: string) => (
    <p className="inst-card error" role="alert" data-testid="page-denied">
      {what}
    </p>
  )

  let page: ReactNode
  switch (route.page) {
    case 'devices':
      page = <DevicesPage user={user} />
      break
    case 'register':
      page = canManage ? <RegisterPage user={user} /> : denied(t.deniedRegister)
      break
    case 'import':
      page = canManage ? <ImportPage /> : denied(t.deniedImport)
      break
    case 'device':
      page = <CommissioningPage key={route.id} id={route.id} user={user} onSessionEnd={onSessionEnd} />
      break
    case 'users':
      page = user.role === 'admin' ? <UsersPage user={user} /> : denied(t.deniedUsers)
      break
    case 'audit':
      page = user.role === 'admin' ? <AuditPage user={user} /> : denied(t.deniedAudit)
      break
    case 'notifications':
      page = user.role === 'admin' ? <ContactPointsPage /> : denied(t.deniedNotifications)
      break
    default:
      page = (
        <section className="inst-card" data-testid="not-found">
          <h1>{t.titles.unknown}</h1>
          <p>
            {t.notFound} <code data-testid="not-found-path">{path}</code>. <Link to={ROUTES.devices}>{t.devices}</Link>
          </p>
        </section>
      )
  }
  return (
    <div className="app inst">
      <TopBar user={user} onLogout={onLogout} path={path} t={t} />
      <main className={`inst-main${WIDE.has(route.page) ? ' inst-wide' : ''}`}>{page}</main>
    </div>
  )
}

/** The dashboard's top bar with the pages this role may use. */
function TopBar({ user, onLogout, path, t }: { user: User; onLogout: () => void; path: string; t: AdminStrings['shell'] }) {
  const [theme, toggleTheme] = useTheme()
  const roles = useStrings(ADMIN_STRINGS).users.roles
  const canManage = user.role === 'installer' || user.role === 'admin'
  const links: [string, string, string][] = [
    [ROUTES.devices, t.devices, 'nav-devices'],
    ...(canManage ? ([[ROUTES.register, t.register, 'nav-register'], [ROUTES.import, t.import, 'nav-import']] as [string, string, string][]) : []),
    ...(user.role === 'admin' ? ([[ROUTES.users, t.users, 'nav-users'], [ROUTES.audit, t.audit, 'nav-audit'], [ROUTES.notifications, t.notifications, 'nav-notifications']] as [string, string, string][]) : []),
    // Installers' live rooms are their cities and devices only: the region-wide map is for operators and admins.
    ...(user.role === 'installer' ? [] : ([[ROUTES.map, t.map, 'nav-map']] as [string, string, string][])),
  ]
  const current = (to: string) => (to === ROUTES.devices ? path === to || path.startsWith(`${ROUTES.devices}/devices/`) : path.startsWith(to) && to !== ROUTES.map)
  return (
    <header className="topbar inst-topbar">
      <h1>
        Piazza <span className="subtitle">{t.subtitle}</span>
      </h1>
      <nav className="inst-nav" aria-label={t.pages}>
        {links.map(([to, label, testid]) => (
          <Link key={to} to={to} aria-current={current(to) ? 'page' : undefined} data-testid={testid}>
            {label}
          </Link>
        ))}
      </nav>
      <span className="spacer" />
      <LanguageSwitch className="lang-switch inst-lang" />
      <button type="button" className="theme-toggle" onClick={toggleTheme} aria-pressed={theme === 'dark'} data-testid="theme-toggle" title={t.darkTitle}>
        <span aria-hidden="true">{theme === 'dark' ? '☀' : '☾'}</span> {theme === 'dark' ? t.light : t.dark}
      </button>
      <span className="user" data-testid="current-user">
        {user.username} <small>({roles[user.role] ?? user.role})</small>
      </span>
      <button type="button" onClick={onLogout} data-testid="logout">
        {t.logout}
      </button>
    </header>
  )
}
