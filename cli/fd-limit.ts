import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'

/**
 * The process's open-file limit. Every MQTT connection, HTTP client and write-ahead log segment
 * is a file descriptor; past the soft limit, accept() and open() fail with EMFILE. Node itself
 * raises the soft limit to the hard one at start-up on POSIX systems (checked: under
 * `prlimit --nofile=256:4096`, /proc/self/limits shows 4096:4096 inside node), and there is no
 * setrlimit in its API, so the hard limit is what this process gets. What is left here is to read
 * it and say so when it is too low for the configured connection cap: the fix is `ulimit -n`
 * (hard limit included) before starting, or LimitNOFILE= in a systemd unit.
 */

export interface FdLimits {
  soft: number
  hard: number
}

/** Reads "Max open files" from /proc/self/limits (Linux); undefined elsewhere. 'unlimited' is Infinity. */
export function readFdLimits(text?: string): FdLimits | undefined {
  let limits = text
  if (limits === undefined) {
    try {
      limits = readFileSync('/proc/self/limits', 'utf8')
    } catch {
      return undefined
    }
  }
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits)
  if (!match) return undefined
  const value = (v: string) => (v === 'unlimited' ? Infinity : Number(v))
  const soft = value(match[1]!)
  const hard = value(match[2]!)
  return Number.isNaN(soft) || Number.isNaN(hard) ? undefined : { soft, hard }
}

/** Warns when the soft limit is below what the configured connection cap needs (`wanted`: connections plus room for files and HTTP clients). */
export function checkFdLimit(logger: Logger, wanted: number): FdLimits | undefined {
  const limits = readFdLimits()
  if (!limits) return undefined
  if (limits.soft < wanted) {
    logger.warn(
      { soft: limits.soft, hard: limits.hard, wanted },
      'the open-file limit is below MQTT_MAX_CONNECTIONS plus room for files; past it new connections are closed at once. Raise it with `ulimit -n` (the hard limit too) before starting, or LimitNOFILE= under systemd, or lower MQTT_MAX_CONNECTIONS',
    )
  }
  return limits
}
