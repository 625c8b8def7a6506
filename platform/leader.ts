import type pg from 'pg'

/**
 * One leader among the nodes sharing a PostgreSQL database, for work that must happen once
 * cluster-wide (judging alerts and notifying: see README "Alerts with several nodes"). The leader
 * is the node whose dedicated session holds the session-level advisory lock `key`
 * (pg_try_advisory_lock). A session, not a pooled connection: a pool would hand the lock around
 * with the connection. Leadership moves when the leader's session ends — the node stops
 * (close() unlocks), dies (PostgreSQL ends its session), or loses its connection — and another
 * node's next try, every `retryMs`, takes it.
 *
 * The leader checks its own session every `retryMs` and steps down at the first failure, before
 * anyone else can take the lock only if PostgreSQL already ended the session; a leader cut off
 * from PostgreSQL thus stops leading within `retryMs` of noticing. What a leader does must
 * still be safe to do twice in the short window between PostgreSQL ending its session and the
 * node noticing (the alert store's one-active-alert index refuses a second opening).
 */

export interface LeadershipOptions {
  /** A new client, connected, used for nothing else. */
  connect(): Promise<pg.Client>
  /** The advisory-lock key; one per kind of work. */
  key: number
  /** Default 2 s. */
  retryMs?: number
  /** Told when this node starts (true) and stops (false) leading; must not throw. */
  onChange(leading: boolean): void
  /** A failed try or session check (the next one retries). */
  onError?(err: unknown): void
}

export function createLeadership(options: LeadershipOptions) {
  const { key, retryMs = 2000 } = options
  let client: pg.Client | undefined
  let leading = false
  let closed = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()

  function setLeading(next: boolean): void {
    if (leading === next) return
    leading = next
    options.onChange(next)
  }

  /** The session is gone or unusable: stop leading at once, and start again from a new one. */
  function drop(err: unknown): void {
    const old = client
    client = undefined
    setLeading(false)
    old?.end().catch(() => {})
    if (err !== undefined) options.onError?.(err)
  }

  async function attempt(): Promise<void> {
    if (closed) return
    try {
      if (!client) {
        const fresh = await options.connect()
        if (closed) {
          await fresh.end()
          return
        }
        client = fresh
        fresh.on('error', (err) => {
          if (client === fresh) drop(err)
        })
        fresh.on('end', () => {
          if (client === fresh) drop(new Error('leadership session ended'))
        })
      }
      const current = client
      if (leading) {
        await current.query('SELECT 1')
        return
      }
      const { rows } = await current.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key])
      if (client === current && !closed) setLeading(rows[0]?.ok === true)
    } catch (err) {
      drop(err)
    }
  }

  function schedule(): void {
    if (closed) return
    timer = setTimeout(() => {
      running = attempt().finally(schedule)
    }, retryMs)
    timer.unref()
  }

  running = attempt().finally(schedule)

  return {
    isLeader: () => leading,

    /** Resolves after the first try (tests; the node does not wait for it). */
    ready: () => running,

    /** Steps down (unlocking, so another node leads at its next try) and ends the session. */
    async close(): Promise<void> {
      closed = true
      clearTimeout(timer)
      await running.catch(() => {})
      const last = client
      client = undefined
      if (last) {
        if (leading) await last.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => {})
        await last.end().catch(() => {})
      }
      setLeading(false)
    },
  }
}

export type Leadership = ReturnType<typeof createLeadership>
