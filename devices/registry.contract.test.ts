import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest'
import { sharedPostgres, sharedSqlite } from '../testkit/shared-databases.ts'
import { postgresVersions, sqliteVersions } from './migrations.ts'
import { createRegistry, openRegistryDatabase, RegistryError, type Registry, type RegistryChange } from './registry.ts'
import { createPostgresRegistryStore, keyCheckValue, LookupBusyError, POSTGRES_REGISTRY_MIGRATIONS } from './registry-postgres.ts'
import { SQLITE_REGISTRY_MIGRATIONS } from './registry-store.ts'
import { scryptPool } from './scrypt-pool.ts'

/**
 * The behaviour every registry store owes its callers, on SQLite and on PostgreSQL. "Processes"
 * are separate registry objects over separate connections to one database: the server and the
 * command line on one SQLite file, or two nodes on one PostgreSQL database.
 */

const NEW = { type: 'air-quality', city: 'firenze', name: 'test' } as const

interface Backend {
  /** A registry over the shared database, as another process would open it. */
  open(): Promise<Registry>
  /** Overwrites a device's stored secret hash behind the registry's back (an old-format secret). */
  setSecretHash(id: string, hash: string): Promise<void>
  versions(): Promise<number[]>
  newest: number
  cleanup(): Promise<void>
}

function sqliteBackend(): Backend {
  const shared = sharedSqlite('piazza-registry-contract-', openRegistryDatabase)
  const secretKey = randomBytes(32)
  return {
    async open() {
      return createRegistry({ db: shared.open(), secretKey })
    },
    async setSecretHash(id, hash) {
      shared.open().prepare('UPDATE devices SET secret_hash = ? WHERE id = ?').run(hash, id)
    },
    async versions() {
      return sqliteVersions(shared.open(), 'registry')
    },
    newest: SQLITE_REGISTRY_MIGRATIONS.length,
    async cleanup() {
      shared.close()
    },
  }
}

async function postgresBackend(): Promise<Backend> {
  const shared = await sharedPostgres(inject('postgresUrl'))
  const secretKey = randomBytes(32)
  const admin = shared.pool()
  return {
    async open() {
      return createRegistry({ store: await createPostgresRegistryStore({ pool: shared.pool(), keyCheck: keyCheckValue(secretKey) }), secretKey })
    },
    async setSecretHash(id, hash) {
      await admin.query('UPDATE devices SET secret_hash = $1 WHERE id = $2', [hash, id])
    },
    versions: () => postgresVersions(admin, 'registry'),
    newest: POSTGRES_REGISTRY_MIGRATIONS.length,
    cleanup: () => shared.close(),
  }
}

