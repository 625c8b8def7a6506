import nodemailer, { type Transporter } from 'nodemailer'
import type { Notification } from '../../../shared/notify.ts'
import type { AttemptResult } from './retry.ts'

/**
 * Notifications by e-mail over SMTP (nodemailer): a plain-text message, Italian first, then
 * English. SMTP_URL names the server (smtp://user:password@host:587, smtps:// for TLS from the
 * start); SMTP_FROM the sender. A 5xx answer from the server is final; anything else (a refused
 * connection, a 4xx "try later") is worth another attempt.
 */

export interface MailerOptions {
  smtpUrl: string
  from: string
  timeoutMs: number
}

const fmt = (v: number | null) => (v === null ? '—' : String(v))

export function emailSubject(n: Notification): string {
  return `[Piazza] ${n.summaryIt} / ${n.summary}`
}

export function emailText(n: Notification): string {
  const list = n.devices.map((d) => `  - ${d.name} (${d.id}): ${d.message}`)
  if (n.more > 0) list.push(`  … +${n.more}`)
  const when = n.sentAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
  const it = [
    n.summaryIt,
    '',
    n.status === 'test'
      ? 'Questo è un messaggio di prova: il punto di contatto funziona.'
      : `Regola: ${n.group.ruleName} (gravità ${n.group.severity}), città: ${n.group.city}`,
    ...(n.status === 'firing' ? [`Allarmi attivi: ${n.count}, nuovi: ${n.newAlerts}`] : []),
    ...(n.status === 'resolved' ? [`Allarmi risolti: ${n.newAlerts}`] : []),
    ...(list.length > 0 ? ['Dispositivi:', ...list] : []),
    `Inviato: ${when}`,
  ]
  const en = [
    n.summary,
    '',
    n.status === 'test' ? 'This is a test message: the contact point works.' : `Rule: ${n.group.ruleName} (severity ${n.group.severity}), city: ${n.group.city}`,
    ...(n.status === 'firing' ? [`Active alerts: ${n.count}, new: ${n.newAlerts}`] : []),
    ...(n.status === 'resolved' ? [`Resolved alerts: ${n.newAlerts}`] : []),
    ...(list.length > 0 ? ['Devices: see the list above.'] : []),
    `Sent: ${when}`,
  ]
  return [...it, '', '—', '', ...en, '', `Notification ${n.id}`, ''].join('\n')
}

export function createMailer(options: MailerOptions) {
  const transport: Transporter = nodemailer.createTransport(options.smtpUrl, {
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
  } as never)

  return {
    async send(to: readonly string[], n: Notification): Promise<AttemptResult> {
      try {
        await transport.sendMail({
          from: options.from,
          to: [...to],
          subject: emailSubject(n),
          text: emailText(n),
          headers: { 'X-Piazza-Notification': n.id, 'X-Piazza-Status': n.status },
        })
        return { ok: true }
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode
        const final = code !== undefined && code >= 500 && code < 600
        return { ok: false, retry: !final, error: `SMTP: ${(err as Error).message}${final ? ' (not retried)' : ''}` }
      }
    },
    close(): void {
      transport.close()
    },
  }
}

export type Mailer = ReturnType<typeof createMailer>
