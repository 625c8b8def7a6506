import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'

/**
 * The process's open-file limit. Every MQTT connection, HTTP client and write-ahead log segment
 * is a file descriptor; past the soft limit, accept() and open() fail with EMFILE. Node has no
 * setrlimit, so the soft limit is raised to the hard limit by running util-linux's `prlimit` on
 * this process where it is installed (an unprivileged process may raise its own soft limit up to
 * the hard one); otherwise, or if that fails, a low limit is logged with the fix: `ulimit -n`
 * before starting, or LimitNOFILE= in a systemd unit.
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

/**
 * Raises the soft limit to the hard one where possible and warns when it stays below what the
 * configured connection cap needs (`wanted`: connections plus room for files and HTTP clients).
 */
export function ensureFdLimit(logger: Logger, wanted: number): FdLimits | undefined {
  let limits = readFdLimits()
  if (!limits) return undefined
  if (limits.soft < limits.hard && Number.isFinite(limits.hard)) {
    try {
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${limits.hard}:${limits.hard}`], { stdio: 'ignore', timeout: 5000 })
      const raised = readFdLimits()
      if (raised && raised.soft > limits.soft) {
        logger.info({ from: limits.soft, to: raised.soft }, 'raised the open-file limit to the hard limit')
        limits = raised
      }
    } catch {
      // No prlimit, or not allowed: the warning below says what to do.
    }
  }
  if (limits.soft < wanted) {
    logger.warn(
      { soft: limits.soft, hard: limits.hard, wanted },
      'the open-file limit is below MQTT_MAX_CONNECTIONS plus room for files; past it new connections fail (EMFILE) and are closed. Raise it with `ulimit -n` before starting (or LimitNOFILE= under systemd), or lower MQTT_MAX_CONNECTIONS',
    )
  }
  return limits
}
