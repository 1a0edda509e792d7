/**
 * The command line against the command table (src/cli.ts): which command,
 * which of its flags, which arguments. Every refusal is a sentence in
 * tollgate's words that names the valid choices; node's parseArgs only
 * splits the words (its own messages are about JavaScript, not tollgate).
 */
import { parseArgs } from 'node:util'

export interface OptionSpec {
  readonly type: 'string' | 'boolean'
  readonly short?: string
  /** The value's name in usage and messages: FILE, N, ID. */
  readonly value?: string
}

/** What the parser needs to know of a command. */
export interface CommandShape {
  /** The flags it takes (names in the option table), besides --help and --version. */
  readonly options: readonly string[]
  /** How many arguments may follow the command's name (Infinity: the command checks them itself). */
  readonly positionals: number
}

export type Values = Readonly<Record<string, string | boolean | undefined>>

export type ParsedLine =
  | { readonly kind: 'command', readonly command: string, readonly values: Values, readonly positionals: readonly string[] }
  | { readonly kind: 'help' | 'version' }
  /** A usage error: `message` is one line; `command` is set when the command was known. */
  | { readonly kind: 'usage', readonly message: string, readonly command?: string }

/** Flags every command takes. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' }
}

/**
 * Splits `argv` into the command, its flags and its arguments. The command
 * is the first argument that is not a flag or a flag's value; with none,
 * `defaultCommand`. A flag not in the command's list is refused, also when
 * another command takes it (`keygen --port`).
 */
export function parseCommandLine (
  argv: readonly string[],
  options: Readonly<Record<string, OptionSpec>>,
  commands: Readonly<Record<string, CommandShape>>,
  defaultCommand: string
): ParsedLine {
  const all = { ...options, ...GLOBAL_OPTIONS }
  // strict: false so that an unknown flag comes back as a token, to be refused here in our words.
  const { tokens } = parseArgs({ args: [...argv], options: toParseArgs(all), strict: false, allowPositionals: true, tokens: true })
  const words = tokens.filter((token) => token.kind === 'positional').map((token) => token.value)
  const named = words[0] !== undefined && Object.hasOwn(commands, words[0]) ? words[0] : undefined
  const command = named ?? defaultCommand
  const shape = commands[command] as CommandShape
  const label = named === undefined ? 'tollgate' : `\`${named}\``
  const flags = tokens.filter((token) => token.kind === 'option')
  if (flags.some((token) => token.name === 'help')) return { kind: 'help' }
  if (flags.some((token) => token.name === 'version')) return { kind: 'version' }
  // `--conifg FILE`: the unknown flag took no value, so FILE reads as a command; the flag is the mistake.
  if (named === undefined && words[0] !== undefined && shape.positionals === 0 && !flags.some((token) => options[token.name] === undefined)) {
    return { kind: 'usage', message: `unknown command: ${words[0]}; valid: ${Object.keys(commands).filter((name) => name !== defaultCommand).sort().join(', ')}` }
  }

  const values: Record<string, string | boolean> = {}
  const valid = shape.options.length === 0 ? `${label} takes no options` : `valid: ${shape.options.map((name) => `--${name}`).join(', ')}`
  for (const token of flags) {
    const spec = options[token.name]
    const flag = token.rawName.startsWith('--') ? `--${token.name}` : token.rawName
    if (spec === undefined) {
      return { kind: 'usage', command, message: `unknown option ${flag}${named === undefined ? '' : ` for ${label}`}; ${valid}` }
    }
    if (!shape.options.includes(token.name)) {
      const owners = Object.entries(commands).filter(([, other]) => other.options.includes(token.name)).map(([name]) => name === defaultCommand ? 'tollgate' : name)
      // "doctor does not take --port": the command's name, as its own messages begin.
      return { kind: 'usage', command, message: `${named ?? 'tollgate'} does not take --${token.name}${owners.length === 0 ? '' : ` (that is for ${owners.join(', ')})`}; ${valid}` }
    }
    if (spec.type === 'boolean') {
      if (token.inlineValue === true) return { kind: 'usage', command, message: `--${token.name} takes no value` }
      values[token.name] = true
      continue
    }
    // `--kid --alg RS256`: parseArgs would take "--alg" as the kid. A value that starts with - goes inline: --kid=-x.
    if (token.value === undefined || (token.inlineValue === false && token.value.startsWith('-') && token.value !== '-')) {
      return { kind: 'usage', command, message: `--${token.name} needs a value (--${token.name} ${spec.value ?? 'VALUE'})` }
    }
    values[token.name] = token.value
  }

  const positionals = named === undefined ? words : words.slice(1)
  if (positionals.length > shape.positionals) {
    return { kind: 'usage', command, message: `unexpected argument ${positionals[shape.positionals] ?? ''} for ${label}` }
  }
  return { kind: 'command', command, values, positionals }
}

function toParseArgs (options: Readonly<Record<string, OptionSpec>>): Record<string, { type: 'string' | 'boolean', short?: string }> {
  return Object.fromEntries(Object.entries(options).map(([name, spec]) => [name, spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short }]))
}
