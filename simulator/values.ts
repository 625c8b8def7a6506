import { KINDS, type DeviceType, type FieldSpec } from '../devices/kinds.ts'
import type { Device } from '../devices/registry.ts'
import { findCity, region } from '../devices/region.ts'

/**
 * Seeded value models for simulated devices. Everything here is deterministic: a model built
 * from the same device and seed returns the same readings for the same sequence of times. Slow
 * variation (weather fronts, pollution episodes) comes from value noise hashed from the seed and
 * the time, so it does not depend on how often a model is called; fast jitter comes from a
 * mulberry32 stream. No Math.random anywhere.
 */

export type Reading = Record<string, unknown>
export type ValueModel = (time: number) => Reading[]
/** What a model needs to know about a device: what the registry stores. */
export type ModelDevice = Pick<Device, 'id' | 'type' | 'city' | 'lat' | 'lon' | 'interval' | 'metadata'>

// ---------------------------------------------------------------- randomness

/** mulberry32: a tiny, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FNV-1a, to turn ids and names into seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** Mixes integers into one well-spread 32-bit hash (murmur3 finaliser per step). */
export function hashInts(...ns: number[]): number {
  let h = 0x9e3779b9
  for (const n of ns) {
    h = Math.imul(h ^ (n | 0), 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
  }
  return h >>> 0
}

/** Smooth noise in [-1, 1]: random values at integer x, eased in between. */
export function valueNoise(key: number, x: number): number {
  const i = Math.floor(x)
  const f = x - i
  const a = hashInts(key, i) / 4294967296
  const b = hashInts(key, i + 1) / 4294967296
  const s = f * f * (3 - 2 * f)
  return (a + (b - a) * s) * 2 - 1
}

export function gaussian(rng: () => number): number {
  const u = Math.max(rng(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng())
}

// ---------------------------------------------------------------- local time (Europe/Rome)

const HOUR = 3_600_000
const DAY = 24 * HOUR

function lastSundayUtc(year: number, month: number): number {
  const last = Date.UTC(year, month + 1, 0)
  return last - new Date(last).getUTCDay() * DAY
}

/**
 * Local clock in Tuscany. Daily cycles follow people, who follow the local clock, so rush hour
 * must move with summer time. EU rule: CEST from the last Sunday of March to the last Sunday of
 * October, switching at 01:00 UTC. Done by hand because Intl is slow per reading.
 */
const summerTime = new Map<number, [number, number]>()
export function localTime(time: number): { hour: number; weekday: number; dayOfYear: number } {
  const year = new Date(time).getUTCFullYear()
  let bounds = summerTime.get(year)
  if (!bounds) summerTime.set(year, (bounds = [lastSundayUtc(year, 2) + HOUR, lastSundayUtc(year, 9) + HOUR]))
  const summer = time >= bounds[0] && time < bounds[1]
  const local = new Date(time + (summer ? 2 : 1) * HOUR)
  const hour = local.getUTCHours() + local.getUTCMinutes() / 60 + local.getUTCSeconds() / 3600
  const dayOfYear = Math.floor((local.getTime() - Date.UTC(local.getUTCFullYear(), 0, 1)) / DAY) + 1
  return { hour, weekday: local.getUTCDay(), dayOfYear }
}

// ---------------------------------------------------------------- shared shapes

const gauss = (h: number, mu: number, sigma: number) => Math.exp(-((h - mu) ** 2) / (2 * sigma * sigma))
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))
/** ≈1 between hours a and b, ≈0 outside, with roughly half-hour edges. */
const plateau = (h: number, a: number, b: number) => sigmoid((h - a) * 2.5) * sigmoid((b - h) * 2.5)
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v))
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits

/** Road-traffic demand, 0 (dead of night) to 1 (weekday rush hour), by local hour and weekday. */
export function trafficDemand(hour: number, weekday: number): number {
  let d: number
  if (weekday === 0) d = 0.04 + 0.3 * plateau(hour, 9.5, 21) + 0.2 * gauss(hour, 12, 2) + 0.25 * gauss(hour, 18, 2)
  else if (weekday === 6) d = 0.05 + 0.4 * plateau(hour, 8.5, 21.5) + 0.3 * gauss(hour, 11, 2) + 0.35 * gauss(hour, 17.5, 2)
  else d = 0.04 + 0.45 * plateau(hour, 7, 21) + 0.5 * gauss(hour, 8.2, 0.9) + 0.45 * gauss(hour, 18.3, 1.3) + 0.08 * gauss(hour, 13, 1)
  return clamp(d, 0, 1)
}

