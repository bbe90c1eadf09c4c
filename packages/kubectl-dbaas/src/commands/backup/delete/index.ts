import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { parseKubeDuration } from '../../../duration.js';
import { globalOptionsSchema } from '../../../global-options.js';
import { writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';
import { UsageError } from '../../../usage-error.js';
import { backupNameArg } from '../../../flag-values.js';
import { timeoutShape, withTimeout } from '../../../option-groups.js';

const backupDeleteArgsSchema = z.extend(globalOptionsSchema, {
  names: z._default(z.array(z.string().check(z.minLength(1))), []),
  wait: z._default(z.boolean(), true),
  ...timeoutShape('2m'),
});

/**
 * `kubectl dbaas backup delete NAME...`: deletes backups (the data and `-wal` snapshots of each
 * together). Waits until they are gone, as `kubectl delete` does, unless `--wait=false`.
 *
 * @example
 * ```sh
 * kubectl dbaas backup delete nightly-1 nightly-2 -n db
 * ```
 */
export const backupDeleteCommand: CommandModule = {
  command: 'delete [names..]',
  describe: 'Delete backups: the data and -wal snapshots of each together; never a snapshot kubectl-dbaas did not make',
  builder: (argv) =>
    withTimeout(
      argv
        .positional('names', { type: 'string', array: true, describe: 'The backups to delete (NAME or backup/NAME)' })
        .option('wait', { type: 'boolean', default: true, describe: 'Wait until the snapshots are gone (--wait=false returns once deletion is requested)' }),
      '2m',
      'How long --wait waits',
    )
      .example('kubectl dbaas backup delete nightly-1 nightly-2 -n db', '')
      .example('kubectl dbaas backup list -o name -l team=payments | xargs kubectl dbaas backup delete', 'Delete a selection'),
  handler: async (argv) => {
    const args = parseArgs(backupDeleteArgsSchema, argv);
    if (args.names.length === 0) throw new UsageError('name the backups to delete: kubectl dbaas backup delete NAME... (kubectl dbaas backup list shows them)');
    const timeoutMs = parseKubeDuration(args.timeout, '--timeout');
    const { runBackupDelete, renderDeleted } = await import('./run.js');
    const streaming = args.output === 'text' || args.output === 'name';
    const doc = await runBackupDelete(
      { ...args, names: args.names.map(backupNameArg), timeoutMs },
      // text and name lines are printed as each backup goes (a later failure does not hide them)
      streaming ? { onDeleted: (r) => void writeResult(r, args.output, { text: renderDeleted, name: (x) => `backup/${x.name}` }) } : {},
    );
    if (!streaming) await writeResult(doc, args.output, () => '');
  },
};
