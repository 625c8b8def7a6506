import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { LangProvider } from '../i18n/react.tsx'
import { App } from './App.tsx'
import './styles.css'
import { initTheme } from './theme.ts'

// Light or dark before the first paint: remembered choice, else the system's.
initTheme()

// The benchmark (bench/dashboard.ts) reads the live counters from the page. The connection
// manager is in the dashboard's lazy chunk: the import resolves to the loaded module.
;(window as unknown as { __piazzaLiveStats?: () => Promise<unknown> }).__piazzaLiveStats = async () => {
  const { live } = await import('./live/connection.ts')
  return { mode: live.mode, ...live.stats() }
}

const render = () =>
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <LangProvider>
        <App />
      </LangProvider>
    </StrictMode>,
  )

// Benchmark baselines (`?baseline=per-message|per-update`): their own chunk, loaded only when asked
// for, and set before the app connects.
if (new URLSearchParams(window.location.search).has('baseline')) {
  import('./live/baseline.ts').then(
    (b) => b.installBaseline(window.location.search),
    (e: unknown) => console.error('could not load the benchmark baseline', e),
  ).finally(render)
} else render()
