/**
 * Retries with exponential backoff and full jitter: attempt n (from 1) waits a random time up to
 * min(maxMs, baseMs · 2^(n-1)) before attempt n+1, or what the receiver asked (Retry-After),
 * capped at maxMs. Bounded: at most `maxAttempts` attempts; an aborted signal stops the waiting.
 */

export interface RetryPolicy {
  maxAttempts: number
  baseMs: number
  maxMs: number
  /** 0 ≤ x < 1; Math.random by default. */
  random?: () => number
}

/** One attempt's outcome. */
export type AttemptResult = { ok: true; httpStatus?: number } | { ok: false; retry: boolean; error: string; httpStatus?: number; retryAfterMs?: number }

export interface RetryOutcome {
  ok: boolean
  attempts: number
  error: string | null
  httpStatus: number | null
}

export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1))
  return Math.floor((policy.random ?? Math.random)() * ceiling)
}

const wait = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })

export async function withRetry(attempt: (n: number) => Promise<AttemptResult>, policy: RetryPolicy, signal?: AbortSignal, onAttempt?: (n: number, result: AttemptResult) => void): Promise<RetryOutcome> {
  let last: AttemptResult | undefined
  let n = 0
  while (n < policy.maxAttempts) {
    n += 1
    last = await attempt(n)
    onAttempt?.(n, last)
    if (last.ok || !last.retry || n >= policy.maxAttempts || signal?.aborted) break
    const asked = last.retryAfterMs === undefined ? 0 : Math.min(policy.maxMs, last.retryAfterMs)
    await wait(Math.max(asked, backoffMs(policy, n)), signal)
    if (signal?.aborted) break
  }
  if (!last) return { ok: false, attempts: 0, error: 'no attempt made', httpStatus: null }
  return { ok: last.ok, attempts: n, error: last.ok ? null : last.error, httpStatus: last.httpStatus ?? null }
}
