import { DEVICE_TYPES, isDeviceType, type DeviceType } from '../../../devices/kinds.ts'
import { DEVICE_ID_PATTERN } from '../../../devices/registry.ts'
import { cityIds, findCity } from '../../../devices/region.ts'
import { PUBLIC_TYPE, PUBLIC_TYPES, type ErrorBody, type SubscriptionRequest } from '../../shared/realtime.ts'
import type { Entry } from './live-state.ts'
import { liveRoom } from './rooms.ts'
import type { SocketUser } from './types.ts'

/**
 * Live subscriptions: what a browser may ask for, and the one room each request maps to. The
 * payload has passed SubscriptionSchema already; here come the checks a schema cannot make
 * (known city, the public room's one type, a session for anything but the public room) and the
 * precise reason when the schema check failed.
 */

export interface Subscription {
  public: boolean
  city?: string
  type?: DeviceType
  device?: string
}

const KEYS = ['public', 'city', 'type', 'device']

/** Why a payload fails SubscriptionSchema, in words a developer can act on. */
export function explainSubscription(payload: unknown): string {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return 'a subscription is an object such as { "city": "firenze" } or { "public": true }'
  }
  const p = payload as Record<string, unknown>
  for (const key of Object.keys(p)) if (!KEYS.includes(key)) return `unknown subscription key '${key}' (allowed: ${KEYS.join(', ')})`
  if (p.public !== undefined && typeof p.public !== 'boolean') return 'public must be true or false'
  if (p.city !== undefined && typeof p.city !== 'string') return `unknown city ${JSON.stringify(p.city)}; cities: ${cityIds.join(', ')}`
  if (p.type !== undefined && (typeof p.type !== 'string' || !isDeviceType(p.type))) return `unknown device type ${JSON.stringify(p.type)}; types: ${DEVICE_TYPES.join(', ')}`
  if (p.device !== undefined) return `device must be a device id matching ${DEVICE_ID_PATTERN}`
  return 'invalid subscription'
}

/** The subscription, or why it is refused (400, or 401 for anonymous sockets outside the public room). */
export function checkSubscription(p: SubscriptionRequest, user: SocketUser | undefined): Subscription | ErrorBody {
  const invalid = (message: string): ErrorBody => ({ status: 400, code: 'validation', message })
  const sub: Subscription = { public: p.public ?? false }
  if (p.city !== undefined) {
    const city = findCity(p.city)
    if (!city) return invalid(`unknown city ${JSON.stringify(p.city)}; cities: ${cityIds.join(', ')}`)
    sub.city = city.id
  }
  if (p.type !== undefined) {
    if (sub.public && !PUBLIC_TYPES.includes(p.type)) return invalid(`the public room carries only ${PUBLIC_TYPES.join(', ')} readings`)
    // The public room's default type is implied: { public: true, type: 'air-quality' } is { public: true }.
    if (!(sub.public && p.type === PUBLIC_TYPE)) sub.type = p.type
  }
  if (p.device !== undefined) sub.device = p.device
  if (!sub.public && sub.city === undefined && sub.type === undefined && sub.device === undefined) {
    return invalid('give at least one of city, type or device, or public: true')
  }
  if (!sub.public && !user) {
    return { status: 401, code: 'unauthorized', message: 'log in to subscribe to city, type or device rooms; without a session only { "public": true } is allowed' }
  }
  return sub
}

export const sameSubscription = (a: Subscription, b: Subscription) => a.public === b.public && a.city === b.city && a.type === b.type && a.device === b.device

export function matches(sub: Subscription, e: Pick<Entry, 'id' | 'type' | 'city'>): boolean {
  return (
    (sub.city === undefined || sub.city === e.city) &&
    (sub.type === undefined || sub.type === e.type) &&
    (sub.device === undefined || sub.device === e.id) &&
    (!sub.public || e.type === (sub.type ?? PUBLIC_TYPE))
  )
}

/** The room a subscription listens in (the narrowest that holds everything it matches). */
export function roomOf(sub: Subscription): string {
  if (sub.public && sub.type) return sub.device ? liveRoom.publicDevice(sub.device) : sub.city ? liveRoom.publicCityType(sub.city, sub.type) : liveRoom.publicType(sub.type)
  if (sub.public) return sub.device ? liveRoom.publicDevice(sub.device) : sub.city ? liveRoom.publicCity(sub.city) : liveRoom.public()
  if (sub.device) return liveRoom.device(sub.device)
  if (sub.city && sub.type) return liveRoom.cityType(sub.city, sub.type)
  if (sub.city) return liveRoom.city(sub.city)
  return liveRoom.type(sub.type!)
}

/** Every room a device's changes go to: full views, then (public types only) the public ones. */
export function roomsOf(e: Pick<Entry, 'id' | 'type' | 'city'>): { full: string[]; public: string[] } {
  const full = [liveRoom.device(e.id), liveRoom.city(e.city), liveRoom.type(e.type), liveRoom.cityType(e.city, e.type)]
  if (e.type === PUBLIC_TYPE) return { full, public: [liveRoom.public(), liveRoom.publicCity(e.city), liveRoom.publicDevice(e.id)] }
  if (PUBLIC_TYPES.includes(e.type)) return { full, public: [liveRoom.publicType(e.type), liveRoom.publicCityType(e.city, e.type), liveRoom.publicDevice(e.id)] }
  return { full, public: [] }
}
