import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, expect, it } from 'vitest'
import { startPiazza, type PiazzaProcess } from './support/piazza-process.ts'

/**
 * The production package, as an operator gets it: `npm pack` (its prepack runs `npm run build`),
 * then `npm install -g --prefix` of the tarball into an empty directory, which installs the
 * production dependencies only, then `piazza start` from there. The checkout is copied first
 * (tracked and new files, with this checkout's node_modules linked for the build tools), so the
 * build never leaves a dist/ here for the other tests to run. Slow: the install compiles
 * better-sqlite3. Production packages come from the npm registry through the local cache.
 */

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DEV_ONLY = ['vite', 'tsx', 'typescript', 'vitest', '@vitejs/plugin-react', 'react', 'react-dom', 'recharts', 'maplibre-gl', 'socket.io-client', 'playwright-core']
const MINUTES = 60_000

const work = mkdtempSync(join(tmpdir(), 'piazza-package-'))
let node: PiazzaProcess | undefined

afterAll(async () => {
  if (node && node.child.exitCode === null) {
    node.child.kill('SIGKILL')
    await node.exited
  }
  rmSync(work, { recursive: true, force: true })
})

/** npm's own variables from an enclosing `npm test` (npm_config_*…) would steer the inner npm. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')))
}

async function npm(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run('npm', args, { cwd, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 })
    return stdout
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string }
    throw new Error(`npm ${args.join(' ')} failed:\n${stdout}\n${stderr}`, { cause: err })
  }
}

function filesUnder(dir: string, skip: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.name === skip ? [] : entry.isDirectory() ? filesUnder(join(dir, entry.name), skip).map((f) => join(entry.name, f)) : [entry.name],
  )
}

it(
  'packs, installs with production dependencies only and runs piazza start from the installed package',
  async () => {
    // A copy of the checkout as git sees it (ignored files such as dist/ and data/ left out),
    // times kept, with the dashboard bundles when there are some: the build reuses them if they
    // are current, as it would here.
    const source = join(work, 'source')
    const { stdout: listed } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 })
    for (const file of listed.split('\0').filter(Boolean)) {
      if (!existsSync(join(ROOT, file))) continue // deleted in the working tree
      mkdirSync(dirname(join(source, file)), { recursive: true })
      cpSync(join(ROOT, file), join(source, file), { preserveTimestamps: true })
    }
    const bundles = join(ROOT, 'dashboard', 'dist')
    if (existsSync(bundles)) cpSync(bundles, join(source, 'dashboard', 'dist'), { recursive: true, preserveTimestamps: true })
    symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'))

    const packed = await npm(['pack', '--json', '--pack-destination', work], source)
    const [info] = JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string; files: { path: string }[] }[]
    const shipped = info!.files.map((f) => f.path)
    expect(shipped).toContain('dist/cli/main.js')
    expect(shipped).toContain('dist/dashboard/dist/index.html')
    expect(shipped).toContain('deploy/piazza.service')
    expect(shipped).toContain('deploy/piazza@.service.d/node.conf')
    // Compiled JavaScript and the bundles only: no TypeScript, no tests, no browser sources.
    expect(shipped.filter((f) => /\.tsx?$/.test(f))).toEqual([])

    const prefix = join(work, 'prefix')
    await npm(['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(work, info!.filename)], work)
    const installed = join(prefix, 'lib', 'node_modules', 'piazza')
    const modules = readdirSync(join(installed, 'node_modules'))
    expect(modules).toContain('fastify')
    for (const dev of DEV_ONLY) expect(existsSync(join(installed, 'node_modules', dev)), `${dev} is a devDependency`).toBe(false)
    expect(filesUnder(installed, 'node_modules').filter((f) => /\.tsx?$/.test(f))).toEqual([])

    // The installed command itself (its shebang and the bin link).
    const bin = join(prefix, 'bin', 'piazza')
    const { stdout: help } = await run(bin, ['--help'], { env: cleanEnv() })
    expect(help).toContain('Usage: piazza <command>')

    const dataDir = join(work, 'data')
    node = await startPiazza({ DATA_DIR: dataDir, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` }, ['start'], [], bin)
    const health = await fetch(`${node.httpUrl}/api/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ ready: true, storage: { ok: true, kind: 'embedded' }, broker: { listening: true } })
    // The dashboard bundles came in the package: the citizens' page at / and the script it loads.
    const page = await fetch(`${node.httpUrl}/`)
    expect(page.status).toBe(200)
    const script = /<script[^>]+src="([^"]+\.js)"/.exec(await page.text())?.[1]
    expect(script).toBeDefined()
    const bundle = await fetch(`${node.httpUrl}${script}`)
    expect(bundle.status).toBe(200)
    expect(bundle.headers.get('content-type')).toMatch(/javascript/)
    expect(node.logs()).not.toContain('older than the sources')
    // The command's shebang gives Node its flags (a larger young generation, see cli/piazza.mjs).
    expect(readFileSync(`/proc/${node.child.pid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=32')

    node.child.kill('SIGTERM')
    expect(await node.exited, node.logs().slice(-3000)).toBe(0)
    expect(node.logs()).toContain('stopped cleanly')
  },
  // Deadline for a busy machine: the build and the compilation of better-sqlite3 take minutes.
  40 * MINUTES,
)
