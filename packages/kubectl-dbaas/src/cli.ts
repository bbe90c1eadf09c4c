import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { reportError } from './error-handler.js';
import { UsageError } from './usage-error.js';
import { EXIT_OK } from './exit-codes.js';
import { withGlobalOptions } from './global-options.js';
import { versionCommand } from './commands/version/index.js';
import { walCommand } from './commands/wal/index.js';

/** Builds the root command. Exported so tests can parse arguments without spawning a process. */
export function buildCli(args: string[]) {
  return withGlobalOptions(yargs(args))
    .scriptName('kubectl dbaas')
    .usage('$0 <command>\n\nConsistent CSI VolumeSnapshot backups and restores of PostgreSQL.')
    .command(walCommand)
    .command(versionCommand)
    .demandCommand(1, 'Name a command.')
    .recommendCommands()
    .strict()
    .version(false)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((message, error) => {
      // yargs reports its own validation failures as a message without an error: those are usage
      // mistakes. Errors thrown by command handlers pass through untouched.
      throw error ?? new UsageError(message);
    });
}

async function main(): Promise<void> {
  try {
    await buildCli(hideBin(process.argv)).parseAsync();
    process.exitCode ??= EXIT_OK;
  } catch (error) {
    process.exitCode = reportError(error);
  }
}

await main();
