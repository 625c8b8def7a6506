/**
 * Station names in the order people read them: "#2" before "#10", accents and case folded as the
 * visitor's language does ("Viale" next to "viale"). Text order would put #10 and #11 before #2.
 */
const collators = new Map<string, Intl.Collator>()

function collator(lang: string): Intl.Collator {
  let c = collators.get(lang)
  if (!c) collators.set(lang, (c = new Intl.Collator(lang, { numeric: true, sensitivity: 'base' })))
  return c
}

/** A sorted copy; ties (same name) keep a stable order by id. */
export function byName<T extends { name: string; id: string }>(items: readonly T[], lang: string): T[] {
  const c = collator(lang)
  return [...items].sort((a, b) => c.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}
