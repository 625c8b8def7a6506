import { randomBytes } from 'node:crypto'
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The server key under which device secrets are stored (HMAC-SHA-256, devices/secrets.ts): 32
 * random bytes in DATA_DIR/secret-key (base64url), created with mode 0600 on first use. `piazza
 * start` and `piazza devices …` both read it from the data directory they share, so a device added
 * or rotated from the command line logs in to the running broker. Losing the file means every
 * device needs a new secret (rotate); keep it with the registry in backups, and nowhere else.
 */

export const SECRET_KEY_FILE = 'secret-key'
const KEY_BYTES = 32

function parse(text: string, file: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64url')
  if (key.length !== KEY_BYTES) throw new Error(`${file} does not hold a ${KEY_BYTES}-byte key (base64url); restore it from a backup`)
  return key
}

/** Reads DATA_DIR/secret-key, creating it (mode 0600) when there is none; safe when two processes start at once. */
export function loadOrCreateSecretKey(dataDir: string): Buffer {
  const file = join(dataDir, SECRET_KEY_FILE)
  try {
    const key = parse(readFileSync(file, 'utf8'), file)
    // Tighten a key file that was copied around with looser permissions.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
    return key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(dataDir, { recursive: true })
  // Written whole under a temporary name, then linked into place: another process sees either no
  // file or the complete key, and if it won the race its key is the one kept.
  const temp = join(dataDir, `.${SECRET_KEY_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`)
  writeFileSync(temp, `${randomBytes(KEY_BYTES).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' })
  try {
    linkSync(temp, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(temp)
  }
  return parse(readFileSync(file, 'utf8'), file)
}
