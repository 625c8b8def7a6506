import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createRegistry, openRegistryDatabase, type RegistryChange } from './registry.ts'
import { loadOrCreateSecretKey } from './secret-key.ts'
import * as pool from './scrypt-pool.ts'
import { createScryptPool, ScryptBusyError } from './scrypt-pool.ts'

const dirs: string[] = []
const tempDir = () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'piazza-registry-'))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const NEW = { type: 'air-quality', city: 'firenze', name: 'test' } as const

describe('device secrets', () => {
  it('stores secrets as HMAC under the server key, never in clear', async () => {
    const db = openRegistryDatabase(':memory:')
    const registry = createRegistry({ db, secretKey: randomBytes(32) })
    const { device, secret } = await registry.add({ ...NEW, id: 'aq-hmac' })
    const stored = (db.prepare('SELECT secret_hash FROM devices WHERE id = ?').get(device.id) as { secret_hash: string }).secret_hash
    expect(stored).toMatch(/^hmac\$v1\$[A-Za-z0-9_-]{43}$/)
    expect(stored).not.toContain(secret)
    expect(await registry.checkCredentials(device.id, secret)).toMatchObject({ ok: true, device: { id: 'aq-hmac' } })
    // Another key does not verify it: a copy of the database alone is not enough.
    expect(await createRegistry({ db, secretKey: randomBytes(32) }).checkCredentials(device.id, secret)).toEqual({ ok: false, reason: 'bad-secret' })
  })

  it('refuses unknown and known ids alike, with one HMAC and no scrypt for either', async () => {
    const db = openRegistryDatabase(':memory:')
    const registry = createRegistry({ db, secretKey: randomBytes(32) })
    const { device } = await registry.add({ ...NEW, id: 'aq-known' })
    const scryptJobs = pool.scryptPool().stats().started
    expect(await registry.checkCredentials(device.id, 'wrong')).toEqual({ ok: false, reason: 'bad-secret' })
    expect(await registry.checkCredentials('aq-unknown', 'wrong')).toEqual({ ok: false, reason: 'unknown-device' })
    expect(pool.scryptPool().stats().started).toBe(scryptJobs)

    // Same cost: both are one row lookup and one HMAC (tens of microseconds, where scrypt took 55 ms).
    const time = (id: string) => {
      const start = process.hrtime.bigint()
      for (let i = 0; i < 2000; i++) void registry.checkCredentials(id, 'wrong-secret-wrong-secret-wrong')
      return Number(process.hrtime.bigint() - start) / 2000 / 1e6
    }
    time(device.id)
    const known = time(device.id)
    const unknown = time('aq-unknown')
    expect(known).toBeLessThan(1)
    expect(unknown).toBeLessThan(1)
  })

  it('logs a device in with a secret stored the old way (scrypt), then stores it as HMAC', async () => {
    const db = openRegistryDatabase(':memory:')
    const registry = createRegistry({ db, secretKey: randomBytes(32) })
    const { device, secret } = await registry.add({ ...NEW, id: 'aq-legacy' })
    const legacy = await pool.scryptPool().hash(secret)
    db.prepare('UPDATE devices SET secret_hash = ? WHERE id = ?').run(legacy, device.id)
    const changes: RegistryChange[] = []
    registry.onChange((c) => changes.push(c))

    const scryptJobs = pool.scryptPool().stats().started
    expect(await registry.checkCredentials(device.id, 'wrong')).toEqual({ ok: false, reason: 'bad-secret' })
    expect(pool.scryptPool().stats().started).toBe(scryptJobs + 1) // the old form is checked in the scrypt worker
    expect((db.prepare('SELECT secret_hash FROM devices').get() as { secret_hash: string }).secret_hash).toBe(legacy)
    expect(await registry.checkCredentials(device.id, secret)).toMatchObject({ ok: true })
    expect((db.prepare('SELECT secret_hash FROM devices').get() as { secret_hash: string }).secret_hash).toMatch(/^hmac\$v1\$/)
    expect(await registry.checkCredentials(device.id, secret)).toMatchObject({ ok: true })
    // An upgrade is no change anyone must react to (the broker would drop the device).
    expect(changes).toEqual([])
  })

  it('writes HMAC on rotation, also over a secret stored the old way', async () => {
    const db = openRegistryDatabase(':memory:')
    const registry = createRegistry({ db, secretKey: randomBytes(32) })
    const { device, secret: old } = await registry.add({ ...NEW, id: 'aq-rotate' })
    db.prepare('UPDATE devices SET secret_hash = ? WHERE id = ?').run(await pool.scryptPool().hash(old), device.id)
    const { secret } = await registry.rotate(device.id)
    expect((db.prepare('SELECT secret_hash FROM devices').get() as { secret_hash: string }).secret_hash).toMatch(/^hmac\$v1\$/)
    expect(await registry.checkCredentials(device.id, old)).toEqual({ ok: false, reason: 'bad-secret' })
    expect(await registry.checkCredentials(device.id, secret)).toMatchObject({ ok: true })
  })
})

