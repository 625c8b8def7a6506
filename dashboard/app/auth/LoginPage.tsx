import { useRef, useState, type FormEvent } from 'react'
import { ApiError, api } from '../api/client.ts'
import type { User } from '../api/types.ts'
import type { Lang } from '../../i18n/lang.ts'
import { LanguageSwitch, useLang } from '../../i18n/react.tsx'
import { errorText } from '../api/error-text.ts'
import { AUTH_STRINGS } from './strings.ts'

/** What to tell the operator for a failed login: the server's message in the page's language, plus what to do. */
export function loginErrorMessage(e: unknown, lang: Lang = 'en'): string {
  const text = errorText(e, lang)
  if (e instanceof ApiError && e.status === 429 && e.retryAfter) return `${text} ${AUTH_STRINGS[lang].retryIn(e.retryAfter)}`
  return text
}

export function LoginPage({ onLogin }: { onLogin: (user: User) => void }) {
  const { lang } = useLang()
  const t = AUTH_STRINGS[lang]
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const usernameRef = useRef<HTMLInputElement>(null)
  const passwordRef = useRef<HTMLInputElement>(null)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (busy) return
    if (!username.trim() || !password) {
      setError(!username.trim() ? t.enterUsername : t.enterPassword)
      ;(username.trim() ? passwordRef.current : usernameRef.current)?.focus()
      return
    }
    setBusy(true)
    setError('')
    try {
      const { user } = await api.login(username.trim(), password)
      onLogin(user)
    } catch (err) {
      setError(loginErrorMessage(err, lang))
      setPassword('')
      setBusy(false)
      passwordRef.current?.focus()
    }
  }

  return (
    <main className="login">
      <LanguageSwitch className="lang-switch login-lang" />
      <form className="login-form" onSubmit={submit} data-testid="login-form" aria-labelledby="login-title" noValidate>
        <h1 id="login-title">Piazza</h1>
        <p className="login-sub">{t.subtitle}</p>
        <label htmlFor="login-username">{t.username}</label>
        <input
          id="login-username"
          ref={usernameRef}
          name="username"
          autoComplete="username"
          autoFocus
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'login-error' : undefined}
          data-testid="login-username"
        />
        <label htmlFor="login-password">{t.password}</label>
        <input
          id="login-password"
          ref={passwordRef}
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'login-error' : undefined}
          data-testid="login-password"
        />
        {/* Always in the DOM so screen readers announce the message when it appears. */}
        <p id="login-error" className="error" role="alert" data-testid="login-error">
          {error}
        </p>
        <button type="submit" aria-disabled={busy} data-testid="login-submit">
          {busy ? t.signingIn : t.signIn}
        </button>
      </form>
    </main>
  )
}
