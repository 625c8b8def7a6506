import type { FastifyInstance } from 'fastify'

/**
 * Security headers on every answer. The CSP fits a Vite build (scripts and styles from our own
 * origin; inline style attributes, which maplibre and charts set), maplibre's workers (blob:)
 * and tiles/styles from the configured map host over HTTPS. API answers are not to be cached.
 * Swagger UI sets its own CSP for /api/docs (its onSend hook runs after this one).
 */
export function contentSecurityPolicy(mapStyleUrl?: string, frameAncestors = "'none'"): string {
  let mapOrigin = ''
  if (mapStyleUrl) {
    try {
      mapOrigin = ` ${new URL(mapStyleUrl).origin}`
    } catch {
      // A relative style URL is served from our own origin.
    }
  }
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `img-src 'self' data: blob: https:${mapOrigin}`,
    "font-src 'self' data:",
    `connect-src 'self' https:${mapOrigin}`,
    "worker-src 'self' blob:",
    "child-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ')
}

export function installSecurityHeaders(app: FastifyInstance, options: { mapStyleUrl?: string }): void {
  const csp = contentSecurityPolicy(options.mapStyleUrl)
  // The citizens' widget (/widget/<city>) is made to be embedded: any site may frame it.
  const framableCsp = contentSecurityPolicy(options.mapStyleUrl, '*')
  app.addHook('onSend', async (request, reply, payload) => {
    const framable = request.url.startsWith('/widget/')
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'strict-origin-when-cross-origin')
    if (!framable) reply.header('x-frame-options', 'DENY')
    reply.header('cross-origin-opener-policy', 'same-origin')
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', framable ? framableCsp : csp)
    if (request.url.startsWith('/api/') && !request.url.startsWith('/api/docs') && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    return payload
  })
}
