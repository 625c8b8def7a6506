import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Page } from 'playwright-core'
import { pino } from 'pino'
import { ensureDashboardBuilt } from '../dashboard/build.ts'
import { buildApp, type BuiltApp } from '../dashboard/server/app.ts'
import { createLocalFeed, type Feed } from '../feed/feed.ts'
import type { DeviceType } from '../devices/kinds.ts'
import type { PipelineCounters } from '../ingest/pipeline.ts'
import { createRegistry, openRegistryDatabase } from '../devices/registry.ts'
import { loadOrCreateSecretKey } from '../devices/secret-key.ts'
import { createEmbeddedStorage } from '../ingest/storage/embedded.ts'
import { launchBrowser, type Browser } from '../testkit/browser.ts'
import { planFleet } from '../simulator/fleet.ts'
import { createValueModel, type ValueModel } from '../simulator/values.ts'

/**
 * The operators' dashboard under load: N simulated devices (default 5,000) each reporting every
 * second, driven in-process into the real live hub, device-state tracker and alert engine through
 * the feed (the HTTP side exactly as `piazza start` runs it, minus MQTT and storage, so the load
 * needs no 5,000 connections), and the real built page open in headless Chromium.
 *
 * For each mode it measures, from the browser's own accounting, how much main-thread time the page
 * spends per second of live updates (CDP Performance.getMetrics: TaskDuration, ScriptDuration,
 * LayoutDuration + RecalcStyleDuration) and its long tasks (> 50 ms, a PerformanceObserver of
 * 'longtask'), over the same seconds of the same load:
 *
 *   batched      the app: updates buffered and applied once per animation frame
 *   per-message  `?baseline=per-message`: every socket message applied and rendered as it arrives
 *   per-update   `?baseline=per-update`: every device update applied and rendered on its own
 *                (React state per incoming update, flushed synchronously)
 *   full-list    `?baseline=full-list`: the app, but its device list renders every row (all
 *                5,000 in the page, each following its device) instead of the rows in view
 *
 * The modes alternate within a round, and rounds repeat the order reversed, so drift on a shared
 * machine falls on every mode alike. Call it:
 *
 *   import { benchDashboard } from './bench/dashboard.ts'
 *   const rows = await benchDashboard({ devices: 5000, seconds: 15, rounds: 2, log: console.error })
 *   console.log(formatDashboardBench(rows))
 *
 * or from a shell: `npx tsx bench/dashboard.ts [--devices 5000] [--seconds 15]
 * [--warmup 5] [--rounds 2] [--modes batched,per-message,per-update] [--profile DIR]` (prints a
 * table, then the rows as JSON). `--list` compares the virtualised list with the full one, kept
 * short (modes batched,full-list, 8 s measured after 2 s, one round).
 */

export type DashboardMode = 'batched' | 'per-message' | 'per-update' | 'full-list'
export const DASHBOARD_MODES: readonly DashboardMode[] = ['batched', 'per-message', 'per-update']
/** The list comparison: the virtualised device list against every row in the page (`--list`). */
export const LIST_MODES: readonly DashboardMode[] = ['batched', 'full-list']

export interface DashboardBenchOptions {
  /** Simulated devices. Default 5000. */
  devices?: number
  /** Readings per device per second. Default 1. */
  ratePerDevice?: number
  /** Measured seconds per mode and round. Default 15. */
  seconds?: number
  /** Seconds of load after the page is up, before measuring. Default 5. */
  warmupSeconds?: number
  modes?: readonly DashboardMode[]
  /** Each round measures every mode once (the order reversed every other round). Default 2. */
  rounds?: number
  /** The live hub's coalescing tick (the server's default is 250 ms). */
  coalesceMs?: number
  viewport?: { width: number; height: number }
  seed?: number
  /** When set, a CPU profile of each measured window is written here (`<mode>-<round>.cpuprofile`, for DevTools). */
  profileDir?: string
  log?: (line: string) => void
}

