import { useMemo } from 'react'
import { LOCALES, type Lang } from '../../i18n/lang.ts'
import { useLang } from '../../i18n/react.tsx'
import type { AlertView, RuleView } from '../../shared/operations.ts'
import type { Words } from '../../shared/words.ts'
import { KIND_STRINGS } from '../devices/kind-strings.ts'
import { MAP_STRINGS } from '../map/strings.ts'
import { ALERT_WORD_STRINGS, type WordFormat } from './words-strings.ts'

/** Intl formatters are costly to build: one set per language, made once. */
const formats = new Map<Lang, WordFormat>()
function formatFor(lang: Lang): WordFormat {
  let format = formats.get(lang)
  if (!format) {
    // No grouping and every decimal the server kept: English reads as the server's numbers do.
    const number = new Intl.NumberFormat(LOCALES[lang], { maximumFractionDigits: 10, useGrouping: false })
    const n = (value: string | number | undefined) => (typeof value === 'number' ? number.format(value) : String(value ?? '?'))
    const units = ALERT_WORD_STRINGS[lang].units
    format = {
      n,
      dur(value) {
        const s = Number(value)
        if (s % 86400 === 0 && s >= 86400) return `${n(s / 86400)} ${units.d}`
        if (s % 3600 === 0 && s >= 3600) return `${n(s / 3600)} ${units.h}`
        if (s % 60 === 0 && s >= 60) return `${n(s / 60)} ${units.min}`
        return `${n(s)} ${units.s}`
      },
      label: (p) => {
        const field = String(p.field)
        return KIND_STRINGS[lang].fields[field] ?? MAP_STRINGS[lang].pollutants[field] ?? ALERT_WORD_STRINGS[lang].derived[field] ?? String(p.label ?? field)
      },
      unit: (unit) => KIND_STRINGS[lang].units[String(unit)] ?? String(unit),
    }
    formats.set(lang, format)
  }
  return format
}

function worded(dictionary: Record<string, (p: Words['params'], f: WordFormat) => string>, words: Words | null | undefined, english: string, lang: Lang): string {
  const sentence = words && dictionary[words.code]
  return sentence ? sentence(words.params, formatFor(lang)) : english
}

/** An alert's message in `lang`, from its code and figures; the server's English message for a code unknown here or an alert stored before. */
export function alertText(alert: Pick<AlertView, 'message' | 'messageWords'>, lang: Lang): string {
  return worded(ALERT_WORD_STRINGS[lang].alertText, alert.messageWords, alert.message, lang)
}

/** A rule's description in `lang`, likewise. */
export function ruleText(rule: Pick<RuleView, 'description' | 'descriptionWords'>, lang: Lang): string {
  return worded(ALERT_WORD_STRINGS[lang].ruleText, rule.descriptionWords, rule.description, lang)
}

/** alertText and ruleText in the page's language, following the switch. */
export function useAlertWords(): { alertText: (a: Pick<AlertView, 'message' | 'messageWords'>) => string; ruleText: (r: Pick<RuleView, 'description' | 'descriptionWords'>) => string } {
  const { lang } = useLang()
  return useMemo(() => ({ alertText: (a) => alertText(a, lang), ruleText: (r) => ruleText(r, lang) }), [lang])
}
