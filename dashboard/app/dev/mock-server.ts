import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server as SocketServer } from 'socket.io'
import { KINDS } from '../../../devices/kinds.ts'
import { region } from '../../../devices/region.ts'
import type { Device } from '../../../devices/registry.ts'
import { planFleet } from '../../../simulator/fleet.ts'
import { createValueModel, type Reading } from '../../../simulator/values.ts'

/**
 * A stand-in for dashboard/server, for looking at the dashboard before the real API is wired.
 * It mirrors what dashboard/server answers (config with region.bbox and arrays of kinds, epoch-ms
 * times, additive Socket.IO subscriptions acked with a snapshot, `status` events), with a
 * simulated fleet whose values come from the real simulator models. Dev only; the app never
 * imports it.
 *
 *   npx tsx dashboard/app/dev/mock-server.ts [port]        (default 8090)
 *   PIAZZA_API=http://127.0.0.1:8090 npx vite --config dashboard/vite.config.ts
 *
 * Login: operator / piazza.
 */

const USER = { id: 1, username: 'operator', role: 'admin' }
const PASSWORD = 'piazza'
const COOKIE = 'piazza_session=mock-session'
const SEED = 7

interface Options {
  port?: number
  devices?: number
  /** Reporting speed-up: 10 means a 60 s device reports every 6 s. */
  speed?: number
  /** Sent as config.mapStyleUrl; '/api/mock-style.json' is a tile-less style served here. */
  mapStyleUrl?: string | null
}

const toValues = (r: Reading) => {
  const { ts: _ts, ...values } = r
  return values as Record<string, number | string>
}

