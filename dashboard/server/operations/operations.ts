import type Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { Server, Socket } from 'socket.io'
import type { Registry } from '../../../devices/registry.ts'
import type { Accounts } from '../identity/accounts.ts'
import { createAlertEngine, type AlertEngine, type AlertEngineOptions } from './alerts/engine.ts'
import type { Auth } from '../identity/auth.ts'
import { createDeviceStates, type DeviceStates, type DeviceStatesOptions } from './device-states.ts'
import type { Feed } from '../../../feed/feed.ts'
import { canSeeDevice } from '../identity/permissions.ts'
import { registerAlertRoutes } from './alerts/routes.ts'
import { registerDeviceStateRoutes } from './device-state-routes.ts'
import type { Api } from '../http/types.ts'

/**
 * The operators' control-room side, wired in one place: the device-state tracker (live, late,
 * silent), the alert engine fed by it and by the feed, their routes, and their pushes to
 * logged-in sockets (installers get only the devices they may see).
 */

export interface OperationsOptions {
  clock?: () => number
  states?: Pick<DeviceStatesOptions, 'thresholds' | 'checkMs' | 'resyncMs' | 'pushMs' | 'maxPerMessage'>
  alerts?: Pick<AlertEngineOptions, 'tickMs' | 'maxChangesPerMessage' | 'maxKeys' | 'windowBuckets' | 'retentionMs'>
}

export interface OperationsDeps extends OperationsOptions {
  db: Database.Database
  registry: Registry
  feed?: Pick<Feed, 'subscribe'>
  accounts: Pick<Accounts, 'get'>
  logger: Logger
}

export interface Operations {
  states: DeviceStates
  alerts: AlertEngine
  register(app: Api, auth: Auth): void
  attach(io: Server): void
  close(): void
}

export function createOperations(deps: OperationsDeps): Operations {
  const { registry, accounts } = deps
  const states = createDeviceStates({ registry, feed: deps.feed, clock: deps.clock, ...deps.states })
  const alerts = createAlertEngine({ db: deps.db, registry, feed: deps.feed, states, clock: deps.clock, logger: deps.logger.child({ part: 'alerts' }), ...deps.alerts })

  /** Admins and operators see everything; an installer the devices permissions.ts gives them. */
  const visibility = (socket: Socket) => {
    const user = (socket.data as { user?: { username: string; role: string } }).user
    if (!user || user.role === 'admin' || user.role === 'operator') return undefined
    const current = accounts.get(user.username)
    const actor = { username: user.username, role: current?.role ?? user.role, cities: current?.cities }
    return (d: { id: string }) => {
      const device = registry.get(d.id)
      return device !== undefined && canSeeDevice(actor, device)
    }
  }

  return {
    states,
    alerts,
    register(app, auth) {
      registerDeviceStateRoutes(app, { states, auth, registry })
      registerAlertRoutes(app, { alerts, auth, registry })
    },
    attach(io) {
      states.attach(io, visibility)
      alerts.attach(io, visibility)
    },
    close() {
      alerts.close()
      states.close()
    },
  }
}