/** 1 in mid-July, -1 in mid-January. */
const season = (dayOfYear: number) => -Math.cos((2 * Math.PI * (dayOfYear - 15)) / 365)

interface CityProfile {
  /** Traffic volume relative to Firenze. */
  traffic: number
  /** Background pollution relative to Firenze (the Piana Firenze–Prato–Pistoia–Lucca traps PM). */
  pollution: number
  coastal: boolean
  altitude: number
  port: boolean
}

const CITY_PROFILES: Record<string, CityProfile> = {
  firenze: { traffic: 1.0, pollution: 1.0, coastal: false, altitude: 50, port: false },
  prato: { traffic: 0.9, pollution: 1.0, coastal: false, altitude: 65, port: false },
  livorno: { traffic: 0.75, pollution: 0.8, coastal: true, altitude: 3, port: true },
  arezzo: { traffic: 0.65, pollution: 0.75, coastal: false, altitude: 296, port: false },
  pisa: { traffic: 0.7, pollution: 0.75, coastal: true, altitude: 4, port: false },
  pistoia: { traffic: 0.65, pollution: 0.85, coastal: false, altitude: 65, port: false },
  lucca: { traffic: 0.65, pollution: 0.9, coastal: false, altitude: 19, port: false },
  grosseto: { traffic: 0.5, pollution: 0.55, coastal: true, altitude: 10, port: false },
  massa: { traffic: 0.55, pollution: 0.7, coastal: true, altitude: 65, port: false },
  siena: { traffic: 0.45, pollution: 0.5, coastal: false, altitude: 322, port: false },
}
const DEFAULT_PROFILE: CityProfile = { traffic: 0.6, pollution: 0.7, coastal: false, altitude: 100, port: false }

/** Longitude of the shoreline for cities with the sea to the west; points beyond it are mirrored inland. */
const SHORE_LON: Record<string, number> = { livorno: 10.305 }

const KM_PER_DEG_LAT = 111.32

/** A point `north`/`east` km from a centre, kept on land and inside the region. */
export function offsetKm(cityId: string, lat: number, lon: number, north: number, east: number): { lat: number; lon: number } {
  let outLon = lon + east / (KM_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180))
  const shore = SHORE_LON[cityId]
  if (shore !== undefined && outLon < shore) outLon = shore + (shore - outLon)
  const b = region.bbox
  return { lat: clamp(lat + north / KM_PER_DEG_LAT, b.south, b.north), lon: clamp(outLon, b.west, b.east) }
}

// ---------------------------------------------------------------- city weather

export interface Weather {
  temperature: number
  humidity: number
  pressure: number
  wind: number
  windDirection: number
  /** mm/h */
  rain: number
}

/**
 * The weather over a city at a time: a pure function of (seed, city, time), so every station and
 * every air-quality model in the same city sees the same sky. Fronts are region-wide (one noise
 * for all cities); local showers and temperature anomalies are per city.
 */
export function cityWeather(seed: number, cityId: string, time: number): Weather {
  const p = CITY_PROFILES[cityId] ?? DEFAULT_PROFILE
  const { hour, dayOfYear } = localTime(time)
  const s = season(dayOfYear)
  const regionKey = hashInts(seed, 1)
  const cityKey = hashInts(seed, hashString(cityId))
  const hours = time / HOUR

  // Rain: fronts every few days, most often in autumn (peak mid-November), rarely in summer.
  const wetness = 0.7 * valueNoise(regionKey, hours / 18) + 0.3 * valueNoise(cityKey, hours / 4)
  const threshold = 0.58 - 0.1 * Math.cos((2 * Math.PI * (dayOfYear - 320)) / 365) + 0.08 * s
  const rain = wetness > threshold ? (wetness - threshold) * 7 : 0
  const cloud = clamp((wetness - threshold + 0.3) / 0.6, 0, 1)

  const mean = (p.coastal ? 16 + 7 * s : 15 + 9.5 * s) - 0.0065 * p.altitude
  const dailyAmplitude = (p.coastal ? 3.5 : 5 + 1.5 * s) * (1 - 0.6 * cloud)
  const anomaly = 3 * valueNoise(cityKey ^ 0x51, hours / 72) + 0.8 * valueNoise(cityKey ^ 0x52, hours / 8)
  const temperature = mean + dailyAmplitude * Math.cos((2 * Math.PI * (hour - 15)) / 24) + anomaly - 2 * cloud

  // Relative humidity falls as the air warms through the day and jumps when it rains.
  const humidity = clamp(68 + (p.coastal ? 6 : 0) - 3 * (temperature - mean - anomaly) - 8 * s + 18 * cloud * cloud, 18, 100)

  const pressure = 1016 + 9 * valueNoise(regionKey ^ 0x77, hours / 96) + 3 * valueNoise(regionKey ^ 0x78, hours / 20) - 8 * cloud

  const breeze = p.coastal ? 2 * plateau(hour, 11, 18) : 0.8 * plateau(hour, 11, 18)
  const wind = Math.max(0, (p.coastal ? 3.2 : 1.8) + 2.5 * Math.max(0, valueNoise(regionKey ^ 0x99, hours / 30)) + 3 * cloud * cloud + breeze)
  const direction = 240 + 110 * valueNoise(regionKey ^ 0x9a, hours / 40) + 30 * valueNoise(cityKey ^ 0x9b, hours / 3)

  return { temperature, humidity, pressure, wind, windDirection: ((direction % 360) + 360) % 360, rain }
}

