import GtfsRealtimeBindings from 'gtfs-realtime-bindings'
import { matchTrip, serviceClock, type GtfsStore, type ServiceClock, type TripMatch } from './gtfs-static.ts'
import { renderOnce, type MobilityItem, type MobilitySnapshot } from './mobility-snapshot.ts'

/**
 * GTFS-Realtime feeds of the bus trackers, built with MobilityData's bindings:
 *
 * - VehiclePositions: one entity per bus heard from within its interval × 3 (id: the device id,
 *   stable across feeds), position, bearing (heading), speed (m/s), the reading's time, the route;
 * - TripUpdates: one entity per such bus that reports a `delay`, with the trip's delay (seconds,
 *   TripUpdate.delay) and the vehicle.
 *
 * In a city with a static GTFS (uploaded by an admin, gtfs-static.ts) each bus is matched to the
 * trip of its route in progress now (matchTrip) and its TripDescriptor carries trip_id, start_date,
 * start_time and direction_id besides route_id. Elsewhere, or when no trip of the route is in
 * progress, it carries the route only (`route_id` = the tracker's `route` tag). The HTTP answer
 * says which in its `X-GTFS-Static` header and, in the JSON rendering, in `piazza.staticGtfs`.
 */

export const rt = GtfsRealtimeBindings.transit_realtime
export type FeedMessage = GtfsRealtimeBindings.transit_realtime.FeedMessage

export const GTFS_FEEDS = ['vehicle-positions', 'trip-updates'] as const
export type GtfsFeed = (typeof GTFS_FEEDS)[number]

export const NO_STATIC_GTFS_NOTE = 'No static GTFS is loaded: trips are not matched to a timetable; each vehicle carries its route_id only.'

const seconds = (ms: number) => Math.floor(ms / 1000)
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

function publishable(item: MobilityItem, city: string | undefined): item is MobilityItem & { reading: NonNullable<MobilityItem['reading']> } {
  return item.fresh && item.reading !== undefined && (city === undefined || item.device.city === city)
}

type Static = Pick<GtfsStore, 'get' | 'version'> | undefined

/** The trip each bus is on, by device id: buses without one are absent. */
export type TripMatches = ReadonlyMap<string, TripMatch>
const NO_MATCHES: TripMatches = new Map()

/**
 * Every publishable bus matched to its trip once per snapshot (and static GTFS version), kept on the
 * snapshot: both feeds, both formats and every city filter read the same matches.
 */
export function tripMatches(snap: MobilitySnapshot, gtfs: Static): TripMatches {
  if (!gtfs) return NO_MATCHES
  return renderOnce(snap, `gtfs-matches|${gtfs.version()}`, () => {
    const matches = new Map<string, TripMatch>()
    // One clock per time zone (cities' timetables may differ), not one per bus.
    const clocks = new Map<string, ServiceClock>()
    const clockOf = (timezone: string) => {
      let clock = clocks.get(timezone)
      if (!clock) clocks.set(timezone, (clock = serviceClock(snap.at, timezone)))
      return clock
    }
    for (const item of snap.items.bus) {
      if (!publishable(item, undefined)) continue
      const route = item.reading.values.route
      if (typeof route !== 'string') continue
      const index = gtfs.get(item.device.city)
      const match = index && matchTrip(index, route, clockOf(index.timezone), num(item.reading.values.delay))
      if (match) matches.set(item.device.id, match)
    }
    return matches
  })
}

function descriptors(item: MobilityItem & { reading: NonNullable<MobilityItem['reading']> }, matches: TripMatches) {
  const route = item.reading.values.route
  return {
    trip: typeof route === 'string' ? { routeId: route, ...matches.get(item.device.id) } : undefined,
    vehicle: { id: item.device.id, label: item.device.name },
  }
}

/** `matches`: tripMatches of the same snapshot; none: route only. */
export function buildFeed(snap: MobilitySnapshot, feed: GtfsFeed, city?: string, matches: TripMatches = NO_MATCHES): FeedMessage {
  const entity: GtfsRealtimeBindings.transit_realtime.IFeedEntity[] = []
  for (const item of snap.items.bus) {
    if (!publishable(item, city)) continue
    const v = item.reading.values
    const { trip, vehicle } = descriptors(item, matches)
    if (feed === 'vehicle-positions') {
      const latitude = num(v.lat)
      const longitude = num(v.lon)
      if (latitude === undefined || longitude === undefined) continue
      const speed = num(v.speed)
      entity.push({
        id: item.device.id,
        vehicle: {
          trip,
          vehicle,
          position: { latitude, longitude, bearing: num(v.heading), speed: speed === undefined ? undefined : speed / 3.6 },
          timestamp: seconds(item.reading.time),
        },
      })
    } else {
      const delay = num(v.delay)
      if (delay === undefined || !trip) continue
      entity.push({ id: item.device.id, tripUpdate: { trip, vehicle, delay: Math.round(delay), timestamp: seconds(item.reading.time), stopTimeUpdate: [] } })
    }
  }
  return rt.FeedMessage.create({
    header: { gtfsRealtimeVersion: '2.0', incrementality: rt.FeedHeader.Incrementality.FULL_DATASET, timestamp: seconds(snap.at) },
    entity,
  })
}

export function encodeFeed(message: FeedMessage): Buffer {
  const bytes = rt.FeedMessage.encode(message).finish()
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** The feed as the bindings render it to JSON (field names in lowerCamelCase, enums by name), with Piazza's note beside it. */
export function feedJson(message: FeedMessage, staticCities: string[] = []): string {
  const object = rt.FeedMessage.toObject(message, { longs: Number, enums: String, defaults: false })
  const piazza = staticCities.length === 0 ? { staticGtfs: false, note: NO_STATIC_GTFS_NOTE } : { staticGtfs: staticCities, note: staticNote(staticCities) }
  return JSON.stringify({ ...object, piazza })
}

export const staticNote = (cities: string[]) =>
  `Static GTFS loaded for ${cities.join(', ')}: buses there are matched to the trip of their route in progress now; elsewhere vehicles carry their route_id only.`

/** The X-GTFS-Static header: `present; cities=…` where a static GTFS applies to the answer, else `none; …`. */
export const staticHeader = (cities: string[]) => (cities.length === 0 ? 'none; trips are not matched, vehicles carry route_id only' : `present; cities=${cities.join(',')}`)
