import { useMemo } from 'react'
import { LOCALES, TIME_ZONE, type Lang } from '../../i18n/lang.ts'
import { useLang } from '../../i18n/react.tsx'
import { ApiError } from './client.ts'
import { ERROR_STRINGS, type ErrorFormat } from './error-strings.ts'

/** Intl formatters are costly to build: one set per language, made once. */
const formats = new Map<Lang, ErrorFormat>()
function formatFor(lang: Lang): ErrorFormat {
  let format = formats.get(lang)
  if (!format) {
    const number = new Intl.NumberFormat(LOCALES[lang], { maximumFractionDigits: 10, useGrouping: false })
    const time = new Intl.DateTimeFormat(LOCALES[lang], { dateStyle: 'medium', timeStyle: 'short', timeZone: TIME_ZONE })
    format = {
      n: (value) => (typeof value === 'number' ? number.format(value) : String(value ?? '')),
      // English keeps the server's ISO text, so the sentence reads as the API's.
      time: (value) => (lang === 'en' || value === undefined || Number.isNaN(Date.parse(String(value))) ? String(value ?? '') : time.format(new Date(String(value)))),
    }
    formats.set(lang, format)
  }
  return format
}

/**
 * What went wrong, in `lang`: an API error worded from its code and figures (`error.words`), the
 * page's own words for an unreachable server, else the error's message as it is (the server's
 * English for a code unknown here).
 */
export function errorText(error: unknown, lang: Lang): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error)
  if (error.code === 'network') return ERROR_STRINGS[lang].network
  const sentence = error.words && ERROR_STRINGS[lang].errorText[error.words.code]
  return sentence ? sentence(error.words!.params, formatFor(lang)) : error.message
}

/** errorText in the page's language, following the switch. */
export function useErrorText(): (error: unknown) => string {
  const { lang } = useLang()
  return useMemo(() => (error: unknown) => errorText(error, lang), [lang])
}