// ---------------------------------------------------------------- models

interface Context {
  device: ModelDevice
  seed: number
  /** Seed mixed with the device id: what makes two devices of a kind differ. */
  key: number
  rng: () => number
  profile: CityProfile
  cityId: string
  centre: { lat: number; lon: number }
  intervalSeconds: number
}

type Builder = (ctx: Context) => (time: number) => Reading[]

function pick<T>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback
}
function intMeta(value: unknown, lo: number, hi: number, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi ? value : fallback
}

const airQuality: Builder = (ctx) => {
  const station = pick(ctx.device.metadata.station, ['traffic', 'background'] as const, ctx.rng() < 0.5 ? 'traffic' : 'background')
  const exposure = station === 'traffic' ? 1 : 0.4
  return (time) => {
    const { hour, weekday, dayOfYear } = localTime(time)
    const w = cityWeather(ctx.seed, ctx.cityId, time)
    const winter = (1 - season(dayOfYear)) / 2
    const load = trafficDemand(hour, weekday) * ctx.profile.traffic
    const P = ctx.profile.pollution
    // Calm air and winter inversions keep pollutants near the ground; wind and rain clear them.
    const dispersion = 1.6 / (1 + 0.3 * w.wind) * (1 + 0.3 * winter * plateau(hour, 20, 30) + 0.3 * winter * plateau(hour, -4, 9))
    const washout = w.rain > 0 ? 0.55 : 1
    const episode = 1 + 0.55 * valueNoise(hashInts(ctx.seed, hashString(ctx.cityId), 3), time / (40 * HOUR))
    const jitter = () => 1 + 0.06 * gaussian(ctx.rng)

    const no2 = P * (10 + 12 * winter + 70 * exposure * load) * dispersion * jitter()
    const co = P * (0.15 + 0.25 * winter + 1.0 * exposure * load) * dispersion * jitter()
    const sun = Math.max(0, Math.sin((Math.PI * (hour - 8)) / 14)) ** 1.5
    const summer = 1 - winter
    const o3 = Math.max(2, (12 + 110 * summer * summer) * sun * (1 - 0.5 * (w.rain > 0 ? 1 : 0)) + 18 - 0.25 * no2) * jitter()
    const heating = 12 * winter * plateau(hour, 17.5, 23.5)
    const pm10 = (P * (12 + 26 * winter) * episode * dispersion + 8 * exposure * load + heating) * washout * jitter()
    const pm25 = pm10 * (0.55 + 0.15 * winter) * jitter()
    const so2 = ((ctx.profile.port ? 7 : 1.5) * (1 + 0.4 * valueNoise(ctx.key ^ 5, time / (6 * HOUR))) + 0.8 * load) * jitter()
    return [{ ts: iso(time), pm25: round(pm25, 1), pm10: round(pm10, 1), no2: round(no2, 1), o3: round(o3, 1), so2: round(so2, 1), co: round(co, 2) }]
  }
}

