/**
 * The order people expect for names with numbers in them: "#2" before "#10", "Via Roma 9" before
 * "Via Roma 10", case and accents ignored ("Ósmosi" beside "Osmosi"). One collator for the server's
 * paged lists, so page 2 continues page 1 exactly as a user reading them would.
 */
const collator = new Intl.Collator('it', { numeric: true, sensitivity: 'base' })

export const naturalCompare = (a: string, b: string): number => collator.compare(a, b)

/** Ascending or descending: the two orders the list APIs offer. */
export type SortOrder = 'asc' | 'desc'
