import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { connectionArgsShape, dsnEngine, withConnectionOptions } from '../../../connection.js';
import { parseKubeDuration } from '../../../duration.js';
import { globalOptionsSchema, kubeArgs } from '../../../global-options.js';
import { writeDryRun, writeResult } from '../../../output.js';
import { parseArgs } from '../../../parse-args.js';
import { UsageError } from '../../../usage-error.js';
import { createTarget, parseFence } from './options.js';

const MODES = ['crash', 'checkpoint', 'fenced', 'online'] as const;
const DRY_RUN = ['none', 'client', 'server'] as const;
const name = () => z.optional(z.string().check(z.minLength(1)));

const backupCreateArgsSchema = z.extend(globalOptionsSchema, {
  ...connectionArgsShape,
  dbSecret: z.optional(z.string().check(z.minLength(1))),
  engine: z.optional(z.enum(['postgres', 'mysql'])),
  pvc: name(),
  pod: name(),
  cnpgCluster: name(),
  instance: name(),
  name: name(),
  mode: z.optional(z.enum(MODES)),
  snapshotClass: name(),
  force: z._default(z.boolean(), false),
  timeout: z._default(z.string(), '10m'),
  fence: z._default(z.string(), 'auto'),
  fenceRetainPvcs: z._default(z.boolean(), false),
  dryRun: z._default(z.enum(DRY_RUN), 'none'),
});

/**
 * The modes each engine supports, shown by `--help` (and docs/cli.md); the SDK's `ENGINE_MODES` in
 * text, held to it by a test. Kept here as text so `--help` loads no SDK.
 *
 * @example
 * ```ts
 * console.log(ENGINE_MODES_TEXT);
 * ```
 */
export const ENGINE_MODES_TEXT =
  'Modes by engine (docs/engines.md): PostgreSQL: crash, checkpoint, fenced, online on atomic drivers; fenced, online on others. ' +
  'MySQL and MariaDB: crash, fenced, online on atomic drivers; fenced on others (a global read lock does not stop InnoDB writing, so a ' +
  'file-by-file copy under it can be torn; checkpoint does not exist for them). The engine is detected from the target (the dbaas.io/engine label, images, ' +
  'environment variable names, labels, the PVC name), else named by the --dsn scheme or --engine; the password comes from $PGPASSWORD/~/.pgpass or $MYSQL_PWD, never a flag.';

/**
 * `kubectl dbaas backup create`: a consistent backup of a PostgreSQL, MySQL or MariaDB volume as CSI VolumeSnapshots,
 * in the mode the driver allows (docs/consistency.md). Progress on stderr; Ctrl-C cleans up and
 * exits 130.
 *
 * @example
 * ```sh
 * kubectl dbaas backup create --pod pg-0 -n db            # fenced on hostpath, checkpoint on atomic drivers
 * kubectl dbaas backup create --pod pg-0 --mode online -n db  # the SQL session goes through the API server to pg-0
 * ```
 */
