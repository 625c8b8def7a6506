import Type, { type Static } from 'typebox'

/**
 * What a server-written sentence says, for a page to word it in its language: a code and the
 * figures and names it gives (field keys, numbers, seconds, device names). The sentence itself
 * stays in English beside it (API clients, logs, e-mail); a page that does not know the code shows
 * the English one. Used by alert messages, rule descriptions and error bodies.
 *
 * Browser-safe: imports typebox only.
 */
export const WordsSchema = Type.Object({
  code: Type.String(),
  params: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()])),
})
export type Words = Static<typeof WordsSchema>

/** Words from a code and its params, dropping the params left undefined. */
export function words(code: string, params: Record<string, string | number | undefined> = {}): Words {
  const kept: Words['params'] = {}
  for (const [k, v] of Object.entries(params)) if (v !== undefined) kept[k] = v
  return { code, params: kept }
}
