import { useMemo } from 'react'
import { LOCALES, type Lang } from '../../i18n/lang.ts'
import { useLang } from '../../i18n/react.tsx'
import type { Check } from '../../shared/commissioning.ts'
import { COMMISSIONING_STRINGS, type CheckFormat } from './commissioning-strings.ts'

/** A commissioning check in `lang`: worded from its code and figures, or the server's English message for a code unknown here. */
/** Intl formatters are costly to build: one pair per language, made once. */
const formats = new Map<Lang, CheckFormat>()
function formatFor(lang: Lang): CheckFormat {
  let format = formats.get(lang)
  if (!format) {
    const number = new Intl.NumberFormat(LOCALES[lang], { maximumFractionDigits: 1, useGrouping: false })
    const oneDecimal = new Intl.NumberFormat(LOCALES[lang], { minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false })
    const n = (value: string | number) => (typeof value === 'number' ? number.format(value) : value)
    format = {
      n,
      km: (value) => (typeof value === 'number' ? oneDecimal.format(value) : value),
      secs: (value) => (Number(value) >= 120 ? `${n(Number(value) / 60)} min` : `${n(Number(value))} s`),
    }
    formats.set(lang, format)
  }
  return format
}

/** A commissioning check in `lang`: worded from its code and figures, or the server's English message for a code unknown here. */
export function checkWords(check: Check, lang: Lang): string {
  const words = COMMISSIONING_STRINGS[lang].checkText[check.code]
  return words ? words(check.params, formatFor(lang)) : check.message
}

/** checkWords in the page's language, following the switch. */
export function useCheckWords(): (check: Check) => string {
  const { lang } = useLang()
  return useMemo(() => (check: Check) => checkWords(check, lang), [lang])
}
