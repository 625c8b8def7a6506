import { useRef, useState, type FormEvent } from 'react'
import { ApiError, api } from '../api/client.ts'
import type { User } from '../api/types.ts'

/** What to tell the operator for a failed login: the server's own message, plus what to do. */
export function loginErrorMessage(e: unknown): string {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : String(e)
  if (e.status === 429) return e.retryAfter ? `${e.message} Try again in ${e.retryAfter} s.` : e.message
  return e.message
}

export function LoginPage({ onLogin }: { onLogin: (user: User) => void }) {
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
      setError(!username.trim() ? 'Enter your username.' : 'Enter your password.')
      ;(username.trim() ? passwordRef.current : usernameRef.current)?.focus()
      return
    }
    setBusy(true)
    setError('')
    try {
      const { user } = await api.login(username.trim(), password)
      onLogin(user)
    } catch (err) {
      setError(loginErrorMessage(err))
      setPassword('')
      setBusy(false)
      passwordRef.current?.focus()
    }
  }

  return (
    <main className="login">
      <form className="login-form" onSubmit={submit} data-testid="login-form" aria-labelledby="login-title" noValidate>
        <h1 id="login-title">Piazza</h1>
        <p className="login-sub">Smart-city telemetry for Tuscany. Sign in to continue.</p>
        <label htmlFor="login-username">Username</label>
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
        <label htmlFor="login-password">Password</label>
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
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
