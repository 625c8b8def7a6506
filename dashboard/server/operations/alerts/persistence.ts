import type { Logger } from 'pino'
import type { Alert, AlertStore } from './store.ts'

/**
 * Alerts written in batches: what changed since the last flush (new alerts inserted, the others
 * updated, newest state of each), in one transaction per flush (a tick, or before a read that
 * must see them). Flushes run one after another, in order. A failed write is logged and counted;
 * the alerts stay right in memory. `written` hears the ids of each batch once it is stored
 * (cluster mode: the other nodes are told to read them).
 */

export interface AlertWriterOptions {
  store: Pick<AlertStore, 'write'>
  logger?: Pick<Logger, 'error'>
  stats: { writeErrors: number }
  written?(ids: number[]): void
}

export function createAlertWriter(options: AlertWriterOptions) {
  const { store, stats } = options
  const inserts = new Map<number, Alert>()
  const updates = new Map<number, Alert>()
  let last: Promise<void> = Promise.resolve()

  return {
    /** An alert to write at the next flush: `isNew` for one opened since. */
    record(alert: Alert, isNew: boolean): void {
      if (isNew) inserts.set(alert.id, alert)
      else if (!inserts.has(alert.id)) updates.set(alert.id, alert)
    },

    /** Resolves once everything recorded so far is written (or its failure logged); never rejects. */
    flush(): Promise<void> {
      if (inserts.size === 0 && updates.size === 0) return last
      // Copies: the batch is what the alerts are now, whatever happens to them while it waits.
      const ins = [...inserts.values()].map((a) => ({ ...a }))
      const ups = [...updates.values()].map((a) => ({ ...a }))
      inserts.clear()
      updates.clear()
      last = last.then(async () => {
        try {
          await store.write(ins, ups)
          options.written?.([...ins, ...ups].map((a) => a.id))
        } catch (err) {
          stats.writeErrors += 1
          options.logger?.error({ err }, 'could not write alerts')
        }
      })
      return last
    },
  }
}

export type AlertWriter = ReturnType<typeof createAlertWriter>
