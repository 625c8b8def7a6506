import { createHmac } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import type { AttemptResult } from './retry.ts'
import type { UrlPolicy } from './url-policy.ts'

/**
 * One webhook attempt: the notification's JSON POSTed to the contact point's URL, signed so the
 * receiver can tell it came from Piazza and is not a replay:
 *   X-Piazza-Timestamp: <unix seconds when this attempt was sent>
 *   X-Piazza-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>" with the secret>
 *   X-Piazza-Delivery: <notification id> (the same in every attempt: deduplicate on it)
 * A receiver recomputes the HMAC over the raw body and rejects stale timestamps (e.g. > 5 min).
 * Network errors, timeouts, 5xx and 429 are worth another attempt; any other status is final, and
 * so is a target the URL policy refuses. Redirects are not followed (a 3xx is final).
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
  /** Where webhooks may go (url-policy.ts): checked again here, at the address connected to. */
  policy: UrlPolicy
  clock?: () => number
}

interface Answer {
  status: number
  retryAfter: string | null
}

/**
 * One POST through node:http(s) (not fetch) so the policy's lookup decides the address connected
 * to. No shared agent: a pooled connection, perhaps opened by other code of the process to the same
 * host without the policy, is never reused; each attempt connects, and is checked, anew.
 */
function post(url: URL, lookup: LookupFunction, headers: Record<string, string>, body: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, { method: 'POST', headers, lookup, agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      // The body is not needed; reading it frees the connection.
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: (res.headers['retry-after'] as string | undefined) ?? null }))
      res.on('error', reject)
    })
    request.on('error', reject)
    request.end(body)
  })
}

export async function postWebhook(req: WebhookRequest): Promise<AttemptResult> {
  const now = (req.clock ?? Date.now)()
  const timestamp = Math.floor(now / 1000)
  let target: ReturnType<UrlPolicy['forRequest']>
  try {
    target = req.policy.forRequest(req.url)
  } catch (err) {
    return { ok: false, retry: false, error: (err as Error).message }
  }
  let res: Answer
  try {
    const body = Buffer.from(req.body)
    res = await post(
      target.url,
      target.lookup,
      {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'user-agent': 'Piazza-Notifier/1',
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signature(req.secret, timestamp, req.body),
        [DELIVERY_HEADER]: req.deliveryId,
      },
      req.body,
      req.timeoutMs,
    )
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    // Refused by the policy at connection time (the name resolved to an address it does not allow): final.
    if (e.code === 'ERR_WEBHOOK_REFUSED') return { ok: false, retry: false, error: e.message }
    const detail = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${req.timeoutMs} ms` : (e.code ?? e.message)
    return { ok: false, retry: true, error: `could not reach ${target.url.host}: ${detail}` }
  }
  if (res.status >= 200 && res.status < 300) return { ok: true, httpStatus: res.status }
  const retry = res.status >= 500 || res.status === 429
  return { ok: false, retry, httpStatus: res.status, error: `HTTP ${res.status}${retry ? '' : ' (not retried)'}`, retryAfterMs: retryAfter(res.retryAfter, now) }
}
