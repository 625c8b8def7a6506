import { createHash } from 'node:crypto'
import type { DeviceType } from '../../../devices/kinds.ts'

/**
 * Socket.IO room names: every push to browsers is an emit to one of these, never a loop over
 * sockets, so a Socket.IO adapter carries it to browsers on every node.
 *
 * Every authenticated socket joins `user:<name>` and either `staff` (admins and operators, who
 * see every device) or `installers` (who see their own devices and cities: pushes for them are
 * made per user). Live subscriptions join the `live:` rooms below.
 */

export const STAFF_ROOM = 'staff'
export const INSTALLERS_ROOM = 'installers'
export const userRoom = (username: string) => `user:${username}`
/** Every socket opened with one session (named by a hash: room names travel between nodes, tokens must not). */
export const sessionRoom = (credential: string) => `session:${createHash('sha256').update(credential).digest('base64url').slice(0, 22)}`

/** Live readings and connection changes, by what a subscription asks for. */
export const liveRoom = {
  device: (id: string) => `live:device:${id}`,
  city: (city: string) => `live:city:${city}`,
  type: (type: DeviceType) => `live:type:${type}`,
  cityType: (city: string, type: DeviceType) => `live:city:${city}:type:${type}`,
  /** The citizens' rooms: air-quality values only… */
  public: () => 'live:public',
  publicCity: (city: string) => `live:public:city:${city}`,
  publicDevice: (id: string) => `live:public:device:${id}`,
  /** …and the other public types' (buses, car parks, bike docks), by type. */
  publicType: (type: DeviceType) => `live:public:type:${type}`,
  publicCityType: (city: string, type: DeviceType) => `live:public:city:${city}:type:${type}`,
}

const COMMISSIONING = 'commissioning:'
export const commissioningRoom = (deviceId: string) => `${COMMISSIONING}${deviceId}`
/** The device a commissioning room is for; undefined for any other room. */
export const commissioningRoomDevice = (room: string) => (room.startsWith(COMMISSIONING) ? room.slice(COMMISSIONING.length) : undefined)
