import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { scryptPool } from './scrypt-pool.ts'

/**
 * Device secrets are random machine secrets (24 random bytes, base64url): nothing to guess, so
 * they need no slow hash. They are stored as `hmac$v1$<base64url>`, HMAC-SHA-256 under the
 * server key (devices/secret-key.ts, a file in the data directory): a copy of the registry alone
 * does not reveal or verify any secret, and a login costs one HMAC, the same for every id.
 *
 * Registries made before this hold `scrypt$N$r$p$salt$hash`; those still verify (off the libuv
 * thread pool, in the scrypt worker: devices/scrypt-pool.ts) and are rewritten as HMAC on the
 * next successful login or rotation.
 *
 * People's passwords are not random and keep scrypt (hashPassword / verifyPassword).
 */

const HMAC_PREFIX = 'hmac$v1$'

export function generateSecret(): string {
  // Never starting with '-': spreadsheets read such a cell as a formula, and the secrets CSV
  // would have to quote it (dashboard/shared/csv.ts), so the installer would copy a wrong password.
  for (;;) {
    const secret = randomBytes(24).toString('base64url')
    if (!secret.startsWith('-')) return secret
  }
}

function mac(key: Buffer, secret: string): Buffer {
  return createHmac('sha256', key).update(secret, 'utf8').digest()
}

/** The stored form of a device secret. */
export function hashDeviceSecret(key: Buffer, secret: string): string {
  return HMAC_PREFIX + mac(key, secret).toString('base64url')
}

export function isLegacyHash(stored: string): boolean {
  return stored.startsWith('scrypt$')
}

/**
 * Checks a device secret against its stored form: constant time for the HMAC form. With no stored
 * form (an unknown id) the same HMAC is computed and compared against a dummy, so an unknown id
 * costs what a known one does.
 */
export function createDeviceSecretVerifier(key: Buffer) {
  const dummy = randomBytes(32)
  return {
    /** Synchronous for HMAC; a legacy scrypt hash returns a promise (the scrypt worker). */
    verify(secret: string, stored: string | undefined): boolean | Promise<boolean> {
      const computed = mac(key, secret)
      if (stored === undefined) {
        timingSafeEqual(computed, dummy)
        return false
      }
      if (stored.startsWith(HMAC_PREFIX)) {
        const expected = Buffer.from(stored.slice(HMAC_PREFIX.length), 'base64url')
        if (expected.length !== computed.length) {
          timingSafeEqual(computed, dummy)
          return false
        }
        return timingSafeEqual(computed, expected)
      }
      if (isLegacyHash(stored)) return scryptPool().verify(secret, stored)
      timingSafeEqual(computed, dummy)
      return false
    },
  }
}

/** A person's password: salted scrypt, computed in the scrypt worker. */
export function hashPassword(password: string): Promise<string> {
  return scryptPool().hash(password)
}

/** Checks a password against its scrypt hash, in the scrypt worker. Rejects with ScryptBusyError when the queue is full. */
export function verifyPassword(password: string, stored: string): Promise<boolean> {
  return scryptPool().verify(password, stored)
}

export { ScryptBusyError } from './scrypt-pool.ts'
