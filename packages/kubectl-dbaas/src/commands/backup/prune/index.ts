import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { allNamespacesShape, globalOptionsSchema, withAllNamespaces } from '../../../global-options.js';
import { withFlagRelations } from '../../../option-groups.js';
import { writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';
import { UsageError } from '../../../usage-error.js';

const count = () => z.optional(z.int().check(z.minimum(0, 'must be 0 or more')));
const backupPruneArgsSchema = z.extend(globalOptionsSchema, {
  ...allNamespacesShape,
  keepLast: count(),
  maxAge: z.optional(z.string().check(z.regex(/^(\d+(\.\d+)?[smhdw])+$/, 'use a number and a unit s, m, h, d or w, e.g. 36h, 7d, 2w, 1d12h'))),
  keepDaily: count(),
  keepWeekly: count(),
  keepMonthly: count(),
  source: z.optional(z.string().check(z.minLength(1))),
  yes: z._default(z.boolean(), false),
  wait: z._default(z.boolean(), false),
});

/**
 * `kubectl dbaas backup prune`: deletes the backups a retention policy does not keep. Prints the
 * plan only, unless `--yes`.
 *
 * @example
 * ```sh
 * kubectl dbaas backup prune --keep-daily 7 --keep-weekly 4 --yes
 * ```
 */
export const backupPruneCommand: CommandModule = {
  command: 'prune',
  describe:
    'Delete the backups a retention policy does not keep. Without --yes only the plan is printed (a dry run). ' +
    'keep-last/daily/weekly/monthly count ready backups only; the newest ready backup and backups in progress are always kept',
  builder: (argv) =>
    withFlagRelations(
      withAllNamespaces(argv),
      {
        yes: { alias: ['y', 'confirm'], type: 'boolean', describe: 'Delete the backups the plan marks (default: print the plan only)' },
        wait: { type: 'boolean', describe: 'Wait until each deleted backup is gone' },
      },
      { implies: { wait: ['yes'] } },
    )
      .option('keep-last', { type: 'number', describe: 'Keep the N newest ready backups' })
      .option('max-age', { type: 'string', describe: 'Keep every backup requested within this age (36h, 7d, 2w, 1d12h)' })
      .option('keep-daily', { type: 'number', describe: 'Keep the newest ready backup of each of the last N UTC days that have one' })
      .option('keep-weekly', { type: 'number', describe: 'Same per ISO week (UTC, Monday first)' })
      .option('keep-monthly', { type: 'number', describe: 'Same per UTC calendar month' })
      .option('source', { type: 'string', describe: 'Only backups of this PVC' })
      .example('kubectl dbaas backup prune --keep-daily 7 --keep-weekly 4', 'Show what would be deleted')
      .example('kubectl dbaas backup prune --keep-daily 7 --keep-weekly 4 --yes', 'Delete it'),
  handler: async (argv) => {
    const args = parseArgs(backupPruneArgsSchema, argv);
    if ([args.keepLast, args.maxAge, args.keepDaily, args.keepWeekly, args.keepMonthly].every((v) => v === undefined)) {
      throw new UsageError('give at least one retention rule: --keep-last, --max-age, --keep-daily, --keep-weekly or --keep-monthly');
    }
    const { runBackupPrune, renderPrune } = await import('./run.js');
    const doc = await runBackupPrune(args);
    await writeResult(doc, args.output, {
      text: (d) => renderPrune(d, { allNamespaces: args.allNamespaces }),
      name: (d) => d.decisions.filter((x) => x.action === 'delete').map((x) => `backup/${x.name}`),
    });
  },
};
