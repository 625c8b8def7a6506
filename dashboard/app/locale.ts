import { LOCALES, type Lang } from '../i18n/lang.ts'

/**
 * The staff app's language for code outside React's render (formatters, map popups, grades):
 * set by <App> from the language context before its children render, so every component that
 * reads `useLang()` re-renders with formatters already in the new locale.
 */
let current: Lang = 'en'

export function setAppLang(lang: Lang): void {
  current = lang
}

export function appLang(): Lang {
  return current
}

export function appLocale(): string {
  return LOCALES[current]
}

/** One cache per locale: Intl formatters are costly to build and these run on every live update. */
export function cachedPerLocale<T>(make: (locale: string) => T): () => T {
  const cache = new Map<string, T>()
  return () => {
    const locale = appLocale()
    let v = cache.get(locale)
    if (v === undefined) cache.set(locale, (v = make(locale)))
    return v
  }
}
