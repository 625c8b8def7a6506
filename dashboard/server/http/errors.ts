import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type, { type Static, type TSchema } from 'typebox'
import { RegistryError } from '../../../devices/registry.ts'
import { ScryptBusyError } from '../../../devices/secrets.ts'
import { AccountError } from '../identity/accounts.ts'
import { StorageUnavailableError } from '../../../ingest/storage/contract.ts'
import type { ValidationIssue } from './validation.ts'
import { words, WordsSchema, type Words } from '../../shared/words.ts'

/**
 * The API's one error shape, `{ "error": { "status", "code", "message", "words"? } }` (`words`: the
 * message's code and figures, for the pages to word in their language), and the one error
 * handler (plus the not-found handler) that turns everything thrown in a route, a hook, the body
 * parser or the validator into it. Routes throw ApiError; nothing else builds error bodies.
 */

export const ERROR_CODES = {
  400: 'validation',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  429: 'too-many-requests',
  500: 'internal',
  503: 'unavailable',
} as const
export type ErrorStatus = keyof typeof ERROR_CODES

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      status: Type.Integer({ description: 'The HTTP status, repeated for scripts that only keep the body.' }),
      code: Type.String({ description: `One of: ${[...new Set(Object.values(ERROR_CODES))].join(', ')}, bad-request.` }),
      message: Type.String({ description: 'What was wrong, precise enough to fix the request (English).' }),
      words: Type.Optional({ ...WordsSchema, description: 'What the message says as a code and its figures and field names, for a page to word it in its language.' }),
    }),
  },
  { description: 'Every error the API returns has this shape.' },
)
export type ErrorBody = Static<typeof ErrorSchema>

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** What the message says, for a page to word in its language (shared/words.ts). */
    readonly words?: Words,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export const badRequest = (message: string, words?: Words) => new ApiError(400, 'validation', message, {}, words)
export const unauthorized = (message: string, words?: Words) => new ApiError(401, 'unauthorized', message, { 'www-authenticate': 'Bearer realm="piazza"' }, words)
export const forbidden = (message: string, words?: Words) => new ApiError(403, 'forbidden', message, {}, words)
export const notFound = (message: string, words?: Words) => new ApiError(404, 'not-found', message, {}, words)
export const tooManyRequests = (message: string, retryAfterSeconds: number, words?: Words) =>
  new ApiError(429, 'too-many-requests', message, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) }, words)

