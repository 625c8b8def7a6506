import { useEffect } from 'react'
import { strings } from './i18n.ts'
import { initialLanguage } from '../i18n/lang.ts'

/** The public pages' paths; any other address the server sends here (with status 404) is "not found". */
export const isPublicPagePath = (path: string) => /^\/(index\.html|public\/(public\.html)?)?$/.test(path)

/** An address that names no public page, in the visitor's language, with the way home. */
export function NotFound() {
  const lang = initialLanguage()
  const t = strings(lang)
  useEffect(() => {
    document.documentElement.lang = lang
    document.title = `${t.notFoundTitle} · ${t.appTitle}`
  }, [lang, t])
  return (
    <main id="main" className="not-found" data-testid="not-found">
      <h1>{t.notFoundTitle}</h1>
      <p>{t.notFoundText}</p>
      <p>
        <a href="/" data-testid="not-found-home">
          {t.notFoundHome}
        </a>
      </p>
    </main>
  )
}
