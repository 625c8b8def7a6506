import { join } from 'node:path'
import type { Logger } from 'pino'
import { withRegistry } from '../../platform/platform.ts'
import { ensureFleet, planFleet, type FleetEntry } from '../../simulator/fleet.ts'
import { createProgressPrinter } from '../../simulator/progress.ts'
import { createSimulator, type SimulatorDeps } from '../../simulator/simulator.ts'
import { UsageError, type Command } from '../command.ts'
import type { Config } from '../config.ts'
import { createLogger } from '../logger.ts'
import { untilSignal } from '../signals.ts'

export interface FleetOptions {
  devices: number
  seed: number
  rateMultiplier?: number
  intervalSeconds?: number
  durationMs?: number
  faults?: SimulatorDeps['faults']
}

/**
 * Registers (or reuses) the simulated fleet in the data directory's registry, or in `registry`
 * (a running server's own: its broker knows the devices at once).
 */
export async function registerFleet(config: Config, options: Pick<FleetOptions, 'devices' | 'seed'>, registry?: Parameters<typeof ensureFleet>[0]): Promise<FleetEntry[]> {
  const plan = planFleet({ devices: options.devices, seed: options.seed })
  const file = join(config.dataDir, 'simulator', 'fleet.json')
  return registry ? ensureFleet(registry, plan, file) : withRegistry(config, (r) => ensureFleet(r, plan, file))
}

/** Registers (or reuses) the simulated fleet, unless given, and starts it publishing. */
export async function startFleet(config: Config, mqttUrl: string, options: FleetOptions, logger: Logger, onProgress?: SimulatorDeps['onProgress'], entries?: FleetEntry[]) {
  const fleet = entries ?? (await registerFleet(config, options))
  const simulator = createSimulator({ mqttUrl, fleet, logger, onProgress, ...options })
  await simulator.start()
  return simulator
}

function positive(name: string, raw: string | boolean | undefined, fallback: number, integer = true): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (typeof raw !== 'string' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be a ${integer ? 'whole ' : ''}number ≥ 0, got '${raw}'`)
  }
  return value
}

export const simulateCommand: Command = {
  summary: 'Run a fleet of simulated devices across the ten cities, publishing over real MQTT',
  usage: 'simulate [--devices N] [--rate X | --interval S] [--duration S] [--seed N] [--mqtt-url URL] [fault options]',
  options: {
    devices: { type: 'string', description: 'how many devices (registered once, reused on later runs)', default: '200' },
    rate: { type: 'string', description: 'speed-up of every device interval: 10 = ten times as often', default: '1' },
    interval: { type: 'string', description: 'seconds between readings for every device, overriding their own' },
    duration: { type: 'string', description: 'stop after this many seconds (default: until Ctrl-C)' },
    seed: { type: 'string', description: 'random seed: the same seed gives the same fleet and values', default: '1' },
    'mqtt-url': { type: 'string', description: 'broker to publish to (default: mqtt://127.0.0.1:$MQTT_PORT)' },
    'bad-payloads': { type: 'string', description: 'fault: chance per publish of an extra malformed payload, 0–1', default: '0' },
    'wrong-credentials': { type: 'string', description: 'fault: devices logging in with a wrong secret', default: '0' },
    silent: { type: 'string', description: 'fault: devices that go silent after a few readings', default: '0' },
    bursts: { type: 'string', description: 'fault: every N seconds one device sends a burst of readings', default: '0' },
  },
  async run({ values, config }) {
    const badPayloadRate = positive('bad-payloads', values['bad-payloads'], 0, false)
    if (badPayloadRate > 1) throw new UsageError(`--bad-payloads must be between 0 and 1, got '${values['bad-payloads']}'`)
    const options: FleetOptions = {
      devices: positive('devices', values.devices, 200),
      seed: positive('seed', values.seed, 1),
      rateMultiplier: positive('rate', values.rate, 1, false) || 1,
      intervalSeconds: values.interval === undefined ? undefined : positive('interval', values.interval, 0, false) || undefined,
      durationMs: values.duration === undefined ? undefined : positive('duration', values.duration, 0, false) * 1000,
      faults: {
        badPayloadRate,
        wrongCredentials: positive('wrong-credentials', values['wrong-credentials'], 0),
        silentDevices: positive('silent', values.silent, 0),
        burstEverySeconds: positive('bursts', values.bursts, 0, false) || undefined,
      },
    }
    if (options.devices < 1) throw new UsageError('--devices must be at least 1')
    const mqttUrl = (values['mqtt-url'] as string | undefined) ?? `mqtt://127.0.0.1:${config.mqtt.port}`
    const logger: Logger = createLogger(config.logLevel).child({ part: 'simulator' })
    const progress = createProgressPrinter((line) => process.stderr.write(`${line}\n`))
    console.log(`Simulating ${options.devices} devices across the ten cities, publishing to ${mqttUrl}. Ctrl-C stops.`)
    const simulator = await startFleet(config, mqttUrl, options, logger, progress)
    await Promise.race([simulator.stopped, untilSignal()])
    await simulator.close()
    const stats = simulator.stats()
    console.log(`Published ${stats.published} readings, ${stats.acked} acknowledged, ${stats.failed} failed, ${stats.badPayloads} bad payloads sent.`)
    return 0
  },
}
