import { parseArgs } from 'node:util'
import { UsageError, type Command } from './command.ts'
import { ConfigError, loadConfig } from './config.ts'

/**
 * The `piazza` command line: one entry point, one sub-command per job. Configuration comes from
 * the environment (read once, here); options come from the arguments.
 */

const commands: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./commands/start.ts')).startCommand,
  demo: async () => (await import('./commands/demo.ts')).demoCommand,
  ingest: async () => (await import('./commands/ingest.ts')).ingestCommand,
  'devices add': async () => (await import('./commands/devices.ts')).addCommand,
  'devices list': async () => (await import('./commands/devices.ts')).listCommand,
  'devices rotate': async () => (await import('./commands/devices.ts')).rotateCommand,
  'devices revoke': async () => (await import('./commands/devices.ts')).revokeCommand,
  simulate: async () => (await import('./commands/simulate.ts')).simulateCommand,
}

async function help(): Promise<string> {
  const lines = ['Usage: piazza <command> [options]', '', 'Commands:']
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(16)} ${(await load()).summary}`)
  lines.push('', "Run 'piazza <command> --help' for a command's options. Configuration is read from environment variables (see README.md).")
  return lines.join('\n')
}

function commandHelp(name: string, command: Command): string {
  const lines = [`Usage: piazza ${command.usage}`, '', command.summary]
  const options = Object.entries(command.options)
  if (options.length) {
    lines.push('', 'Options:')
    for (const [option, spec] of options) {
      const flag = `--${option}${spec.type === 'string' ? ' <value>' : ''}`
      lines.push(`  ${flag.padEnd(26)} ${spec.description ?? ''}${spec.default !== undefined ? ` (default ${spec.default})` : ''}`)
    }
  }
  return lines.join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [first, second] = argv
  if (!first || first === 'help' || first === '--help' || first === '-h') {
    console.log(await help())
    return 0
  }
  const name = commands[`${first} ${second}`] ? `${first} ${second}` : first
  const load = commands[name]
  if (!load) {
    console.error(`piazza: unknown command '${[first, second].filter(Boolean).join(' ')}'; run 'piazza --help' for the list`)
    return 2
  }
  const command = await load()
  const rest = argv.slice(name.split(' ').length)
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(name, command))
    return 0
  }
  try {
    const options = Object.fromEntries(
      Object.entries(command.options).map(([key, { description: _description, ...spec }]) => [key, spec]),
    )
    const { values, positionals } = parseArgs({ args: rest, options, allowPositionals: command.allowPositionals ?? false, strict: true })
    const config = loadConfig(process.env)
    return (await command.run({ values: values as Record<string, string | boolean | undefined>, positionals, config })) ?? 0
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      console.error(`piazza ${name}: ${err.message}`)
      return 2
    }
    const code = (err as { code?: string }).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      console.error(`piazza ${name}: ${(err as Error).message}`)
      return 2
    }
    throw err
  }
}

process.exitCode = await main(process.argv.slice(2))
