import { createLoginThrottle } from '../../../devices/login-throttle.ts'

/**
 * Failed HTTP logins, limited three ways:
 *  - per user name and client address, in a fixed window: after maxFailures the pair is refused
 *    until the window that began with its first failure ends (a success clears the pair);
 *  - per client address, whatever the user name, with exponential backoff
 *    (devices/login-throttle.ts): spraying a new name at every attempt is limited too;
 *  - per user name, from all addresses together, with backoff: a guess from a thousand addresses
 *    slows down as well (a success clears it).
 * A success never clears the address's count: one good account must not license more guesses.
 * Memory is bounded: oldest keys are dropped first.
 */

export interface LoginLimiterOptions {
  /** Failures per user name and address in a window, default 5. */
  maxFailures?: number
  /** Default 15 minutes. */
  windowMs?: number
  /** Failures from one address (any user names) before backoff starts, default 20. */
  perAddressFreeFailures?: number
  /** Failures for one user name (any addresses) before backoff starts, default 20. */
  perUserFreeFailures?: number
  /** First backoff, doubled at every further failure, default 1 s; at most maxDelayMs, default 15 minutes. */
  baseDelayMs?: number
  maxDelayMs?: number
  maxEntries?: number
  now?: () => number
}

export type LimitCheck = { allowed: true } | { allowed: false; retryAfterMs: number; scope: 'user-address' | 'address' | 'user' }

export function createLoginLimiter(options: LoginLimiterOptions = {}) {
  const { maxFailures = 5, windowMs = 15 * 60_000, maxEntries = 10_000, now = Date.now } = options
  const pairs = new Map<string, { failures: number; resetAt: number }>()
  const backoff = { baseDelayMs: options.baseDelayMs ?? 1000, maxDelayMs: options.maxDelayMs ?? windowMs, forgetAfterMs: windowMs, maxEntries, now }
  const byAddress = createLoginThrottle({ ...backoff, freeFailures: options.perAddressFreeFailures ?? 20 })
  const byUser = createLoginThrottle({ ...backoff, freeFailures: options.perUserFreeFailures ?? 20 })
  const counters = { failed: 0, throttled: 0, busy: 0 }

  const pairKey = (username: string, address: string) => `${username}\n${address}`
  function currentPair(key: string, t: number) {
    const entry = pairs.get(key)
    if (entry && entry.resetAt <= t) {
      pairs.delete(key)
      return undefined
    }
    return entry
  }

  return {
    maxFailures,
    windowMs,
    /** Failed logins, attempts refused by these limits, and attempts refused because password checks were queued full. */
    counters,

    check(username: string, address: string): LimitCheck {
      const t = now()
      const pair = currentPair(pairKey(username, address), t)
      let result: LimitCheck = { allowed: true }
      if (pair && pair.failures >= maxFailures) result = { allowed: false, retryAfterMs: pair.resetAt - t, scope: 'user-address' }
      else {
        const a = byAddress.check(address)
        if (!a.allowed) result = { ...a, scope: 'address' }
        else {
          const u = byUser.check(username)
          if (!u.allowed) result = { ...u, scope: 'user' }
        }
      }
      if (!result.allowed) counters.throttled += 1
      return result
    },

    fail(username: string, address: string): void {
      counters.failed += 1
      byAddress.fail(address)
      byUser.fail(username)
      const t = now()
      const key = pairKey(username, address)
      const entry = currentPair(key, t)
      if (entry) {
        entry.failures += 1
        return
      }
      if (pairs.size >= maxEntries) {
        for (const [k, e] of pairs) if (e.resetAt <= t) pairs.delete(k)
        while (pairs.size >= maxEntries) pairs.delete(pairs.keys().next().value!)
      }
      pairs.set(key, { failures: 1, resetAt: t + windowMs })
    },

    succeed(username: string, address: string): void {
      pairs.delete(pairKey(username, address))
      byUser.succeed(username)
    },

    busy(): void {
      counters.busy += 1
    },

    size: () => pairs.size,
  }
}

export type LoginLimiter = ReturnType<typeof createLoginLimiter>
