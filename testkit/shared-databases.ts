import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createDatabase } from './postgres.ts'

/**
 * The two databases a store contract suite runs against, each shared by several connections as
 * several nodes (or processes) would share it. `close()` closes every connection opened on it.
 */

/** A plain SQLite connection as the server opens its file: WAL, waiting on a busy writer. */
export function openSqlite(file: string): Database.Database {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('busy_timeout = 5000')
  return db
}

/** One SQLite file in a fresh temporary folder; close() also removes the folder. */
export function sharedSqlite(prefix: string, open: (file: string) => Database.Database = openSqlite) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const file = join(dir, 'registry.db')
  const dbs: Database.Database[] = []
  return {
    file,
    /** Another connection to the file. */
    open(): Database.Database {
      const db = open(file)
      dbs.push(db)
      return db
    },
    close(): void {
      for (const db of dbs.splice(0)) db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A fresh database on the suite's PostgreSQL server (`serverUrl`). */
export async function sharedPostgres(serverUrl: string, options: { max?: number } = {}) {
  const url = await createDatabase(serverUrl)
  const pools: pg.Pool[] = []
  return {
    url,
    /** Another pool on the database. */
    pool(): pg.Pool {
      const pool = new pg.Pool({ connectionString: url, max: options.max ?? 3 })
      pools.push(pool)
      return pool
    },
    async close(): Promise<void> {
      await Promise.all(pools.splice(0).map((p) => p.end()))
    },
  }
}
