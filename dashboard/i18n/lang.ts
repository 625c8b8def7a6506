/**
 * The languages of every Piazza page (citizens', operators', installers', admins'): Italian and
 * English. One approach for the three apps: each feature keeps its strings as a typed dictionary
 * `{ en: {...}, it: {...} }` beside its code (TypeScript refuses a dictionary with a missing
 * string), and this module says which language a visitor gets and how numbers and times read.
 *
 * The language is the choice made on a page (remembered in localStorage, shared by all the apps
 * of the origin), else the first of Italian or English the browser prefers, else English.
 */

export type Lang = 'it' | 'en'
export const LANGS: readonly Lang[] = ['it', 'en']
/** One remembered choice for every app. */
export const LANG_KEY = 'piazza.lang'
/** Where the citizens' page remembered the choice before the staff pages were translated. */
const OLD_LANG_KEY = 'piazza.public.lang'

export const LOCALES: Record<Lang, string> = { it: 'it-IT', en: 'en-GB' }
/** Times are shown in Tuscany's time, wherever the reader is. */
export const TIME_ZONE = 'Europe/Rome'

export function isLang(value: unknown): value is Lang {
  return value === 'it' || value === 'en'
}

export function detectLanguage(stored: string | null, languages: readonly string[] | undefined, documentLang?: string): Lang {
  if (isLang(stored)) return stored
  for (const l of languages ?? []) {
    const primary = l.toLowerCase().split('-')[0]
    if (isLang(primary)) return primary
  }
  if (isLang(documentLang)) return documentLang
  return 'en'
}

function stored(): string | null {
  try {
    return localStorage.getItem(LANG_KEY) ?? localStorage.getItem(OLD_LANG_KEY)
  } catch {
    return null // private mode: no storage
  }
}

export function initialLanguage(): Lang {
  return detectLanguage(stored(), navigator.languages?.length ? navigator.languages : [navigator.language], document.documentElement.lang)
}

export function rememberLanguage(lang: Lang): void {
  try {
    localStorage.setItem(LANG_KEY, lang)
  } catch {
    // private mode: the choice lasts as long as the page
  }
}