export async function startMockServer(options: Options = {}) {
  const speed = options.speed ?? 10
  const now = new Date().toISOString()
  const devices: (Device & { connected: boolean; lastSeen: string | null })[] = planFleet({ devices: options.devices ?? 600, seed: SEED }).map((p) => ({
    id: p.id,
    type: p.type,
    name: p.name,
    city: p.city,
    lat: p.lat,
    lon: p.lon,
    interval: p.interval ?? KINDS[p.type].defaultInterval,
    metadata: p.metadata,
    status: 'active' as const,
    createdAt: now,
    updatedAt: now,
    createdBy: 'mock',
    connected: true,
    lastSeen: null,
  }))
  const byId = new Map(devices.map((d) => [d.id, d]))
  const models = new Map(devices.map((d) => [d.id, createValueModel(d, SEED)]))
  const latest = new Map<string, { time: string; values: Record<string, number | string> }>()
  const due = new Map<string, number>()
  // A few devices stay silent, so "no data" shows too.
  const silent = new Set(devices.filter((_, i) => i % 37 === 5).map((d) => d.id))
  for (const d of devices) {
    due.set(d.id, Date.now() + Math.random() * ((d.interval * 1000) / speed))
    if (silent.has(d.id)) {
      d.connected = false
      continue
    }
    const time = Date.now() - Math.random() * d.interval * 1000
    const readings = models.get(d.id)!(time)
    const values = Object.assign({}, ...readings.map(toValues)) as Record<string, number | string>
    latest.set(d.id, { time: new Date(time).toISOString(), values })
    d.lastSeen = latest.get(d.id)!.time
  }

  let failures = 0
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(body))
  }
  const fail = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) =>
    send(res, status, { error: { status, code, message } }, headers)
  const authed = (req: IncomingMessage) => (req.headers.cookie ?? '').includes(COOKIE)
  const readBody = async (req: IncomingMessage) => {
    let s = ''
    for await (const chunk of req) s += chunk
    try {
      return JSON.parse(s) as Record<string, unknown>
    } catch {
      return {}
    }
  }

  const config = {
    mapStyleUrl: options.mapStyleUrl ?? null,
    region: { name: region.region, bbox: region.bbox },
    cities: region.cities,
    kinds: Object.values(KINDS).map((k) => ({
      type: k.type,
      family: k.family,
      label: k.label,
      model: k.model,
      defaultInterval: k.defaultInterval,
      fields: k.fieldNames.map((name) => ({ name, ...k.fields[name]!, public: false })),
      tags: k.tagNames.map((name) => ({ name, label: k.tags[name]!.label })),
    })),
    live: { coalesceMs: 250, publicType: 'air-quality' },
  }

  const http = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://mock')
    const path = url.pathname
    if (req.method === 'POST' && path === '/api/auth/login') {
      const body = await readBody(req)
      if (failures >= 5) return fail(res, 429, 'rate-limited', 'Too many login attempts.', { 'retry-after': '30' })
      if (body.username !== USER.username || body.password !== PASSWORD) {
        failures++
        return fail(res, 401, 'invalid-credentials', 'Wrong username or password.')
      }
      failures = 0
      return send(res, 200, { user: USER, token: 'mock-token' }, { 'set-cookie': `${COOKIE}; Path=/; HttpOnly; SameSite=Lax` })
    }
    if (req.method === 'POST' && path === '/api/auth/logout') {
      res.writeHead(204, { 'set-cookie': `${COOKIE.split('=')[0]}=; Path=/; Max-Age=0` })
      return res.end()
    }
    if (path === '/api/config') return send(res, 200, config)
    // Stands in for a production style: different colours, no glyphs, so nothing to fetch.
    if (path === '/api/mock-style.json')
      return send(res, 200, {
        version: 8,
        sources: { box: { type: 'geojson', data: { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[10, 42.5], [12, 42.5], [12, 44.2], [10, 44.2], [10, 42.5]]] } } } },
        layers: [
          { id: 'bg', type: 'background', paint: { 'background-color': '#dfe8d8' } },
          { id: 'box', type: 'line', source: 'box', paint: { 'line-color': '#4a7', 'line-width': 3 } },
        ],
      })
    if (!authed(req)) return fail(res, 401, 'unauthorized', 'Sign in first.')
    if (path === '/api/auth/me') return send(res, 200, { user: USER })
    if (path === '/api/devices') {
      const q = url.searchParams
      const search = q.get('search')?.toLowerCase()
      const items = devices.filter(
        (d) =>
          (!q.get('city') || d.city === q.get('city')) &&
          (!q.get('type') || d.type === q.get('type')) &&
          (!search || d.id.includes(search) || d.name.toLowerCase().includes(search)),
      )
      const offset = Number(q.get('offset') ?? 0)
      // Cap like a real server might, so the client's paging is exercised.
      const limit = Math.min(Number(q.get('limit') ?? 100), 250)
      return send(res, 200, { items: items.slice(offset, offset + limit), total: items.length })
    }
    const m = /^\/api\/devices\/([^/]+)(?:\/(latest|readings))?$/.exec(path)
    const device = m && byId.get(decodeURIComponent(m[1]!))
    if (m && !device) return fail(res, 404, 'not-found', `No device with id '${m[1]}'.`)
    if (device && !m![2]) return send(res, 200, device)
    if (device && m![2] === 'latest') {
      const l = latest.get(device.id)
      return send(res, 200, { device: device.id, type: device.type, time: l ? Date.parse(l.time) : null, values: l?.values ?? {}, source: l ? 'live' : 'none' })
    }
    if (device && m![2] === 'readings') {
      if (silent.has(device.id)) return send(res, 200, [])
      const field = url.searchParams.get('field') ?? ''
      const from = Date.parse(url.searchParams.get('from') ?? '') || Date.now() - 3_600_000
      const to = Date.parse(url.searchParams.get('to') ?? '') || Date.now()
      const model = createValueModel(device, SEED)
      const points: { time: number; value: number }[] = []
      for (let t = from; t <= to; t += device.interval * 1000) {
        const v = model(t)[0]?.[field]
        if (typeof v === 'number') points.push({ time: t, value: v })
      }
      return send(res, 200, { device: device.id, type: device.type, field, from, to, every: null, aggregate: null, points })
    }
    return fail(res, 404, 'not-found', `No route ${req.method} ${path}`)
  })

  type Sub = { city?: string; type?: string; device?: string }
  type Update = { id: string; type: string; city: string; time: number; values: Record<string, number | string> }
  const matches = (f: Sub, d: { id: string; type: string; city: string }) =>
    (!f.city || d.city === f.city) && (!f.type || d.type === f.type) && (!f.device || d.id === f.device)

  // Like dashboard/server/live.ts: subscriptions add up, `unsubscribe` without payload drops all,
  // the ack carries the room's snapshot, an empty filter is refused.
  const io = new SocketServer(http, { path: '/socket.io' })
  io.use((socket, next) => ((socket.request.headers.cookie ?? '').includes(COOKIE) ? next() : next(new Error('unauthorized'))))
  const subs = new Map<string, Sub[]>()
  io.on('connection', (socket) => {
    subs.set(socket.id, [])
    socket.on('subscribe', (f: Sub, ack?: (answer: unknown) => void) => {
      if (!f || (!f.city && !f.type && !f.device)) return ack?.({ ok: false, error: { status: 400, code: 'validation', message: 'give at least one of city, type or device' } })
      subs.get(socket.id)!.push(f)
      const snapshot: Update[] = []
      for (const d of devices) {
        const l = latest.get(d.id)
        if (l && matches(f, d)) snapshot.push({ id: d.id, type: d.type, city: d.city, time: Date.parse(l.time), values: l.values })
      }
      ack?.({ ok: true, subscription: f, snapshot })
    })
    socket.on('unsubscribe', () => subs.set(socket.id, []))
    socket.on('disconnect', () => subs.delete(socket.id))
  })

  // Every 250 ms: the devices whose (sped-up) interval has passed report; one coalesced `update` per socket.
  const timer = setInterval(() => {
    const t = Date.now()
    const batch: Update[] = []
    for (const d of devices) {
      if (silent.has(d.id) || due.get(d.id)! > t) continue
      due.set(d.id, t + (d.interval * 1000) / speed)
      for (const r of models.get(d.id)!(t)) {
        const u = { id: d.id, type: d.type, city: d.city, time: t, values: toValues(r) }
        batch.push(u)
        latest.set(d.id, { time: new Date(t).toISOString(), values: { ...latest.get(d.id)?.values, ...u.values } })
        d.lastSeen = new Date(t).toISOString()
      }
    }
    // Now and then a device drops off the broker or comes back.
    const statuses: { id: string; type: string; city: string; connected: boolean; at: number }[] = []
    if (Math.random() < 0.2) {
      const d = devices[Math.floor(Math.random() * devices.length)]!
      if (!silent.has(d.id)) {
        d.connected = !d.connected
        statuses.push({ id: d.id, type: d.type, city: d.city, connected: d.connected, at: t })
      }
    }
    for (const [id, list] of subs) {
      const wanted = (u: { id: string; type: string; city: string }) => list.some((f) => matches(f, u))
      const mine = batch.filter(wanted)
      if (mine.length) io.to(id).emit('update', mine)
      const theirs = statuses.filter(wanted)
      if (theirs.length) io.to(id).emit('status', theirs)
    }
  }, 250)

  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    devices,
    async close() {
      clearInterval(timer)
      await io.close()
      http.close()
    },
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startMockServer({ port: Number(process.argv[2] ?? 8090) })
  console.log(`mock Piazza API on ${server.url} (login operator / ${PASSWORD}), ${server.devices.length} devices`)
}
