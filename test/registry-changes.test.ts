import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startStack, type Stack } from '../testkit/stack.ts'

/**
 * `piazza devices revoke|rotate|add` run as real processes against the data directory of a
 * running platform: the change reaches the broker and the HTTP side through the registry's change
 * log, as a change made through the API does.
 */

const CLI = new URL('../cli/piazza.mjs', import.meta.url).pathname

describe('registry changes made by another process', () => {
  let stack: Stack
  const clients: MqttClient[] = []
  beforeAll(async () => {
    stack = await startStack()
  })
  afterAll(async () => {
    for (const client of clients) client.end(true)
    await stack?.stop()
  })

  async function piazza(...args: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, DATA_DIR: stack.dataDir, LOG_LEVEL: 'silent' } })
    return stdout
  }

  function mqttConnect(id: string, secret: string, options: IClientOptions = {}): Promise<MqttClient> {
    const client = connect(`mqtt://127.0.0.1:${stack.mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, clientId: id, username: id, password: secret, ...options })
    clients.push(client)
    return new Promise((resolve, reject) => {
      client.once('connect', () => resolve(client))
      client.once('error', reject)
      client.once('close', () => reject(new Error('closed before CONNACK')))
    })
  }

  it('drops a device revoked from the command line within a second, and refuses it after', async () => {
    // Added from the command line too: the running broker and the HTTP side know it at once.
    const added = JSON.parse(await piazza('devices', 'add', '--type', 'air-quality', '--city', 'Firenze', '--name', 'CLI device', '--id', 'aq-cli-revoke')) as { id: string; secret: string }
    await vi.waitFor(() => expect(stack.web.operations.states.get(added.id)).toBeTruthy(), { timeout: 2000, interval: 50 })
    const client = await mqttConnect(added.id, added.secret)
    let closedAt = 0
    const gone = new Promise<void>((resolve) => client.once('close', () => resolve(void (closedAt = Date.now()))))
    await piazza('devices', 'revoke', added.id)
    const exitedAt = Date.now()
    await gone
    expect(closedAt - exitedAt).toBeLessThan(1500)
    await expect(mqttConnect(added.id, added.secret)).rejects.toMatchObject({ code: 5 })
  })

  it('drops a device re-keyed from the command line; the old secret is refused, the new one works', async () => {
    const added = JSON.parse(await piazza('devices', 'add', '--type', 'noise', '--city', 'Firenze', '--name', 'CLI rotate', '--id', 'noise-cli-rotate')) as { id: string; secret: string }
    const client = await mqttConnect(added.id, added.secret)
    let closedAt = 0
    const gone = new Promise<void>((resolve) => client.once('close', () => resolve(void (closedAt = Date.now()))))
    const { secret } = JSON.parse(await piazza('devices', 'rotate', added.id)) as { secret: string }
    const exitedAt = Date.now()
    await gone
    expect(closedAt - exitedAt).toBeLessThan(1500)
    await expect(mqttConnect(added.id, added.secret)).rejects.toMatchObject({ code: 4 })
    const again = await mqttConnect(added.id, secret)
    expect(again.connected).toBe(true)
  })
})
