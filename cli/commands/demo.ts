import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import { createProgressPrinter } from '../../simulator/progress.ts'
import { UsageError, type Command } from '../command.ts'
import { createLogger } from '../logger.ts'
import { startServer, type RunningServer } from '../../platform/platform.ts'
import { stopWithin, untilSignal } from '../signals.ts'
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import { backfillFleet, type BackfillResult } from '../../simulator/backfill.ts'
import type { SimulatorDeps } from '../../simulator/simulator.ts'
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

/**
 * The demo's fleet: registered (or reused), devices with nothing stored yet publish their last
 * days as a backlog first (simulator/backfill.ts), then every device publishes live. Every
 * device's last 24 hours go first (air-quality stations first of all: the public index is what a
 * first visit looks at), so every chart and index is full early; then the days before.
 */
export async function startDemoFleet(
  config: Config,
  server: Pick<RunningServer, 'mqttPort' | 'storage' | 'registry'>,
  options: { devices: number; rate: number },
  logger: Logger,
  say: (line: string) => void,
  onProgress?: SimulatorDeps['onProgress'],
): Promise<{ fleet: Awaited<ReturnType<typeof startFleet>>; backfill: BackfillResult }> {
  const mqttUrl = `mqtt://127.0.0.1:${server.mqttPort}`
  const fleetOptions = { devices: options.devices, seed: 1, rateMultiplier: options.rate }
  const entries = await registerFleet(config, fleetOptions, server.registry)
  const pendingFile = join(config.dataDir, 'demo-backfill.json')
  const pending = readPending(pendingFile)
  const empty: typeof entries = []
  for (const entry of entries) if ((await server.storage.latest({ deviceId: entry.device.id, type: entry.device.type })) === null) empty.push(entry)
  const unfinished = entries.filter((e) => pending?.devices[e.device.id] !== undefined && !empty.includes(e))
  const backfill: BackfillResult = { devices: 0, readings: 0, messages: 0, ms: 0 }
  const started = Date.now()
  const run = async (part: 'recent' | 'older', fleet: typeof entries, now: number, label: string) => {
    // Air-quality stations first: the public index and history are what a first visit looks at.
    fleet.sort((a, b) => Number(b.device.type === 'air-quality') - Number(a.device.type === 'air-quality'))
    let shown = 0
    const result = await backfillFleet({
      mqttUrl,
      fleet,
      seed: fleetOptions.seed,
      now,
      part,
      onDevice: (done, total) => {
        if (done === total || done - shown >= Math.ceil(total / 10)) {
          shown = done
          say(`  back-fill, ${label}: ${done}/${total} devices (${((Date.now() - started) / 1000).toFixed(0)} s)`)
        }
      },
    })
    backfill.readings += result.readings
    backfill.messages += result.messages
    return result
  }
  if (empty.length > 0) {
    const now = Date.now()
    const devices = { ...pending?.devices, ...Object.fromEntries(empty.map((e) => [e.device.id, now])) }
    writeFileSync(pendingFile, JSON.stringify({ devices } satisfies PendingBackfill))
    say(`Back-filling the last 7 days (30 for weather stations) of ${empty.length} devices with nothing stored, over MQTT: the last 24 hours first…`)
    await run('recent', empty, now, 'last 24 h')
    say(`  the last 24 hours are in (${((Date.now() - started) / 1000).toFixed(1)} s); now the days before…`)
    await run('older', empty, now, 'days before')
  }
  if (unfinished.length > 0) {
    say(`Finishing the back-fill a previous start left unfinished: the older days of ${unfinished.length} devices…`)
    for (const now of new Set(unfinished.map((e) => pending!.devices[e.device.id]!))) {
      await run('older', unfinished.filter((e) => pending!.devices[e.device.id] === now), now, 'days before')
    }
  }
  rmSync(pendingFile, { force: true })
  backfill.devices = empty.length + unfinished.length
  backfill.ms = Date.now() - started
  if (backfill.devices > 0) say(`Back-filled ${backfill.readings} readings of ${backfill.devices} devices in ${(backfill.ms / 1000).toFixed(1)} s.`)
  const fleet = await startFleet(config, mqttUrl, fleetOptions, logger, onProgress, entries)
  return { fleet, backfill }
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
