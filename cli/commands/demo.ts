import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import { createProgressPrinter } from '../../simulator/progress.ts'
import { UsageError, type Command } from '../command.ts'
import { createLogger } from '../logger.ts'
import { startServer, type RunningServer } from '../../platform/platform.ts'
import { stopWithin, untilSignal } from '../signals.ts'
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import { backfillFleet, ownConnections, type BackfillResult, type BacklogPublisher } from '../../simulator/backfill.ts'
import type { Simulator, SimulatorDeps } from '../../simulator/simulator.ts'
import { registerFleet, startFleet } from './simulate.ts'

/** The demo's admin password: ADMIN_PASSWORD, or one generated on the first demo and kept in the data directory. */
function demoAdminPassword(dataDir: string, configured: string | undefined): string {
  if (configured) return configured
  const file = join(dataDir, 'demo-admin-password')
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    mkdirSync(dataDir, { recursive: true })
    const password = randomBytes(9).toString('base64url')
    writeFileSync(file, `${password}\n`, { mode: 0o600 })
    return password
  }
}

/**
 * A back-fill in progress, kept in the data directory until its second part is done: a demo
 * stopped meanwhile finds its devices no longer empty, and this file says whose older days are
 * still to send (and for which `now`, so the history is the same one).
 */
interface PendingBackfill {
  /** Device id → the `now` its history ends at. */
  devices: Record<string, number>
}

function readPending(file: string): PendingBackfill | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PendingBackfill
  } catch {
    return undefined
  }
}

function writePending(file: string, devices: Map<string, number>): void {
  if (devices.size === 0) rmSync(file, { force: true })
  else writeFileSync(file, JSON.stringify({ devices: Object.fromEntries(devices) } satisfies PendingBackfill))
}

/**
 * Readings acknowledged but not yet stored past which the older days wait: the write-ahead log is
 * stored in order, so a live reading is stored only after the backlog ahead of it (about 4 s of
 * the embedded store's work at this bound).
 */
const MAX_UNSTORED = 10_000

/**
 * The whole back-fill of a demo start: readings and messages of both parts, devices whose history
 * is all in; `finished` false if it was stopped or failed.
 */
export type DemoBackfill = BackfillResult & { finished: boolean }

/**
 * The demo's fleet: registered (or reused), devices with nothing stored yet publish their last
 * days as a backlog (simulator/backfill.ts). Every device's last 24 hours go first, over
 * connections of their own, before the fleet goes live (air-quality stations first of all: the
 * public index is what a first visit looks at), so every chart and index is full early; then the
 * fleet publishes live and the days before follow in the background, over the live fleet's own
 * connections (a device's client id is unique: a second connection would take the live one over),
 * paced by the store so live readings are stored within seconds.
 *
 * Resolves once the fleet is live; `backfill` once the days before are in (or the fleet was
 * closed first: its close() stops them, and the pending file names what is left). It never
 * rejects: a failure is said and logged, and the next start sends what is left.
 */