export interface DashboardBenchRow {
  mode: DashboardMode
  round: number
  devices: number
  /** Wall-clock seconds measured. */
  seconds: number
  /** Device updates the page received per second (from the page's connection manager). */
  updatesPerSecond: number
  /** Socket messages per second. */
  messagesPerSecond: number
  /** Times per second the page applied updates to its state (frames in batched mode). */
  appliesPerSecond: number
  /** Main-thread busy time per second of live updates, ms (CDP TaskDuration). */
  taskMsPerSecond: number
  /** Of which JavaScript, ms per second (CDP ScriptDuration). */
  scriptMsPerSecond: number
  /** Of which layout and style recalculation, ms per second. */
  layoutMsPerSecond: number
  /** Long tasks (> 50 ms) in the measured seconds, and their total and longest duration. */
  longTasks: number
  longTaskMs: number
  maxLongTaskMs: number
  /** JS heap in use at the end, MB. */
  heapMB: number
  /** Device-list rows in the page (all of them for full-list, the ones in view otherwise). */
  rowsInPage: number
}

const ADMIN_PASSWORD = 'bench-admin-password'
const TICK_MS = 50
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Driver {
  stop(): void
  /** Readings handed to the feed so far. */
  sent(): number
}

/**
 * Pushes the fleet's readings into the feed, spread evenly over each second. Paced by the clock,
 * not by the timer's ticks: when this process falls behind (it shares the machine with the
 * browser) the next tick catches up, so the offered load stays devices × rate.
 */
function drive(feed: Feed, fleet: { id: string; type: DeviceType; city: string; model: ValueModel }[], ratePerDevice: number): Driver {
  const perMs = (fleet.length * ratePerDevice) / 1000
  const started = performance.now()
  let cursor = 0
  let devicesSent = 0
  let sent = 0
  const timer = setInterval(() => {
    const owed = Math.floor((performance.now() - started) * perMs) - devicesSent
    // At most two seconds' worth at once, should the process have stalled for long (the rest is dropped).
    const due = Math.min(owed, fleet.length * ratePerDevice * 2)
    devicesSent += owed - due
    const now = Date.now()
    for (let i = 0; i < due; i++) {
      const d = fleet[cursor]!
      cursor = (cursor + 1) % fleet.length
      const readings = d.model(now).map((r) => {
        const { ts, ...values } = r as Record<string, unknown>
        return { time: typeof ts === 'number' ? ts : now, values }
      })
      sent += readings.length
      feed.accepted(d, readings, now)
    }
    devicesSent += Math.max(0, due)
  }, TICK_MS)
  return { stop: () => clearInterval(timer), sent: () => sent }
}

type Metrics = Record<string, number>

async function metrics(cdp: { send(method: 'Performance.getMetrics'): Promise<{ metrics: { name: string; value: number }[] }> }): Promise<Metrics> {
  const { metrics: list } = await cdp.send('Performance.getMetrics')
  return Object.fromEntries(list.map((m) => [m.name, m.value]))
}

interface PageStats {
  messages: number
  updates: number
  flushes: number
}

const pageStats = (page: Page) => page.evaluate(() => (window as unknown as { __piazzaLiveStats: () => PageStats }).__piazzaLiveStats())

type Resolved = Required<Omit<DashboardBenchOptions, 'log' | 'profileDir'>> & { profileDir?: string }

