import yargs from 'yargs';
import type { CommandModule } from 'yargs';
import { BACKUP_COMMANDS, backupCommand } from './commands/backup/index.js';
import { completionCommand } from './commands/completion/index.js';
import { restoreCommand } from './commands/restore/index.js';
import { unfenceCommand } from './commands/unfence/index.js';
import { verifyCommand } from './commands/verify/index.js';
import { versionCommand } from './commands/version/index.js';
import { WAL_COMMANDS, walCommand } from './commands/wal/index.js';
import { reportError } from './error-handler.js';
import { EXIT_OK } from './exit-codes.js';
import { CONNECTION_FLAGS_TEXT, withGlobalOptions } from './global-options.js';
import { FLAG_RELATION_MESSAGES } from './option-groups.js';
import { UsageError } from './usage-error.js';
import { setVerbosity } from './verbosity.js';

/**
 * The root description shown by `--help` (and at the top of docs/cli.md).
 *
 * @example
 * ```ts
 * console.log(ROOT_DESCRIPTION);
 * ```
 */
export const ROOT_DESCRIPTION = 'Consistent CSI VolumeSnapshot backups and restores of PostgreSQL (and backups of MySQL and MariaDB).';

/**
 * Builds the root command. Exported so tests (and the docs generator) can parse arguments without
 * spawning a process. Commands are declared here; the code of each runs from its own `run.ts`,
 * imported only when the command runs, so start-up loads neither the SDK nor its dependencies.
 *
 * @example
 * ```ts
 * await buildCli(['version', '-o', 'json']).parseAsync();
 * ```
 */
const COMMANDS = [backupCommand, restoreCommand, verifyCommand, unfenceCommand, walCommand, completionCommand, versionCommand];
const SUBCOMMANDS: Record<string, CommandModule[]> = { backup: BACKUP_COMMANDS, wal: WAL_COMMANDS };

/** The exit codes line of the root's `--help` (docs/cli.md has the table). */
export const EXIT_CODES_TEXT = 'Exit codes: 0 success, 1 failure (not found, refused, not reachable, failed), 2 usage error, 130/143 interrupted.';

const namesOf = (command: CommandModule): string[] => [String(command.command).split(' ')[0]!, ...[command.aliases ?? []].flat()];

/**
 * The command `args` name, as far as it exists (`['backup', 'create']`, `['wal']`, `[]`), for the
 * `--help` pointer of a usage error. Options and their values are skipped; the first word that is
 * not a command of the level ends the path.
 *
 * @example
 * ```ts
 * commandPath(['-n', 'db', 'backup', 'ls', '-A']); // ['backup', 'list']
 * ```
 */
export function commandPath(args: string[]): string[] {
  const path: string[] = [];
  let level: CommandModule[] | undefined = COMMANDS;
  for (const word of args) {
    if (word === '--') break;
    if (word.startsWith('-') || level === undefined) continue;
    const found: CommandModule | undefined = level.find((command) => namesOf(command).includes(word));
    if (found === undefined) continue;
    const name: string = namesOf(found)[0]!;
    path.push(name);
    level = SUBCOMMANDS[name];
    if (level === undefined) break;
  }
  return path;
}

/**
 * The arguments yargs is given: bare `kubectl dbaas` is `--help` (as bare `kubectl`: help on stdout,
 * exit 0), and `--version` without a command is the `version` command.
 *
 * @example
 * ```ts
 * normaliseArgs([]); // ['--help']
 * normaliseArgs(['--version', '-o', 'json']); // ['version', '-o', 'json']
 * ```
 */
export function normaliseArgs(args: string[]): string[] {
  if (args.length === 0) return ['--help'];
  if (args.includes('--version') && commandPath(args).length === 0) return ['version', ...args.filter((a) => a !== '--version')];
  return args;
}

export function buildCli(args: string[], options: { width?: number } = {}) {
  const cli = yargs(args);
  // Examples are printed as kubectl prints them: the description as a `# comment` line, the
  // command on a line of its own, never wrapped in the middle (yargs would put them in two
  // columns and wrap a long command).
  const example = cli.example.bind(cli);
  cli.example = ((command: string, description?: string) => {
    if (description) example(`# ${description}`, '');
    return example(command, '');
  }) as typeof cli.example;
  return withGlobalOptions(cli, args)
    .scriptName('kubectl dbaas')
    .usage(`$0 <command>\n\n${ROOT_DESCRIPTION}`)
    .command(COMMANDS)
    .demandCommand(1, 'Name a command.')
    .recommendCommands()
    .strict()
    .locale('en')
    .updateStrings(FLAG_RELATION_MESSAGES)
    .version(false)
    .option('version', { type: 'boolean', describe: 'Print the version (as the version command)' })
    .help()
    .alias('h', 'help')
    .wrap(options.width ?? Math.min(100, process.stdout.columns || 100))
    .middleware((argv) => setVerbosity(typeof argv['v'] === 'number' ? argv['v'] : undefined))
    .epilogue(`${CONNECTION_FLAGS_TEXT}\n\n${EXIT_CODES_TEXT}`)
    .fail((message, error) => {
      // yargs reports its own validation failures as a message without an error: those are usage
      // mistakes. Errors thrown by command handlers pass through untouched.
      throw error ?? new UsageError(withoutCamelCaseEchoes(message));
    });
}

/**
 * yargs lists an unknown `--all-namespaces` twice, as itself and camel-cased (`Unknown arguments:
 * all-namespaces, allNamespaces`): the message names each flag once, as it was typed.
 *
 * @example
 * ```ts
 * withoutCamelCaseEchoes('Unknown arguments: all-namespaces, allNamespaces'); // 'Unknown argument: all-namespaces'
 * ```
 */
export function withoutCamelCaseEchoes(message: string): string {
  const match = /^Unknown arguments: (.*)$/.exec(message);
  if (!match) return message;
  const names = match[1]!.split(', ');
  const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const kept = names.filter((name) => !names.some((other) => other !== name && other.includes('-') && camel(other) === name));
  return `Unknown argument${kept.length === 1 ? '' : 's'}: ${kept.join(', ')}`;
}

/**
 * Parses `--help` of the root and of every command once, printing nothing, so that the argument
 * parsing and usage code is compiled. Called only while the single executable's startup snapshot
 * is made: V8 keeps the compiled code in the snapshot, and every start skips compiling it again.
 *
 * @example
 * ```ts
 * if (v8.startupSnapshot.isBuildingSnapshot()) compileCommandLine();
 * ```
 */
export function compileCommandLine(): void {
  const names = COMMANDS.map((command) => String(command.command).split(' ')[0]!);
  for (const args of [['--help'], ...names.map((name) => [name, '--help'])]) {
    // With a callback yargs neither prints nor exits; the result is not needed.
    buildCli(args).parse(args, {}, () => undefined);
  }
}

/**
 * Runs the CLI with the given arguments (without `node` and the script) and sets
 * `process.exitCode`; every error ends in {@link reportError}.
 *
 * @example
 * ```ts
 * await main(process.argv.slice(2));
 * ```
 */
export async function main(args: string[]): Promise<void> {
  const argv = normaliseArgs(args);
  try {
    await buildCli(argv).parseAsync();
    process.exitCode ??= EXIT_OK;
  } catch (error) {
    process.exitCode = await reportError(error, undefined, { command: ['kubectl dbaas', ...commandPath(argv)].join(' ') });
  }
}