export async function startDemoFleet(
  config: Config,
  server: Pick<RunningServer, 'mqttPort' | 'storage' | 'registry' | 'ingest'>,
  options: { devices: number; rate: number },
  logger: Logger,
  say: (line: string) => void,
  onProgress?: SimulatorDeps['onProgress'],
): Promise<{ fleet: Simulator; recent: BackfillResult; backfill: Promise<DemoBackfill> }> {
  const mqttUrl = `mqtt://127.0.0.1:${server.mqttPort}`
  const fleetOptions = { devices: options.devices, seed: 1, rateMultiplier: options.rate }
  const entries = await registerFleet(config, fleetOptions, server.registry)
  const pendingFile = join(config.dataDir, 'demo-backfill.json')
  const pending = readPending(pendingFile)
  const empty: typeof entries = []
  for (const entry of entries) if ((await server.storage.latest({ deviceId: entry.device.id, type: entry.device.type })) === null) empty.push(entry)
  const unfinished = entries.filter((e) => pending?.devices[e.device.id] !== undefined && !empty.includes(e))
  /** Devices whose older days are still to send → the `now` their history ends at. */
  const remaining = new Map(Object.entries(pending?.devices ?? {}))
  const total: DemoBackfill = { devices: 0, readings: 0, messages: 0, ms: 0, finished: false }
  const started = Date.now()
  const seconds = (since: number, digits = 1) => `${((Date.now() - since) / 1000).toFixed(digits)} s`
  const stop = new AbortController()
  const run = async (part: 'recent' | 'older', fleet: typeof entries, now: number, label: string, publish: BacklogPublisher) => {
    // Air-quality stations first: the public index and history are what a first visit looks at.
    fleet.sort((a, b) => Number(b.device.type === 'air-quality') - Number(a.device.type === 'air-quality'))
    let shown = 0
    const result = await backfillFleet({
      publish,
      fleet,
      seed: fleetOptions.seed,
      now,
      part,
      signal: stop.signal,
      onDevice: (done, count, entry) => {
        if (part === 'older') {
          remaining.delete(entry.device.id)
          total.devices++
        }
        if (done === count || done - shown >= Math.ceil(count / 10)) {
          shown = done
          say(`  back-fill, ${label}: ${done}/${count} devices (${seconds(started, 0)})`)
        }
      },
    })
    total.readings += result.readings
    total.messages += result.messages
    return result
  }

  const recent: BackfillResult = { devices: empty.length, readings: 0, messages: 0, ms: 0 }
  const now = Date.now()
  if (empty.length > 0) {
    for (const entry of empty) remaining.set(entry.device.id, now)
    writePending(pendingFile, remaining)
    say(`Back-filling the last 7 days (30 for weather stations) of ${empty.length} devices with nothing stored, over MQTT: the last 24 hours first, then the fleet goes live and the days before follow…`)
    Object.assign(recent, await run('recent', empty, now, 'last 24 h', ownConnections(mqttUrl)))
    say(`  the last 24 hours are in (${seconds(started)}).`)
  }
  const fleet = await startFleet(config, mqttUrl, fleetOptions, logger, onProgress, entries)
  const liveAt = Date.now()
  say(`Live fleet started: ${entries.length} devices publishing (${seconds(started)} after start).`)

  const overLiveConnections: BacklogPublisher = async (entry, payloads, signal) => {
    for (const payload of payloads) {
      while (server.ingest.wal.unreadRecords() > MAX_UNSTORED) await sleep(200, undefined, { signal })
      await fleet.publishAs(entry.device.id, payload, signal)
    }
  }
  const older = async (): Promise<DemoBackfill> => {
    if (empty.length === 0 && unfinished.length === 0) return { ...total, finished: true }
    try {
      if (empty.length > 0) {
        say(`  the days before, in the background while the fleet is live…`)
        await run('older', empty, now, 'days before', overLiveConnections)
      }
      if (unfinished.length > 0) {
        say(`Finishing the back-fill a previous start left unfinished: the older days of ${unfinished.length} devices, in the background while the fleet is live…`)
        for (const then of new Set(unfinished.map((e) => pending!.devices[e.device.id]!))) {
          await run('older', unfinished.filter((e) => pending!.devices[e.device.id] === then), then, 'days before', overLiveConnections)
        }
      }
      rmSync(pendingFile, { force: true })
      Object.assign(total, { ms: Date.now() - started, finished: true })
      say(`Back-filled ${total.readings} readings of ${total.devices} devices in ${(total.ms / 1000).toFixed(1)} s (the days before in ${seconds(liveAt)}, while the fleet was live).`)
    } catch (err) {
      writePending(pendingFile, remaining)
      total.ms = Date.now() - started
      if (stop.signal.aborted) say(`Stopping the back-fill: the older days of ${remaining.size} devices are left for the next start.`)
      else {
        logger.warn({ err: (err as Error).message, devices: remaining.size }, 'demo back-fill of the older days failed; the next start sends what is left')
        say(`The back-fill of the older days stopped (${(err as Error).message}); the next start sends what is left, of ${remaining.size} devices.`)
      }
    }
    return total
  }
  const backfill = older()
  async function close() {
    // The older days first, so no backlog message is left in flight when the connections end.
    stop.abort(new Error('the demo is stopping'))
    await backfill
    await fleet.close()
  }
  return { fleet: { ...fleet, close }, recent, backfill }
}

export const demoCommand: Command = {
  summary: 'Everything in one process tree: the platform, the dashboard and a simulated fleet across the ten cities',
  usage: 'demo [--devices N] [--rate X]',
  options: {
    devices: { type: 'string', description: 'simulated devices', default: '400' },
    rate: { type: 'string', description: 'speed-up of every device interval', default: '6' },
  },
  async run({ values, config }) {
    const devices = Number(values.devices ?? 400)
    const rate = Number(values.rate ?? 6)
    if (!Number.isInteger(devices) || devices < 1 || devices > 20000) throw new UsageError(`--devices must be a whole number from 1 to 20000, got '${values.devices}'`)
    if (!Number.isFinite(rate) || rate <= 0) throw new UsageError(`--rate must be a positive number, got '${values.rate}'`)
    const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel)
    await ensureDashboardBuilt((line) => console.log(line))
    const adminPassword = demoAdminPassword(config.dataDir, config.adminPassword)
    const server = await startServer({ ...config, adminPassword }, logger)
    console.log(`Piazza demo is running.
  Dashboard   ${server.urls.http}        log in as admin / ${adminPassword}
  API docs    ${server.urls.http}/api/docs
  MQTT        ${server.urls.mqtt}   (WebSocket ${server.urls.mqttWs})
  Storage     ${config.storage.kind === 'influxdb' ? config.storage.url : `embedded store in ${config.dataDir}`}
Starting ${devices} simulated devices across the ten cities. Ctrl-C stops everything.`)
    const { fleet } = await startDemoFleet(
      config,
      server,
      { devices, rate },
      logger.child({ part: 'simulator' }),
      (line) => console.log(line),
      createProgressPrinter((line) => process.stderr.write(`${line}\n`)),
    )
    const signal = await untilSignal()
    console.log(`\n${signal}: stopping the fleet, then flushing every acknowledged reading…`)
    await fleet.close()
    await stopWithin(server.close(), config.shutdownTimeoutMs, () => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'stopping took too long; exiting now, the write-ahead log keeps every acknowledged reading for the next start')
      logger.flush()
    })
    console.log('Stopped cleanly.')
    logger.flush()
    return 0
  },
}
