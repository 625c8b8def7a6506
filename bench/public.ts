import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { gzipSync } from 'node:zlib'
import { pino } from 'pino'
import { ensureDashboardBuilt } from '../dashboard/build.ts'
import { buildApp, type BuiltApp } from '../dashboard/server/app.ts'
import { KINDS } from '../devices/kinds.ts'
import { encodeReading, linesToBatch, seriesPrefix } from '../devices/line-protocol.ts'
import { cities } from '../devices/region.ts'
import { launchBrowser } from '../testkit/browser.ts'
import { largestContentfulPaint, LAYOUT_SHIFT_OBSERVER, layoutShifts, NO_RESERVED_HEIGHTS_CSS, publicSectionsDrawn, scrollToBottom, sumShifts } from '../testkit/layout-shift.ts'
import { startStack, type Stack } from '../testkit/stack.ts'
import { request as httpRequest } from 'node:http'

/**
 * Figures for the citizens' side, for `npm run bench`:
 *
 * - requests/s of `GET /api/public/air-quality` (every city) with N concurrent keep-alive clients,
 *   served from the snapshots, against a baseline measured in the same run on the same data: the
 *   same endpoint with snapshots disabled, i.e. computed from storage per request (what the page
 *   would cost without them). Also the revalidation case (If-None-Match → 304, what polling pages
 *   mostly send) and, for reference, /api/config through the same server (a constant object, but
 *   serialized per request: the snapshot answers, sent as ready strings, outrun it);
 * - the gzipped size of the public page's initial JavaScript (the entry and its static imports,
 *   from the Vite manifest), and of the lazy chart and map chunks;
 * - the bytes a phone's first visit transfers before the visitor scrolls: the requests real
 *   Chromium makes at 390 px until the network is idle, each fetched again with
 *   `Accept-Encoding: br, gzip` (what browsers send) and with `identity` (the baseline: what the
 *   server sent before it compressed), bodies counted as they cross the wire;
 * - the same first visit's largest contentful paint and cumulative layout shift (PerformanceObserver
 *   in Chromium), on a phone-like network (150 ms round trip, 1.6 Mbit/s down: Lighthouse's mobile
 *   throttling), once as browsers ask (Brotli/gzip) and once asking `identity` (the baseline);
 *   the layout shift is taken before scrolling and again after scrolling through every lazy
 *   section (the charts, map, year, cities and buses arriving late must not move the page), and
 *   once more with the sections' reserved heights switched off by a style sheet (the baseline:
 *   the page as it was before it reserved them).
 *
 * The platform is a real stack (testkit/stack.ts: broker, ingest, embedded storage); a week
 * of readings for 3 stations per city is written to its storage. The two servers measured are
 * built on that platform (rate limits lifted, or the load would measure the 429s) and listen on
 * free ports; the load runs in a worker thread, so server and clients each have a core (the
 * machine has 2). Every phase is bounded in time.
 *
 *   import { benchPublic, formatPublicBench } from './bench/public.ts'
 *   console.log(formatPublicBench(await benchPublic({ seconds: 5, connections: 20 })))
 */

export interface PublicBenchOptions {
  /** Seconds of load per measurement (after 1 s of warm-up). Default 5. */
  seconds?: number
  /** Concurrent keep-alive clients. Default 20. */
  connections?: number
  /** Air-quality stations per city. Default 3. */
  stationsPerCity?: number
  log?: (line: string) => void
}

export interface PublicBenchRow {
  figure: string
  piazza: number | undefined
  baseline: number | undefined
  unit: string
  better: 'higher' | 'lower' | ''
}

export interface PublicBenchResult {
  rows: PublicBenchRow[]
  notes: string[]
}

export interface LoadResult {
  requests: number
  errors: number
  statuses: Record<string, number>
  seconds: number
  p50: number
  p99: number
}

const DASHBOARD_DIST = fileURLToPath(new URL('../dashboard/dist', import.meta.url))
const DAY = 86_400_000
const MINUTE = 60_000

