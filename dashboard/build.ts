import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Builds the dashboard bundles when missing or older than their sources, so `npm run demo`
 * and the browser tests never serve a stale build and never rebuild needlessly. Two builds: the
 * operators' app (vite.config.ts → dist/) and the citizens' pages (vite.public.config.ts →
 * dist/public/). The operators' build empties dist/, so the public build always follows it. A lock
 * directory keeps two processes (parallel test files) from building at once.
 */

const DASHBOARD = fileURLToPath(new URL('.', import.meta.url))
const SOURCES = ['app', 'public-app', 'index.html', 'public.html', 'widget.html', 'vite.config.ts', 'vite.public.config.ts', '../devices']
const BUILDS = {
  operators: { config: 'vite.config.ts', output: join('dist', 'index.html') },
  public: { config: 'vite.public.config.ts', output: join('dist', 'public', 'public.html') },
}
const LOCK = join(DASHBOARD, '.build-lock')
const LOCK_STALE_MS = 10 * 60_000
const LOCK_WAIT_MS = 5 * 60_000

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

function isStale(output: string): boolean {
  const built = newestMtime(join(DASHBOARD, output))
  if (built === 0) return true
  return SOURCES.some((source) => newestMtime(join(DASHBOARD, source)) > built)
}

export function dashboardIsStale(): boolean {
  // The compiled package (dist/dashboard/) ships the bundles and not their sources: nothing to build from.
  if (!existsSync(join(DASHBOARD, BUILDS.operators.config))) return false
  return isStale(BUILDS.operators.output) || isStale(BUILDS.public.output)
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS
  for (;;) {
    try {
      mkdirSync(LOCK)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      // A lock left by a process that died mid-build.
      if (Date.now() - newestMtime(LOCK) > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true })
      else if (Date.now() > deadline) throw new Error(`another process has been building the dashboard for too long (lock ${LOCK})`)
      else await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
}

/** Returns true when it built. */
export async function ensureDashboardBuilt(log: (line: string) => void = () => {}): Promise<boolean> {
  if (!dashboardIsStale()) return false
  return withLock(async () => {
    // Checked again: another process may have built it while this one waited.
    const operators = isStale(BUILDS.operators.output)
    const citizens = operators || isStale(BUILDS.public.output)
    if (!operators && !citizens) return false
    log('Building the dashboard (once, or after its sources change)…')
    const { build } = await import('vite')
    let failed: unknown
    if (operators) {
      try {
        await build({ configFile: join(DASHBOARD, BUILDS.operators.config), logLevel: 'warn' })
      } catch (err) {
        failed = err // the citizens' pages are built all the same; the failure is reported after
      }
    }
    if (citizens) await build({ configFile: join(DASHBOARD, BUILDS.public.config), logLevel: 'warn' })
    if (failed) throw new Error(`the operators' dashboard did not build: ${(failed as Error).message}`, { cause: failed })
    return true
  })
}
