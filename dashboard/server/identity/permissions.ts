import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Device } from '../../../devices/registry.ts'
import { findCity } from '../../../devices/region.ts'
import type { Role } from './accounts.ts'
import { forbidden } from '../http/errors.ts'
import { words, type Words } from '../../shared/words.ts'

/**
 * Who may touch which device. One place for the rules, used by the HTTP routes, the live stream's
 * rooms and the commissioning channel:
 *
 *  - admin: everything, including users and the audit log.
 *  - operator: sees every device and its data; changes no device (alerts are their business).
 *  - installer: registers devices (only in their assigned cities when an admin assigned some),
 *    and sees and manages the devices they registered (`createdBy`) plus every device of their
 *    assigned cities. Other devices answer 403, as if they were not theirs to know about.
 */

export interface Actor {
  username: string
  role: Role | string
  /** Assigned city ids (installers); undefined means no city assignment. */
  cities?: readonly string[]
}

type DeviceRef = Pick<Device, 'city' | 'createdBy'>

/** Why an action is refused: the English sentence and its words, for a page to word it (shared/words.ts). */
export interface Refusal {
  message: string
  words: Words
}

/** Whether the actor may see this device, its readings, health and commissioning view. */
export function canSeeDevice(actor: Actor, device: DeviceRef): boolean {
  if (actor.role === 'admin' || actor.role === 'operator') return true
  if (actor.role !== 'installer') return false
  return device.createdBy === actor.username || (actor.cities?.includes(device.city) ?? false)
}

/** Whether the actor may change this device (edit, rotate, revoke, decommission). */
export function canManageDevice(actor: Actor, device: DeviceRef): boolean {
  if (actor.role === 'admin') return true
  if (actor.role !== 'installer') return false
  return canSeeDevice(actor, device)
}

/** Why the actor may not register a device in this city, or undefined when they may. */
export function registerRefusal(actor: Actor, city: string): Refusal | undefined {
  if (actor.role === 'admin') return undefined
  if (actor.role !== 'installer') {
    return {
      message: `registering devices needs the role installer or admin; user '${actor.username}' is ${actor.role}`,
      words: words('register-needs-role', { username: actor.username, role: actor.role }),
    }
  }
  const id = findCity(city)?.id ?? city
  if (actor.cities && actor.cities.length > 0 && !actor.cities.includes(id)) {
    const cities = actor.cities.join(', ')
    return { message: `installer '${actor.username}' works in ${cities}, not in ${id}`, words: words('installer-other-city', { username: actor.username, cities, city: id }) }
  }
  return undefined
}

export function deviceRefusal(actor: Actor, device: Pick<Device, 'id' | 'city' | 'createdBy'>, action: 'see' | 'manage'): Refusal | undefined {
  const allowed = action === 'see' ? canSeeDevice(actor, device) : canManageDevice(actor, device)
  if (allowed) return undefined
  if (actor.role === 'operator') {
    return { message: `operators see devices but do not change them; user '${actor.username}' is operator`, words: words('operator-read-only', { username: actor.username }) }
  }
  const cities = actor.cities?.length ? actor.cities.join(', ') : undefined
  const scope = cities ? `the devices they registered and those of ${cities}` : 'only the devices they registered'
  return {
    message: `device '${device.id}' (${device.city}) is not one of yours: installer '${actor.username}' manages ${scope}`,
    words: words('not-your-device', { id: device.id, city: device.city, username: actor.username, cities }),
  }
}

/** The installer's scope as a registry filter: undefined for roles that see everything. */
export function visibleTo(actor: Actor): ((device: DeviceRef) => boolean) | undefined {
  if (actor.role === 'admin' || actor.role === 'operator') return undefined
  return (device) => canSeeDevice(actor, device)
}

/** The actor of an authenticated request. */
export function actorOf(request: FastifyRequest): Actor {
  const user = request.session!.user
  return { username: user.username, role: user.role, cities: user.cities }
}

export interface DeviceScopeDeps {
  registry: { get(id: string): Device | undefined }
}

/**
 * Scopes routes written before installers were scoped (readings, latest, dead letters) without
 * touching them: a preHandler refuses an installer a device route (`/api/devices/:id/...`) for a
 * device that is not theirs, and their dead-letter lists are cut to their own devices. The device
 * routes of this module check permissions themselves, so this is a second lock, not the only one.
 */
export function installDeviceScope(app: FastifyInstance, deps: DeviceScopeDeps): void {
  app.addHook('preHandler', async (request) => {
    const session = request.session
    if (!session || session.user.role !== 'installer') return
    const url = request.routeOptions.url ?? ''
    const actor = actorOf(request)
    let deviceId: string | undefined
    if (url.startsWith('/api/devices/:id')) deviceId = (request.params as { id?: string }).id
    else if (url === '/api/dead-letters') deviceId = (request.query as { device?: string }).device
    if (!deviceId) return
    const device = deps.registry.get(deviceId)
    // Unknown devices answer as the route answers them (404, or an empty list).
    if (!device) return
    const refusal = deviceRefusal(actor, device, 'see')
    if (refusal) throw forbidden(refusal.message, refusal.words)
  })
  app.addHook('preSerialization', async (request, _reply, payload: unknown) => {
    const session = request.session
    if (!session || session.user.role !== 'installer' || request.routeOptions.url !== '/api/dead-letters') return payload
    const body = payload as { items?: { deviceId: string }[] }
    if (!Array.isArray(body?.items)) return payload
    const actor = actorOf(request)
    const cache = new Map<string, boolean>()
    const visible = (id: string) => {
      let ok = cache.get(id)
      if (ok === undefined) {
        const device = deps.registry.get(id)
        ok = device !== undefined && canSeeDevice(actor, device)
        cache.set(id, ok)
      }
      return ok
    }
    return { ...body, items: body.items.filter((item) => visible(item.deviceId)) }
  })
}

/**
 * Why this user may not have this live-stream subscription, or undefined when they may. Admins and
 * operators may watch anything; an installer a device of theirs, or one of their assigned cities.
 */
export function roomRefusal(
  actor: Actor,
  subscription: { city?: string; type?: string; device?: string },
  lookup: (id: string) => Pick<Device, 'id' | 'city' | 'createdBy'> | undefined,
): string | undefined {
  if (actor.role === 'admin' || actor.role === 'operator') return undefined
  if (actor.role !== 'installer') return `user '${actor.username}' (${actor.role}) may not subscribe to device rooms`
  if (subscription.device !== undefined) {
    const device = lookup(subscription.device)
    if (device && canSeeDevice(actor, device)) return undefined
    return device ? deviceRefusal(actor, device, 'see')?.message : `no device '${subscription.device}' of installer '${actor.username}'`
  }
  if (subscription.city !== undefined && actor.cities?.includes(subscription.city)) return undefined
  if (subscription.city !== undefined) {
    return `installer '${actor.username}' may watch ${actor.cities?.length ? `only ${actor.cities.join(', ')}` : 'only their own devices (by device)'}, not ${subscription.city}`
  }
  return `installers subscribe by city (${actor.cities?.join(', ') || 'none assigned'}) or by device, not by type alone`
}
