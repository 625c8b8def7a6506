import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUrlPolicy, parseAllowList } from './url-policy.ts'
import { postWebhook } from './webhook.ts'

/** One webhook attempt over real loopback HTTP (node:http, the URL policy's lookup): how each kind of answer is read. */

let base: string
const hits: string[] = []
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  hits.push(req.url ?? '')
  req.resume()
  if (req.url === '/slow') return // never answers
  if (req.url === '/busy') return void res.writeHead(429, { 'retry-after': '3' }).end()
  if (req.url === '/moved') return void res.writeHead(302, { location: `${base}/elsewhere` }).end()
  res.writeHead(204).end()
})

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const attempt = (path: string, timeoutMs = 5000) =>
  postWebhook({ url: `${base}${path}`, secret: 'a-secret-of-16-chars', body: '{}', deliveryId: 'd-1', timeoutMs, policy: createUrlPolicy({ allow: parseAllowList('127.0.0.1') }) })

describe('a webhook attempt', () => {
  it('delivers on 2xx', async () => {
    expect(await attempt('/ok')).toEqual({ ok: true, httpStatus: 204 })
  })

  it('gives up on a receiver that does not answer in time, worth another attempt', async () => {
    expect(await attempt('/slow', 300)).toEqual({ ok: false, retry: true, error: `could not reach ${new URL(base).host}: no answer within 300 ms` })
  })

  it('reads Retry-After on 429', async () => {
    expect(await attempt('/busy')).toMatchObject({ ok: false, retry: true, httpStatus: 429, retryAfterMs: 3000 })
  })

  it('does not follow a redirect (it could lead past the URL policy): final', async () => {
    hits.length = 0
    expect(await attempt('/moved')).toMatchObject({ ok: false, retry: false, httpStatus: 302, error: 'HTTP 302 (not retried)' })
    expect(hits).toEqual(['/moved'])
  })
})
