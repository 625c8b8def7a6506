#!/usr/bin/env -S node --max-semi-space-size=32
// The `piazza` command. The installed package runs the compiled JavaScript in dist/ (`npm run
// build`); a checkout without a build runs the TypeScript sources through tsx, so development
// needs no build step. A checkout whose dist/ is older than its sources runs the sources (and says
// so), so a forgotten rebuild never runs old code.
//
// Why the young generation is twice V8's default (32 MB semi-spaces instead of 16): every message
// in flight (thousands at a time under load, up to the broker's intake bound) holds a few
// short-lived objects until its PUBACK. With the default, scavenges came often enough to find many
// of them still alive and promote them to the old generation, whose collection is costly. Measured
// with `npm run bench` (air-quality, 1,000 devices, two runs in a row): 16 MB 40,000 readings/s at
// 23 µs of CPU each, 32 MB 47,000/s at 19 µs; 10,000 idle connections took 293 and 275 MB. 64 MB
// was faster still (10-30 % more readings/s in an A/B of two runs), but a larger young generation
// stayed committed after bursts: in full bench runs 10,000 idle connections took 485 MB with 64 MB
// and 444 MB with 48, against 291-313 MB with 32, and the platform allows itself 400. Measured
// again once the bench waited for V8 to give a burst back (README, twelfth session): idle, 64 MB
// settles at 291-292 MB like 32, but in two full runs against two with 32 the CPU per reading moved
// only within the runs' noise, while every peak rose by about 50-70 MB (10,000 devices connecting
// at once: 415-423 MB against 356-357). So 32 it stays.
// The old generation keeps V8's own growing factor. Fixing it at 2 (--heap-growing-percent=100)
// took away one cause of run-to-run swings (README, thirteenth session), but in a full run it
// cost more at 10,000 devices, and at idle it lets promoted garbage build up to twice the live
// heap before collecting it (projected past 400 MB with 10,000 idle connections).
// V8 reads the flag only at start, hence the shebang (the `piazza` command, systemd's ExecStart,
// `npm start` and `npm run demo` all go through it); `node cli/piazza.mjs` runs with V8's default.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const ROOT = new URL('../', import.meta.url)
const COMPILED = new URL('dist/cli/main.js', ROOT)
/** Written by `npm run build` once everything is in dist/. */
const STAMP = new URL('dist/.built', ROOT)
/** The folders tsconfig.build.json compiles. */
const SOURCES = ['broker', 'ingest', 'devices', 'feed', 'platform', 'dashboard', 'simulator', 'cli']

function newestSource(path) {
  let newest = 0
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') newest = Math.max(newest, newestSource(`${path}/${entry.name}`))
    } else if (/\.(ts|tsx|json|html)$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) {
      newest = Math.max(newest, statSync(`${path}/${entry.name}`).mtimeMs)
    }
  }
  return newest
}

function compiledIsCurrent() {
  if (!existsSync(COMPILED)) return false
  // The package holds no sources: dist/ is all there is.
  if (!existsSync(new URL('cli/main.ts', ROOT))) return true
  if (!existsSync(STAMP)) return false
  const built = statSync(STAMP).mtimeMs
  return SOURCES.every((folder) => !existsSync(new URL(folder, ROOT)) || newestSource(fileURLToPath(new URL(folder, ROOT))) <= built)
}

if (compiledIsCurrent()) {
  await import(COMPILED.href)
} else {
  if (existsSync(COMPILED)) process.stderr.write('piazza: dist/ is older than the sources; running the sources (npm run build refreshes dist/)\n')
  const { register } = await import('tsx/esm/api')
  register()
  await import('./main.ts')
}