describe('the server key', () => {
  it('is created once with mode 0600 and read back the same by every process', () => {
    const dir = join(tempDir(), 'nested')
    const key = loadOrCreateSecretKey(dir)
    expect(key).toHaveLength(32)
    expect(fs.statSync(join(dir, 'secret-key')).mode & 0o777).toBe(0o600)
    expect(loadOrCreateSecretKey(dir).equals(key)).toBe(true)
    expect(fs.readdirSync(dir)).toEqual(['secret-key'])
  })

  it('refuses a damaged key file instead of replacing it', () => {
    const dir = tempDir()
    fs.writeFileSync(join(dir, 'secret-key'), 'short\n', { mode: 0o600 })
    expect(() => loadOrCreateSecretKey(dir)).toThrow(/32-byte key/)
  })
})

describe('the change log', () => {
  function open(dir: string) {
    const db = openRegistryDatabase(join(dir, 'registry.db'))
    return { db, registry: createRegistry({ db, secretKey: loadOrCreateSecretKey(dir) }) }
  }

  it("announces another connection's changes once, and never its own twice", async () => {
    const dir = tempDir()
    const server = open(dir)
    const cli = open(dir)
    const seen: string[] = []
    server.registry.onChange((c) => seen.push(`${c.kind}:${c.device.id}:${c.device.status}`))
    const stop = await server.registry.watchChanges({ intervalMs: 60_000 }) // polled by hand below
    expect(await server.registry.pollChanges()).toBe(0)

    await server.registry.add({ ...NEW, id: 'aq-own' })
    expect(seen).toEqual(['added:aq-own:active'])
    expect(await server.registry.pollChanges()).toBe(0)

    const { secret } = await cli.registry.add({ ...NEW, id: 'aq-cli' })
    await server.registry.setStatus('aq-own', 'decommissioned') // interleaved with the other process's writes
    await cli.registry.setStatus('aq-cli', 'revoked')
    expect(await server.registry.pollChanges()).toBe(2)
    expect(seen).toEqual(['added:aq-own:active', 'status:aq-own:decommissioned', 'added:aq-cli:revoked', 'status:aq-cli:revoked'])
    expect(await server.registry.pollChanges()).toBe(0)

    // The key is shared through the data directory: what the CLI stored, the server verifies.
    await cli.registry.setStatus('aq-cli', 'active')
    expect(await server.registry.checkCredentials('aq-cli', secret)).toMatchObject({ ok: true })
    await cli.registry.rotate('aq-cli')
    await server.registry.pollChanges()
    expect(seen.slice(-2)).toEqual(['status:aq-cli:active', 'rotated:aq-cli:active'])
    expect(await server.registry.checkCredentials('aq-cli', secret)).toEqual({ ok: false, reason: 'bad-secret' })
    stop()
    server.db.close()
    cli.db.close()
  })

  it('polls by itself while watching', async () => {
    const dir = tempDir()
    const server = open(dir)
    const cli = open(dir)
    const seen: RegistryChange[] = []
    server.registry.onChange((c) => seen.push(c))
    await server.registry.watchChanges({ intervalMs: 50 })
    await cli.registry.add({ ...NEW, id: 'aq-later' })
    await vi.waitFor(() => expect(seen.map((c) => c.device.id)).toEqual(['aq-later']), { timeout: 5000 })
    await server.registry.close()
    server.db.close()
    cli.db.close()
  })
})

describe('the scrypt pool', () => {
  it('refuses at once when its queue is full, and keeps the event loop free meanwhile', async () => {
    const small = createScryptPool({ workers: 1, maxQueue: 2 })
    const hash = await small.hash('a-password')
    const started = Date.now()
    const attempts = Array.from({ length: 8 }, () => small.verify('a-password', hash).then((ok) => ok, (err: unknown) => err))
    // The main thread is not busy hashing: a timer fires on time.
    const lag = await new Promise<number>((resolve) => {
      const t = Date.now()
      setTimeout(() => resolve(Date.now() - t - 10), 10)
    })
    const results = await Promise.all(attempts)
    expect(results.filter((r) => r === true)).toHaveLength(3) // one running, two queued
    expect(results.filter((r) => r instanceof ScryptBusyError)).toHaveLength(5)
    expect(lag).toBeLessThan(500)
    expect(small.stats().refused).toBe(5)
    expect(Date.now() - started).toBeLessThan(30_000)
    await small.close()
  })
})
