import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { ALERT_MIGRATIONS, createSqliteAlertStore } from './store.ts'

describe('the alert tables’ migrations', () => {
  it('adopt a database from before migrations unchanged and add assignment, notes, silences and the message words', () => {
    const db = new Database(':memory:')
    // The schema as it was: version 1's statements, no schema_migrations.
    db.exec(ALERT_MIGRATIONS[0]!.up as string)
    db.prepare(
      `INSERT INTO alerts (id, rule_id, rule_name, kind, severity, device_id, device_name, type, city, unit, message, state, opened_at)
       VALUES (7, 1, 'r', 'threshold', 'warning', 'aq-1', 'A', 'air-quality', 'firenze', '', 'm', 'open', 1000)`,
    ).run()
    const store = createSqliteAlertStore(db)
    // A row from before keeps no words: the page shows its English message.
    expect(store.activeAlerts()).toMatchObject([{ id: 7, assignee: null, state: 'open', message: 'm', messageWords: null }])
    store.addNote({ alertId: 7, at: 2000, kind: 'comment', actor: 'olga', text: 'hello', assignee: null })
    store.write([], [{ ...store.getAlert(7)!, assignee: 'olga' }])
    expect(store.getAlert(7)!.assignee).toBe('olga')
    expect(store.notes(7)).toEqual([{ alertId: 7, at: 2000, kind: 'comment', actor: 'olga', text: 'hello', assignee: null }])
    expect(db.prepare("SELECT version FROM schema_migrations WHERE component = 'alerts' ORDER BY version").pluck().all()).toEqual([1, 2, 3])
    // Opening again applies nothing twice.
    createSqliteAlertStore(db)
    expect(db.prepare("SELECT count(*) FROM schema_migrations WHERE component = 'alerts'").pluck().get()).toBe(3)
    db.close()
  })
})
