import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, socketAnswers, startChildServer, tempDir } from './child-server.ts'

/**
 * A real HAProxy (Debian's haproxy, installed by test/support/prepare.sh) running the example
 * configuration deploy/haproxy.cfg, with the test's loopback addresses and free ports put in place
 * of the example's. The example file stays the source: only addresses, ports and the list of
 * nodes change.
 */

export const HAPROXY_EXAMPLE = fileURLToPath(new URL('../deploy/haproxy.cfg', import.meta.url))
const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((path) => spawnSync(path, ['-v']).status === 0) ?? 'haproxy'

/** The ports of one Piazza node, or of the proxy's front ends. */
export interface Ports {
  host: string
  mqttPort: number
  wsPort: number
  httpPort: number
}

/** The example's default ports, by which its `bind` and `server` lines are recognised. */
const EXAMPLE = { mqttPort: 1883, wsPort: 8083, httpPort: 8080, httpFront: 80 }

/**
 * deploy/haproxy.cfg for these nodes: `bind :PORT` lines get the front-end address and port, the
 * `server nodeK ADDR:PORT … port 8080` lines node K's address and ports; servers beyond the nodes
 * given are dropped. Without root, the global lines that need it (user, group, chroot) go too.
 */
export function renderHaproxyConfig(template: string, front: Ports, nodes: Ports[]): string {
  const service = (port: number) =>
    port === EXAMPLE.mqttPort ? 'mqttPort' : port === EXAMPLE.wsPort ? 'wsPort' : port === EXAMPLE.httpPort || port === EXAMPLE.httpFront ? 'httpPort' : undefined
  const root = process.getuid?.() === 0
  let servers = 0
  const lines = template.split('\n').flatMap((line) => {
    const bind = /^(\s*)bind :(\d+)\s*$/.exec(line)
    if (bind) {
      const key = service(Number(bind[2]))
      if (!key) throw new Error(`deploy/haproxy.cfg: no test port for '${line.trim()}'`)
      return [`${bind[1]}bind ${front.host}:${front[key]}`]
    }
    const server = /^(\s*)server node(\d+) [\d.]+:(\d+)(.*)$/.exec(line)
    if (server) {
      const node = nodes[Number(server[2]) - 1]
      if (!node) return []
      const key = service(Number(server[3]))
      if (!key) throw new Error(`deploy/haproxy.cfg: no test port for '${line.trim()}'`)
      servers += 1
      const rest = server[4]!.replace(/\bport \d+/, `port ${node.httpPort}`)
      return [`${server[1]}server node${server[2]} ${node.host}:${node[key]}${rest}`]
    }
    if (!root && /^\s*(user|group|chroot)\s/.test(line)) return []
    return [line]
  })
  if (servers === 0) throw new Error('deploy/haproxy.cfg: no server lines found')
  return lines.join('\n')
}

export interface Haproxy {
  configFile: string
  output(): string
  stop(): Promise<void>
}

/**
 * Checks the configuration (warnings count as errors), then runs HAProxy in the foreground. Ready
 * once its admin socket (added to the global section, in its temp dir) answers `show info`: it
 * serves that only after binding every front end, so a front port someone else holds makes this
 * throw with HAProxy's own words ("cannot bind socket") instead of another server answering there.
 */
export async function startHaproxy(config: string): Promise<Haproxy> {
  const dir = tempDir('haproxy')
  const configFile = join(dir, 'haproxy.cfg')
  const adminSocket = join(dir, 'admin.sock')
  const withSocket = config.replace(/^global\s*$/m, (line) => `${line}\n    stats socket ${adminSocket} mode 600 level user`)
  if (withSocket === config) throw new Error('the HAProxy configuration has no global section for the admin socket')
  writeFileSync(configFile, withSocket)
  const check = spawnSync(HAPROXY, ['-c', '-dW', '-f', configFile], { encoding: 'utf8' })
  if (check.status !== 0) throw new Error(`haproxy rejects the configuration:\n${check.stdout}${check.stderr}\n${withSocket}`)
  const server = await startChildServer({
    name: 'haproxy',
    command: HAPROXY,
    args: ['-db', '-f', configFile],
    dir,
    ready: { what: `answering on its admin socket ${adminSocket}`, probe: () => socketAnswers({ path: adminSocket }, 'show info\n', (text) => text.includes('Pid:')) },
  })
  return { configFile, output: server.output, stop: server.close }
}

/**
 * deploy/haproxy.cfg in front of these nodes, on front ports picked free just before it starts. A
 * free port is only free until another process takes it (the tests run side by side, every one
 * opening connections): when HAProxy cannot bind one, it is started again on new ports, up to
 * `attempts` times.
 */
export async function startHaproxyInFront(host: string, nodes: Ports[], attempts = 3): Promise<{ haproxy: Haproxy; front: Ports }> {
  for (let attempt = 1; ; attempt++) {
    const front: Ports = { host, mqttPort: await freePort(), wsPort: await freePort(), httpPort: await freePort() }
    try {
      return { haproxy: await startHaproxy(renderHaproxyConfig(readHaproxyExample(), front, nodes)), front }
    } catch (err) {
      if (attempt >= attempts || !/cannot bind/i.test((err as Error).message)) throw err
    }
  }
}

export function readHaproxyExample(): string {
  return readFileSync(HAPROXY_EXAMPLE, 'utf8')
}
