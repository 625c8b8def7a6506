import type { ParseArgsConfig } from 'node:util'
import type { Config } from './config.ts'

/** What every `piazza` sub-command provides. Kept apart from main.ts so commands never import the entry point. */

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string]

export interface Command {
  summary: string
  usage: string
  options: Record<string, OptionSpec & { description?: string }>
  allowPositionals?: boolean
  run(args: { values: Record<string, string | boolean | undefined>; positionals: string[]; config: Config }): Promise<number | void>
}

/** A mistake in how the command was called: printed as one line, exit code 2. */
export class UsageError extends Error {}
