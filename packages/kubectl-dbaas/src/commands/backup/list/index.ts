import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { allNamespacesShape, globalOptionsSchema, withAllNamespaces } from '../../../global-options.js';
import { writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';

const backupListArgsSchema = z.extend(globalOptionsSchema, {
  ...allNamespacesShape,
  selector: z.optional(z.string().check(z.minLength(1, 'give a label selector, e.g. -l team=payments'))),
  source: z.optional(z.string().check(z.minLength(1, 'name a PVC'))),
});

/**
 * `kubectl dbaas backup list`: the backups (VolumeSnapshot sets made by kubectl-dbaas) of a
 * namespace, or of all with `-A`, newest first.
 *
 * @example
 * ```sh
 * kubectl dbaas backup list -A -o json
 * ```
 */
export const backupListCommand: CommandModule = {
  command: 'list',
  aliases: ['ls'],
  describe: 'List backups (newest first): mode, state, source PVC, age of the cut, size, WAL snapshot',
  builder: (argv) =>
    withAllNamespaces(argv)
      .option('selector', { alias: 'l', type: 'string', describe: 'Label selector (e.g. -l team=payments), ANDed with managed-by=kubectl-dbaas' })
      .option('source', { type: 'string', describe: 'Only backups of this PVC' })
      .example('kubectl dbaas backup list', "Backups in the context's namespace")
      .example('kubectl dbaas backup list -A -o json', 'Every namespace, as one JSON document')
      .example('kubectl dbaas backup list -o name -l team=payments', 'Names only: backup/NAME'),
  handler: async (argv) => {
    const args = parseArgs(backupListArgsSchema, argv);
    const { runBackupList, renderBackupList, emptyListMessage } = await import('./run.js');
    const doc = await runBackupList(args);
    if (doc.items.length === 0 && args.output === 'text') {
      process.stderr.write(`${emptyListMessage(doc)}\n`);
      return;
    }
    await writeResult(doc, args.output, { text: (d) => renderBackupList(d), name: (d) => d.items.map((i) => `backup/${i.name}`) });
  },
};
