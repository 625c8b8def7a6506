import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Builds the dashboard bundle when it is missing or older than its sources, so `npm run demo`
 * and the browser tests never serve a stale build and never rebuild needlessly.
 */

const DASHBOARD = fileURLToPath(new URL('.', import.meta.url))
const SOURCES = ['app', 'public-app', 'index.html', 'public.html', 'widget.html', 'vite.config.ts', '../devices']

function newestMtime(path: string): number {
  let stat
  try {
    stat = statSync(path)
  } catch {
    return 0
  }
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry.endsWith('.test.ts') || entry.endsWith('.test.tsx')) continue
    newest = Math.max(newest, newestMtime(join(path, entry)))
  }
  return newest
}

export function dashboardIsStale(): boolean {
  const built = newestMtime(join(DASHBOARD, 'dist', 'index.html'))
  if (built === 0) return true
  return SOURCES.some((source) => newestMtime(join(DASHBOARD, source)) > built)
}

/** Returns true when it built. */
export async function ensureDashboardBuilt(log: (line: string) => void = () => {}): Promise<boolean> {
  if (!dashboardIsStale()) return false
  log('Building the dashboard (once, or after its sources change)…')
  const { build } = await import('vite')
  await build({ configFile: join(DASHBOARD, 'vite.config.ts'), logLevel: 'warn' })
  return true
}