const noise: Builder = (ctx) => {
  const site = pick(ctx.device.metadata.site, ['road', 'residential', 'nightlife'] as const, ctx.rng() < 0.6 ? 'road' : 'residential')
  return (time) => {
    const { hour, weekday } = localTime(time)
    const load = trafficDemand(hour, weekday) * ctx.profile.traffic
    const w = cityWeather(ctx.seed, ctx.cityId, time)
    // Sound level grows with the log of traffic flow: ten times the cars, about +10 dB at the kerb.
    let laeq = site === 'road' ? 50 + 20 * Math.log10(1 + 9 * load) : 38 + 16 * Math.log10(1 + 9 * load)
    // Weekend nights in the centre: bars and people in the piazza.
    const weekendNight = (weekday === 5 || weekday === 6) && (hour >= 21 || hour < 2) ? 1 : weekday === 0 && hour < 2 ? 1 : 0
    if (site === 'nightlife') laeq += 6 + 9 * weekendNight + 4 * plateau(hour, 19, 24)
    if (w.rain > 0) laeq += Math.min(6, 2 + w.rain)
    laeq += 1.5 * gaussian(ctx.rng)
    const lamax = laeq + 9 + 10 * ctx.rng()
    return [{ ts: iso(time), LAeq: round(laeq, 1), LAmax: round(lamax, 1) }]
  }
}

const weather: Builder = (ctx) => {
  // A station sits in its own spot: a sheltered courtyard, a roof, a park. Small fixed offsets.
  const dT = (ctx.rng() - 0.5) * 1.2
  const windShelter = 0.7 + 0.5 * ctx.rng()
  return (time) => {
    const w = cityWeather(ctx.seed, ctx.cityId, time)
    const gust = Math.max(0, w.wind * windShelter * (1 + 0.25 * gaussian(ctx.rng)))
    return [
      {
        ts: iso(time),
        temperature: round(w.temperature + dT + 0.15 * gaussian(ctx.rng), 1),
        relativeHumidity: round(clamp(w.humidity + 1.5 * gaussian(ctx.rng), 5, 100), 1),
        atmosphericPressure: round(w.pressure + 0.2 * gaussian(ctx.rng), 1),
        windSpeed: round(gust, 1),
        windDirection: round((w.windDirection + 15 * gaussian(ctx.rng) + 360) % 360, 0),
        // Rain gauge total over the reporting interval.
        precipitation: round((w.rain * ctx.intervalSeconds) / 3600, 2),
      },
    ]
  }
}

const trafficCounter: Builder = (ctx) => {
  const lanes = intMeta(ctx.device.metadata.lanes, 1, 16, 2 + Math.floor(ctx.rng() * 3))
  const limit = intMeta(ctx.device.metadata.speedLimit, 20, 130, ctx.rng() < 0.7 ? 50 : 70)
  // The rightmost lane carries buses and lorries: a little less volume, a little slower.
  const laneShare = Array.from({ length: lanes }, (_, i) => (i === 0 ? 0.85 : 1.05) * (0.9 + 0.2 * ctx.rng()))
  const siteVolume = 0.7 + 0.5 * ctx.rng()
  return (time) => {
    const { hour, weekday } = localTime(time)
    const load = clamp(trafficDemand(hour, weekday) * ctx.profile.traffic * siteVolume, 0, 1.2)
    const ts = iso(time)
    return laneShare.map((share, i) => {
      const flow = 950 * load * share * (1 + 0.08 * gaussian(ctx.rng)) // vehicles per hour
      const mean = Math.max(0, (flow * ctx.intervalSeconds) / 3600)
      const intensity = Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(ctx.rng)))
      const reading: Reading = { ts, laneId: i + 1, intensity }
      if (intensity === 0) return { ...reading, occupancy: 0 }
      // Speed drops as the lane fills; occupancy = flow × (vehicle + loop length) / speed.
      const speed = clamp(limit * (1 - 0.6 * load * load) * (i === 0 ? 0.92 : 1) * (1 + 0.07 * gaussian(ctx.rng)), 5, limit * 1.3)
      const occupancy = clamp((Math.max(flow, 1) * 0.0075) / speed, 0, 0.95)
      return { ...reading, averageVehicleSpeed: round(speed, 1), occupancy: round(occupancy, 3) }
    })
  }
}

const ROUTE_NAMES = ['1', '3', '6', '11', '14', '17', '23', 'LAM-A', 'LAM-B', '2', '4', '7']

interface Route {
  points: { lat: number; lon: number; x: number; y: number }[]
  /** Cumulative length at each point, km; the last entry closes the loop. */
  cumulative: number[]
  length: number
}

/**
 * A bus route: a closed loop around the centre within ~3 km. Seeded by (seed, city, route name)
 * so every bus on the same route in the same city follows the same streets.
 */
