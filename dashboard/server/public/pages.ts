import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import Type from 'typebox'
import { cities, findCity } from '../../../devices/region.ts'
import type { Accounts } from '../identity/accounts.ts'
import { SESSION_COOKIE } from '../identity/auth.ts'
import { notFound } from '../http/errors.ts'
import type { Api } from '../http/types.ts'

/**
 * The citizens' pages: `/` (the public air-quality page, for everyone: staff find their way to
 * `/dashboard` on it) and `/widget/<city>` (an embeddable card, the one page any
 * site may frame: see security.ts). Both are HTML shells of the public build in
 * `<staticDir>/public/`, whose assets are under `/public/`.
 */

export interface PageDeps {
  staticDir?: string
  accounts: Pick<Accounts, 'authenticate'>
}

/** 'it' when the visitor's most preferred language is Italian, else 'en'. */
export function preferredLanguage(acceptLanguage: string | undefined): 'it' | 'en' {
  if (!acceptLanguage) return 'it'
  const ranges = acceptLanguage
    .split(',')
    .map((part, i) => {
      const [tag = '', ...params] = part.split(';').map((s) => s.trim())
      const q = params.find((p) => p.startsWith('q='))
      return { lang: tag.toLowerCase().split('-')[0]!, q: q ? Number(q.slice(2)) : 1, i }
    })
    .filter((r) => r.q > 0 && (r.lang === 'it' || r.lang === 'en'))
    .sort((a, b) => b.q - a.q || a.i - b.i)
  return ranges[0]?.lang === 'en' ? 'en' : ranges[0]?.lang === 'it' ? 'it' : 'en'
}

async function readIfExists(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined
  try {
    return await readFile(file, 'utf8')
  } catch {
    return undefined
  }
}

export function registerPages(app: Api, deps: PageDeps): void {
  const root = deps.staticDir ? resolve(deps.staticDir) : undefined
  const file = (...parts: string[]) => (root ? join(root, ...parts) : undefined)

  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    reply.header('cache-control', 'no-cache').header('vary', 'Cookie, Accept-Language')
    const page = await readIfExists(file('public', 'public.html'))
    if (page) {
      const lang = preferredLanguage(request.headers['accept-language'])
      // Staff see the citizens' page too; it marks them so the page offers the way to the dashboard.
      const token = request.cookies[SESSION_COOKIE]
      const staff = token && (await deps.accounts.authenticate(token, { touch: false })) ? ' data-staff="true"' : ''
      return reply.type('text/html; charset=utf-8').send(page.replace(/<html lang="[a-z-]*"/, `<html lang="${lang}"${staff}`))
    }
    // Without the public build, the operators' app keeps answering at / as it always did.
    const operators = await readIfExists(file('index.html'))
    if (operators) return reply.type('text/html; charset=utf-8').send(operators)
    throw notFound('the public pages are not built: build the dashboard (npx vite build --config dashboard/vite.public.config.ts)')
  })

  app.get(
    '/widget/:city',
    {
      schema: {
        hide: true,
        params: Type.Object({ city: Type.String({ maxLength: 40 }) }),
        querystring: Type.Object({ theme: Type.Optional(Type.Union([Type.Literal('light'), Type.Literal('dark')])), lang: Type.Optional(Type.Union([Type.Literal('it'), Type.Literal('en')])) }),
      },
    },
    async (request, reply) => {
      const known = findCity(request.params.city)
      const page = await readIfExists(file('public', 'widget.html'))
      if (!known && !page) throw notFound(`no city '${request.params.city}'; cities: ${cities.map((c) => c.id).join(', ')}`)
      if (!page) throw notFound('the widget is not built: build the dashboard (npx vite build --config dashboard/vite.public.config.ts)')
      // An unknown city: the widget itself says so, in the frame where it was embedded (status 404).
      if (!known) void reply.code(404)
      const lang = request.query.lang ?? preferredLanguage(request.headers['accept-language'])
      return reply
        .header('cache-control', 'no-cache')
        .header('vary', 'Accept-Language')
        .type('text/html; charset=utf-8')
        .send(page.replace(/<html lang="[a-z-]*"/, `<html lang="${lang}"`))
    },
  )
}
