import { Compile } from 'typebox/compile'
import { DEVICE_TYPES, isDeviceType } from '../../devices/kinds.ts'
import { cities } from '../../devices/region.ts'
import { DeviceStatusSchema, NewDeviceSchema, RegistryError, type DeviceStatus, type Registry } from '../../devices/registry.ts'
import { withRegistry as withPlatformRegistry } from '../../platform/platform.ts'
import type { Config } from '../config.ts'
import { UsageError, type Command } from '../command.ts'

/** Runs `work` against the data directory's registry; a refused request becomes a one-line usage error. */
async function withRegistry<T>(config: Config, work: (registry: Registry) => Promise<T> | T): Promise<T> {
  try {
    return await withPlatformRegistry(config, work)
  } catch (err) {
    if (err instanceof RegistryError) throw new UsageError(err.message)
    throw err
  }
}

function number(name: string, raw: string | boolean | undefined): number | undefined {
  if (raw === undefined) return undefined
  const value = Number(raw)
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`--${name} must be a number, got '${raw}'`)
  return value
}

const validNewDevice = Compile(NewDeviceSchema)

export const addCommand: Command = {
  summary: 'Register a device; prints it as JSON with its id and its secret (shown only this once)',
  usage: 'devices add --type TYPE --city CITY --name NAME [--lat N --lon N] [--interval S] [--id ID] [--meta key=value ...]',
  options: {
    type: { type: 'string', description: `one of ${DEVICE_TYPES.join(', ')}` },
    city: { type: 'string', description: `one of ${cities.map((c) => c.name).join(', ')}` },
    name: { type: 'string', description: 'a name people recognise, e.g. "Viale Gramsci"' },
    lat: { type: 'string', description: 'latitude (defaults to the city centre)' },
    lon: { type: 'string', description: 'longitude (defaults to the city centre)' },
    interval: { type: 'string', description: 'expected reporting interval in seconds (defaults per type)' },
    id: { type: 'string', description: 'choose the id instead of generating one' },
    meta: { type: 'string', multiple: true, description: 'free metadata, repeatable: --meta serial=X12 --meta height=4' },
  },
  async run({ values, config }) {
    for (const required of ['type', 'city', 'name']) {
      if (typeof values[required] !== 'string') throw new UsageError(`--${required} is required`)
    }
    const type = values.type as string
    if (!isDeviceType(type)) throw new UsageError(`--type must be one of ${DEVICE_TYPES.join(', ')}, got '${type}'`)
    const metadata: Record<string, string> = {}
    for (const pair of (values.meta as unknown as string[] | undefined) ?? []) {
      const eq = pair.indexOf('=')
      if (eq < 1) throw new UsageError(`--meta must be key=value, got '${pair}'`)
      metadata[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
    const interval = number('interval', values.interval)
    const input = {
      type,
      city: values.city as string,
      name: values.name as string,
      ...(values.id !== undefined && { id: values.id as string }),
      ...(values.lat !== undefined && { lat: number('lat', values.lat) }),
      ...(values.lon !== undefined && { lon: number('lon', values.lon) }),
      ...(interval !== undefined && { interval }),
      ...(Object.keys(metadata).length && { metadata }),
    }
    if (!validNewDevice.Check(input)) {
      const error = [...validNewDevice.Errors(input)][0]
      throw new UsageError(`--${error?.instancePath.slice(1) || 'arguments'}: ${error?.message ?? 'invalid'}`)
    }
    const { device, secret } = await withRegistry(config, (registry) => registry.add(input, 'cli'))
    console.log(JSON.stringify({ ...device, secret }, null, 2))
  },
}

export const listCommand: Command = {
  summary: 'List registered devices (a table, or JSON with --json)',
  usage: 'devices list [--city CITY] [--type TYPE] [--status STATUS] [--json]',
  options: {
    city: { type: 'string', description: 'only this city' },
    type: { type: 'string', description: 'only this device type' },
    status: { type: 'string', description: 'active, revoked or decommissioned' },
    json: { type: 'boolean', description: 'print JSON instead of a table' },
  },
  async run({ values, config }) {
    const type = values.type as string | undefined
    if (type !== undefined && !isDeviceType(type)) throw new UsageError(`--type must be one of ${DEVICE_TYPES.join(', ')}, got '${type}'`)
    const status = values.status as string | undefined
    if (status !== undefined && !Compile(DeviceStatusSchema).Check(status)) {
      throw new UsageError(`--status must be active, revoked or decommissioned, got '${status}'`)
    }
    const { items, total } = await withRegistry(config, (registry) =>
      registry.list({ city: values.city as string | undefined, type, status: status as DeviceStatus | undefined }),
    )
    if (values.json) {
      console.log(JSON.stringify({ items, total }, null, 2))
      return
    }
    const rows = items.map((d) => [d.id, d.type, d.city, d.status, d.name])
    const header = ['ID', 'TYPE', 'CITY', 'STATUS', 'NAME']
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd())
    console.log(`${total} device${total === 1 ? '' : 's'}`)
  },
}

function single(positionals: string[], usage: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one device id: piazza ${usage}`)
  return positionals[0]!
}

export const rotateCommand: Command = {
  summary: "Give a device a new secret (printed once); the old one stops working",
  usage: 'devices rotate ID',
  options: {},
  allowPositionals: true,
  async run({ positionals, config }) {
    const id = single(positionals, this.usage)
    const { device, secret } = await withRegistry(config, (registry) => registry.rotate(id))
    console.log(JSON.stringify({ id: device.id, secret }, null, 2))
  },
}

export const revokeCommand: Command = {
  summary: 'Revoke a device: its logins are refused from now on',
  usage: 'devices revoke ID',
  options: {},
  allowPositionals: true,
  async run({ positionals, config }) {
    const id = single(positionals, this.usage)
    const device = await withRegistry(config, (registry) => registry.setStatus(id, 'revoked'))
    console.log(JSON.stringify(device, null, 2))
  },
}
