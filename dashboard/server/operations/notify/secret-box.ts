import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

/**
 * Secrets kept at rest, encrypted (AES-256-GCM) under a key derived with HKDF-SHA-256 from the
 * server key (DATA_DIR/secret-key, devices/secret-key.ts: every node of a cluster holds the same
 * one). A sealed value reads `enc:v1:<base64url(iv | ciphertext | tag)>`; the purpose string
 * (HKDF info and GCM associated data) keeps values sealed for one use from opening in another.
 * Losing the server key loses these secrets: they have to be given again.
 */

const PREFIX = 'enc:v1:'
const IV_BYTES = 12
const TAG_BYTES = 16

export const isSealed = (stored: string): boolean => stored.startsWith(PREFIX)

export function createSecretBox(serverKey: Buffer, purpose: string) {
  if (serverKey.length < 32) throw new Error('the secret box needs a server key of at least 32 bytes')
  const key = Buffer.from(hkdfSync('sha256', serverKey, Buffer.alloc(0), `piazza ${purpose}`, 32))
  const aad = Buffer.from(purpose)

  return {
    seal(plain: string): string {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad)
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')
    },
    /** The plain secret; a value stored before sealing existed (no prefix) is answered as it is. */
    open(stored: string): string {
      if (!isSealed(stored)) return stored
      const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url')
      if (raw.length < IV_BYTES + TAG_BYTES) throw new Error(`a sealed ${purpose} value is truncated`)
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES)).setAAD(aad)
        decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
        return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8')
      } catch {
        throw new Error(`a sealed ${purpose} value cannot be opened: the server key (DATA_DIR/secret-key) is not the one it was sealed with, or the value was altered`)
      }
    },
  }
}

export type SecretBox = ReturnType<typeof createSecretBox>