export function busRoute(seed: number, cityId: string, centre: { lat: number; lon: number }, routeName: string): Route {
  const rng = mulberry32(hashInts(seed, hashString(cityId), hashString(routeName)))
  const n = 8 + Math.floor(rng() * 5)
  const start = rng() * 2 * Math.PI
  const points = Array.from({ length: n }, (_, i) => {
    const angle = start + ((i + 0.2 + 0.6 * rng()) / n) * 2 * Math.PI
    const r = 0.4 + 2.4 * rng()
    const p = offsetKm(cityId, centre.lat, centre.lon, r * Math.cos(angle), r * Math.sin(angle))
    const kmLon = KM_PER_DEG_LAT * Math.cos((centre.lat * Math.PI) / 180)
    return { ...p, y: (p.lat - centre.lat) * KM_PER_DEG_LAT, x: (p.lon - centre.lon) * kmLon }
  })
  const cumulative = [0]
  for (let i = 0; i < n; i++) {
    const a = points[i]!
    const b = points[(i + 1) % n]!
    cumulative.push(cumulative[i]! + Math.hypot(b.x - a.x, b.y - a.y))
  }
  return { points, cumulative, length: cumulative[n]! }
}

/** Position and heading (degrees clockwise from north) at a distance along a route. */
export function alongRoute(route: Route, distanceKm: number): { lat: number; lon: number; heading: number } {
  const d = ((distanceKm % route.length) + route.length) % route.length
  let i = 0
  while (i < route.points.length - 1 && route.cumulative[i + 1]! <= d) i++
  const a = route.points[i]!
  const b = route.points[(i + 1) % route.points.length]!
  const segment = route.cumulative[i + 1]! - route.cumulative[i]!
  const f = segment > 0 ? (d - route.cumulative[i]!) / segment : 0
  const heading = ((Math.atan2(b.x - a.x, b.y - a.y) * 180) / Math.PI + 360) % 360
  return { lat: a.lat + (b.lat - a.lat) * f, lon: a.lon + (b.lon - a.lon) * f, heading }
}

const bus: Builder = (ctx) => {
  const routeName =
    typeof ctx.device.metadata.route === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$/.test(ctx.device.metadata.route)
      ? ctx.device.metadata.route
      : ROUTE_NAMES[Math.floor(ctx.rng() * ROUTE_NAMES.length)]!
  const route = busRoute(ctx.seed, ctx.cityId, ctx.centre, routeName)
  let distance = ctx.rng() * route.length
  let delay = 60 * gaussian(ctx.rng)
  let last: number | undefined
  return (time) => {
    const { hour, weekday } = localTime(time)
    const load = trafficDemand(hour, weekday) * ctx.profile.traffic
    const dt = last === undefined ? 0 : Math.max(0, (time - last) / 1000)
    last = time
    // Commercial speed (stops included) is what moves the bus along; ~17 km/h, ~11 at rush hour.
    const commercial = 17 * (1 - 0.35 * load)
    distance += (commercial * dt) / 3600
    // Delay: an Ornstein–Uhlenbeck walk pulled towards a rush-hour-dependent mean, exact for any dt.
    const target = 20 + 240 * load
    const k = 0.002
    const decay = Math.exp(-k * dt)
    delay = target + (delay - target) * decay + 2 * Math.sqrt((1 - decay * decay) / (2 * k)) * gaussian(ctx.rng)
    delay = clamp(delay, -300, 3600)
    const atStop = ctx.rng() < 0.22
    const speed = atStop ? 0 : clamp(commercial * 1.5 * (0.6 + 0.8 * ctx.rng()), 3, 70)
    const p = alongRoute(route, distance)
    return [
      {
        // GPS trackers usually report epoch milliseconds; the other kinds send ISO strings.
        ts: Math.round(time),
        route: routeName,
        lat: round(p.lat, 6),
        lon: round(p.lon, 6),
        speed: round(speed, 1),
        heading: round(p.heading, 1),
        delay: Math.round(delay),
      },
    ]
  }
}

