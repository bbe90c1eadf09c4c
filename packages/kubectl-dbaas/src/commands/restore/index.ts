import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { globalOptionsSchema, kubeArgs } from '../../global-options.js';
import { writeResult } from '../../output.js';
import { parseArgs } from '../../parse-args.js';
import { UsageError } from '../../usage-error.js';
import { dryRunShape, timeoutMs as timeoutMsOf, timeoutShape, withDryRun, withTimeout } from '../../option-groups.js';
import { backupNameArg, objectName, parseSize, parseSubPath } from '../../flag-values.js';

const name = () => z.optional(z.string().check(z.minLength(1)));
const id = () => z.optional(z.int().check(z.minimum(0)));

const restoreArgsSchema = z.extend(globalOptionsSchema, {
  backup: z.optional(z.string()),
  to: name(),
  fromNamespace: name(),
  size: name(),
  storageClass: name(),
  consumerNode: name(),
  prepImage: name(),
  prepUid: id(),
  prepFsGroup: id(),
  dataSubpath: z.optional(z.string()),
  ...timeoutShape('15m'),
  ...dryRunShape,
});

/**
 * `kubectl dbaas restore BACKUP --to PVC`: a backup into a new PVC (RestoreClient.restore of the
 * SDK), in this namespace or another, checked before anything is created; an `online` backup gets
 * its WAL and backup_label from the restore-prep step. Progress on stderr, a summary with the RTO
 * breakdown on stdout; Ctrl-C deletes what the restore created and exits 130.
 *
 * @example
 * ```sh
 * kubectl dbaas restore nightly --to pg-restored -n db
 * kubectl dbaas restore nightly --from-namespace prod --to pg-copy -n staging --dry-run=client -o yaml
 * ```
 */
export const restoreCommand: CommandModule = {
  command: 'restore [backup]',
  describe:
    "Restore a backup into a new PVC (never an existing one): size at least the snapshot's restoreSize, a StorageClass of the " +
    "snapshot's driver, another namespace through a temporary VolumeSnapshotContent (Retain), an online backup completed with " +
    'its WAL and backup_label by a restore-prep Job. Ctrl-C deletes what it created, then exits 130',
  builder: (argv) =>
    withDryRun(
      withTimeout(
        argv
          .positional('backup', { type: 'string', describe: 'The backup (NAME or backup/NAME, as backup list prints it)' })
          .option('to', { type: 'string', describe: 'Name of the new PVC (refused if it exists)' })
          .option('from-namespace', {
            type: 'string',
            describe: 'Namespace of the backup (default: the target namespace, -n); another one restores across namespaces',
          })
          .option('size', { type: 'string', describe: "Size of the PVC (default and minimum: the snapshot's restoreSize)" })
          .option('storage-class', {
            type: 'string',
            describe:
              "StorageClass of the PVC; must provision with the snapshot's driver (default: the source PVC's, else the default, else the driver's only class)",
          })
          .option('consumer-node', {
            type: 'string',
            describe: 'WaitForFirstConsumer classes: bind for this node now (without it the PVC is left waiting for its first pod, and the summary says so)',
          })
          .option('prep-image', {
            type: 'string',
            describe: "Image of the Job (default postgres:<the backup's major>)",
            group: 'Restore-prep (online backups):',
          })
          .option('prep-uid', {
            type: 'number',
            describe: 'User id of the Job (default 999, the official image; 26 for CloudNativePG)',
            group: 'Restore-prep (online backups):',
          })
          .option('prep-fs-group', { type: 'number', describe: 'fsGroup of the Job', group: 'Restore-prep (online backups):' })
          .option('data-subpath', {
            type: 'string',
            describe: 'PGDATA relative to the volume root (default: the root)',
            group: 'Restore-prep (online backups):',
          }),
        '15m',
        'Deadline of the whole restore',
      ),
      'Print every object it would create',
    )
      .example('kubectl dbaas restore nightly --to pg-restored -n db', 'Same namespace')
      .example('kubectl dbaas restore nightly --from-namespace prod --to pg-copy -n staging', 'Across namespaces')
      .example('kubectl dbaas restore nightly --to pg-restored --dry-run=server -o yaml', 'What it would create'),
  handler: async (argv) => {
    const args = parseArgs(restoreArgsSchema, argv);
    if (!args.backup) throw new UsageError('name the backup to restore: kubectl dbaas restore BACKUP --to PVC (kubectl dbaas backup list shows them)');
    if (!args.to) throw new UsageError('name the new PVC: --to PVC (a restore never writes into an existing one)');
    const timeoutMs = timeoutMsOf(args.timeout);
    const parsed = {
      ...kubeArgs(args),
      backup: backupNameArg(args.backup),
      to: objectName(args.to, '--to'),
      fromNamespace: args.fromNamespace,
      size: args.size !== undefined ? parseSize(args.size) : undefined,
      storageClass: args.storageClass !== undefined ? objectName(args.storageClass, '--storage-class') : undefined,
      consumerNode: args.consumerNode !== undefined ? objectName(args.consumerNode, '--consumer-node') : undefined,
      prepImage: args.prepImage,
      prepUid: args.prepUid,
      prepFsGroup: args.prepFsGroup,
      dataSubPath: args.dataSubpath !== undefined ? parseSubPath(args.dataSubpath) : undefined,
      timeoutMs,
    };
    const run = await import('./run.js');
    if (args.dryRun !== 'none') {
      const plan = await run.runRestorePlan({ ...parsed, dryRun: args.dryRun });
      const lines = run.restorePlanLines(plan);
      const list = run.restorePlanList(plan);
      if (args.output === 'text') {
        const comments = lines.map((l) => `# ${l}\n`).join('');
        await writeResult(
          list,
          'yaml',
          () => '',
          (text) => process.stdout.write(`${comments}${text}`),
        );
      } else {
        process.stderr.write(lines.map((l) => `${l}\n`).join(''));
        await writeResult(list, args.output, { text: () => '', name: run.manifestNames });
      }
      return;
    }
    const { runLongOperation } = await import('../../long-operation.js');
    const report = await runLongOperation((ctx) => run.runRestoreCommand(parsed, ctx), 'deleting what the restore created');
    await writeResult(report, args.output, { text: run.renderRestore, name: (r) => `persistentvolumeclaim/${r.pvc}` });
  },
};
