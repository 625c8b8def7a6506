import type Database from 'better-sqlite3'
import type pg from 'pg'

/**
 * Versioned schema migrations, for both back ends. Each store (registry, accounts, …) owns a list
 * of migrations under its own component name; the table `schema_migrations` records, per
 * component, every version applied and when. At start a store applies the versions its database
 * lacks, in order, all in one transaction: a failed migration leaves the schema as it was.
 *
 * Version 1 of every component is written with IF NOT EXISTS so that a database made before
 * migrations existed (tables present, no `schema_migrations`) is adopted as version 1 unchanged.
 */

export interface SqliteMigration {
  version: number
  name: string
  up: string | ((db: Database.Database) => void)
}

export interface PostgresMigration {
  version: number
  name: string
  up: string | ((client: pg.PoolClient) => Promise<void>)
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  component TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (component, version)
)`

function checkOrder(migrations: readonly { version: number }[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 1, 2, 3… in order; found ${m.version} at position ${i + 1}`)
  })
}

/** Applies the missing migrations of `component`; answers the versions applied now. */
export function migrateSqlite(db: Database.Database, component: string, migrations: readonly SqliteMigration[]): number[] {
  checkOrder(migrations)
  // IMMEDIATE: two processes opening one file at once do not both apply a version.
  return db
    .transaction(() => {
      db.exec(CREATE_TABLE)
      const current = (db.prepare('SELECT max(version) AS v FROM schema_migrations WHERE component = ?').get(component) as { v: number | null }).v ?? 0
      const applied: number[] = []
      for (const m of migrations.slice(current)) {
        if (typeof m.up === 'string') db.exec(m.up)
        else m.up(db)
        db.prepare('INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)').run(component, m.version, m.name, new Date().toISOString())
        applied.push(m.version)
      }
      return applied
    })
    .immediate()
}

/** Advisory-lock key all nodes take while migrating, so nodes starting together apply each version once. */
const MIGRATION_LOCK = 7_261_001

/** Applies the missing migrations of `component`; answers the versions applied now. */
export async function migratePostgres(pool: pg.Pool, component: string, migrations: readonly PostgresMigration[]): Promise<number[]> {
  checkOrder(migrations)
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await client.query(CREATE_TABLE)
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations WHERE component = $1', [component])
    const current = rows[0]?.v ?? 0
    const applied: number[] = []
    for (const m of migrations.slice(current)) {
      if (typeof m.up === 'string') await client.query(m.up)
      else await m.up(client)
      await client.query('INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)', [component, m.version, m.name, new Date().toISOString()])
      applied.push(m.version)
    }
    await client.query('COMMIT')
    return applied
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}

/** The versions of `component` a database holds, oldest first (tests, diagnostics). */
export function sqliteVersions(db: Database.Database, component: string): number[] {
  return (db.prepare('SELECT version FROM schema_migrations WHERE component = ? ORDER BY version').all(component) as { version: number }[]).map((r) => r.version)
}

export async function postgresVersions(pool: pg.Pool, component: string): Promise<number[]> {
  const { rows } = await pool.query<{ version: number }>('SELECT version FROM schema_migrations WHERE component = $1 ORDER BY version', [component])
  return rows.map((r) => r.version)
}