async function measure(browser: Browser, baseUrl: string, mode: DashboardMode, round: number, o: Resolved, log: (line: string) => void): Promise<DashboardBenchRow> {
  const page = await browser.newPage(o.viewport)
  try {
    const query = mode === 'batched' ? '' : `?baseline=${mode}`
    // A loaded machine serves the first page slowly while the fleet pushes 5,000 readings a second.
    await page.goto(`${baseUrl}/dashboard${query}`, { timeout: 120_000 })
    // The first page logs in; the session cookie serves the next ones.
    const form = page.getByTestId('login-form')
    const user = page.getByTestId('current-user')
    await Promise.race([form.waitFor({ timeout: 60_000 }), user.waitFor({ timeout: 60_000 })])
    if (await form.isVisible()) {
      await page.getByTestId('login-username').fill('admin')
      await page.getByTestId('login-password').fill(ADMIN_PASSWORD)
      await page.getByTestId('login-submit').click()
    }
    await user.waitFor({ timeout: 60_000 })
    const map = page.getByTestId('map')
    for (const deadline = Date.now() + 120_000; (await map.getAttribute('data-ready').catch(() => null)) !== 'true'; ) {
      if (Date.now() > deadline) throw new Error(`${mode}: the map did not load`)
      await sleep(200)
    }
    // Updates flowing before the warm-up counts.
    for (const deadline = Date.now() + 60_000; (await pageStats(page)).updates < o.devices; ) {
      if (Date.now() > deadline) throw new Error(`${mode}: no live updates reached the page`)
      await sleep(200)
    }
    await sleep(o.warmupSeconds * 1000)
    // The list under test: every row in the page for full-list, the rows in view otherwise.
    const rowsInPage = await page.getByTestId('device-list-item').count()
    if (mode === 'full-list' ? rowsInPage < o.devices : rowsInPage >= o.devices) throw new Error(`${mode}: ${rowsInPage} device rows in the page for ${o.devices} devices`)

    const cdp = await browser.context.newCDPSession(page)
    await cdp.send('Performance.enable')
    await page.evaluate(() => {
      const w = window as unknown as { __longTasks: { count: number; total: number; max: number } }
      w.__longTasks = { count: 0, total: 0, max: 0 }
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          w.__longTasks.count += 1
          w.__longTasks.total += e.duration
          w.__longTasks.max = Math.max(w.__longTasks.max, e.duration)
        }
      }).observe({ type: 'longtask' })
    })
    if (o.profileDir) {
      await cdp.send('Profiler.enable')
      await cdp.send('Profiler.start')
    }
    const m0 = await metrics(cdp)
    const s0 = await pageStats(page)
    const t0 = performance.now()
    await sleep(o.seconds * 1000)
    const m1 = await metrics(cdp)
    if (o.profileDir) {
      const { profile } = await cdp.send('Profiler.stop')
      mkdirSync(o.profileDir, { recursive: true })
      writeFileSync(join(o.profileDir, `${mode}-${round}.cpuprofile`), JSON.stringify(profile))
    }
    const s1 = await pageStats(page)
    const seconds = (performance.now() - t0) / 1000
    const lt = await page.evaluate(() => (window as unknown as { __longTasks: { count: number; total: number; max: number } }).__longTasks)
    await cdp.detach()
    const perSecond = (name: string) => ((m1[name]! - m0[name]!) * 1000) / seconds
    const row: DashboardBenchRow = {
      mode,
      round,
      devices: o.devices,
      seconds: round1(seconds),
      updatesPerSecond: Math.round((s1.updates - s0.updates) / seconds),
      messagesPerSecond: round1((s1.messages - s0.messages) / seconds),
      appliesPerSecond: round1((s1.flushes - s0.flushes) / seconds),
      taskMsPerSecond: round1(perSecond('TaskDuration')),
      scriptMsPerSecond: round1(perSecond('ScriptDuration')),
      layoutMsPerSecond: round1(perSecond('LayoutDuration') + perSecond('RecalcStyleDuration')),
      longTasks: lt.count,
      longTaskMs: Math.round(lt.total),
      maxLongTaskMs: Math.round(lt.max),
      heapMB: round1((m1.JSHeapUsedSize ?? 0) / 1_048_576),
      rowsInPage,
    }
    log(
      `dashboard bench: ${mode.padEnd(11)} round ${round}: ${row.taskMsPerSecond} ms/s main thread (${row.scriptMsPerSecond} script), ` +
        `${row.longTasks} long tasks (max ${row.maxLongTaskMs} ms), ${row.updatesPerSecond} updates/s in ${row.messagesPerSecond} messages/s, ${row.appliesPerSecond} applies/s, ${row.rowsInPage} list rows in the page`,
    )
    return row
  } finally {
    await page.close()
  }
}

const round1 = (n: number) => Math.round(n * 10) / 10

