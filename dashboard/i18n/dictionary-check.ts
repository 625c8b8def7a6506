/**
 * For unit tests: the keys of a feature's dictionaries that are missing in one language or empty.
 * TypeScript already refuses a missing key; this also catches '' and functions returning ''.
 */
export function dictionaryProblems(dictionary: Record<string, unknown>): string[] {
  const problems: string[] = []
  const langs = Object.keys(dictionary)
  const walk = (path: string, values: unknown[]) => {
    const present = values.filter((v) => v !== undefined)
    if (present.length < values.length) return void problems.push(`${path}: missing in ${langs.filter((_, i) => values[i] === undefined).join(', ')}`)
    const first = values[0]
    if (typeof first === 'string') {
      values.forEach((v, i) => {
        if (typeof v !== 'string' || v.trim() === '') problems.push(`${path} [${langs[i]}]: empty`)
      })
    } else if (typeof first === 'function') {
      values.forEach((v, i) => {
        const out = typeof v === 'function' ? callWithSamples(v as (...a: unknown[]) => unknown) : undefined
        // A string, or a rendered fragment (texts with markup inside).
        const empty = typeof out === 'string' ? out.trim() === '' : out === null || typeof out !== 'object'
        if (empty) problems.push(`${path}(…) [${langs[i]}]: empty`)
      })
    } else if (first && typeof first === 'object') {
      const keys = new Set(values.flatMap((v) => (v && typeof v === 'object' ? Object.keys(v) : [])))
      for (const k of keys) walk(path ? `${path}.${k}` : k, values.map((v) => (v as Record<string, unknown> | undefined)?.[k]))
    }
  }
  walk('', langs.map((l) => dictionary[l]))
  return problems
}

/**
 * A stand-in for structured arguments (an object of figures, a set of formatters): any property is
 * itself, calling it gives '2', and it reads as '2' in a template or as a number.
 */
const anything: unknown = new Proxy(() => '2', { get: (_target, key) => (key === Symbol.toPrimitive ? () => '2' : anything) })

/** Interpolating functions take words, numbers, a function that marks a word up, or structured arguments: try each. */
function callWithSamples(f: (...a: unknown[]) => unknown): unknown {
  for (const sample of ['2', 2, (x: unknown) => x, anything]) {
    try {
      return f(sample, sample, sample, sample)
    } catch {
      // the next kind of sample
    }
  }
  return undefined
}
