import type { Logger } from 'pino'
import type { Registry } from '../../../devices/registry.ts'
import type { Accounts } from '../identity/accounts.ts'
import type { AlertStore } from './alerts/store.ts'
import { createAlertEngine, type AlertEngine, type AlertEngineOptions } from './alerts/engine.ts'
import type { Auth } from '../identity/auth.ts'
import type { AuditLog } from '../identity/audit.ts'
import { createDeviceStates, type DeviceStates, type DeviceStatesOptions } from './device-states.ts'
import type { Feed } from '../../../feed/feed.ts'
import { visibleTo } from '../identity/permissions.ts'
import { registerAlertRoutes } from './alerts/routes.ts'
import { registerDeviceStateRoutes } from './device-state-routes.ts'
import type { Api } from '../http/types.ts'
import type { PushServer, UserVisibility } from './push.ts'

/**
 * The operators' control-room side, wired in one place: the device-state tracker (live, late,
 * silent), the alert engine fed by it and by the feed, their routes, and their pushes to
 * logged-in sockets by room (push.ts: staff get everything, installers only the devices they may
 * see, judged on their current account).
 */

export interface OperationsOptions {
  clock?: () => number
  states?: Pick<DeviceStatesOptions, 'thresholds' | 'checkMs' | 'pushMs' | 'maxPerMessage'>
  alerts?: Pick<AlertEngineOptions, 'tickMs' | 'maxChangesPerMessage' | 'maxKeys' | 'windowBuckets' | 'retentionMs'>
}

export interface OperationsDeps extends OperationsOptions {
  /** Alert rules, alerts and silences: SQLite, or PostgreSQL shared by several nodes (`sharedAlerts`). */
  alertStore: AlertStore
  /** Cluster mode: the alert engine follows the others until told it leads (alerts.lead). */
  sharedAlerts?: boolean
  registry: Registry
  feed?: Pick<Feed, 'subscribe'> & Partial<Pick<Feed, 'alerts'>>
  accounts: Pick<Accounts, 'get' | 'list'>
  logger: Logger
}

export interface Operations {
  states: DeviceStates
  alerts: AlertEngine
  register(app: Api, auth: Auth, audit?: Pick<AuditLog, 'record'>): void
  /** Where the pushes go: this node's browsers (`io.local`, see push.ts). */
  attach(io: PushServer): void
  /** Stops; resolves once pushes under way have finished (they send nothing more). Never rejects. */
  close(): Promise<void>
}

export async function createOperations(deps: OperationsDeps): Promise<Operations> {
  const { registry, accounts } = deps
  const states = createDeviceStates({ registry, feed: deps.feed, clock: deps.clock, ...deps.states })
  const alerts = await createAlertEngine({ store: deps.alertStore, shared: deps.sharedAlerts, registry, feed: deps.feed, states, clock: deps.clock, logger: deps.logger.child({ part: 'alerts' }), ...deps.alerts })

  /** Admins and operators see everything; an installer the devices permissions.ts gives them (their account now). */
  const visibility: UserVisibility = (username) => {
    const current = accounts.get(username)
    // Installers are pushed to by username (the installers' room): one whose account is gone keeps what an installer without cities sees.
    const actor = { username, role: current?.role ?? 'installer', cities: current?.cities }
    const visible = visibleTo(actor)
    if (!visible) return undefined
    return (d) => {
      const device = registry.get(d.id)
      return device !== undefined && visible(device)
    }
  }

  return {
    states,
    alerts,
    register(app, auth, audit) {
      registerDeviceStateRoutes(app, { states, auth, registry })
      registerAlertRoutes(app, { alerts, auth, registry, accounts, audit })
    },
    attach(io) {
      states.attach(io, visibility)
      alerts.attach(io, visibility)
    },
    async close() {
      await Promise.all([alerts.close(), states.close()])
    },
  }
}