function contract(name: string, backend: () => Backend | Promise<Backend>): void {
  describe(`registry contract: ${name}`, () => {
    let b: Backend
    const registries: Registry[] = []
    const open = async () => {
      const registry = await b.open()
      registries.push(registry)
      return registry
    }
    beforeEach(async () => {
      b = await backend()
    })
    afterEach(async () => {
      for (const r of registries.splice(0)) await r.close()
      await b.cleanup()
    })

    it('adds devices and answers them by id and by filter, ordered by id', async () => {
      const registry = await open()
      await registry.add({ ...NEW, id: 'aq-b', name: 'Ponte Vecchio' })
      await registry.add({ ...NEW, id: 'aq-a', name: 'Duomo', metadata: { mast: 'north' } })
      await registry.add({ type: 'noise', city: 'Pisa', name: 'Lungarno', id: 'noise-1' })
      const generated = (await registry.add({ type: 'weather', city: 'siena', name: 'Campo' }, 'someone')).device
      expect(generated.id).toMatch(/^wx-siena-[0-9a-f]{6}$/)
      expect(generated).toMatchObject({ type: 'weather', city: 'siena', status: 'active', createdBy: 'someone', metadata: {} })

      expect(registry.get('aq-a')).toMatchObject({ id: 'aq-a', name: 'Duomo', city: 'firenze', metadata: { mast: 'north' }, createdBy: 'cli' })
      expect(registry.get('nobody')).toBeUndefined()
      expect(registry.list().items.map((d) => d.id)).toEqual(['aq-a', 'aq-b', 'noise-1', generated.id])
      expect(registry.list({ city: 'Firenze' })).toMatchObject({ total: 2, items: [{ id: 'aq-a' }, { id: 'aq-b' }] })
      expect(registry.list({ type: 'noise' }).items.map((d) => d.id)).toEqual(['noise-1'])
      expect(registry.list({ search: 'VECCHIO' }).items.map((d) => d.id)).toEqual(['aq-b'])
      expect(registry.list({ search: 'aq-' }).total).toBe(2)
      expect(registry.list({ limit: 2, offset: 1 })).toMatchObject({ total: 4, items: [{ id: 'aq-b' }, { id: 'noise-1' }] })
      await registry.setStatus('aq-b', 'revoked')
      expect(registry.list({ status: 'revoked' }).items.map((d) => d.id)).toEqual(['aq-b'])
      expect(registry.list({ status: 'active', city: 'firenze' }).items.map((d) => d.id)).toEqual(['aq-a'])
    })

    it('refuses bad requests with a RegistryError naming the problem', async () => {
      const registry = await open()
      await registry.add({ ...NEW, id: 'aq-taken' })
      await expect(registry.add({ ...NEW, id: 'aq-taken' })).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('aq-taken') })
      await expect(registry.add({ ...NEW, city: 'atlantis' })).rejects.toMatchObject({ code: 'invalid', message: expect.stringContaining('atlantis') })
      await expect(registry.add({ ...NEW, lat: 1, lon: 1 })).rejects.toMatchObject({ code: 'invalid', message: expect.stringContaining('outside the region') })
      await expect(registry.setStatus('nobody', 'revoked')).rejects.toBeInstanceOf(RegistryError)
      await expect(registry.update('nobody', { name: 'x' })).rejects.toMatchObject({ code: 'not-found' })
      await expect(registry.rotate('nobody')).rejects.toMatchObject({ code: 'not-found' })
      expect(registry.list().total).toBe(1)
    })

    it('answers a conflict when another process took the id meanwhile', async () => {
      const a = await open()
      const b2 = await open()
      await a.add({ ...NEW, id: 'aq-race' })
      await expect(b2.add({ ...NEW, id: 'aq-race', name: 'second' })).rejects.toMatchObject({ code: 'conflict' })
      const c = await open()
      expect(c.get('aq-race')?.name).toBe('test')
    })

    it('checks credentials: right secret, wrong secret, unknown id, revoked, rotated', async () => {
      const registry = await open()
      const { device, secret } = await registry.add({ ...NEW, id: 'aq-login' })
      expect(await registry.checkCredentials(device.id, secret)).toMatchObject({ ok: true, device: { id: 'aq-login' } })
      expect(await registry.checkCredentials(device.id, 'wrong')).toEqual({ ok: false, reason: 'bad-secret' })
      expect(await registry.checkCredentials('aq-nobody', secret)).toEqual({ ok: false, reason: 'unknown-device' })
      await registry.setStatus(device.id, 'revoked')
      expect(await registry.checkCredentials(device.id, secret)).toEqual({ ok: false, reason: 'revoked' })
      await registry.setStatus(device.id, 'active')
      const { secret: next } = await registry.rotate(device.id)
      expect(await registry.checkCredentials(device.id, secret)).toEqual({ ok: false, reason: 'bad-secret' })
      expect(await registry.checkCredentials(device.id, next)).toMatchObject({ ok: true })
      // What one process stored, another verifies (same server key).
      expect(await (await open()).checkCredentials(device.id, next)).toMatchObject({ ok: true })
    })

    it('updates only the given fields and keeps the secret', async () => {
      const registry = await open()
      const { device, secret } = await registry.add({ ...NEW, id: 'aq-edit', interval: 60 })
      const after = await registry.update(device.id, { name: 'Renamed', metadata: { floor: '2' } })
      expect(after).toMatchObject({ id: 'aq-edit', name: 'Renamed', interval: 60, lat: device.lat, metadata: { floor: '2' } })
      expect(registry.get('aq-edit')).toEqual(after)
      await expect(registry.update(device.id, { lat: 0, lon: 0 })).rejects.toMatchObject({ code: 'invalid' })
      expect(await registry.checkCredentials(device.id, secret)).toMatchObject({ ok: true })
      expect((await open()).get('aq-edit')).toEqual(after)
    })

    it('stores a secret found in the old form (scrypt) again as HMAC, without announcing a change', async () => {
      const first = await open()
      const { device, secret } = await first.add({ ...NEW, id: 'aq-legacy' })
      await b.setSecretHash(device.id, await scryptPool().hash(secret))
      const registry = await open()
      const changes: RegistryChange[] = []
      registry.onChange((c) => changes.push(c))
      expect(await registry.checkCredentials(device.id, 'wrong')).toEqual({ ok: false, reason: 'bad-secret' })
      expect(await registry.checkCredentials(device.id, secret)).toMatchObject({ ok: true })
      // Upgraded in the database: a process opening it now finds HMAC, checked without scrypt.
      const started = scryptPool().stats().started
      expect(await (await open()).checkCredentials(device.id, secret)).toMatchObject({ ok: true })
      expect(scryptPool().stats().started).toBe(started)
      expect(changes).toEqual([])
    })

    it("announces another process's changes once, and never its own twice", async () => {
      const server = await open()
      const cli = await open()
      const seen: string[] = []
      server.onChange((c) => seen.push(`${c.kind}:${c.device.id}:${c.device.status}`))
      await server.watchChanges({ intervalMs: 60_000 }) // polled by hand below
      expect(await server.pollChanges()).toBe(0)

      await server.add({ ...NEW, id: 'aq-own' })
      expect(seen).toEqual(['added:aq-own:active'])
      expect(await server.pollChanges()).toBe(0)

      const { secret } = await cli.add({ ...NEW, id: 'aq-cli' })
      await server.setStatus('aq-own', 'decommissioned') // interleaved with the other process's writes
      await cli.setStatus('aq-cli', 'revoked')
      expect(await server.pollChanges()).toBe(2)
      expect(seen).toEqual(['added:aq-own:active', 'status:aq-own:decommissioned', 'added:aq-cli:revoked', 'status:aq-cli:revoked'])
      expect(await server.pollChanges()).toBe(0)
      expect(server.get('aq-cli')?.status).toBe('revoked')
      expect(await server.checkCredentials('aq-cli', secret)).toEqual({ ok: false, reason: 'revoked' })

      await cli.setStatus('aq-cli', 'active')
      await cli.rotate('aq-cli')
      expect(await server.pollChanges()).toBe(2)
      expect(seen.slice(-2)).toEqual(['status:aq-cli:active', 'rotated:aq-cli:active'])
      expect(await server.checkCredentials('aq-cli', secret)).toEqual({ ok: false, reason: 'bad-secret' })
      expect(server.list({ search: 'aq-cli' }).items[0]?.status).toBe('active')
    })

    it('logs in a device another process just added, before any poll read it, and still announces it once', async () => {
      const server = await open()
      const other = await open()
      const seen: string[] = []
      server.onChange((c) => seen.push(`${c.kind}:${c.device.id}`))
      await server.watchChanges({ intervalMs: 60_000 }) // polled by hand below
      const { secret } = await other.add({ ...NEW, id: 'aq-elsewhere' })
      expect(await server.checkCredentials('aq-elsewhere', secret)).toMatchObject({ ok: true, device: { id: 'aq-elsewhere' } })
      expect(await server.checkCredentials('aq-elsewhere', 'wrong')).toEqual({ ok: false, reason: 'bad-secret' })
      expect(server.get('aq-elsewhere')?.id).toBe('aq-elsewhere')
      expect(await server.checkCredentials('aq-never', secret)).toEqual({ ok: false, reason: 'unknown-device' })
      expect(await server.pollChanges()).toBe(1)
      expect(seen).toEqual(['added:aq-elsewhere'])
    })

    it('polls by itself while watching', async () => {
      const server = await open()
      const cli = await open()
      const seen: RegistryChange[] = []
      server.onChange((c) => seen.push(c))
      await server.watchChanges({ intervalMs: 50 })
      await cli.add({ ...NEW, id: 'aq-later' })
      await cli.update('aq-later', { name: 'Later' })
      // Each announcement carries the device as it is when the poll reads it: 'added' may already show the new name.
      await vi.waitFor(() => expect(seen.map((c) => c.kind)).toEqual(['added', 'updated']), { timeout: 10_000 })
      expect(seen[1]!.device.name).toBe('Later')
      expect(server.get('aq-later')?.name).toBe('Later')
    })

    it('keeps everything across a reopen, at the newest schema version', async () => {
      const registry = await open()
      const { secret } = await registry.add({ ...NEW, id: 'aq-kept', metadata: { a: 'b' } })
      await registry.setStatus('aq-kept', 'revoked')
      await registry.close()
      const again = await open()
      expect(again.get('aq-kept')).toMatchObject({ status: 'revoked', metadata: { a: 'b' } })
      await again.setStatus('aq-kept', 'active')
      expect(await again.checkCredentials('aq-kept', secret)).toMatchObject({ ok: true })
      expect(await b.versions()).toEqual(Array.from({ length: b.newest }, (_, i) => i + 1))
    })
  })
}

