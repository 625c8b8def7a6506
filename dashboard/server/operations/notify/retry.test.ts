import { describe, expect, it } from 'vitest'
import { backoffMs, withRetry, type AttemptResult } from './retry.ts'

describe('retry with exponential backoff and jitter', () => {
  it('waits a random time up to base · 2^(n-1), capped', () => {
    const policy = { maxAttempts: 10, baseMs: 100, maxMs: 1000 }
    expect([1, 2, 3, 4, 5].map((n) => backoffMs({ ...policy, random: () => 0.999999 }, n))).toEqual([99, 199, 399, 799, 999])
    expect(backoffMs({ ...policy, random: () => 0 }, 3)).toBe(0)
    expect(backoffMs({ ...policy, random: () => 0.5 }, 2)).toBe(100)
  })

  it('stops at the first success, at a final failure, or after maxAttempts', async () => {
    const policy = { maxAttempts: 4, baseMs: 1, maxMs: 2 }
    const run = async (results: AttemptResult[]) => {
      let calls = 0
      const outcome = await withRetry(async () => results[calls++] ?? { ok: false, retry: true, error: 'down' }, policy)
      return { ...outcome, calls }
    }
    expect(await run([{ ok: false, retry: true, error: 'HTTP 500', httpStatus: 500 }, { ok: true, httpStatus: 204 }])).toEqual({ ok: true, attempts: 2, error: null, httpStatus: 204, calls: 2 })
    expect(await run([{ ok: false, retry: false, error: 'HTTP 404', httpStatus: 404 }])).toEqual({ ok: false, attempts: 1, error: 'HTTP 404', httpStatus: 404, calls: 1 })
    expect(await run([])).toEqual({ ok: false, attempts: 4, error: 'down', httpStatus: null, calls: 4 })
  })

  it('waits at least what Retry-After asks (capped at maxMs), and stops waiting when aborted', async () => {
    const waits: number[] = []
    let last = Date.now()
    const outcome = await withRetry(
      async (n) => {
        const now = Date.now()
        if (n > 1) waits.push(now - last)
        last = now
        return n < 3 ? { ok: false, retry: true, error: 'HTTP 429', httpStatus: 429, retryAfterMs: 60_000 } : { ok: true }
      },
      { maxAttempts: 5, baseMs: 1, maxMs: 150, random: () => 0 },
    )
    expect(outcome.ok).toBe(true)
    expect(waits.every((w) => w >= 140)).toBe(true)

    const abort = new AbortController()
    let calls = 0
    const pending = withRetry(
      async () => {
        calls += 1
        return { ok: false, retry: true, error: 'down' }
      },
      { maxAttempts: 5, baseMs: 3_600_000, maxMs: 3_600_000, random: () => 0.9 },
      abort.signal,
    )
    abort.abort()
    expect(await pending).toMatchObject({ ok: false, attempts: 1, error: 'down' })
    expect(calls).toBe(1)
  })
})
