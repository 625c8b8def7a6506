import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureDashboardBuilt } from '../../dashboard/build.ts'
import { createProgressPrinter } from '../../simulator/progress.ts'
import { UsageError, type Command } from '../command.ts'
import { createLogger } from '../logger.ts'
import { startServer } from '../../platform/platform.ts'
import { stopWithin, untilSignal } from '../signals.ts'
import { startFleet } from './simulate.ts'

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
    const fleet = await startFleet(
      config,
      `mqtt://127.0.0.1:${server.mqttPort}`,
      { devices, seed: 1, rateMultiplier: rate },
      logger.child({ part: 'simulator' }),
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
