import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { initialLanguage, LANGS, rememberLanguage, type Lang } from './lang.ts'

type LangState = { lang: Lang; setLang: (lang: Lang) => void }

const LangContext = createContext<LangState | null>(null)

/**
 * The page's language for the components below: starts from the remembered or browser language,
 * keeps `<html lang>` in step (screen readers, hyphenation) and remembers a choice.
 */
export function LangProvider({ children }: { children: ReactNode }) {
  const [lang, set] = useState<Lang>(initialLanguage)
  useEffect(() => {
    document.documentElement.lang = lang
  }, [lang])
  const setLang = useCallback((l: Lang) => {
    set(l)
    rememberLanguage(l)
  }, [])
  const value = useMemo(() => ({ lang, setLang }), [lang, setLang])
  return <LangContext.Provider value={value}>{children}</LangContext.Provider>
}

export function useLang(): LangState {
  const state = useContext(LangContext)
  if (!state) throw new Error('useLang outside <LangProvider>')
  return state
}

/** A feature's strings in the page's language: `const t = useStrings(STRINGS)`. */
export function useStrings<S>(dictionary: Record<Lang, S>): S {
  return dictionary[useLang().lang]
}

const NAMES: Record<Lang, string> = { it: 'Italiano', en: 'English' }
const LABEL: Record<Lang, string> = { it: 'Lingua', en: 'Language' }

/** "IT | EN" buttons, each labelled in its own language. */
export function LanguageSwitch({ className }: { className?: string }) {
  const { lang, setLang } = useLang()
  return (
    <div className={className ?? 'lang-switch'} role="group" aria-label={LABEL[lang]}>
      {LANGS.map((l) => (
        <button key={l} type="button" lang={l} aria-pressed={lang === l} aria-label={NAMES[l]} data-testid={`lang-${l}`} onClick={() => setLang(l)}>
          {l.toUpperCase()}
        </button>
      ))}
    </div>
  )
}
