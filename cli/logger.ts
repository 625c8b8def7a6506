import { pino, type Logger } from 'pino'

/** Logs go to stderr as JSON lines, so stdout stays clean for what a command prints. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }))
}
