/**
 * Failed logins per key (an address, a device id, a user name) with exponential backoff: the
 * first `freeFailures` failures cost nothing; each one after blocks the key for baseDelayMs,
 * then twice that, and so on up to maxDelayMs. Attempts while blocked are refused before any
 * secret is checked and are not counted. A key is forgotten after forgetAfterMs without a
 * failure, or when told the login succeeded. Memory is bounded: at most maxEntries keys, the
 * least recently failed dropped first. Used by the broker (broker/login-limiter.ts) and the HTTP
 * login (dashboard/server/identity/login-limiter.ts).
 */

export interface ThrottleOptions {
  freeFailures: number
  baseDelayMs?: number
  maxDelayMs?: number
  forgetAfterMs?: number
  maxEntries?: number
  now?: () => number
}

export type ThrottleCheck = { allowed: true } | { allowed: false; retryAfterMs: number }

interface Entry {
  failures: number
  lastFailure: number
  blockedUntil: number
}

export function createLoginThrottle(options: ThrottleOptions) {
  const { freeFailures, baseDelayMs = 1000, maxDelayMs = 5 * 60_000, forgetAfterMs = 15 * 60_000, maxEntries = 10_000, now = Date.now } = options
  const entries = new Map<string, Entry>()

  function current(key: string, t: number): Entry | undefined {
    const entry = entries.get(key)
    if (entry && entry.blockedUntil <= t && t - entry.lastFailure >= forgetAfterMs) {
      entries.delete(key)
      return undefined
    }
    return entry
  }

  return {
    freeFailures,

    check(key: string): ThrottleCheck {
      const t = now()
      const entry = current(key, t)
      if (entry && entry.blockedUntil > t) return { allowed: false, retryAfterMs: entry.blockedUntil - t }
      return { allowed: true }
    },

    fail(key: string): void {
      const t = now()
      const entry = current(key, t) ?? { failures: 0, lastFailure: t, blockedUntil: 0 }
      entry.failures += 1
      entry.lastFailure = t
      const over = entry.failures - freeFailures
      if (over > 0) entry.blockedUntil = t + Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(over - 1, 30))
      // Re-inserted, so the map's order is the order of last failure.
      entries.delete(key)
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!)
      entries.set(key, entry)
    },

    succeed(key: string): void {
      entries.delete(key)
    },

    size: () => entries.size,
  }
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>
