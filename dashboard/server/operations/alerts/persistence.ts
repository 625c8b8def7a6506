import type { Logger } from 'pino'
import type { Alert, SqliteAlertStore } from './store.ts'

/**
 * Alerts written in batches: what changed since the last flush (new alerts inserted, the others
 * updated, newest state of each), in one transaction per flush (a tick, or before a read that
 * must see them). A failed write is logged and counted; the alerts stay right in memory.
 */

export interface AlertWriterOptions {
  store: Pick<SqliteAlertStore, 'write'>
  logger?: Pick<Logger, 'error'>
  stats: { writeErrors: number }
}

export function createAlertWriter(options: AlertWriterOptions) {
  const { store, stats } = options
  const inserts = new Map<number, Alert>()
  const updates = new Map<number, Alert>()

  return {
    /** An alert to write at the next flush: `isNew` for one opened since. */
    record(alert: Alert, isNew: boolean): void {
      if (isNew) inserts.set(alert.id, alert)
      else if (!inserts.has(alert.id)) updates.set(alert.id, alert)
    },

    flush(): void {
      if (inserts.size === 0 && updates.size === 0) return
      const ins = [...inserts.values()]
      const ups = [...updates.values()]
      inserts.clear()
      updates.clear()
      try {
        store.write(ins, ups)
      } catch (err) {
        stats.writeErrors += 1
        options.logger?.error({ err }, 'could not write alerts')
      }
    },
  }
}

export type AlertWriter = ReturnType<typeof createAlertWriter>
