import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { createDatabase } from '../testkit/postgres.ts'
import { migratePostgres, migrateSqlite, postgresVersions, sqliteVersions } from './migrations.ts'
import { createRegistry, openRegistryDatabase } from './registry.ts'
import { createPostgresRegistryStore, keyCheckValue, POSTGRES_REGISTRY_MIGRATIONS } from './registry-postgres.ts'
import { hashDeviceSecret } from './secrets.ts'

const dirs: string[] = []
const tempDir = () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'piazza-migrations-'))
  dirs.push(dir)
  return dir
}
const pools: pg.Pool[] = []
const newPool = async () => {
  const pool = new pg.Pool({ connectionString: await createDatabase(inject('postgresUrl')), max: 2 })
  pools.push(pool)
  return pool
}
afterAll(async () => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  await Promise.all(pools.map((p) => p.end()))
})

/** The registry schema exactly as releases before migrations created it (no schema_migrations). */
const PRE_MIGRATION_SCHEMA = `
  CREATE TABLE devices (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, city TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
    interval INTEGER NOT NULL, metadata TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL DEFAULT 'active', secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT NOT NULL
  );
  CREATE INDEX devices_city_type ON devices (city, type);
  CREATE TABLE device_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL);
`
const INSERT_DEVICE = `INSERT INTO devices (id, type, name, city, lat, lon, interval, metadata, status, secret_hash, created_at, updated_at, created_by)
  VALUES ('aq-old', 'air-quality', 'From before', 'firenze', 43.77, 11.25, 60, '{"mast":"a"}', 'active', $hash, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', 'cli')`

describe('registry schema upgrades', () => {
  it('SQLite: adopts a file from before migrations, applies the newer versions and keeps its devices', async () => {
    const file = join(tempDir(), 'registry.db')
    const key = randomBytes(32)
    const old = new Database(file)
    old.exec(PRE_MIGRATION_SCHEMA)
    old.prepare(INSERT_DEVICE.replace('$hash', '@hash')).run({ hash: hashDeviceSecret(key, 'old-secret') })
    old.close()

    const db = openRegistryDatabase(file)
    expect(sqliteVersions(db, 'registry')).toEqual([1, 2])
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'device_changes_at'").get()).toBeDefined()
    const registry = createRegistry({ db, secretKey: key })
    expect(registry.get('aq-old')).toMatchObject({ name: 'From before', metadata: { mast: 'a' }, createdAt: '2025-01-01T00:00:00.000Z' })
    expect(await registry.checkCredentials('aq-old', 'old-secret')).toMatchObject({ ok: true })
    db.close()
    // Opening again applies nothing twice.
    const again = openRegistryDatabase(file)
    expect(sqliteVersions(again, 'registry')).toEqual([1, 2])
    again.close()
  })

  it('PostgreSQL: a database at version 1 with data is upgraded at start and keeps its devices', async () => {
    const pool = await newPool()
    const key = randomBytes(32)
    expect(await migratePostgres(pool, 'registry', POSTGRES_REGISTRY_MIGRATIONS.slice(0, 1))).toEqual([1])
    await pool.query(INSERT_DEVICE.replace('$hash', '$1'), [hashDeviceSecret(key, 'old-secret')])

    const registry = createRegistry({ store: await createPostgresRegistryStore({ pool, keyCheck: keyCheckValue(key) }), secretKey: key })
    expect(await postgresVersions(pool, 'registry')).toEqual([1, 2, 3])
    expect((await pool.query("SELECT 1 FROM pg_indexes WHERE indexname = 'device_changes_at'")).rowCount).toBe(1)
    expect(registry.get('aq-old')).toMatchObject({ name: 'From before', lat: 43.77, interval: 60, metadata: { mast: 'a' } })
    expect(await registry.checkCredentials('aq-old', 'old-secret')).toMatchObject({ ok: true })
    // Nodes starting together: each applies what is missing under one lock, so every version once.
    await Promise.all([createPostgresRegistryStore({ pool, keyCheck: keyCheckValue(key) }), createPostgresRegistryStore({ pool, keyCheck: keyCheckValue(key) })])
    expect((await pool.query("SELECT count(*)::int AS n FROM schema_migrations WHERE component = 'registry'")).rows[0].n).toBe(3)
    // A node with another server key could store secrets no other node verifies: refused at start.
    await expect(createPostgresRegistryStore({ pool, keyCheck: keyCheckValue(randomBytes(32)) })).rejects.toThrow(/secret-key/)
  })
})

describe('migrations', () => {
  const steps = (fail: boolean) => [
    { version: 1, name: 'one', up: 'CREATE TABLE one (x INTEGER)' },
    { version: 2, name: 'two', up: fail ? 'CREATE TABLE two (x INTEGER); CREATE TABLE one (x INTEGER)' : 'CREATE TABLE two (x INTEGER)' },
  ]

  it('SQLite: a failing migration leaves the schema as it was', () => {
    const db = new Database(':memory:')
    expect(() => migrateSqlite(db, 'demo', steps(true))).toThrow(/already exists/)
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name IN ('one', 'two')").all()).toEqual([])
    expect(migrateSqlite(db, 'demo', steps(false))).toEqual([1, 2])
    expect(migrateSqlite(db, 'demo', steps(false))).toEqual([])
    // Components are counted apart.
    expect(migrateSqlite(db, 'other', [{ version: 1, name: 'x', up: 'CREATE TABLE three (x INTEGER)' }])).toEqual([1])
    expect(sqliteVersions(db, 'demo')).toEqual([1, 2])
  })

  it('PostgreSQL: a failing migration leaves the schema as it was', async () => {
    const pool = await newPool()
    await expect(migratePostgres(pool, 'demo', steps(true))).rejects.toThrow(/already exists/)
    expect((await pool.query("SELECT 1 FROM pg_tables WHERE tablename IN ('one', 'two')")).rowCount).toBe(0)
    expect(await migratePostgres(pool, 'demo', steps(false))).toEqual([1, 2])
    expect(await migratePostgres(pool, 'demo', steps(false))).toEqual([])
    expect(await postgresVersions(pool, 'demo')).toEqual([1, 2])
  })

  it('refuses a list not numbered 1, 2, 3…', () => {
    expect(() => migrateSqlite(new Database(':memory:'), 'demo', [{ version: 2, name: 'x', up: '' }])).toThrow(/numbered/)
  })
})
