import type { FastifySchemaCompiler } from 'fastify'
import Type, { type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'

/**
 * Request validation with TypeBox itself (the route schemas are TypeBox): bodies are checked as
 * sent (no coercion: a number is not a string), query strings and path parameters get their
 * defaults and are converted from text first. Unknown fields are refused wherever a schema says
 * additionalProperties: false. Errors go to errors.ts, which turns the first into one sentence.
 */

export interface ValidationIssue {
  keyword: string
  instancePath: string
  schemaPath: string
  params: Record<string, unknown>
  message?: string
  /** The offending value. */
  data?: unknown
  /** For additionalProperties: the names the schema allows there. */
  allowed?: string[]
}

function pointer<T>(root: unknown, path: string): T | undefined {
  let node = root
  for (const raw of path.split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')]
  }
  return node as T
}

export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const checker = Compile(schema)
  const convert = httpPart !== 'body'
  return (input: unknown) => {
    let value = Value.Default(schema, input ?? (convert ? {} : input))
    if (convert) value = Value.Convert(schema, value)
    if (checker.Check(value)) return { value }
    const issues: ValidationIssue[] = checker.Errors(value).map((e) => {
      const issue: ValidationIssue = { ...(e as unknown as ValidationIssue), data: pointer(value, e.instancePath) }
      if (e.keyword === 'additionalProperties') {
        const at = pointer<{ properties?: object }>(schema, e.schemaPath.replace(/^#/, ''))
        issue.allowed = Object.keys(at?.properties ?? {})
      }
      return issue
    })
    return { error: issues as unknown as Error }
  }
}

/** For routes that take no query parameters: anything in the query string is refused. */
export const NoQuerySchema = Type.Object({}, { additionalProperties: false })
