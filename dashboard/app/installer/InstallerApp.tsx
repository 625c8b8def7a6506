import { useEffect } from 'react'
import type { User } from '../api/types.ts'
import { live } from '../live/connection.ts'
import { AuditPage } from '../admin/AuditPage.tsx'
import { ContactPointsPage } from '../admin/ContactPointsPage.tsx'
import { UsersPage } from '../admin/UsersPage.tsx'
import { CommissioningPage } from './CommissioningPage.tsx'
import { DevicesPage } from './DevicesPage.tsx'
import { ImportPage } from './ImportPage.tsx'
import { RegisterPage } from './RegisterPage.tsx'
import { matchPage, ROUTES, usePath } from './router.ts'
import { Link, Shell } from './ui.tsx'

/**
 * The installer and admin pages under /dashboard/installer and /dashboard/admin, one lazy chunk
 * loaded by App.tsx. Pages a role may not use say so (the server refuses them anyway).
 */

interface Props {
  user: User & { cities?: string[] }
  onLogout: () => void
  onSessionEnd: () => void
}

const TITLES: Record<string, string> = {
  devices: 'Devices',
  register: 'Register a device',
  import: 'Import devices',
  device: 'Commissioning',
  users: 'Users',
  audit: 'Audit log',
  notifications: 'Notifications',
  unknown: 'Page not found',
}

export default function InstallerApp({ user, onLogout, onSessionEnd }: Props) {
  const path = usePath()
  const route = matchPage(path)
  // The tab's one live connection: a page that needs it opens it (commissioning); leaving the
  // installer pages (logout, or the dashboard, which opens its own subscriptions) closes it.
  useEffect(() => () => live.close(), [])
  const canManage = user.role === 'installer' || user.role === 'admin'
  const denied = (what: string) => (
    <p className="inst-card error" role="alert" data-testid="page-denied">
      {what}
    </p>
  )

  let page
  switch (route.page) {
    case 'devices':
      page = <DevicesPage user={user} />
      break
    case 'register':
      page = canManage ? <RegisterPage user={user} /> : denied('Registering devices needs the role installer or admin.')
      break
    case 'import':
      page = canManage ? <ImportPage /> : denied('Importing devices needs the role installer or admin.')
      break
    case 'device':
      page = <CommissioningPage key={route.id} id={route.id} user={user} onSessionEnd={onSessionEnd} />
      break
    case 'users':
      page = user.role === 'admin' ? <UsersPage user={user} /> : denied('Only admins manage users.')
      break
    case 'audit':
      page = user.role === 'admin' ? <AuditPage user={user} /> : denied('Only admins see the audit log.')
      break
    case 'notifications':
      page = user.role === 'admin' ? <ContactPointsPage /> : denied('Only admins manage notifications.')
      break
    default:
      page = (
        <section className="inst-card" data-testid="not-found">
          <h1>Page not found</h1>
          <p>
            There is no page at <code data-testid="not-found-path">{path}</code>. <Link to={ROUTES.devices}>Devices</Link>
          </p>
        </section>
      )
  }
  return (
    <Shell user={user} onLogout={onLogout} onSessionEnd={onSessionEnd} title={route.page === 'device' ? `${TITLES.device} ${route.id}` : TITLES[route.page]!}>
      {page}
    </Shell>
  )
}
