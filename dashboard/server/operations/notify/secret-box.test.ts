import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createSecretBox, isSealed } from './secret-box.ts'

describe('secret box (AES-256-GCM under an HKDF key from the server key)', () => {
  const key = randomBytes(32)
  const box = createSecretBox(key, 'contact point secrets')

  it('seals to a fresh value each time and opens it again', () => {
    const a = box.seal('a-webhook-secret-of-length')
    const b = box.seal('a-webhook-secret-of-length')
    expect(isSealed(a)).toBe(true)
    expect(a).not.toBe(b)
    expect(a).not.toContain('a-webhook-secret')
    expect(box.open(a)).toBe('a-webhook-secret-of-length')
    expect(box.open(b)).toBe('a-webhook-secret-of-length')
  })

  it('refuses an altered value, another server key and another purpose; reads a legacy plain value as it is', () => {
    const sealed = box.seal('a-webhook-secret-of-length')
    const raw = Buffer.from(sealed.slice('enc:v1:'.length), 'base64url')
    raw[14] = raw[14]! ^ 1
    expect(() => box.open(`enc:v1:${raw.toString('base64url')}`)).toThrow(/cannot be opened/)
    expect(() => createSecretBox(randomBytes(32), 'contact point secrets').open(sealed)).toThrow(/cannot be opened: the server key/)
    expect(() => createSecretBox(key, 'something else').open(sealed)).toThrow(/cannot be opened/)
    expect(() => box.open('enc:v1:AAAA')).toThrow(/truncated/)
    expect(box.open('plain-secret-from-before')).toBe('plain-secret-from-before')
    expect(() => createSecretBox(randomBytes(16), 'x')).toThrow(/at least 32 bytes/)
  })
})
