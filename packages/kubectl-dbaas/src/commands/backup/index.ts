import type { CommandModule } from 'yargs';
import { backupCreateCommand } from './create/index.js';
import { backupDeleteCommand } from './delete/index.js';
import { backupDescribeCommand } from './describe/index.js';
import { backupListCommand } from './list/index.js';
import { backupPruneCommand } from './prune/index.js';

/** The `backup` subcommands, in the order `--help` lists them. */
export const BACKUP_COMMANDS: CommandModule[] = [backupCreateCommand, backupListCommand, backupDescribeCommand, backupDeleteCommand, backupPruneCommand];

/**
 * `kubectl dbaas backup <create|list|describe|delete|prune>`.
 *
 * @example
 * ```sh
 * kubectl dbaas backup create --pod pg-0 -n db
 * kubectl dbaas backup list -A
 * ```
 */
export const backupCommand: CommandModule = {
  command: 'backup',
  describe: 'Consistent backups of PostgreSQL volumes as CSI VolumeSnapshots: create, list, describe, delete, prune',
  builder: (argv) => argv.command(BACKUP_COMMANDS).demandCommand(1, 'Name a backup command: create, list, describe, delete or prune.'),
  handler: () => undefined,
};