/** The load generator, run in a worker: N keep-alive clients in closed loop, each one request at a time. */
const LOAD_WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const http = require('node:http')
const { url, connections, warmupMs, measureMs, headers } = workerData
const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
const target = new URL(url)
let measuring = false
let stop = false
let requests = 0, errors = 0
const statuses = {}
const latencies = []
function once() {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, agent, headers }, (res) => {
      res.on('data', () => {})
      res.on('end', () => {
        if (measuring) {
          requests++
          statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1
          if (latencies.length < 200000) latencies.push(Number(process.hrtime.bigint() - started) / 1e6)
        }
        resolve()
      })
    })
    req.on('error', () => { if (measuring) errors++; resolve() })
    req.setTimeout(10000, () => req.destroy(new Error('timeout')))
    req.end()
  })
}
async function client() { while (!stop) await once() }
const clients = Array.from({ length: connections }, client)
let start
setTimeout(() => { measuring = true; start = process.hrtime.bigint() }, warmupMs)
setTimeout(async () => {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  measuring = false
  stop = true
  await Promise.race([Promise.all(clients), new Promise((r) => setTimeout(r, 12000))])
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : NaN
  parentPort.postMessage({ requests, errors, statuses, seconds, p50: pct(50), p99: pct(99) })
}, warmupMs + measureMs)
`

export function load(url: string, connections: number, seconds: number, headers: Record<string, string> = {}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LOAD_WORKER, { eval: true, workerData: { url, connections, warmupMs: 1000, measureMs: seconds * 1000, headers } })
    const timer = setTimeout(() => {
      void worker.terminate()
      reject(new Error(`load on ${url} did not finish`))
    }, (seconds + 30) * 1000)
    worker.once('message', (result: LoadResult) => {
      clearTimeout(timer)
      void worker.terminate()
      resolve(result)
    })
    worker.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

/** Gzipped bytes of the public page's first-paint JavaScript and of its lazy chunks, from the Vite manifest. */
export function publicBundleSizes(dist = DASHBOARD_DIST): { initialGzip: number; initialFiles: string[]; lazy: Record<string, number> } | undefined {
  const manifestFile = join(dist, 'public', '.vite', 'manifest.json')
  if (!existsSync(manifestFile)) return undefined
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, { file: string; imports?: string[]; dynamicImports?: string[] }>
  const gz = (file: string) => gzipSync(readFileSync(join(dist, 'public', file))).length
  const files = new Set<string>()
  const visit = (key: string) => {
    const chunk = manifest[key]
    if (!chunk || files.has(chunk.file)) return
    files.add(chunk.file)
    for (const i of chunk.imports ?? []) visit(i)
  }
  visit('public.html')
  const initialFiles = [...files].filter((f) => f.endsWith('.js'))
  const lazy: Record<string, number> = {}
  for (const key of manifest['public.html']?.dynamicImports ?? []) {
    const chunk = manifest[key]!
    const own = new Set<string>()
    const walk = (k: string) => {
      const c = manifest[k]
      if (!c || own.has(c.file) || files.has(c.file)) return
      own.add(c.file)
      for (const i of c.imports ?? []) walk(i)
    }
    walk(key)
    lazy[chunk.file.replace(/^assets\//, '').replace(/-[\w-]{8}\.js$/, '')] = [...own].filter((f) => f.endsWith('.js')).reduce((n, f) => n + gz(f), 0)
  }
  return { initialGzip: initialFiles.reduce((n, f) => n + gz(f), 0), initialFiles, lazy }
}

/** Bytes of one answer's body as sent (not decoded), with the given Accept-Encoding. */
function wireBytes(url: string, acceptEncoding: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { 'accept-encoding': acceptEncoding } }, (res) => {
      let n = 0
      res.on('data', (chunk: Buffer) => (n += chunk.length))
      res.on('end', () => resolve(n))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** The first phone visit (390 × 844) before scrolling: what it requests, and those answers' bytes compressed and not. */
export async function phoneVisitBytes(base: string): Promise<{ requests: number; compressed: number; identity: number }> {
  const browser = await launchBrowser({ locale: 'it-IT' })
  try {
    const page = await browser.newPage({ width: 390, height: 844 })
    const urls: string[] = []
    page.on('request', (r) => {
      if (r.url().startsWith(base)) urls.push(r.url())
    })
    await page.goto(`${base}/`)
    await page.getByTestId('aqi-card').waitFor({ timeout: 30_000 })
    await page.waitForLoadState('networkidle')
    let compressed = 0
    let identity = 0
    for (const url of urls) {
      compressed += await wireBytes(url, 'br, gzip')
      identity += await wireBytes(url, 'identity')
    }
    return { requests: urls.length, compressed, identity }
  } finally {
    await browser.close()
  }
}

export interface PaintFigures {
  /** Largest contentful paint, ms from navigation start. */
  lcp: number
  /** Cumulative layout shift until the network is idle, before any scrolling. */
  clsBeforeScroll: number
  /** The same after scrolling down through the page and letting every lazy section load. */
  clsAfterScroll: number
  /** Answers that came back compressed (content-encoding br or gzip), of all the page's answers. */
  compressedAnswers: number
  answers: number
}

/**
 * One cold first visit on a phone (390 × 844) over a throttled network; `identity` asks the server
 * not to compress; `noReserve` switches the lazy sections' reserved heights off (the baseline for
 * the layout shift after scrolling: the page as it was before them).
 */
export async function phoneVisitPaint(base: string, options: { identity: boolean; noReserve?: boolean }): Promise<PaintFigures> {
  const browser = await launchBrowser({ locale: 'it-IT' })
  try {
    const page = await browser.newPage({ width: 390, height: 844 })
    const cdp = await browser.context.newCDPSession(page)
    await cdp.send('Network.enable')
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: (1.6e6 / 8) * 0.9, uploadThroughput: (750e3 / 8) * 0.9 })
    if (options.identity) await page.setExtraHTTPHeaders({ 'accept-encoding': 'identity' })
    let answers = 0
    let compressedAnswers = 0
    page.on('response', (r) => {
      if (!r.url().startsWith(base)) return
      answers++
      if (/^(br|gzip)$/.test(r.headers()['content-encoding'] ?? '')) compressedAnswers++
    })
    await page.addInitScript(LAYOUT_SHIFT_OBSERVER)
    if (options.noReserve) await page.addInitScript(`document.addEventListener('DOMContentLoaded', () => { const s = document.createElement('style'); s.textContent = ${JSON.stringify(NO_RESERVED_HEIGHTS_CSS)}; document.head.append(s) })`)
    await page.goto(`${base}/`, { timeout: 120_000 })
    await page.getByTestId('aqi-card').waitFor({ timeout: 120_000 })
    await page.waitForLoadState('networkidle', { timeout: 120_000 })
    const lcp = await largestContentfulPaint(page)
    const before = sumShifts(await layoutShifts(page))
    // Down the page a screen at a time, each lazy section that comes near drawn with its data before the next step.
    await scrollToBottom(page, () => publicSectionsDrawn(page, 120_000))
    const after = sumShifts(await layoutShifts(page))
    return { lcp, clsBeforeScroll: before, clsAfterScroll: after, compressedAnswers, answers }
  } finally {
    await browser.close()
  }
}

async function seed(stack: Stack, perCity: number): Promise<number> {
  const kind = KINDS['air-quality']
  let count = 0
  const now = Date.now()
  for (const city of cities) {
    for (let s = 0; s < perCity; s++) {
      const { device } = await stack.registry.add({ type: 'air-quality', city: city.id, name: `${city.name} ${s + 1}`, interval: 600 }, 'bench')
      const prefix = seriesPrefix({ type: 'air-quality', city: city.id, deviceId: device.id })
      const lines: string[] = []
      for (let i = 0; i < 7 * 144; i++) {
        const time = now - MINUTE - i * 10 * MINUTE
        const wave = Math.sin((time / DAY) * 2 * Math.PI + s)
        lines.push(encodeReading(kind, prefix, { time, values: { pm25: 10 + 6 * wave, pm10: 20 + 8 * wave, no2: 25 + 12 * wave, o3: 60 - 20 * wave, so2: 3, co: 0.4 } }))
      }
      await stack.storage.write(linesToBatch(lines))
      count += lines.length
    }
  }
  return count
}

export async function benchPublic(options: PublicBenchOptions = {}): Promise<PublicBenchResult> {
  const seconds = options.seconds ?? 5
  const connections = options.connections ?? 20
  const perCity = options.stationsPerCity ?? 3
  const log = options.log ?? (() => {})
  const notes: string[] = []

  await ensureDashboardBuilt(log).catch((err: unknown) => {
    if (!existsSync(join(DASHBOARD_DIST, 'public', 'public.html'))) throw err
    notes.push(`operators' build failed (${String(err).split('\n')[0]}); the public build is there`)
  })
  const bundle = publicBundleSizes()

  const stack = await startStack()
  const apps: BuiltApp[] = []
  try {
    log('public bench: seeding a week of readings…')
    const readings = await seed(stack, perCity)
    const logger = pino({ level: 'silent' })
    const unlimited = { max: Number.MAX_SAFE_INTEGER, exportMax: Number.MAX_SAFE_INTEGER }
    const build = async (snapshots: boolean, staticDir?: string) => {
      const built = await buildApp({ secretKey: randomBytes(32),
        registry: stack.registry,
        db: stack.db,
        storage: stack.storage,
        ingestStatus: stack.ingest,
        feed: stack.feed,
        logger,
        staticDir,
        publicData: { rateLimit: unlimited, snapshots: { enabled: snapshots } },
      })
      apps.push(built)
      await built.app.listen({ host: '127.0.0.1', port: 0 })
      const address = built.app.server.address()
      return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
    }
    const withSnapshots = await build(true, DASHBOARD_DIST)
    const perRequest = await build(false)
    const path = '/api/public/air-quality'
    const first = await fetch(`${withSnapshots}${path}`)
    const etag = first.headers.get('etag') ?? ''
    const body = (await first.json()) as { items: { index: { value: number | null } }[] }
    notes.push(`data: ${cities.length} cities × ${perCity} stations, ${readings} readings (a week every 10 min) written to the stack's embedded storage; ${body.items.filter((c) => c.index.value !== null).length} cities with an index`)

    log(`public bench: ${connections} clients × ${seconds} s per measurement…`)
    const snap = await load(`${withSnapshots}${path}`, connections, seconds)
    const naive = await load(`${perRequest}${path}`, connections, seconds)
    const snap304 = await load(`${withSnapshots}${path}`, connections, seconds, { 'if-none-match': etag })
    const ceiling = await load(`${withSnapshots}/api/config`, connections, seconds)
    const rps = (r: LoadResult) => r.requests / r.seconds
    for (const [name, r] of [['snapshots', snap], ['per request', naive], ['snapshots, If-None-Match', snap304], ['/api/config', ceiling]] as const) {
      notes.push(`${name}: ${r.requests} answers in ${r.seconds.toFixed(1)} s, statuses ${JSON.stringify(r.statuses)}, ${r.errors} errors`)
    }
    const kb = (n: number | undefined) => (n === undefined ? undefined : Math.round((n / 1024) * 10) / 10)
    const rows: PublicBenchRow[] = [
      { figure: `GET ${path} (10 cities), requests/s: snapshots vs computed per request`, piazza: rps(snap), baseline: rps(naive), unit: 'req/s', better: 'higher' },
      { figure: '  latency p50, ms', piazza: snap.p50, baseline: naive.p50, unit: 'ms', better: 'lower' },
      { figure: '  latency p99, ms', piazza: snap.p99, baseline: naive.p99, unit: 'ms', better: 'lower' },
      { figure: '  revalidation (If-None-Match → 304), requests/s', piazza: rps(snap304), baseline: undefined, unit: 'req/s', better: 'higher' },
      // Not a ceiling: /api/config serializes its (constant, larger) object on every request, the snapshots send a ready string.
      { figure: '  reference: GET /api/config (same server, constant object), requests/s', piazza: rps(ceiling), baseline: undefined, unit: 'req/s', better: '' },
      { figure: 'public page initial JS, gzipped KB', piazza: kb(bundle?.initialGzip), baseline: undefined, unit: 'KB', better: 'lower' },
    ]
    for (const [name, bytes] of Object.entries(bundle?.lazy ?? {})) rows.push({ figure: `  lazy chunk ${name}, gzipped KB`, piazza: kb(bytes), baseline: undefined, unit: 'KB', better: '' })
    log('public bench: a first phone visit in Chromium…')
    const visit = await phoneVisitBytes(withSnapshots).catch((err: unknown) => {
      notes.push(`phone visit not measured: ${String(err).split('\n')[0]}`)
      return undefined
    })
    if (visit) {
      rows.push({ figure: 'first phone visit before scrolling, KB transferred: Brotli/gzip vs identity', piazza: kb(visit.compressed), baseline: kb(visit.identity), unit: 'KB', better: 'lower' })
      notes.push(`phone visit: ${visit.requests} requests before scrolling (390 × 844, until the network is idle); bodies only, headers not counted`)
    }
    log('public bench: largest contentful paint and layout shift, phone on a throttled network, compressed and not…')
    const paint = async (identity: boolean) =>
      phoneVisitPaint(withSnapshots, { identity }).catch((err: unknown) => {
        notes.push(`paint (${identity ? 'identity' : 'compressed'}) not measured: ${String(err).split('\n')[0]}`)
        return undefined
      })
    const compressedPaint = await paint(false)
    const identityPaint = await paint(true)
    const noReservePaint = await phoneVisitPaint(withSnapshots, { identity: false, noReserve: true }).catch((err: unknown) => {
      notes.push(`paint without reserved heights not measured: ${String(err).split('\n')[0]}`)
      return undefined
    })
    if (compressedPaint || identityPaint) {
      rows.push({ figure: 'first phone visit, largest contentful paint, ms (150 ms RTT, 1.6 Mbit/s): Brotli/gzip vs identity', piazza: compressedPaint?.lcp, baseline: identityPaint?.lcp, unit: 'ms', better: 'lower' })
      rows.push({ figure: '  cumulative layout shift before scrolling', piazza: compressedPaint?.clsBeforeScroll, baseline: identityPaint?.clsBeforeScroll, unit: 'CLS', better: '' })
      rows.push({ figure: '  cumulative layout shift after scrolling through every lazy section', piazza: compressedPaint?.clsAfterScroll, baseline: identityPaint?.clsAfterScroll, unit: 'CLS', better: '' })
      rows.push({ figure: '  layout shift after scrolling (Brotli/gzip): sections keep their height vs reserved heights switched off', piazza: compressedPaint?.clsAfterScroll, baseline: noReservePaint?.clsAfterScroll, unit: 'CLS', better: 'lower' })
      for (const [name, p] of [['compressed', compressedPaint], ['identity', identityPaint], ['compressed, reserved heights switched off', noReservePaint]] as const) {
        if (p) notes.push(`paint visit (${name}): ${p.compressedAnswers} of ${p.answers} answers came compressed; CLS ${p.clsBeforeScroll.toFixed(4)} before scrolling, ${p.clsAfterScroll.toFixed(4)} after`)
      }
    }
    if (bundle) notes.push(`initial JS files: ${bundle.initialFiles.join(', ')}`)
    else notes.push('no public build found: bundle sizes missing')
    notes.push(`load: ${connections} keep-alive clients in a worker thread, closed loop, 1 s warm-up then ${seconds} s; server and clients share this machine's cores`)
    return { rows, notes }
  } finally {
    for (const a of apps) await a.close().catch(() => {})
    await stack.stop()
  }
}

export function formatPublicBench(result: PublicBenchResult): string {
  const fmt = (v: number | undefined, digits = 0) => (v === undefined || !Number.isFinite(v) ? '' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }))
  const table = [['figure', 'Piazza', 'baseline', 'Piazza/baseline', 'better']]
  for (const r of result.rows) {
    const digits = r.unit === 'CLS' ? 3 : r.unit === 'ms' || r.unit === 'KB' ? 1 : 0
    const ratio = r.better && r.piazza !== undefined && r.baseline ? `${fmt(r.piazza / r.baseline, 2)}x` : ''
    table.push([r.figure, fmt(r.piazza, digits), fmt(r.baseline, digits), ratio, r.better ? `${r.better} is better` : ''])
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)))
  const lines = table.map((row) => row.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd())
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  return [...lines, '', ...result.notes].join('\n')
}
