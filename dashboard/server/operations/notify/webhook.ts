import { createHmac } from 'node:crypto'
import type { AttemptResult } from './retry.ts'

/**
 * One webhook attempt: the notification's JSON POSTed to the contact point's URL, signed so the
 * receiver can tell it came from Piazza and is not a replay:
 *   X-Piazza-Timestamp: <unix seconds when this attempt was sent>
 *   X-Piazza-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>" with the secret>
 *   X-Piazza-Delivery: <notification id> (the same in every attempt: deduplicate on it)
 * A receiver recomputes the HMAC over the raw body and rejects stale timestamps (e.g. > 5 min).
 * Network errors, timeouts, 5xx and 429 are worth another attempt; any other status is final.
 */

export const SIGNATURE_HEADER = 'x-piazza-signature'
export const TIMESTAMP_HEADER = 'x-piazza-timestamp'
export const DELIVERY_HEADER = 'x-piazza-delivery'

export function signature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/** Retry-After in seconds or as an HTTP date, in ms; undefined when absent or unreadable. */
function retryAfter(header: string | null, now: number): number | undefined {
  if (!header) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

export interface WebhookRequest {
  url: string
  secret: string
  body: string
  deliveryId: string
  timeoutMs: number
  clock?: () => number
}

export async function postWebhook(req: WebhookRequest): Promise<AttemptResult> {
  const now = (req.clock ?? Date.now)()
  const timestamp = Math.floor(now / 1000)
  let res: Response
  try {
    res = await fetch(req.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Piazza-Notifier/1',
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signature(req.secret, timestamp, req.body),
        [DELIVERY_HEADER]: req.deliveryId,
      },
      body: req.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(req.timeoutMs),
    })
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    const detail = (err as Error).name === 'TimeoutError' ? `no answer within ${req.timeoutMs} ms` : (cause?.code ?? cause?.message ?? (err as Error).message)
    return { ok: false, retry: true, error: `could not reach ${new URL(req.url).host}: ${detail}` }
  }
  // The body is not needed; reading it frees the connection.
  await res.arrayBuffer().catch(() => undefined)
  if (res.status >= 200 && res.status < 300) return { ok: true, httpStatus: res.status }
  const retry = res.status >= 500 || res.status === 429
  return { ok: false, retry, httpStatus: res.status, error: `HTTP ${res.status}${retry ? '' : ' (not retried)'}`, retryAfterMs: retryAfter(res.headers.get('retry-after'), now) }
}
