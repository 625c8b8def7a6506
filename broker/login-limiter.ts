import { createLoginThrottle, type ThrottleCheck } from '../devices/login-throttle.ts'

/**
 * Failed MQTT logins, counted per remote address and per user name (a device id or a service
 * account), with exponential backoff (devices/login-throttle.ts). An address gets many more free
 * failures than one id: a whole fleet may sit behind one carrier-grade NAT. A success clears the
 * id's failures, never the address's (one good login must not license the next thousand guesses).
 */

export interface MqttLoginLimits {
  /** Failures per device id before backoff starts, default 5. */
  perIdFreeFailures?: number
  /** Failures per remote address before backoff starts, default 100. */
  perAddressFreeFailures?: number
  /** First backoff, doubled at every further failure, default 1 s. */
  baseDelayMs?: number
  /** Longest backoff, default 5 minutes. */
  maxDelayMs?: number
  /** Failures are forgotten after this long without one, default 15 minutes. */
  forgetAfterMs?: number
  now?: () => number
}

export function createMqttLoginLimiter(options: MqttLoginLimits = {}) {
  const common = { baseDelayMs: options.baseDelayMs, maxDelayMs: options.maxDelayMs, forgetAfterMs: options.forgetAfterMs, now: options.now }
  const byId = createLoginThrottle({ ...common, freeFailures: options.perIdFreeFailures ?? 5, maxEntries: 100_000 })
  const byAddress = createLoginThrottle({ ...common, freeFailures: options.perAddressFreeFailures ?? 100, maxEntries: 20_000 })
  return {
    check(address: string, username: string): ThrottleCheck {
      const a = byAddress.check(address)
      if (!a.allowed) return a
      return byId.check(username)
    },
    fail(address: string, username: string): void {
      byAddress.fail(address)
      byId.fail(username)
    },
    succeed(username: string): void {
      byId.succeed(username)
    },
  }
}

export type MqttLoginLimiter = ReturnType<typeof createMqttLoginLimiter>
