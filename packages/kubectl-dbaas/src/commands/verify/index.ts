import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { globalOptionsSchema, kubeArgs } from '../../global-options.js';
import { writeResult } from '../../output.js';
import { parseArgs } from '../../parse-args.js';
import { UsageError } from '../../usage-error.js';
import { timeoutMs as timeoutMsOf, timeoutShape, withFlagRelations, withTimeout } from '../../option-groups.js';
import { backupNameArg, objectName, parseCheck, parseNodeSelector, parseSubPath } from '../../flag-values.js';

const AMCHECK = ['auto', 'install', 'skip'] as const;
const RUNTIME = ['pod'] as const;
const name = () => z.optional(z.string().check(z.minLength(1)));

const verifyArgsSchema = z.extend(globalOptionsSchema, {
  backup: name(),
  pvc: name(),
  clone: z._default(z.boolean(), true),
  consumerNode: name(),
  fromNamespace: name(),
  check: z.optional(z.array(z.string())),
  checkDatabase: name(),
  amcheck: z._default(z.enum(AMCHECK), 'auto'),
  liveEvenIfUnsafe: z._default(z.boolean(), false),
  runtime: z._default(z.enum(RUNTIME), 'pod'),
  image: name(),
  runAsUser: z.optional(z.int().check(z.minimum(0))),
  nodeSelector: z.optional(z.array(z.string())),
  prepImage: name(),
  storageClass: name(),
  dataSubpath: z.optional(z.string()),
  ...timeoutShape('20m'),
});

/**
 * `kubectl dbaas verify --backup NAME | --pvc NAME`: proves a copy restorable (RestoreClient.verify
 * of the SDK): offline with the WAL inspector, then a scratch PostgreSQL on it must leave recovery
 * on the backup's timeline and pass amcheck and the given checks. Exit 1 when it does not.
 *
 * @example
 * ```sh
 * kubectl dbaas verify --backup nightly -n db --check 'orders=select count(*) > 0 from orders'
 * kubectl dbaas verify --pvc pg-restored -n db -o json
 * ```
 */
