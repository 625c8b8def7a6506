import { useEffect } from 'react'
import { navigate, ROUTES } from './installer/router.ts'

/** A staff address that names no page: said plainly, with the ways back. */
export function NotFound({ path }: { path: string }) {
  useEffect(() => {
    document.title = 'Page not found · Piazza'
  }, [])
  const go = (to: string) => (e: React.MouseEvent) => {
    e.preventDefault()
    navigate(to)
  }
  return (
    <main className="login not-found" data-testid="not-found">
      <section className="login-form" aria-labelledby="not-found-title">
        <h1 id="not-found-title">Page not found</h1>
        <p className="login-sub">
          There is no page at <code data-testid="not-found-path">{path}</code>. The link may be old or mistyped.
        </p>
        <ul className="not-found-links">
          <li>
            <a href={ROUTES.map} onClick={go(ROUTES.map)} data-testid="not-found-map">
              The operators’ map
            </a>
          </li>
          <li>
            <a href={ROUTES.devices} onClick={go(ROUTES.devices)}>
              Devices
            </a>
          </li>
          <li>
            <a href="/">The public air-quality page</a>
          </li>
        </ul>
      </section>
    </main>
  )
}