/** Response schemas for the error statuses a route can answer with, for the OpenAPI document. */
export function errorResponses(...statuses: ErrorStatus[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {}
  for (const status of statuses) out[status] = ErrorSchema
  return out
}

const CONTEXT_NOUN: Record<string, string> = { querystring: 'query parameter', params: 'path parameter', headers: 'header', body: 'field' }

const dotted = (path: string) => path.replace(/^\//, '').split('/').join('.')

function label(context: string, path: string): string {
  const name = dotted(path)
  if (!name) return context === 'body' ? 'the body' : `the ${context}`
  return `${CONTEXT_NOUN[context] ?? context} '${name}'`
}

const article = (noun: string) => (/^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`)

function show(value: unknown): string {
  if (value === undefined) return 'nothing'
  const text = JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}…` : text
}

/** One sentence for the first thing wrong: the field, what it must be, and what it was. */
export function describeValidation(issues: readonly ValidationIssue[], context: string): string {
  return explainValidation(issues, context).message
}

const LIMITS = ['minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minItems', 'maxItems']

/**
 * describeValidation's sentence and its words (shared/words.ts): `context` (body, querystring,
 * params, headers), `path` (the dotted field name, '' for the whole) and what was wrong, for the
 * page to say in its language.
 */
export function explainValidation(issues: readonly ValidationIssue[], context: string): { message: string; words: Words } {
  const noun = CONTEXT_NOUN[context] ?? 'field'
  const extra = issues.find((e) => e.keyword === 'additionalProperties')
  if (extra) {
    const names = extra.params.additionalProperties
    const name = Array.isArray(names) ? String(names[0]) : String(names)
    const inside = extra.instancePath ? ` in ${label(context, extra.instancePath)}` : ''
    const allowed = extra.allowed?.length ? extra.allowed.join(', ') : undefined
    return {
      message: `unknown ${noun} '${name}'${inside}${allowed ? ` (allowed: ${allowed})` : ''}`,
      words: words('unknown-field', { context, name, inside: extra.instancePath ? dotted(extra.instancePath) : undefined, allowed }),
    }
  }
  const required = issues.find((e) => e.keyword === 'required')
  if (required) {
    const names = required.params.requiredProperties ?? required.params.missingProperty
    const name = [dotted(required.instancePath), Array.isArray(names) ? String(names[0]) : String(names)].filter(Boolean).join('.')
    return { message: `missing required ${noun} '${name}'`, words: words('required', { context, path: name }) }
  }
  // A union reports each branch's failure, then the anyOf: say what the branches allow.
  const union = issues.find((e) => e.keyword === 'anyOf')
  if (union) {
    const branches = issues.filter((e) => e.instancePath === union.instancePath && e !== union)
    const what = label(context, union.instancePath)
    const at = { context, path: dotted(union.instancePath), got: show(union.data) }
    const consts = branches.filter((e) => e.keyword === 'const').map((e) => String(e.params.allowedValue))
    if (consts.length) return { message: `${what} must be one of ${consts.join(', ')}; got ${show(union.data)}`, words: words('one-of', { ...at, allowed: consts.join(', ') }) }
    const types = branches.filter((e) => e.keyword === 'type').map((e) => String(e.params.type))
    if (types.length) return { message: `${what} must be ${types.map(article).join(' or ')}; got ${show(union.data)}`, words: words('type', { ...at, types: types.join(',') }) }
    return { message: `${what} ${union.message ?? 'is invalid'}; got ${show(union.data)}`, words: words('invalid', { ...at, message: union.message ?? 'is invalid' }) }
  }
  const first = issues.find((e) => e.keyword !== 'boolean') ?? issues[0]
  if (!first) return { message: `the ${context} is invalid`, words: words('invalid-request', { context }) }
  const where = label(context, first.instancePath)
  const at = { context, path: dotted(first.instancePath), got: show(first.data) }
  switch (first.keyword) {
    case 'enum': {
      const allowed = (first.params.allowedValues as unknown[]).map(String).join(', ')
      return { message: `${where} must be one of ${allowed}; got ${show(first.data)}`, words: words('one-of', { ...at, allowed }) }
    }
    case 'const':
      return { message: `${where} must be ${show(first.params.allowedValue)}; got ${show(first.data)}`, words: words('const', { ...at, value: show(first.params.allowedValue) }) }
    case 'type':
      return { message: `${where} must be ${article(String(first.params.type))}; got ${show(first.data)}`, words: words('type', { ...at, types: String(first.params.type) }) }
    case 'pattern':
      return { message: `${where} must match ${String(first.params.pattern)}; got ${show(first.data)}`, words: words('pattern', { ...at, pattern: String(first.params.pattern) }) }
    case 'format':
      return { message: `${where} ${first.message ?? 'is invalid'}; got ${show(first.data)}`, words: words('format', { ...at, message: first.message ?? 'is invalid', format: String(first.params.format) }) }
    default: {
      const message = first.message ?? 'is invalid'
      const limit = LIMITS.includes(first.keyword) && typeof first.params.limit === 'number' ? first.params.limit : undefined
      return { message: `${where} ${message}; got ${show(first.data)}`, words: words(limit === undefined ? 'invalid' : first.keyword, { ...at, message, limit }) }
    }
  }
}

function toApiError(error: unknown, bodyLimitBytes: number): ApiError {
  if (error instanceof ApiError) return error
  if (error instanceof RegistryError || error instanceof AccountError) {
    const status = error.code === 'conflict' ? 409 : error.code === 'not-found' ? 404 : 400
    return new ApiError(status, ERROR_CODES[status], error.message, {}, error.words)
  }
  if (error instanceof ScryptBusyError) {
    // Password hashing is queued full (creating a user, setting a password): refused at once.
    return new ApiError(503, 'unavailable', error.message, { 'retry-after': '2' })
  }
  if (error instanceof StorageUnavailableError) {
    const headers: Record<string, string> = error.retryAfterMs ? { 'retry-after': String(Math.ceil(error.retryAfterMs / 1000)) } : {}
    return new ApiError(503, 'unavailable', `storage is unavailable: ${error.message}`, headers)
  }
  const e = error as Partial<FastifyError> & { validation?: ValidationIssue[]; validationContext?: string }
  if (e.validation) {
    const { message, words } = explainValidation(e.validation, e.validationContext ?? 'request')
    return badRequest(message, words)
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500
  if (status >= 400 && status < 500) {
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, 'payload-too-large', `the request body is larger than the limit of ${formatBytes(bodyLimitBytes)}`)
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return new ApiError(415, 'unsupported-media-type', 'send the body as JSON with Content-Type: application/json')
    }
    const code = ERROR_CODES[status as ErrorStatus] ?? 'bad-request'
    return new ApiError(status, status === 400 ? 'bad-request' : code, e.message ?? 'bad request')
  }
  return new ApiError(500, 'internal', 'internal error; the server log has the details')
}

export function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  const body: ErrorBody = { error: { status: error.status, code: error.code, message: error.message, ...(error.words ? { words: error.words } : {}) } }
  return reply.status(error.status).headers(error.headers).type('application/json; charset=utf-8').send(body)
}

export interface ErrorHandlingOptions {
  /** Tried first for unmatched requests; returns true when it answered (e.g. the SPA's index.html). */
  fallback?: (request: FastifyRequest, reply: FastifyReply) => boolean | Promise<boolean>
  bodyLimitBytes: number
}

export function installErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions): void {
  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error, options.bodyLimitBytes)
    if (apiError.status >= 500) request.log.error({ err: error }, 'request failed')
    else request.log.info({ status: apiError.status, code: apiError.code, reason: apiError.message }, 'request refused')
    return sendError(reply, apiError)
  })
  app.setNotFoundHandler(async (request, reply) => {
    if (options.fallback && (await options.fallback(request, reply))) return reply
    const path = request.url.split('?')[0]
    return sendError(reply, notFound(`no route ${request.method} ${path}`))
  })
}

function formatBytes(n: number): string {
  if (n % 1_048_576 === 0) return `${n / 1_048_576} MiB`
  if (n % 1024 === 0) return `${n / 1024} KiB`
  return `${n} bytes`
}