export const verifyCommand: CommandModule = {
  command: 'verify',
  describe:
    'Prove a backup (restored into a scratch PVC, deleted afterwards) or a restored PVC restorable: the WAL inspector on its files, ' +
    "then a scratch PostgreSQL that must leave recovery on the backup's timeline and pass amcheck and your checks. " +
    'Exit 0 when it passes, 1 when it does not (every failure is printed)',
  builder: (argv) =>
    withTimeout(
      withFlagRelations(
        argv,
        {
          backup: { type: 'string', group: 'What to verify (one of):', describe: 'A backup: restored into a scratch PVC, removed afterwards' },
          pvc: {
            type: 'string',
            group: 'What to verify (one of):',
            describe: 'A PVC already restored: a CSI clone of it is checked and deleted, the PVC itself is left as it was (see --no-clone)',
          },
          'from-namespace': { type: 'string', describe: 'Namespace of --backup (default: -n, where the scratch PVC is made; a restored PVC records its own)' },
          'storage-class': { type: 'string', describe: 'StorageClass of the scratch restore (--backup)' },
          clone: {
            type: 'boolean',
            default: true,
            describe:
              'With --pvc: check a CSI clone of the PVC. --no-clone starts PostgreSQL on the PVC itself, which changes its files (recovery renames backup_label, replays WAL, writes a checkpoint; the pods own the files afterwards)',
          },
          'consumer-node': {
            type: 'string',
            describe:
              'WaitForFirstConsumer classes: bind the scratch restore or the clone for this node now (default: the first verify pod binds it; a --backup from another namespace needs the node)',
          },
          'prep-image': {
            type: 'string',
            describe:
              "With --backup of an online backup: image of the scratch restore's restore-prep Job (default postgres:<the backup's major>; as restore --prep-image)",
            group: 'Runtime:',
          },
        },
        { conflicts: { backup: ['pvc'], 'from-namespace': ['pvc'], 'storage-class': ['pvc'], 'prep-image': ['pvc'] } },
      )
        .option('check', { type: 'string', array: true, describe: 'NAME=SQL, repeatable: passes when the first column of the first row is true' })
        .option('check-database', { type: 'string', describe: 'Database the checks run in (default: postgres)' })
        .option('amcheck', {
          choices: AMCHECK,
          default: 'auto',
          describe: 'bt_index_check on every btree index: auto (installs the extension only in a scratch restore), install, skip',
        })
        .option('live-even-if-unsafe', {
          type: 'boolean',
          default: false,
          describe: 'Start PostgreSQL even when the offline check finds the copy unsafe (to see what happens)',
        })
        .option('data-subpath', {
          type: 'string',
          describe: 'PGDATA relative to the volume root (default: the root, else the one subdirectory holding PG_VERSION)',
        })
        .option('runtime', {
          choices: RUNTIME,
          default: 'pod',
          describe: 'Where the volume is read and the scratch PostgreSQL runs: pod (pods in the cluster, over exec and port-forward)',
          group: 'Runtime:',
        })
        .option('image', {
          type: 'string',
          describe:
            "With --runtime pod: image of the scratch pods, {major} is replaced by the PostgreSQL major (default: a CloudNativePG Cluster's backup, the Cluster's image while it runs that major; else postgres:{major})",
          group: 'Runtime:',
        })
        .option('run-as-user', {
          type: 'number',
          describe:
            'With --runtime pod: user id of the scratch pods (default: the one the backup recorded from its database pod, e.g. 26 for CloudNativePG; else 999)',
          group: 'Runtime:',
        })
        .option('node-selector', {
          type: 'string',
          array: true,
          describe: 'With --runtime pod: KEY=VALUE, repeatable: node labels the scratch pods must run on (e.g. the zone of the volume)',
          group: 'Runtime:',
        }),
      '20m',
      'Deadline of the whole verification',
    )
      .example('kubectl dbaas verify --backup nightly -n db', 'Restore to a scratch PVC, check, remove it')
      .example(
        "kubectl dbaas verify --pvc restored --check 'orders=select count(*) > 0 from orders'",
        'A restored volume, with a check of your own (--check-database picks the database)',
      )
      .example('kubectl dbaas verify --backup nightly -o json | jq .failures', 'Scriptable')
      .example('kubectl dbaas verify --pvc restored --no-clone', 'On a driver that cannot clone: PostgreSQL recovers on the volume itself (it changes)'),
  handler: async (argv) => {
    const args = parseArgs(verifyArgsSchema, argv);
    if ((args.backup === undefined) === (args.pvc === undefined)) {
      // Both given is refused by yargs already (withFlagRelations).
      throw new UsageError('name what to verify: --backup NAME (a backup, restored into a scratch PVC) or --pvc NAME (a restored volume)');
    }
    if (args.backup !== undefined && !args.clone) throw new UsageError('--no-clone goes with --pvc: a --backup is checked in a scratch restore of its own');
    if (args.output === 'name') throw new UsageError('verify has no -o name output; use -o text, json or yaml');
    const timeoutMs = timeoutMsOf(args.timeout);
    const checks = (args.check ?? []).map(parseCheck);
    const parsed = {
      ...kubeArgs(args),
      target: args.backup !== undefined ? { backup: backupNameArg(args.backup) } : { pvc: objectName(args.pvc!, '--pvc') },
      fromNamespace: args.fromNamespace,
      checks: checks.map((c) => ({ ...c, ...(args.checkDatabase ? { database: args.checkDatabase } : {}) })),
      amcheck: args.amcheck,
      liveEvenIfUnsafe: args.liveEvenIfUnsafe,
      runtime: args.runtime,
      image: args.image,
      runAsUser: args.runAsUser,
      nodeSelector: args.nodeSelector !== undefined ? parseNodeSelector(args.nodeSelector) : undefined,
      storageClass: args.storageClass !== undefined ? objectName(args.storageClass, '--storage-class') : undefined,
      clone: args.clone,
      consumerNode: args.consumerNode !== undefined ? objectName(args.consumerNode, '--consumer-node') : undefined,
      prepImage: args.prepImage,
      dataSubPath: args.dataSubpath !== undefined ? parseSubPath(args.dataSubpath) : undefined,
      timeoutMs,
    };
    const run = await import('./run.js');
    const { runLongOperation } = await import('../../long-operation.js');
    const report = await runLongOperation((ctx) => run.runVerifyCommand(parsed, ctx), 'stopping the scratch PostgreSQL, deleting the scratch restore');
    await writeResult(report, args.output, run.renderVerify);
    if (!report.ok) {
      if (args.output !== 'text')
        process.stderr.write(
          run
            .failureLines(report)
            .map((l) => `${l}\n`)
            .join(''),
        );
      process.exitCode = 1;
    }
  },
};
