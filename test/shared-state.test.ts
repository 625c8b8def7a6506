import { execFile } from 'node:child_process'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { connect, type MqttClient } from 'mqtt'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { SECRET_KEY_FILE } from '../devices/secret-key.ts'
import { createDatabase } from '../testkit/postgres.ts'
import { ADMIN_PASSWORD, startStack, type Stack } from '../testkit/stack.ts'

/**
 * Two whole platforms (two nodes, each with its own data directory) sharing their state in a real
 * PostgreSQL through DATABASE_URL: a device added on one node logs in on the other, a revocation
 * on one drops the device's connection on the other, a login through one holds on the other, and
 * `piazza devices` with DATABASE_URL writes where both nodes read.
 */

const CLI = new URL('../cli/piazza.mjs', import.meta.url).pathname

describe('one registry in PostgreSQL shared by two nodes', () => {
  let databaseUrl: string
  const nodes: Stack[] = []
  const dirs: string[] = []
  const clients: MqttClient[] = []

  beforeAll(async () => {
    databaseUrl = await createDatabase(inject('postgresUrl'))
    const a = await startStack({ DATABASE_URL: databaseUrl })
    // Every node stores and checks secrets under the same server key: copied from the first node.
    const dirB = fs.mkdtempSync(join(tmpdir(), 'piazza-node-b-'))
    dirs.push(dirB)
    fs.copyFileSync(join(a.dataDir, SECRET_KEY_FILE), join(dirB, SECRET_KEY_FILE))
    const b = await startStack({ DATABASE_URL: databaseUrl, DATA_DIR: dirB })
    nodes.push(a, b)
  })
  afterAll(async () => {
    for (const client of clients) client.end(true)
    for (const node of nodes) await node.stop()
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  })

  function mqttConnect(node: Stack, id: string, secret: string): Promise<MqttClient> {
    const client = connect(`mqtt://127.0.0.1:${node.mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, clientId: id, username: id, password: secret })
    clients.push(client)
    return new Promise((resolve, reject) => {
      client.once('connect', () => resolve(client))
      client.once('error', reject)
      client.once('close', () => reject(new Error('closed before CONNACK')))
    })
  }

  it('keeps the devices in PostgreSQL, not in the data directory', async () => {
    const [a] = nodes as [Stack, Stack]
    await a.registry.add({ id: 'aq-in-postgres', type: 'air-quality', city: 'firenze', name: 'Stored centrally' })
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 })
    try {
      expect((await pool.query('SELECT name FROM devices WHERE id = $1', ['aq-in-postgres'])).rows).toEqual([{ name: 'Stored centrally' }])
    } finally {
      await pool.end()
    }
    expect((a.db.prepare("SELECT count(*) AS n FROM devices WHERE id = 'aq-in-postgres'").get() as { n: number }).n).toBe(0)
  })

  it('lets a device added on node A log in on node B, and drops it there when A revokes it', async () => {
    const [a, b] = nodes as [Stack, Stack]
    const { device, secret } = await a.registry.add({ type: 'air-quality', city: 'pisa', name: 'Added on A' })
    await vi.waitFor(() => expect(b.registry.get(device.id)).toBeTruthy(), { timeout: 10_000, interval: 50 })
    const client = await mqttConnect(b, device.id, secret)
    const gone = new Promise<void>((resolve) => client.once('close', () => resolve()))
    await a.registry.setStatus(device.id, 'revoked')
    await gone
    await expect(mqttConnect(b, device.id, secret)).rejects.toMatchObject({ code: 5 })
    expect(b.registry.get(device.id)?.status).toBe('revoked')
  })

  it('takes `piazza devices add` with DATABASE_URL into both nodes', async () => {
    const [a] = nodes as [Stack, Stack]
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'devices', 'add', '--type', 'noise', '--city', 'Siena', '--name', 'From the CLI', '--id', 'noise-cli-pg'], {
      env: { ...process.env, DATA_DIR: dirs[0], DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' },
    })
    const added = JSON.parse(stdout) as { id: string; secret: string }
    await vi.waitFor(() => expect(a.registry.get(added.id)?.name).toBe('From the CLI'), { timeout: 10_000, interval: 50 })
    const client = await mqttConnect(a, added.id, added.secret)
    expect(client.connected).toBe(true)
  })

  it('logs a user in through node A and knows the session on node B at once; users and the audit log are shared; logout on B ends it on A', async () => {
    const [a, b] = nodes as [Stack, Stack]
    const login = await fetch(`${a.urls.http}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) })
    expect(login.status).toBe(200)
    const { token } = (await login.json()) as { token: string }
    const me = (node: Stack) => fetch(`${node.urls.http}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(await (await me(b)).json()).toMatchObject({ user: { username: 'admin', role: 'admin' } })
    // One admin for the cluster: the second node found the first node's and made none.
    expect(b.web.accounts.list().map((u) => u.username)).toEqual(['admin'])
    expect(a.db.prepare("SELECT name FROM sqlite_master WHERE name = 'users'").get()).toBeUndefined()
    // A user made through node B is audited where node A reads, and can log in through A.
    const made = await fetch(`${b.urls.http}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ username: 'olga', password: 'operator-pass', role: 'operator' }),
    })
    expect(made.status).toBe(201)
    expect((await a.web.audit.list({ target: 'olga' })).items).toMatchObject([{ action: 'user.create', actor: 'admin' }])
    await vi.waitFor(() => expect(a.web.accounts.get('olga')).toMatchObject({ role: 'operator' }), { timeout: 10_000, interval: 50 })
    const olga = await fetch(`${a.urls.http}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'olga', password: 'operator-pass' }) })
    expect(olga.status).toBe(200)

    expect((await fetch(`${b.urls.http}/api/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(204)
    expect((await me(a)).status).toBe(401)
  })

  it('refuses a command (or node) whose server key differs, before it stores anything', async () => {
    const otherDir = fs.mkdtempSync(join(tmpdir(), 'piazza-other-key-'))
    dirs.push(otherDir)
    const run = promisify(execFile)(process.execPath, [CLI, 'devices', 'add', '--type', 'noise', '--city', 'Siena', '--name', 'Wrong key', '--id', 'noise-wrong-key'], {
      env: { ...process.env, DATA_DIR: otherDir, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' },
    })
    await expect(run).rejects.toMatchObject({ stderr: expect.stringContaining('secret-key') })
    const [a] = nodes as [Stack, Stack]
    expect(a.registry.list({ search: 'noise-wrong-key' }).total).toBe(0)
  })
})
