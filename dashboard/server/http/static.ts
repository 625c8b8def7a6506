import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { existsSync, readFileSync } from 'node:fs'
import { basename, extname, join, resolve, sep } from 'node:path'

/**
 * The dashboard's production build (Vite output) at `/`. Hashed files under assets/ are cached
 * for a year; index.html and everything else must revalidate, so a deploy shows at once. Paths
 * that are not files and look like app routes (no extension, not /api) get index.html: the SPA
 * fallback, answered through the not-found handler: the operators' app lives at `/dashboard`
 * (and its sub-paths). `/` itself is the citizens' page (public/pages.ts), whose build sits in
 * public/ (hashed files under public/assets/, cached for a year too).
 */

const SERVER_PATHS = /^\/(api|metrics|socket\.io)(\/|$)/
/** The citizens' build (dashboard/dist/public, served at /public/) and widget: never the operators' app. */
const PUBLIC_PATHS = /^\/(public|widget)(\/|$)/
/** The operators' app: it shows its own "not found" for sub-paths it does not know. */
const OPERATOR_PATHS = /^\/dashboard(\/|$)/

/** Returns the fallback for the not-found handler, or undefined when there is nothing to serve. */
export async function registerStatic(app: FastifyInstance, staticDir: string | undefined): Promise<((request: FastifyRequest, reply: FastifyReply) => boolean) | undefined> {
  if (!staticDir) return undefined
  const root = resolve(staticDir)
  const operators = existsSync(join(root, 'index.html'))
  if (!operators && !existsSync(join(root, 'public', 'public.html'))) {
    app.log.warn({ staticDir: root }, 'no index.html in the static directory: the dashboard is not built, only the API is served')
    return undefined
  }
  const assets = `${sep}assets${sep}`
  const publicAssets = `${sep}public${sep}assets${sep}`
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: ['index.html'],
    cacheControl: false,
    dotfiles: 'ignore',
    setHeaders(reply, path) {
      const longLived = (path.startsWith(join(root, assets)) || path.startsWith(join(root, publicAssets))) && basename(path) !== 'index.html'
      reply.header('cache-control', longLived ? 'public, max-age=31536000, immutable' : 'no-cache')
    },
  })

  const publicPage = join(root, 'public', 'public.html')
  return (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false
    const path = request.url.split('?')[0]!
    if (SERVER_PATHS.test(path) || PUBLIC_PATHS.test(path) || extname(path) !== '') return false
    // Outside the operators' app, an unknown address is the citizens' 404: their page, which says
    // "not found" in their language and links home (status 404, so nothing indexes it).
    if (!OPERATOR_PATHS.test(path) && existsSync(publicPage)) {
      void reply.code(404).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(readFileSync(publicPage, 'utf8'))
      return true
    }
    if (!operators) return false
    void reply.header('cache-control', 'no-cache').sendFile('index.html')
    return true
  }
}