const parking: Builder = (ctx) => {
  const total = intMeta(ctx.device.metadata.totalSpots, 1, 100000, 40 + Math.floor(ctx.rng() * 360))
  const area = pick(ctx.device.metadata.area, ['centre', 'residential', 'station'] as const, (['centre', 'residential', 'station'] as const)[Math.floor(ctx.rng() * 3)]!)
  return (time) => {
    const { hour, weekday } = localTime(time)
    const weekend = weekday === 0 || weekday === 6
    let occupied: number
    if (area === 'centre') occupied = weekend ? 0.3 + (weekday === 6 ? 0.62 : 0.4) * plateau(hour, 10, 20) : 0.25 + 0.7 * plateau(hour, 8, 19.5)
    else if (area === 'station') occupied = weekend ? 0.15 + 0.3 * plateau(hour, 9, 19) : 0.12 + 0.83 * plateau(hour, 7, 19.5)
    else occupied = weekend ? 0.85 - 0.15 * plateau(hour, 10, 19) : 0.9 - 0.4 * plateau(hour, 8, 18)
    occupied = clamp(occupied + 0.05 * valueNoise(ctx.key, time / (45 * 60_000)) + 0.01 * gaussian(ctx.rng), 0, 1)
    const available = clamp(Math.round(total * (1 - occupied)), 0, total)
    return [{ ts: iso(time), availableSpotNumber: available, totalSpotNumber: total }]
  }
}

const bikeDock: Builder = (ctx) => {
  const docks = intMeta(ctx.device.metadata.docks, 2, 1000, 12 + Math.floor(ctx.rng() * 19))
  const area = pick(ctx.device.metadata.area, ['residential', 'business', 'station'] as const, ctx.rng() < 0.5 ? 'residential' : 'business')
  return (time) => {
    const { hour, weekday } = localTime(time)
    const weekend = weekday === 0 || weekday === 6
    // Commuters ride from home in the morning and back in the evening: residential docks empty
    // out after 7–9 and refill after 17–19; docks at offices and stations do the opposite.
    let fill: number
    if (weekend) fill = 0.55 - 0.25 * plateau(hour, 10, 19)
    else if (area === 'residential') fill = 0.8 - 0.65 * plateau(hour, 8, 18.5)
    else fill = 0.15 + 0.7 * plateau(hour, 8.8, 17.8)
    fill = clamp(fill + 0.08 * valueNoise(ctx.key, time / (30 * 60_000)), 0, 1)
    // A dock or two out of service holds neither a free bike nor a free slot.
    const broken = Math.floor(((valueNoise(ctx.key ^ 7, time / DAY) + 1) / 2) * 2.5)
    const usable = Math.max(0, docks - broken)
    const bikes = clamp(Math.round(usable * fill + gaussian(ctx.rng) * 0.6), 0, usable)
    return [{ ts: iso(time), availableBikeNumber: bikes, freeSlotNumber: usable - bikes }]
  }
}

const BUILDERS: Record<DeviceType, Builder> = {
  'air-quality': airQuality,
  noise,
  weather,
  'traffic-counter': trafficCounter,
  bus,
  parking,
  'bike-dock': bikeDock,
}

function iso(time: number): string {
  return new Date(Math.round(time)).toISOString()
}

/**
 * Last guard: a real sensor saturates at the ends of its range rather than reporting nonsense, so
 * numbers are clamped to the kind's range (and rounded for integer fields). Non-finite values are
 * left alone on purpose, so a model bug shows up as a validation failure instead of being hidden.
 */
function saturate(fields: [string, FieldSpec][], reading: Reading): Reading {
  for (const [name, spec] of fields) {
    const v = reading[name]
    if (typeof v !== 'number' || !Number.isFinite(v)) continue
    const clamped = clamp(spec.integer ? Math.round(v) : v, spec.minimum, spec.maximum)
    reading[name] = clamped
  }
  return reading
}

/**
 * A device's value model: call it with a time (epoch ms) and it returns that reporting cycle's
 * readings, each with `ts` (one per lane for traffic counters, one otherwise). Readings from the
 * same device and seed at the same sequence of times are identical.
 */
export function createValueModel(device: ModelDevice, seed: number): ValueModel {
  const city = findCity(device.city)
  const cityId = city?.id ?? device.city
  const key = hashInts(seed, hashString(device.id))
  const ctx: Context = {
    device,
    seed,
    key,
    rng: mulberry32(key),
    profile: CITY_PROFILES[cityId] ?? DEFAULT_PROFILE,
    cityId,
    centre: city ? { lat: city.lat, lon: city.lon } : { lat: device.lat, lon: device.lon },
    intervalSeconds: device.interval,
  }
  const model = BUILDERS[device.type](ctx)
  const fields = Object.entries(KINDS[device.type].fields)
  return (time) => model(time).map((r) => saturate(fields, r))
}
