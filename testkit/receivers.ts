import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'

/** Loopback receivers for notification tests: a webhook endpoint and a real SMTP server. */

export interface ReceivedRequest {
  headers: IncomingHttpHeaders
  body: string
}

export interface WebhookReceiver {
  /** The receiver's URL with `path`. */
  url(path?: string): string
  /** The NOTIFY_WEBHOOK_ALLOW entry that lets webhooks reach it (loopback is refused by default). */
  allow: string
  /** Every request, in arrival order (tests may empty it). */
  received: ReceivedRequest[]
  close(): Promise<void>
}

/** An HTTP server that keeps every request; `status()` chooses each answer's status (default 200). */
export async function startWebhookReceiver(status: () => number = () => 200): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      res.statusCode = status()
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    allow: `127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

export interface ReceivedMail {
  envelope: { from: string; to: string[] }
  mail: ParsedMail
  /** The user that logged in, when the server asks for a login. */
  user?: string
}

export interface SmtpReceiver {
  port: number
  mails: ReceivedMail[]
  close(): Promise<void>
}

/** smtp-server on loopback, plain (no STARTTLS); with `login`, AUTH is required and checked. */
export async function startSmtpReceiver(login?: { user: string; password: string }): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = []
  const smtp = new SMTPServer({
    disabledCommands: login ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !login,
    logger: false,
    onAuth: (auth, _session, cb) => (login && auth.username === login.user && auth.password === login.password ? cb(null, { user: auth.username }) : cb(new Error('invalid login'))),
    onData: (stream, session, cb) => {
      simpleParser(stream).then(
        (mail) => {
          const from = session.envelope.mailFrom
          mails.push({ envelope: { from: from ? from.address : '', to: session.envelope.rcptTo.map((r) => r.address) }, mail, user: session.user as string | undefined })
          cb()
        },
        (err: Error) => cb(err),
      )
    },
  })
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve))
  return {
    port: (smtp.server.address() as AddressInfo).port,
    mails,
    close: () => new Promise<void>((resolve) => smtp.close(() => resolve())),
  }
}
