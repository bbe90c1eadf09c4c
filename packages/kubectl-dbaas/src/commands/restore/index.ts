import type { CommandModule, Options } from 'yargs';
import * as z from 'zod/mini';
import { globalOptionsSchema, kubeArgs } from '../../global-options.js';
import { writeDryRun, writeResult } from '../../output.js';
import { parseArgs } from '../../parse-args.js';
import { UsageError } from '../../usage-error.js';
import { dryRunShape, timeoutMs as timeoutMsOf, timeoutShape, withDryRun, withFlagRelations, withTimeout } from '../../option-groups.js';
import { requireFencedObject } from '../../fence-object.js';
import { backupNameArg, objectName, parseSize, parseSubPath, parseVolumeMounts } from '../../flag-values.js';

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
  volumeMount: z.optional(z.array(z.string())),
  keepCnpgSettings: z.optional(z.boolean()),
  forStatefulset: name(),
  template: name(),
  ordinal: id(),
  inPlace: name(),
  cnpgCluster: name(),
  cnpgSpec: name(),
  instances: z.optional(z.int().check(z.minimum(1))),
  yes: z.optional(z.boolean()),
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
const WORKLOAD_GROUP = 'Into a StatefulSet (instead of --to):';
const WORKLOAD_FLAGS = {
  'for-statefulset': {
    type: 'string',
    group: WORKLOAD_GROUP,
    describe: "A new PVC for this StatefulSet's pod, <template>-<NAME>-<ordinal>, which its controller adopts when it is created (refused if it exists)",
  },
  'in-place': {
    type: 'string',
    group: WORKLOAD_GROUP,
    describe:
      'statefulset/NAME (one replica): scale it to 0, keep its data on its PV (Retain) under the PVC <pvc>-previous, make the PVC of the same name from the backup (each PVC of a backup of several volumes), scale back and wait Ready; nothing of the old data is deleted',
  },
  template: {
    type: 'string',
    group: WORKLOAD_GROUP,
    describe: "The StatefulSet's volumeClaimTemplate (default: its only one; data for a StatefulSet not created yet)",
  },
  ordinal: { type: 'number', group: WORKLOAD_GROUP, describe: 'The pod ordinal of --for-statefulset (default 0)' },
  yes: { type: 'boolean', group: WORKLOAD_GROUP, describe: 'Confirm --in-place: the database stops and comes back on the backup' },
} as const satisfies Record<string, Options>;

const CNPG_GROUP = 'Into a new CloudNativePG Cluster (instead of --to):';
const CNPG_FLAGS = {
  'cnpg-cluster': {
    type: 'string',
    group: CNPG_GROUP,
    describe:
      "A new Cluster that CloudNativePG bootstraps from the backup (bootstrap.recovery.volumeSnapshots; no WAL archive needed), waited until healthy; the spec is the source Cluster's without backup, plugins and replica",
  },
  'cnpg-spec': {
    type: 'string',
    group: CNPG_GROUP,
    describe: "A file with the new Cluster's manifest (its bootstrap is replaced); needed when the source Cluster is gone",
  },
  instances: { type: 'number', group: CNPG_GROUP, describe: "The new Cluster's instances (default: the spec's)" },
} as const satisfies Record<string, Options>;

