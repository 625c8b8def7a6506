import { execFile } from 'node:child_process'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

/** The `piazza` command as a user types it: a real process, real exit codes and output. */

const CLI = new URL('./piazza.mjs', import.meta.url).pathname
const dataDir = fs.mkdtempSync(join(tmpdir(), 'piazza-cli-'))
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

/** The launcher's notice on a checkout whose dist/ a bench run left behind is not what these tests look at. */
const withoutStaleBuildNotice = (stderr: string) => stderr.replace(/^piazza: dist\/ is older than the sources.*\n/m, '')

async function piazza(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, DATA_DIR: dataDir, ...env } })
    return { code: 0, stdout, stderr: withoutStaleBuildNotice(stderr) }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: withoutStaleBuildNotice(e.stderr) }
  }
}

describe('piazza command line', () => {
  it('adds a device and prints it as JSON with its id and secret, then lists it', async () => {
    const added = await piazza(['devices', 'add', '--type', 'air-quality', '--city', 'Firenze', '--name', 'Viale Gramsci', '--interval', '30', '--meta', 'serial=X12'])
    expect(added.code).toBe(0)
    const device = JSON.parse(added.stdout) as Record<string, unknown>
    expect(device).toMatchObject({ type: 'air-quality', city: 'firenze', name: 'Viale Gramsci', interval: 30, status: 'active', metadata: { serial: 'X12' } })
    expect(device.id).toMatch(/^aq-firenze-[0-9a-f]{6}$/)
    expect(device.secret).toMatch(/^[A-Za-z0-9_-]{32}$/)

    const listed = await piazza(['devices', 'list', '--json'])
    const { items } = JSON.parse(listed.stdout) as { items: Record<string, unknown>[] }
    expect(items.map((d) => d.id)).toContain(device.id)
    // The secret is shown once, never listed.
    expect(listed.stdout).not.toContain(device.secret as string)

    const table = await piazza(['devices', 'list', '--city', 'firenze'])
    expect(table.stdout).toMatch(new RegExp(`^${device.id}\\s+air-quality\\s+firenze\\s+active\\s+Viale Gramsci$`, 'm'))
  })

  it.each([
    [['devices', 'add', '--type', 'toaster', '--city', 'Pisa', '--name', 'x'], /^piazza devices add: --type must be one of air-quality, .*got 'toaster'\n$/],
    [['devices', 'add', '--type', 'noise', '--city', 'Milano', '--name', 'x'], /^piazza devices add: unknown city 'Milano'\n$/],
    [['devices', 'add', '--type', 'noise', '--city', 'Pisa'], /^piazza devices add: --name is required\n$/],
    [['devices', 'add', '--type', 'noise', '--city', 'Pisa', '--name', 'x', '--lat', 'north'], /^piazza devices add: --lat must be a number, got 'north'\n$/],
    [['devices', 'list', '--colour', 'red'], /^piazza devices list: Unknown option '--colour'/],
    [['launch'], /^piazza: unknown command 'launch'/],
  ])('refuses %j with a one-line error naming the problem', async (args, message) => {
    const result = await piazza(args)
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(message)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('stops start-up on invalid configuration, naming the variable and what it expects', async () => {
    const result = await piazza(['start'], { MQTT_PORT: 'eighteen' })
    expect(result.code).toBe(2)
    expect(result.stderr).toBe("piazza start: MQTT_PORT must be a whole number from 0 to 65535, got 'eighteen'\n")
    const influx = await piazza(['start'], { INFLUX_URL: 'influx.local' })
    expect(influx.stderr).toMatch(/^piazza start: INFLUX_URL must be a URL/)
  })

  it('explains every command with --help', async () => {
    const help = await piazza(['--help'])
    expect(help.code).toBe(0)
    for (const command of ['start', 'ingest', 'devices add', 'devices list', 'simulate']) expect(help.stdout).toContain(command)
    // The benchmark is a program of its own (bench/main.ts), not part of the product.
    expect(help.stdout).not.toMatch(/^\s+bench\b/m)
    const addHelp = await piazza(['devices', 'add', '--help'])
    expect(addHelp.stdout).toMatch(/--type <value>\s+one of air-quality/)
  })
})