contract('SQLite', sqliteBackend)
contract('PostgreSQL', postgresBackend)

describe('PostgreSQL registry: looking up ids the read model does not know', () => {
  const databases: { close(): Promise<void> }[] = []
  afterEach(async () => {
    await Promise.all(databases.splice(0).map((d) => d.close()))
  })
  async function setup(options: { lookupConcurrency?: number; lookupQueue?: number; negativeCacheMs?: number } = {}) {
    const shared = await sharedPostgres(inject('postgresUrl'))
    databases.push(shared)
    const keyCheck = keyCheckValue(randomBytes(32))
    const open = () => shared.pool()
    const clock = { t: 1_000_000 }
    const pool = open()
    const store = await createPostgresRegistryStore({ pool, keyCheck, now: () => clock.t, ...options })
    const other = await createPostgresRegistryStore({ pool: open(), keyCheck })
    const queries = vi.spyOn(pool, 'query')
    const lookups = () => queries.mock.calls.filter(([sql]) => typeof sql === 'string' && sql.startsWith('SELECT * FROM devices WHERE id')).length
    return { store, other, clock, lookups }
  }
  const row = (id: string) => ({
    id,
    type: 'air-quality' as const,
    name: id,
    city: 'firenze',
    lat: 43.77,
    lon: 11.25,
    interval: 60,
    metadata: '{}',
    status: 'active' as const,
    secret_hash: 'h',
    created_at: 't',
    updated_at: 't',
    created_by: 'test',
  })

  it('answers an absent id from memory for a few seconds, then asks again', async () => {
    const { store, other, clock, lookups } = await setup({ negativeCacheMs: 5000 })
    expect(await store.lookup('aq-spray')).toBeUndefined()
    expect(await store.lookup('aq-spray')).toBeUndefined()
    expect(lookups()).toBe(1)
    await other.insert(row('aq-spray'), 't')
    clock.t += 4000
    expect(await store.lookup('aq-spray')).toBeUndefined() // still cached as absent
    expect(lookups()).toBe(1)
    clock.t += 2000
    expect((await store.lookup('aq-spray'))?.id).toBe('aq-spray')
    expect(store.get('aq-spray')?.id).toBe('aq-spray')
    expect(await store.lookup('aq-spray')).toMatchObject({ id: 'aq-spray' }) // from the read model now
    expect(lookups()).toBe(2)
  })

  it('a change read from the log ends an absent answer at once', async () => {
    const { store, other, lookups } = await setup()
    expect(await store.lookup('aq-later')).toBeUndefined()
    await other.insert(row('aq-later'), 't')
    await store.poll()
    expect(await store.lookup('aq-later')).toMatchObject({ id: 'aq-later' })
    expect(lookups()).toBe(1)
  })

  it('asks once per id at a time, and refuses past its bound instead of queueing without end', async () => {
    const { store, other, lookups } = await setup({ lookupConcurrency: 1, lookupQueue: 1 })
    await other.insert(row('aq-same'), 't')
    const same = await Promise.all([store.lookup('aq-same'), store.lookup('aq-same'), store.lookup('aq-same')])
    expect(same.map((r) => r?.id)).toEqual(['aq-same', 'aq-same', 'aq-same'])
    expect(lookups()).toBe(1)
    // One running, one waiting, the third refused: the caller cannot tell now, and says so.
    const results = await Promise.allSettled([store.lookup('aq-r1'), store.lookup('aq-r2'), store.lookup('aq-r3')])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected'])
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(LookupBusyError)
    expect(lookups()).toBe(3)
    // Once the burst is over, lookups run again.
    expect(await store.lookup('aq-r3')).toBeUndefined()
  })
})