export const backupCreateCommand: CommandModule = {
  command: 'create',
  describe:
    "Back up a PostgreSQL, MySQL or MariaDB volume as CSI VolumeSnapshots, consistently: crash or checkpoint (atomic drivers only; checkpoint is PostgreSQL's), " +
    'fenced (a brief clean stop), or online (no downtime; PostgreSQL adds a NAME-wal snapshot). Ctrl-C lifts the fence, ends the backup ' +
    'session and deletes partial snapshots, then exits 130',
  builder: (argv) =>
    withConnectionOptions(
      argv
        .option('pvc', { type: 'string', group: 'Target (one of):', describe: 'The PVC holding the data directory' })
        .option('pod', {
          type: 'string',
          group: 'Target (one of):',
          describe: 'A database pod (StatefulSet or CloudNativePG instance): its data PVC (dbaas.io/data-volume annotation, else its only PVC)',
        })
        .option('cnpg-cluster', { type: 'string', group: 'Target (one of):', describe: 'A CloudNativePG Cluster: a standby instance, else the primary' })
        .option('instance', { type: 'string', group: 'Target (one of):', describe: 'With --cnpg-cluster: this instance' })
        .option('name', { type: 'string', describe: 'Backup name (default <pvc>-<yyyymmddhhmmss>; at most 59 characters)' })
        .option('mode', {
          choices: MODES,
          describe: 'Consistency mode (default: on drivers with atomic snapshots checkpoint for PostgreSQL, online for MySQL/MariaDB; fenced otherwise)',
        })
        .option('snapshot-class', { type: 'string', describe: "VolumeSnapshotClass (default: the driver's default class, else its only one)" })
        .option('force', {
          type: 'boolean',
          default: false,
          describe:
            'Allow a mode the driver cannot do safely: crash/checkpoint (and online for MySQL/MariaDB) on a driver whose snapshots are not atomic (the copy may be torn)',
        })
        .option('fence', {
          type: 'string',
          default: 'auto',
          describe: 'How fenced mode stops the database: auto (from the target), statefulset/NAME, cnpg/CLUSTER',
        })
        .option('fence-retain-pvcs', {
          type: 'boolean',
          default: false,
          describe:
            'Fencing a StatefulSet whose persistentVolumeClaimRetentionPolicy.whenScaled is Delete (refused otherwise: scaling to 0 would delete the PVC): set whenScaled Retain while fenced, Delete again afterwards',
        })
        .option('timeout', { type: 'string', default: '10m', describe: 'Deadline of the whole backup (90s, 5m, 1h)' })
        .option('dry-run', {
          choices: DRY_RUN,
          default: 'none',
          describe: 'Print the VolumeSnapshots it would create: client (no API writes) or server (validated with dryRun=All)',
        })
        .example('kubectl dbaas backup create --pod pg-0', 'Fenced on hostpath (StatefulSet scaled to 0 and back), checkpoint on atomic drivers')
        .example(
          'kubectl dbaas backup create --pod pg-0 --mode online',
          'No downtime: SQL through the API server to pg-0, the password from its POSTGRES_PASSWORD',
        )
        .example(
          'kubectl dbaas backup create --pod pg-1 --mode online --db-secret pg-superuser',
          'Credentials from a Secret (CloudNativePG: <cluster>-superuser); SQL still to pg-1',
        )
        .example(
          'kubectl dbaas backup create --pvc data-pg-0 --mode online --host 10.0.0.5 --db-user postgres',
          'At an address (password: $PGPASSWORD, ~/.pgpass); checked to be the pod mounting the PVC',
        )
        .example('kubectl dbaas backup create --cnpg-cluster pg --dry-run=server -o yaml', 'What it would create')
        .epilogue(ENGINE_MODES_TEXT),
      'Database connection (default: through the API server to the pod, in checkpoint and online modes):',
      { mysql: true },
    )
      .option('engine', {
        choices: ['postgres', 'mysql'] as const,
        group: 'Database connection (default: through the API server to the pod, in checkpoint and online modes):',
        describe:
          'The engine, when the target does not show it (mysql: MySQL and MariaDB); default: detected from the target, else the --dsn scheme, else postgres',
      })
      .option('db-secret', {
        type: 'string',
        group: 'Database connection (default: through the API server to the pod, in checkpoint and online modes):',
        describe:
          "A Secret in the namespace with the user, password and database (keys username, password, dbname: as CloudNativePG and kubernetes.io/basic-auth write them), for either engine; default: the pod's own environment (POSTGRES_PASSWORD, MARIADB_ROOT_PASSWORD, ...). With --host, the Secret's host key is not used; the password never leaves the process",
      }),
  handler: async (argv) => {
    const args = parseArgs(backupCreateArgsSchema, argv);
    const target = createTarget({ pvc: args.pvc, pod: args.pod, cnpgCluster: args.cnpgCluster, instance: args.instance });
    const fence = parseFence(args.fence);
    if (fence.kind !== 'auto' && args.mode !== undefined && args.mode !== 'fenced') throw new UsageError(`--fence applies to --mode fenced, not ${args.mode}`);
    if (args.fenceRetainPvcs && args.mode !== undefined && args.mode !== 'fenced')
      throw new UsageError(`--fence-retain-pvcs applies to --mode fenced, not ${args.mode}`);
    const timeoutMs = parseKubeDuration(args.timeout, '--timeout');
    if (timeoutMs <= 0) throw new UsageError('--timeout must be more than 0');
    if (args.dsn) dsnEngine(args.dsn); // an unknown scheme is a usage error, before the cluster is read
    if (args.dbSecret && (args.dsn || args.dbUser))
      throw new UsageError('--db-secret gives the user and password: leave out --dsn and --db-user (--host, --port and --dbname may override the Secret)');
    if (args.dbUser && !args.host && !args.dsn)
      throw new UsageError("--db-user needs --host or --dsn: through the pod (the default) the user comes from the pod's environment or --db-secret");
    const parsed = {
      ...kubeArgs(args),
      target,
      name: args.name,
      mode: args.mode,
      snapshotClass: args.snapshotClass,
      force: args.force,
      timeoutMs,
      fence,
      fenceRetainPvcs: args.fenceRetainPvcs,
      dryRun: args.dryRun,
      connection: { dsn: args.dsn, host: args.host, port: args.port, dbUser: args.dbUser, dbname: args.dbname },
      ...(args.engine ? { engine: args.engine } : {}),
      ...(args.dbSecret ? { dbSecret: args.dbSecret } : {}),
    };
    const run = await import('./run.js');
    if (args.dryRun !== 'none') {
      const { plan, cnpg, engine } = await run.runBackupPlan(parsed);
      const lines = run.planLines(plan, cnpg, engine);
      const list = { apiVersion: 'v1', kind: 'List', items: [...(plan.groupSnapshot ? [plan.groupSnapshot] : []), ...plan.manifests] };
      await writeDryRun(lines, list, args.output, (l) =>
        l.items.map(
          (o) => `${o.kind === 'VolumeGroupSnapshot' ? 'volumegroupsnapshot.groupsnapshot' : 'volumesnapshot.snapshot'}.storage.k8s.io/${o.metadata.name}`,
        ),
      );
      return;
    }
    const { runLongOperation } = await import('../../../long-operation.js');
    const report = await runLongOperation((ctx) => run.runBackupCreate(parsed, ctx));
    await writeResult(report, args.output, { text: run.renderBackupCreate, name: (r) => `backup/${r.name}` });
  },
};
