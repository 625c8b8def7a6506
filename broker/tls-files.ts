import { readFileSync, statSync } from 'node:fs'
import type { Logger } from 'pino'

/**
 * The broker's TLS certificate, key and optional client CA, read from PEM files and re-read when
 * they change, so a renewal (certbot, an editor, a deploy script) needs no restart. The files are
 * polled by stat (modification time, size, inode) every few seconds rather than watched: polling
 * survives files replaced by rename, symlinks re-pointed (certbot's live/ directory) and
 * directories that did not exist at start. A new set that does not load (a certificate without
 * its key yet, half-written files) is logged and the old one kept; it is tried again when the
 * files change again.
 */

export interface TlsFiles {
  certFile: string
  keyFile: string
  caFile?: string
}

export interface TlsMaterial {
  cert: Buffer
  key: Buffer
  ca?: Buffer
}

export function readTlsFiles(files: TlsFiles): TlsMaterial {
  return {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ...(files.caFile ? { ca: readFileSync(files.caFile) } : {}),
  }
}

function signature(files: TlsFiles): string {
  return [files.certFile, files.keyFile, files.caFile]
    .filter((f): f is string => f !== undefined)
    .map((file) => {
      try {
        const s = statSync(file)
        return `${s.mtimeMs}:${s.size}:${s.ino}`
      } catch {
        return 'missing'
      }
    })
    .join('|')
}

/**
 * Calls apply(new material) whenever the files' signature changes; apply throws to refuse a set.
 * Answers a function that stops the polling.
 */
export function watchTlsFiles(files: TlsFiles, apply: (material: TlsMaterial) => void, options: { logger: Logger; intervalMs?: number }): () => void {
  const { logger } = options
  let seen = signature(files)
  const timer = setInterval(() => {
    const now = signature(files)
    if (now === seen) return
    seen = now
    try {
      apply(readTlsFiles(files))
      logger.info({ certFile: files.certFile }, 'tls certificate reloaded')
    } catch (err) {
      logger.error({ err, certFile: files.certFile, keyFile: files.keyFile }, 'tls certificate files changed but do not load; keeping the previous certificate')
    }
  }, options.intervalMs ?? 5000)
  timer.unref()
  return () => clearInterval(timer)
}
