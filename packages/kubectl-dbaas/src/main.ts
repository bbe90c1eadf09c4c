import yargs from 'yargs';
import { backupCommand } from './commands/backup/index.js';
import { completionCommand } from './commands/completion/index.js';
import { restoreCommand } from './commands/restore/index.js';
import { verifyCommand } from './commands/verify/index.js';
import { versionCommand } from './commands/version/index.js';
import { walCommand } from './commands/wal/index.js';
import { reportError } from './error-handler.js';
import { EXIT_OK } from './exit-codes.js';
import { withGlobalOptions } from './global-options.js';
import { UsageError } from './usage-error.js';

/**
 * The root description shown by `--help` (and at the top of docs/cli.md).
 *
 * @example
 * ```ts
 * console.log(ROOT_DESCRIPTION);
 * ```
 */
export const ROOT_DESCRIPTION = 'Consistent CSI VolumeSnapshot backups and restores of PostgreSQL.';

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
const COMMANDS = [backupCommand, restoreCommand, verifyCommand, walCommand, completionCommand, versionCommand];

export function buildCli(args: string[], options: { width?: number } = {}) {
  return withGlobalOptions(yargs(args))
    .scriptName('kubectl dbaas')
    .usage(`$0 <command>\n\n${ROOT_DESCRIPTION}`)
    .command(COMMANDS)
    .demandCommand(1, 'Name a command.')
    .recommendCommands()
    .strict()
    .locale('en')
    .version(false)
    .help()
    .alias('h', 'help')
    .wrap(options.width ?? Math.min(100, process.stdout.columns || 100))
    .epilogue('Exit codes: 0 success, 1 failure, 2 usage error.')
    .fail((message, error) => {
      // yargs reports its own validation failures as a message without an error: those are usage
      // mistakes. Errors thrown by command handlers pass through untouched.
      throw error ?? new UsageError(message);
    });
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
  try {
    await buildCli(args).parseAsync();
    process.exitCode ??= EXIT_OK;
  } catch (error) {
    process.exitCode = await reportError(error);
  }
}
