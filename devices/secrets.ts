import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * Secrets are stored only as salted scrypt hashes: `scrypt$N$r$p$salt$hash` (base64url), so the
 * parameters can be raised later without invalidating stored hashes.
 */

const PARAMS = { N: 16384, r: 8, p: 1 } as const
const KEY_LENGTH = 32

export function generateSecret(): string {
  // Never starting with '-': spreadsheets read such a cell as a formula, and the secrets CSV
  // would have to quote it (dashboard/shared/csv.ts), so the installer would copy a wrong password.
  for (;;) {
    const secret = randomBytes(24).toString('base64url')
    if (!secret.startsWith('-')) return secret
  }
}

function derive(secret: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LENGTH, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(secret, salt, PARAMS)
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string]
  const expected = Buffer.from(hash, 'base64url')
  const key = await derive(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) })
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/**
 * Remembers secrets already verified against a given stored hash, so a reconnect storm of a
 * thousand devices costs a thousand SHA-256s instead of a thousand scrypts. Entries are keyed by
 * the stored hash itself: rotating a secret changes the hash and so invalidates the entry.
 * Lives in memory only.
 */
export function createVerifiedSecretCache(maxEntries = 100_000) {
  const pepper = randomBytes(32)
  const entries = new Map<string, Buffer>()
  const digest = (secret: string) => createHash('sha256').update(pepper).update(secret).digest()
  return {
    async verify(secret: string, stored: string): Promise<boolean> {
      const known = entries.get(stored)
      if (known) return timingSafeEqual(known, digest(secret))
      const ok = await verifySecret(secret, stored)
      if (ok) {
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!)
        entries.set(stored, digest(secret))
      }
      return ok
    },
  }
}
