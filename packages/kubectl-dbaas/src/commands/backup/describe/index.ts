import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { globalOptionsSchema } from '../../../global-options.js';
import { writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';
import { UsageError } from '../../../usage-error.js';
import { backupNameArg } from '../../../flag-values.js';

const backupDescribeArgsSchema = z.extend(globalOptionsSchema, { name: z.optional(z.string()) });

/**
 * `kubectl dbaas backup describe NAME`: one backup with its snapshots, contents and metadata.
 *
 * @example
 * ```sh
 * kubectl dbaas backup describe nightly -n db
 * ```
 */
export const backupDescribeCommand: CommandModule = {
  command: 'describe [name]',
  describe: 'Show one backup: state, whether it is restorable, LSNs and WAL files, each snapshot and its VolumeSnapshotContent',
  builder: (argv) =>
    argv
      .positional('name', { type: 'string', describe: 'The backup (NAME or backup/NAME; NAME-wal finds the same backup)' })
      .example('kubectl dbaas backup describe nightly -n db', '')
      .example('kubectl dbaas backup list -o name | xargs -n1 kubectl dbaas backup describe', 'Describe each')
      .example('kubectl dbaas backup describe nightly -o yaml', 'As one YAML document'),
  handler: async (argv) => {
    const args = parseArgs(backupDescribeArgsSchema, argv);
    if (!args.name) throw new UsageError('name the backup to describe: kubectl dbaas backup describe NAME (kubectl dbaas backup list shows them)');
    const { runBackupDescribe, renderBackupDescription } = await import('./run.js');
    const view = await runBackupDescribe({ ...args, name: backupNameArg(args.name) });
    await writeResult(view, args.output, { text: (v) => renderBackupDescription(v), name: (v) => `backup/${v.name}` });
  },
};
