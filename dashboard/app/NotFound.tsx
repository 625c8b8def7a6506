import { useEffect } from 'react'
import { navigate, ROUTES } from './installer/router.ts'
import { useStrings } from '../i18n/react.tsx'
import { APP_STRINGS } from './strings.ts'

/** A staff address that names no page: said plainly, with the ways back. */
export function NotFound({ path }: { path: string }) {
  const t = useStrings(APP_STRINGS).notFound
  useEffect(() => {
    document.title = t.title
  }, [t])
  const go = (to: string) => (e: React.MouseEvent) => {
    e.preventDefault()
    navigate(to)
  }
  return (
    <main className="login not-found" data-testid="not-found">
      <section className="login-form" aria-labelledby="not-found-title">
        <h1 id="not-found-title">{t.heading}</h1>
        <p className="login-sub">
          {t.before}
          <code data-testid="not-found-path">{path}</code>
          {t.after}
        </p>
        <ul className="not-found-links">
          <li>
            <a href={ROUTES.map} onClick={go(ROUTES.map)} data-testid="not-found-map">
              {t.map}
            </a>
          </li>
          <li>
            <a href={ROUTES.devices} onClick={go(ROUTES.devices)}>
              {t.devices}
            </a>
          </li>
          <li>
            <a href="/">{t.public}</a>
          </li>
        </ul>
      </section>
    </main>
  )
}
