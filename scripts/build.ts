import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureDashboardBuilt } from '../dashboard/build.ts'

/**
 * `npm run build`: the production build in dist/, what the package ships and nodes run. The
 * server side compiled by tsc (tsconfig.build.json: no tests, no browser apps), the dashboard
 * bundles built once by vite (reused when current) and copied beside the compiled server, where
 * platform.ts's DASHBOARD_DIST finds them (dist/dashboard/dist). dist/.built, written last, tells
 * cli/piazza.mjs the build is complete and how old it is.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DIST = join(ROOT, 'dist')

rmSync(DIST, { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' })
await ensureDashboardBuilt((line) => console.log(line))
mkdirSync(join(DIST, 'dashboard'), { recursive: true })
cpSync(join(ROOT, 'dashboard', 'dist'), join(DIST, 'dashboard', 'dist'), { recursive: true })
writeFileSync(join(DIST, '.built'), `${new Date().toISOString()}\n`)
console.log(`Built ${DIST}`)
