import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** Runs `piazza start` as a real child process, so tests can SIGTERM or kill -9 it. */

const CLI = fileURLToPath(new URL('../../cli/piazza.mjs', import.meta.url))
const START_DEADLINE_MS = 180_000

export interface PiazzaProcess {
  child: ChildProcess
  mqttUrl: string
  /** The HTTP side's origin, from the start-up banner (http://127.0.0.1:PORT). */
  httpUrl: string
  /** Everything the process wrote to stderr (its logs), for assertions and for debugging failures. */
  logs(): string
  /** What it printed on stdout (the ready banner with its URLs). */
  output(): string
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>
}

/**
 * `cli` is the command to run: by default this checkout's cli/piazza.mjs under this Node; the
 * package test passes an installed `piazza`, run as itself (its shebang picks Node and its flags).
 * `prefix` runs the process under a wrapper, e.g. ['prlimit', '--nofile=256:256'].
 */
export async function startPiazza(env: Record<string, string>, args: string[] = ['start'], prefix: string[] = [], cli: string = CLI): Promise<PiazzaProcess> {
  const command = cli === CLI ? [...prefix, process.execPath, cli, ...args] : [...prefix, cli, ...args]
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_PORT: '0', LOG_LEVEL: 'info', MAP_STYLE_URL: 'none', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string)
  const mqttUrl = await new Promise<string>((resolve, reject) => {
    // A deadline for a busy machine (several nodes starting at once on 2 cores), not an expected time.
    const timer = setTimeout(() => reject(new Error(`piazza did not start within ${START_DEADLINE_MS / 1000} s.\nstdout: ${stdout}\nstderr: ${stderr}`)), START_DEADLINE_MS)
    const check = () => {
      const match = /mqtt:\/\/[\d.]+:(\d+)/.exec(stdout)
      if (match) {
        clearTimeout(timer)
        child.stdout!.off('data', check)
        resolve(`mqtt://127.0.0.1:${match[1]}`)
      }
    }
    child.stdout!.on('data', check)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`piazza exited (${code}) before it was ready.\nstdout: ${stdout}\nstderr: ${stderr}`))
    })
  })
  const httpUrl = /Dashboard\s+(http:\/\/[\d.]+:\d+)/.exec(stdout)?.[1] ?? ''
  return { child, mqttUrl, httpUrl, logs: () => stderr, output: () => stdout, exited }
}

/** An admin session on a running process, opened over HTTP: answers its bearer token (throws unless the login answers 200). */
export async function adminToken(origin: string, password: string): Promise<string> {
  const login = await fetch(`${origin}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) })
  if (login.status !== 200) throw new Error(`admin login answered ${login.status}: ${await login.text()}`)
  return ((await login.json()) as { token: string }).token
}
