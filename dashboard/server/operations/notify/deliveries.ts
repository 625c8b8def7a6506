import type { Logger } from 'pino'
import type { Notification } from '../../../shared/notify.ts'
import type { Mailer } from './email.ts'
import { withRetry, type AttemptResult, type RetryPolicy } from './retry.ts'
import type { ContactPoint, NotifyStoreAsync } from './store.ts'
import type { UrlPolicy } from './url-policy.ts'
import { postWebhook } from './webhook.ts'

/**
 * Deliveries: one notification to every enabled contact point, each on its own (a slow or broken
 * receiver delays no other), retried per the policy, each written to the delivery log as it goes
 * (sending → delivered | failed, attempts, last status and error). Close stops the retries' waits
 * and waits for the attempts under way.
 */

export interface DeliveriesOptions {
  store: NotifyStoreAsync
  /** Undefined without SMTP_URL: e-mail deliveries fail, saying so. */
  mailer?: Pick<Mailer, 'send'>
  /** NOTIFY_WEBHOOK_SECRET: for webhooks without their own. */
  defaultSecret?: string
  /** Where webhooks may go, checked at every attempt. */
  urlPolicy: UrlPolicy
  retry: RetryPolicy
  timeoutMs: number
  clock?: () => number
  logger?: Pick<Logger, 'warn' | 'info'>
}

export function createDeliveries(options: DeliveriesOptions) {
  const { store, retry } = options
  const clock = options.clock ?? Date.now
  const abort = new AbortController()
  const inFlight = new Set<Promise<unknown>>()
  const stats = { delivered: 0, failed: 0 }

  function attempt(cp: ContactPoint, n: Notification, body: string): Promise<AttemptResult> {
    if (cp.kind === 'webhook') {
      const secret = cp.secret ?? options.defaultSecret
      if (!secret) return Promise.resolve({ ok: false, retry: false, error: 'no secret to sign with: give the contact point one or set NOTIFY_WEBHOOK_SECRET' })
      return postWebhook({ url: cp.url!, secret, body, deliveryId: n.id, timeoutMs: options.timeoutMs, policy: options.urlPolicy, clock })
    }
    if (!options.mailer) return Promise.resolve({ ok: false, retry: false, error: 'e-mail is not configured: set SMTP_URL' })
    return options.mailer.send(cp.addresses, n)
  }

  /** Delivers to one contact point; resolves with the delivery log id once finished. */
  async function deliverTo(cp: ContactPoint, n: Notification, policy: RetryPolicy = retry): Promise<number> {
    const body = JSON.stringify(n)
    const id = await store.startDelivery({ contactPointId: cp.id, notificationId: n.id, status: n.status, summary: n.summary, at: clock() })
    const outcome = await withRetry(
      () => attempt(cp, n, body),
      policy,
      abort.signal,
      (count, result) => {
        if (!result.ok) void store.attempted(id, { attempts: count, httpStatus: result.httpStatus ?? null, error: result.error })
      },
    )
    await store.finishDelivery(id, { outcome: outcome.ok ? 'delivered' : 'failed', attempts: outcome.attempts, httpStatus: outcome.httpStatus, error: outcome.error, at: clock() })
    if (outcome.ok) stats.delivered += 1
    else {
      stats.failed += 1
      options.logger?.warn({ contactPoint: cp.id, notification: n.id, attempts: outcome.attempts, error: outcome.error }, 'notify: a delivery failed')
    }
    return id
  }

  function track<T>(p: Promise<T>): Promise<T> {
    inFlight.add(p)
    void p.finally(() => inFlight.delete(p)).catch(() => {})
    return p
  }

  return {
    /** To every enabled contact point, in the background. */
    send(n: Notification): void {
      if (abort.signal.aborted) return
      const sending = store.list().then((points) => {
        for (const cp of points) {
          if (!cp.enabled || abort.signal.aborted) continue
          track(deliverTo(cp, n)).catch((err: unknown) => options.logger?.warn({ err, contactPoint: cp.id }, 'notify: could not record a delivery'))
        }
      })
      track(sending).catch((err: unknown) => options.logger?.warn({ err }, 'notify: could not read the contact points'))
    },

    /** One delivery, one attempt (the API's "send test"): resolves with the log entry. */
    async test(cp: ContactPoint, n: Notification) {
      const id = await track(deliverTo(cp, n, { ...retry, maxAttempts: 1 }))
      return (await store.getDelivery(id))!
    },

    /** Resolves when every delivery under way has finished (tests). */
    async idle(): Promise<void> {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight])
    },

    stats: () => ({ ...stats, inFlight: inFlight.size }),

    /** Stops retrying (waits end at once) and waits for attempts under way (each bounded by the timeout). */
    async close(): Promise<void> {
      abort.abort()
      await Promise.allSettled([...inFlight])
    },
  }
}

export type Deliveries = ReturnType<typeof createDeliveries>
