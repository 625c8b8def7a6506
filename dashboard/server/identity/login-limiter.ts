/**
 * Counts failed logins per key (username + client address) in a fixed window: after maxFailures
 * the key is refused until the window that began with its first failure ends. A successful login
 * clears the key. Memory is bounded: at most maxEntries keys, oldest dropped first.
 */

export interface LoginLimiterOptions {
  maxFailures?: number
  windowMs?: number
  maxEntries?: number
  now?: () => number
}

export type LimitCheck = { allowed: true } | { allowed: false; retryAfterMs: number }

export function createLoginLimiter(options: LoginLimiterOptions = {}) {
  const { maxFailures = 5, windowMs = 15 * 60_000, maxEntries = 10_000, now = Date.now } = options
  const entries = new Map<string, { failures: number; resetAt: number }>()

  function current(key: string, t: number) {
    const entry = entries.get(key)
    if (entry && entry.resetAt <= t) {
      entries.delete(key)
      return undefined
    }
    return entry
  }

  return {
    maxFailures,
    windowMs,

    check(key: string): LimitCheck {
      const t = now()
      const entry = current(key, t)
      if (entry && entry.failures >= maxFailures) return { allowed: false, retryAfterMs: entry.resetAt - t }
      return { allowed: true }
    },

    fail(key: string): void {
      const t = now()
      const entry = current(key, t)
      if (entry) {
        entry.failures += 1
        return
      }
      if (entries.size >= maxEntries) {
        for (const [k, e] of entries) if (e.resetAt <= t) entries.delete(k)
        while (entries.size >= maxEntries) entries.delete(entries.keys().next().value!)
      }
      entries.set(key, { failures: 1, resetAt: t + windowMs })
    },

    succeed(key: string): void {
      entries.delete(key)
    },

    size: () => entries.size,
  }
}

export type LoginLimiter = ReturnType<typeof createLoginLimiter>