/** Runs the benchmark; every row is one mode measured once. Starts and stops everything it needs. */
export async function benchDashboard(options: DashboardBenchOptions = {}): Promise<DashboardBenchRow[]> {
  const o: Resolved = {
    devices: options.devices ?? 5000,
    ratePerDevice: options.ratePerDevice ?? 1,
    seconds: options.seconds ?? 15,
    warmupSeconds: options.warmupSeconds ?? 5,
    modes: options.modes ?? DASHBOARD_MODES,
    rounds: options.rounds ?? 2,
    coalesceMs: options.coalesceMs ?? 250,
    viewport: options.viewport ?? { width: 1400, height: 900 },
    seed: options.seed ?? 7,
    profileDir: options.profileDir,
  }
  const log = options.log ?? (() => {})
  await ensureDashboardBuilt(log)

  const dir = mkdtempSync(join(tmpdir(), 'piazza-dashboard-bench-'))
  const logger = pino({ level: 'silent' })
  let db: Database.Database | undefined
  let web: BuiltApp | undefined
  let browser: Browser | undefined
  let driver: Driver | undefined
  const storage = createEmbeddedStorage({ file: join(dir, 'readings.db'), retentionMs: 86_400_000, logger })
  try {
    await storage.init()
    db = openRegistryDatabase(join(dir, 'registry.db'))
    const registry = createRegistry({ db, secretKey: loadOrCreateSecretKey(dir) })
    // Registered straight into the table, faster than one add() each; these devices never log in
    // over MQTT.
    const plan = planFleet({ devices: o.devices, seed: o.seed })
    const insert = db.prepare(`INSERT INTO devices (id, type, name, city, lat, lon, interval, metadata, status, secret_hash, created_at, updated_at, created_by)
      VALUES (?, ?, ?, ?, ?, ?, 1, ?, 'active', 'bench-no-login', ?, ?, 'bench')`)
    const now = new Date().toISOString()
    db.transaction(() => {
      for (const p of plan) insert.run(p.id, p.type, p.name, p.city, p.lat, p.lon, JSON.stringify(p.metadata), now, now)
    })()
    const fleet = plan.map((p) => ({ id: p.id, type: p.type, city: p.city, model: createValueModel({ ...p, interval: 1 }, o.seed) }))

    const feed = createLocalFeed()
    const counters = { messages: 0, readingsAccepted: 0, readingsRejected: 0, rejectedByCode: {}, walErrors: 0 } as unknown as PipelineCounters
    const ingestStatus = {
      counters,
      stats: () => ({ wal: { unconfirmedBytes: 0, overBudget: false } }),
      health: async () => ({ ok: true, storage: { kind: storage.kind, ok: true, detail: 'bench' }, backlogBytes: 0, overBudget: false }),
    }
    web = await buildApp({ secretKey: randomBytes(32),
      registry,
      db,
      storage,
      ingestStatus,
      live: { coalesceMs: o.coalesceMs },
      feed,
      logger,
      staticDir: fileURLToPath(new URL('../dashboard/dist', import.meta.url)),
      adminPassword: ADMIN_PASSWORD,
      publicData: { snapshots: { warm: false } },
    })
    await web.app.listen({ host: '127.0.0.1', port: 0 })
    const address = web.app.server.address()
    if (!address || typeof address === 'string') throw new Error('the bench server is not listening')
    const baseUrl = `http://127.0.0.1:${address.port}`
    log(`dashboard bench: ${o.devices} devices × ${o.ratePerDevice} reading/s, live hub tick ${o.coalesceMs} ms, at ${baseUrl}`)
    driver = drive(feed, fleet, o.ratePerDevice)

    browser = await launchBrowser()
    const rows: DashboardBenchRow[] = []
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 === 1 ? [...o.modes] : [...o.modes].reverse()
      for (const mode of order) rows.push(await measure(browser, baseUrl, mode, round, o, log))
    }
    log(`dashboard bench: ${driver.sent()} readings pushed in all`)
    return rows
  } finally {
    driver?.stop()
    await browser?.close().catch(() => {})
    await web?.close().catch(() => {})
    await storage.close().catch(() => {})
    db?.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Means per mode over the rounds, and each mode against the batched app (× times the main-thread time). */
export function summariseDashboardBench(rows: readonly DashboardBenchRow[]): { mode: DashboardMode; taskMsPerSecond: number; longTasks: number; vsBatched: number | null }[] {
  const modes = [...new Set(rows.map((r) => r.mode))]
  const mean = (mode: DashboardMode, key: 'taskMsPerSecond' | 'longTasks') => {
    const mine = rows.filter((r) => r.mode === mode)
    return mine.reduce((n, r) => n + r[key], 0) / mine.length
  }
  const base = modes.includes('batched') ? mean('batched', 'taskMsPerSecond') : null
  return modes.map((mode) => {
    const task = mean(mode, 'taskMsPerSecond')
    return { mode, taskMsPerSecond: round1(task), longTasks: round1(mean(mode, 'longTasks')), vsBatched: base ? round1(task / base) : null }
  })
}

/** A plain-text table of the rows (means per mode over the rounds), for a terminal or a report. */
export function formatDashboardBench(rows: readonly DashboardBenchRow[]): string {
  const modes = [...new Set(rows.map((r) => r.mode))]
  const mean = (mode: DashboardMode, key: keyof DashboardBenchRow) => {
    const mine = rows.filter((r) => r.mode === mode)
    return mine.reduce((n, r) => n + Number(r[key]), 0) / mine.length
  }
  const base = modes.includes('batched') ? mean('batched', 'taskMsPerSecond') : undefined
  const f = (v: number, digits = 0) => v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
  // A page that cannot keep up takes fewer updates per second: its time per update says what each costs.
  const perUpdate = (m: DashboardMode) => (mean(m, 'taskMsPerSecond') / Math.max(1, mean(m, 'updatesPerSecond'))) * 1000
  const basePerUpdate = modes.includes('batched') ? perUpdate('batched') : undefined
  const baseLong = modes.includes('batched') ? mean('batched', 'longTaskMs') : undefined
  const table = [['mode', 'main thread ms/s', 'script ms/s', 'long tasks', 'long-task ms', 'longest ms', 'updates/s', 'ms per 1,000 updates', 'applies/s', 'vs batched (ms/s)', 'vs batched (per update)', 'vs batched (long-task ms)']]
  for (const m of modes) {
    const task = mean(m, 'taskMsPerSecond')
    table.push([
      m,
      f(task, 1),
      f(mean(m, 'scriptMsPerSecond'), 1),
      f(mean(m, 'longTasks'), 1),
      f(mean(m, 'longTaskMs')),
      f(mean(m, 'maxLongTaskMs')),
      f(mean(m, 'updatesPerSecond')),
      f(perUpdate(m), 1),
      f(mean(m, 'appliesPerSecond'), 1),
      base ? `${f(task / base, 2)}x` : '',
      basePerUpdate ? `${f(perUpdate(m) / basePerUpdate, 2)}x` : '',
      baseLong ? `${f(mean(m, 'longTaskMs') / baseLong, 2)}x` : '',
    ])
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)))
  const lines = table.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  const devices = rows[0]?.devices ?? 0
  const seconds = rows.reduce((n, r) => n + r.seconds, 0) / Math.max(1, rows.length)
  return [
    ...lines,
    '',
    `${devices} devices, each reporting every second; ${f(seconds, 1)} s measured per mode and round, ${Math.max(...rows.map((r) => r.round), 0)} round(s).`,
    'Main-thread time and long tasks are the browser’s own (CDP Performance.getMetrics, PerformanceObserver longtask); above ~1000 ms/s the page is saturated.',
  ].join('\n')
}

// Run directly: npx tsx bench/dashboard.ts [--list] [--devices N] [--seconds S] [--warmup S] [--rounds R] [--modes a,b]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`)
    return i > 0 ? process.argv[i + 1] : undefined
  }
  const num = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)))
  const list = process.argv.includes('--list')
  const rows = await benchDashboard({
    devices: num('devices'),
    seconds: num('seconds') ?? (list ? 8 : undefined),
    warmupSeconds: num('warmup') ?? (list ? 2 : undefined),
    rounds: num('rounds') ?? (list ? 1 : undefined),
    modes: (arg('modes')?.split(',') as DashboardMode[] | undefined) ?? (list ? LIST_MODES : undefined),
    profileDir: arg('profile'),
    log: (line) => console.error(line),
  })
  console.log(formatDashboardBench(rows))
  console.log(JSON.stringify(rows))
}