export const restoreCommand: CommandModule = {
  command: 'restore [backup]',
  describe:
    "Restore a backup into a new PVC (never an existing one): size at least the snapshot's restoreSize, a StorageClass of the " +
    "snapshot's driver, another namespace through a temporary VolumeSnapshotContent (Retain), an online backup completed with " +
    'its WAL and backup_label by a restore-prep Job. Ctrl-C deletes what it created, then exits 130',
  builder: (argv) =>
    withDryRun(
      withTimeout(
        withFlagRelations(
          withFlagRelations(argv, WORKLOAD_FLAGS, {
            conflicts: { to: ['for-statefulset', 'in-place'], 'for-statefulset': ['in-place'] },
            implies: { ordinal: ['for-statefulset'], yes: ['in-place'] },
          }),
          CNPG_FLAGS,
          {
            conflicts: {
              'cnpg-cluster': [
                'to',
                'for-statefulset',
                'in-place',
                'from-namespace',
                'volume-mount',
                'consumer-node',
                'size',
                'storage-class',
                'keep-cnpg-settings',
              ],
            },
            implies: { 'cnpg-spec': ['cnpg-cluster'], instances: ['cnpg-cluster'] },
          },
        )
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
          .option('volume-mount', {
            type: 'string',
            array: true,
            describe:
              "A backup of several volumes (pg_wal or tablespaces on PVCs of their own), for a pod that mounts one elsewhere than the source did: VOLUME=PATH (repeatable); a Job re-points the data directory's links to it",
          })
          .option('keep-cnpg-settings', {
            type: 'boolean',
            describe:
              'A backup of a CloudNativePG instance: leave its configuration as it is (default: its settings that need CloudNativePG, such as TLS files and sockets under /controller, archiving and standby.signal, are turned off for a plain PostgreSQL server)',
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
      .example('kubectl dbaas restore nightly --to pg-restored --dry-run=server -o yaml', 'What it would create')
      .example('kubectl dbaas restore nightly --for-statefulset pg-new -n db', 'The PVC data-pg-new-0, for a StatefulSet pg-new created next')
      .example('kubectl dbaas restore nightly --cnpg-cluster pg-restored -n db', 'A new CloudNativePG Cluster, bootstrapped by CloudNativePG from the backup')
      .example(
        'kubectl dbaas restore nightly --in-place statefulset/pg --yes -n db',
        'Replace the data of StatefulSet pg (the old data kept in data-pg-0-previous)',
      ),
  handler: async (argv) => {
    const args = parseArgs(restoreArgsSchema, argv);
    if (!args.backup) throw new UsageError('name the backup to restore: kubectl dbaas restore BACKUP --to PVC (kubectl dbaas backup list shows them)');
    if (!args.to && !args.forStatefulset && !args.inPlace && !args.cnpgCluster)
      throw new UsageError(
        'name the new PVC: --to PVC (a restore never writes into an existing one), a StatefulSet: --for-statefulset NAME (a new PVC its controller adopts) or --in-place statefulset/NAME, or a new CloudNativePG Cluster: --cnpg-cluster NAME',
      );
    if (args.template !== undefined && !args.forStatefulset && !args.inPlace) throw new UsageError('--template needs --for-statefulset or --in-place');
    const timeoutMs = timeoutMsOf(args.timeout);
    if (args.cnpgCluster) {
      await runCnpg(args, timeoutMs);
      return;
    }
    const common = {
      ...kubeArgs(args),
      backup: backupNameArg(args.backup),
      fromNamespace: args.fromNamespace,
      size: args.size !== undefined ? parseSize(args.size) : undefined,
      storageClass: args.storageClass !== undefined ? objectName(args.storageClass, '--storage-class') : undefined,
      consumerNode: args.consumerNode !== undefined ? objectName(args.consumerNode, '--consumer-node') : undefined,
      prepImage: args.prepImage,
      prepUid: args.prepUid,
      prepFsGroup: args.prepFsGroup,
      dataSubPath: args.dataSubpath !== undefined ? parseSubPath(args.dataSubpath) : undefined,
      volumeMounts: args.volumeMount !== undefined ? parseVolumeMounts(args.volumeMount) : undefined,
      keepCnpgSettings: args.keepCnpgSettings,
      timeoutMs,
    };
    if (args.forStatefulset || args.inPlace) {
      await runWorkload(common, args);
      return;
    }
    const parsed = { ...common, to: objectName(args.to!, '--to') };
    const run = await import('./run.js');
    if (args.dryRun !== 'none') {
      const plan = await run.runRestorePlan({ ...parsed, dryRun: args.dryRun });
      const lines = run.restorePlanLines(plan);
      await writeDryRun(lines, run.restorePlanList(plan), args.output, run.manifestNames);
      return;
    }
    const { runLongOperation } = await import('../../long-operation.js');
    const report = await runLongOperation((ctx) => run.runRestoreCommand(parsed, ctx), 'deleting what the restore created');
    await writeResult(report, args.output, { text: run.renderRestore, name: (r) => `persistentvolumeclaim/${r.pvc}` });
  },
};

type RestoreArgs = z.infer<typeof restoreArgsSchema>;

/** `--for-statefulset` and `--in-place`: the same flags as `--to`, another target. */
async function runWorkload(common: Omit<import('./run.js').RestoreCommandArgs, 'to'>, args: RestoreArgs): Promise<void> {
  const template = args.template !== undefined ? objectName(args.template, '--template') : undefined;
  let target: import('./workload.js').WorkloadTarget;
  if (args.inPlace) {
    const object = requireFencedObject(args.inPlace, '--in-place');
    if (object.kind !== 'statefulset') throw new UsageError(`--in-place: "${args.inPlace}" is not a StatefulSet; use statefulset/NAME`);
    target = { kind: 'in-place', statefulSet: object.name, template, yes: args.yes === true };
  } else {
    target = { kind: 'for-statefulset', statefulSet: objectName(args.forStatefulset!, '--for-statefulset'), template, ordinal: args.ordinal };
  }
  const workload = await import('./workload.js');
  const run = await import('./run.js');
  const parsed = { ...common, target };
  if (args.dryRun !== 'none') {
    const dryRun = args.dryRun;
    const view =
      target.kind === 'in-place'
        ? await workload.runInPlacePlan({ ...parsed, target, dryRun })
        : await workload.runForStatefulSetPlan({ ...parsed, target, dryRun });
    const lines =
      'steps' in view.plan
        ? workload.inPlacePlanLines(view as Parameters<typeof workload.inPlacePlanLines>[0])
        : [
            ...run.restorePlanLines(view as import('./run.js').RestorePlanView),
            `the StatefulSet ${target.statefulSet} ${(view as { statefulSetExists: boolean }).statefulSetExists ? 'exists: its pod starts on the PVC when it is scaled up to it' : 'is to be created next: its pod starts on the PVC'}`,
          ];
    await writeDryRun(lines, { apiVersion: 'v1' as const, kind: 'List' as const, items: view.manifests }, args.output, run.manifestNames);
    return;
  }
  const { runLongOperation } = await import('../../long-operation.js');
  if (target.kind === 'in-place') {
    const report = await runLongOperation(
      (ctx) => workload.runInPlaceCommand({ ...parsed, target }, ctx),
      'undoing what the in-place restore did (the old data is never deleted)',
    );
    await writeResult(report, args.output, { text: workload.renderInPlace, name: (r) => `persistentvolumeclaim/${r.pvc}` });
  } else {
    const report = await runLongOperation((ctx) => workload.runForStatefulSetCommand({ ...parsed, target }, ctx), 'deleting what the restore created');
    await writeResult(report, args.output, { text: run.renderRestore, name: (r) => `persistentvolumeclaim/${r.pvc}` });
  }
}

/** `--cnpg-cluster`: a new CloudNativePG Cluster bootstrapped from the backup. */
async function runCnpg(args: RestoreArgs, timeoutMs: number): Promise<void> {
  const cnpg = await import('./cnpg.js');
  const parsed = {
    ...kubeArgs(args),
    backup: backupNameArg(args.backup!),
    cnpgCluster: objectName(args.cnpgCluster!, '--cnpg-cluster'),
    specFile: args.cnpgSpec,
    instances: args.instances,
    prepImage: args.prepImage,
    prepUid: args.prepUid,
    prepFsGroup: args.prepFsGroup,
    timeoutMs,
  };
  if (args.dryRun !== 'none') {
    const plan = await cnpg.runCnpgRestorePlan(parsed);
    const list = { apiVersion: 'v1' as const, kind: 'List' as const, items: plan.manifests as { kind?: string; metadata?: { name?: string } }[] };
    await writeDryRun(cnpg.cnpgRestorePlanLines(plan), list, args.output, (l) => l.items.map((m) => `${String(m.kind).toLowerCase()}/${m.metadata?.name}`));
    return;
  }
  const { runLongOperation } = await import('../../long-operation.js');
  const report = await runLongOperation((ctx) => cnpg.runCnpgRestoreCommand(parsed, ctx), 'deleting what the restore created');
  await writeResult(report, args.output, { text: cnpg.renderCnpgRestore, name: (r) => `clusters.postgresql.cnpg.io/${r.cluster}` });
}
