import { useMemo } from 'react'
import { LOCALES, TIME_ZONE, type Lang } from '../../i18n/lang.ts'
import { useLang } from '../../i18n/react.tsx'
import { ApiError } from './client.ts'
import { columnFirst, ERROR_STRINGS, type ErrorFormat } from './error-strings.ts'
import type { Words } from '../../shared/words.ts'

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
  return wordsText(error.message, error.words, lang)
}

/**
 * A CSV import row's error or warning in `lang`: the column it is about first, then the sentence
 * worded from its code and figures; the server's English for no words or a code unknown here.
 */
export function rowText(message: string, words: Words | null | undefined, lang: Lang): string {
  const sentence = words && ERROR_STRINGS[lang].errorText[words.code]
  return sentence ? `${columnFirst(words!.params)}${sentence(words!.params, formatFor(lang))}` : message
}

/** A server's sentence worded from its code and figures in `lang`; the server's English for no words or a code unknown here. */
export function wordsText(message: string, words: Words | null | undefined, lang: Lang): string {
  const sentence = words && ERROR_STRINGS[lang].errorText[words.code]
  return sentence ? sentence(words!.params, formatFor(lang)) : message
}

/** errorText in the page's language, following the switch. */
export function useErrorText(): (error: unknown) => string {
  const { lang } = useLang()
  return useMemo(() => (error: unknown) => errorText(error, lang), [lang])
}

/** rowText in the page's language, following the switch. */
export function useRowText(): (message: string, words: Words | null | undefined) => string {
  const { lang } = useLang()
  return useMemo(() => (message: string, words: Words | null | undefined) => rowText(message, words, lang), [lang])
}
