import type { CommandModule } from 'yargs';
import { walInspectCommand } from './inspect/index.js';
import { walStatusCommand } from './status/index.js';

/** The `wal` subcommands. */
export const WAL_COMMANDS: CommandModule[] = [walInspectCommand, walStatusCommand];

/**
 * `kubectl dbaas wal <inspect|status>`.
 *
 * @example
 * ```sh
 * kubectl dbaas wal inspect /var/lib/postgresql/data
 * ```
 */
export const walCommand: CommandModule = {
  command: 'wal',
  describe: 'Inspect PostgreSQL WAL: of a data directory or snapshot file, or of a live server',
  builder: (argv) => argv.command(WAL_COMMANDS).demandCommand(1, 'Name a wal command: inspect or status.'),
  handler: () => undefined,
};
