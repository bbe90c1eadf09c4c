import {
  cnpgFencing,
  cnpgInstanceTarget,
  DbaasError,
  GROUP_SNAPSHOT_PVC_LABEL,
  planBackup,
  statefulSetFencing,
  type BackupOptions,
  type BackupPlan,
  type BackupProgress,
  type BackupResult,
  type BackupTarget,
  type CnpgInstance,
  type ConsistencyMode,
  type FencingStrategy,
  type SnapshotClient,
  type SnapshotRole,
  type VolumeSnapshot,
  type BackupDatabase,
  detectTargetEngine,
} from '@kubectl-dbaas/sdk';
import { connectionFromArgs, dsnEngine, mysqlConnectionFromArgs, type ConnectionArgs } from '../../../connection.js';
import { chooseEngine, type EngineChoice } from './engine.js';
import type { KubeArgs } from '../../../global-options.js';
import { renderFields } from '../../../output.js';
import type { ProgressReporter } from '../../../progress.js';
import { explainingMissingNamespaces, metadataView, snapshotClientFor, type MetadataView } from '../../../cli-shared.js';
import type { CreateTarget, FenceChoice } from './options.js';

/**
 * Arguments of `backup create`, parsed.
 *
 * @example
 * ```ts
 * const args: BackupCreateArgs = { target: { kind: 'pod', name: 'pg-0' }, force: false, timeoutMs: 600_000, fence: { kind: 'auto' }, dryRun: 'none', connection: {} };
 * ```
 */
export interface BackupCreateArgs extends KubeArgs {
  target: CreateTarget;
  name?: string | undefined;
  mode?: ConsistencyMode | undefined;
  snapshotClass?: string | undefined;
  force: boolean;
  timeoutMs: number;
  fence: FenceChoice;
  /** `--fence-retain-pvcs`: fence a StatefulSet whose PVCs are deleted on scale-down, keeping them. */
  fenceRetainPvcs?: boolean;
  dryRun: 'none' | 'client' | 'server';
  connection: ConnectionArgs;
  /** `--engine`: the engine, when the target does not show it (MySQL covers MariaDB). */
  engine?: 'postgres' | 'mysql' | undefined;
  /** `--db-secret`: user, password, database (and host/port unless given) from this Secret. */
  dbSecret?: string;
}

/**
 * One snapshot of a finished backup, as printed.
 *
 * @example
 * ```ts
 * report.snapshots.map((s) => `${s.name}: ${s.restoreSize}`);
 * ```
 */
export interface CreatedSnapshotView {
  name: string;
  role: SnapshotRole;
  restoreSize?: string;
  content?: string;
  requestToCutMs?: number;
  requestToReadyMs?: number;
}

/**
 * What `backup create -o json|yaml` prints.
 *
 * @example
 * ```ts
 * const report: BackupCreateReport = JSON.parse(stdout);
 * console.log(report.name, report.mode, report.metadata.stopLsn);
 * ```
 */
export interface BackupCreateReport {
  kind: 'Backup';
  name: string;
  namespace: string;
  pvc: string;
  mode: ConsistencyMode;
  driver: string;
  atomicSnapshots: boolean;
  atomicityReason: string;
  snapshotClass: string;
  /** An interrupted earlier run of this backup was adopted. */
  adopted: boolean;
  fencing?: string;
  cnpg?: CnpgInstance;
  snapshots: CreatedSnapshotView[];
  /** Metadata of the data snapshot (LSNs as X/Y). */
  metadata: MetadataView;
  /** Metadata of the `-wal` snapshot (online). */
  walMetadata?: MetadataView;
  timings: { totalMs: number; fencedMs?: number; backupSessionMs?: number };
  /** Errors the driver reported while the snapshotter retried. */
  snapshotErrors: string[];
}

/** The SDK target and fencing for the parsed flags (resolving a CNPG Cluster to one instance). */
async function resolveTarget(
  client: SnapshotClient,
  namespace: string,
  args: BackupCreateArgs,
): Promise<{ target: BackupTarget; fencing?: FencingStrategy; cnpg?: CnpgInstance }> {
  let target: BackupTarget;
  let cnpg: CnpgInstance | undefined;
  if (args.target.kind === 'pvc') target = { pvc: args.target.name };
  else if (args.target.kind === 'pod') target = { pod: args.target.name };
  else {
    cnpg = await cnpgInstanceTarget(client.clients, namespace, args.target.name, args.target.instance);
    target = { pod: cnpg.instance };
  }
  let fencing: FencingStrategy | undefined;
  if (args.fence.kind === 'statefulset') fencing = statefulSetFencing(args.fence.name, args.fenceRetainPvcs ? { retainClaims: true } : {});
  else if (args.fence.kind === 'cnpg') {
    const instance = cnpg?.instance ?? target.pod;
    if (!instance) {
      throw new DbaasError('INVALID_ARGUMENT', `--fence cnpg/${args.fence.cluster} fences one CloudNativePG instance, and --pvc names none`, {
        fix: `Back up the instance: --pod INSTANCE or --cnpg-cluster ${args.fence.cluster}.`,
      });
    }
    fencing = cnpgFencing(args.fence.cluster, instance);
  }
  return { target, ...(fencing ? { fencing } : {}), ...(cnpg ? { cnpg } : {}) };
}

/**
 * How the backup reaches the database. With `--host` or `--dsn`, where they say (a database outside
 * the cluster, or the caller's own port-forward), in every mode. Otherwise through the API server
 * to the pod whose volume is backed up, in the modes that need a SQL session only: $PGHOST,
 * $DATABASE_URL and the like never send a session elsewhere, nor open one in crash or fenced mode.
 */
function backupDatabase(args: BackupCreateArgs, engine: EngineChoice, environment: NodeJS.ProcessEnv): BackupDatabase {
  const { connection } = args;
  const explicit = connection.dsn !== undefined || connection.host !== undefined;
  if (!explicit) {
    return {
      throughPod: { ...(connection.port ? { port: connection.port } : {}) },
      ...(args.dbSecret ? { secretRef: { name: args.dbSecret } } : {}),
      ...(connection.dbname ? { database: connection.dbname } : {}),
    };
  }
  if (args.dbSecret) {
    return {
      secretRef: { name: args.dbSecret },
      host: connection.host!,
      ...(connection.port ? { port: connection.port } : {}),
      ...(connection.dbname ? { database: connection.dbname } : {}),
    };
  }
  return engine.family === 'mysql' ? mysqlConnectionFromArgs(connection, environment) : connectionFromArgs(connection, environment);
}

/** The options both the backup and its dry run take. */
async function backupOptions(
  client: SnapshotClient,
  args: BackupCreateArgs,
  environment: NodeJS.ProcessEnv,
): Promise<{ options: BackupOptions; cnpg?: CnpgInstance; engine: EngineChoice }> {
  const namespace = client.clients.namespace;
  const { target, fencing, cnpg } = await resolveTarget(client, namespace, args);
  // The engine decides which connection options are built; the SDK reads the evidence.
  const detection = args.engine ? undefined : await detectTargetEngine(client.clients, { namespace, target });
  const engine = chooseEngine({ flag: args.engine, dsn: args.connection.dsn ? dsnEngine(args.connection.dsn) : undefined, detection });
  const database = backupDatabase(args, engine, environment);
  const options: BackupOptions = {
    namespace,
    target,
    ...(args.mode ? { mode: args.mode } : {}),
    ...(args.name ? { name: args.name } : {}),
    ...(args.snapshotClass ? { snapshotClass: args.snapshotClass } : {}),
    ...(args.force ? { force: true } : {}),
    ...(fencing ? { fencing } : {}),
    ...(args.fenceRetainPvcs ? { fenceRetainClaims: true } : {}),
    database,
    ...(engine.explicit ? { engineKind: engine.engine } : {}),
    deadlineMs: args.timeoutMs,
  };
  return { options, engine, ...(cnpg ? { cnpg } : {}) };
}

/**
 * Runs a backup (`runBackup` of the SDK) with progress on `progress`, aborted by `signal`
 * (Ctrl-C: the fence is lifted, the backup session ended, partial snapshots deleted).
 *
 * @throws DbaasError from the SDK: `MODE_UNSAFE` (crash/checkpoint on a non-atomic driver),
 *   `KUBE_NOT_FOUND` (no snapshot class: the fix shows one to create; a missing namespace),
 *   `KUBE_FORBIDDEN` (the RBAC rule), `KUBE_TIMEOUT`, `BACKUP_ABORTED`, `PG_*`.
 * @example
 * ```ts
 * const report = await runBackupCreate(args, { progress: createProgress(), signal });
 * ```
 */
export async function runBackupCreate(
  args: BackupCreateArgs,
  opts: { client?: SnapshotClient; signal?: AbortSignal; progress?: ProgressReporter; environment?: NodeJS.ProcessEnv } = {},
): Promise<BackupCreateReport> {
  const client = opts.client ?? snapshotClientFor(args);
  const namespace = client.clients.namespace;
  const progress = opts.progress;
  progress?.phase('discovering the target');
  return await explainingMissingNamespaces(client, [{ namespace }], async () => {
    const { options, cnpg, engine } = await backupOptions(client, args, opts.environment ?? process.env);
    progress?.detail(engineLine(engine));
    if (cnpg) progress?.detail(`CloudNativePG Cluster ${cnpg.cluster}: instance ${cnpg.instance}, ${cnpg.reason}`);
    const onProgress = progress ? progressFollower(progress) : undefined;
    const result = await client
      .backup({ ...options, ...(opts.signal ? { signal: opts.signal } : {}), ...(onProgress ? { onProgress } : {}) })
      .catch((error: unknown) => {
        throw withCliFix(error, namespace);
      });
    const report = backupCreateReport(result, cnpg);
    for (const warning of result.warnings) progress?.detail(`warning: ${warning}`);
    progress?.done(summaryLine(report));
    return report;
  });
}

/**
 * Where the command line has its own way out: a fenced backup with nothing to fence with (the SDK
 * names the option `fencing`; here the ways out are flags), and a fence a failed run could not lift
 * (the SDK names the object; here `kubectl dbaas unfence` lifts it).
 */
function withCliFix(error: unknown, namespace: string): unknown {
  if (!(error instanceof DbaasError)) return error;
  const { fenceLeft, fenceHeld } = error.details ?? {};
  if (typeof fenceHeld === 'string') {
    return withFix(
      error,
      `Wait for that backup to end. If its process is gone (killed), lift its fence and run again: kubectl dbaas unfence ${fenceHeld} -n ${namespace} --force`,
    );
  }
  if (typeof fenceLeft === 'string')
    return withFix(error, `Lift the fence: kubectl dbaas unfence ${fenceLeft} -n ${namespace}${error.fix ? `. Then: ${error.fix}` : ''}`);
  if (error.code === 'TARGET_NOT_FOUND' && error.option === 'fencing') {
    return withFix(
      error,
      'Target the database pod (--pod) of a StatefulSet or CloudNativePG Cluster, name the fencing (--fence statefulset/NAME or --fence cnpg/CLUSTER), or use --mode online with the connection flags.',
    );
  }
  return error;
}

/** The same error (code, message, option, details) with the command line's fix. */
function withFix(error: DbaasError, fix: string): DbaasError {
  return new DbaasError(error.code, error.message, {
    fix,
    cause: error,
    ...(error.option ? { option: error.option } : {}),
    ...(error.details ? { details: { ...error.details } } : {}),
  });
}

/**
 * Maps the SDK's backup events onto progress phases: each phase is what the backup is waiting
 * for now; driver errors and fencing steps are details of the current phase.
 *
 * @example
 * ```ts
 * await client.backup({ ...options, onProgress: progressFollower(createProgress()) });
 * ```
 */
export function progressFollower(progress: ProgressReporter): (event: BackupProgress) => void {
  let fencing = false;
  return (event) => {
    const s = event.snapshot;
    switch (event.phase) {
      case 'discovered':
        progress.detail(event.message);
        progress.phase('starting the backup');
        break;
      case 'adopting':
        progress.detail(event.message);
        break;
      case 'fencing':
        if (!fencing) {
          fencing = true;
          progress.phase('stopping the database (fence)');
        }
        progress.detail(event.message);
        break;
      case 'fenced':
        progress.phase('database stopped; requesting the snapshot');
        break;
      case 'checkpoint':
        progress.phase('CHECKPOINT');
        break;
      case 'backup-started':
        progress.detail(event.message);
        progress.phase('backup session started; requesting the snapshot');
        break;
      case 'snapshot-requested':
        progress.phase(`waiting for ${s} to be cut`);
        break;
      case 'snapshot-error':
        progress.detail(`driver error (retrying): ${event.driverError ?? event.message}`);
        break;
      case 'cut':
        progress.phase(`${s} cut; finishing`);
        break;
      case 'backup-stopped':
        progress.detail(event.message);
        progress.phase(event.walSnapshotFollows ? 'pg_backup_stop done; requesting the -wal snapshot' : 'lock released; finishing');
        break;
      case 'unfenced':
        fencing = false;
        progress.phase('database started again; waiting for the snapshot to be ready');
        progress.detail(event.message); // how long the database was down, until Ready again
        break;
      case 'released':
        progress.phase('backup session closed; waiting for the snapshots to be ready');
        break;
      case 'ready':
        progress.detail(`${s} ready`);
        break;
      case 'cleanup':
        // The first cleanup event carries why the run failed: the step that was running failed (or
        // timed out); it never reads "done".
        if (event.failure !== undefined) {
          progress.fail(event.failure);
          progress.phase('cleaning up');
        } else progress.detail(event.message);
        break;
    }
  };
}

function snapshotView(vs: VolumeSnapshot, role: SnapshotRole, result: BackupResult): CreatedSnapshotView {
  const name = vs.metadata.name!;
  const t = result.timings.snapshots[name];
  return {
    name,
    role,
    ...(vs.status?.restoreSize ? { restoreSize: String(vs.status.restoreSize) } : {}),
    ...(vs.status?.boundVolumeSnapshotContentName ? { content: vs.status.boundVolumeSnapshotContentName } : {}),
    ...(t?.requestToCutMs !== undefined ? { requestToCutMs: t.requestToCutMs } : {}),
    ...(t?.requestToReadyMs !== undefined ? { requestToReadyMs: t.requestToReadyMs } : {}),
  };
}

/**
 * The printed form of the SDK's BackupResult.
 *
 * @example
 * ```ts
 * backupCreateReport(await client.backup(options)).snapshots;
 * ```
 */
export function backupCreateReport(result: BackupResult, cnpg?: CnpgInstance): BackupCreateReport {
  return {
    kind: 'Backup',
    name: result.name,
    namespace: result.namespace,
    pvc: result.pvc,
    mode: result.mode,
    driver: result.driver,
    atomicSnapshots: result.atomicity.atomic,
    atomicityReason: result.atomicity.reason,
    snapshotClass: result.snapshotClass,
    adopted: result.adopted,
    ...(result.fencing ? { fencing: result.fencing } : {}),
    ...(cnpg ? { cnpg } : {}),
    snapshots: [
      snapshotView(result.snapshots.data, 'data', result),
      ...(result.snapshots.wal ? [snapshotView(result.snapshots.wal, 'wal', result)] : []),
      ...Object.values(result.snapshots.volumes ?? {}).map((vs) => snapshotView(vs, 'volume', result)),
    ],
    metadata: metadataView(result.metadata.data),
    ...(result.metadata.wal ? { walMetadata: metadataView(result.metadata.wal) } : {}),
    timings: {
      totalMs: result.timings.totalMs,
      ...(result.timings.fencedMs !== undefined ? { fencedMs: result.timings.fencedMs } : {}),
      ...(result.timings.backupSessionMs !== undefined ? { backupSessionMs: result.timings.backupSessionMs } : {}),
    },
    snapshotErrors: result.snapshotErrors,
  };
}

/**
 * The summary line printed on stderr when the backup is done.
 *
 * @example
 * ```ts
 * summaryLine(report); // 'backup db/nightly ready (fenced; database stopped for 4.1s)'
 * ```
 */
export function summaryLine(r: BackupCreateReport): string {
  const extra =
    r.timings.fencedMs !== undefined
      ? `; database stopped for ${(r.timings.fencedMs / 1000).toFixed(1)}s`
      : r.timings.backupSessionMs !== undefined
        ? `; backup session held ${(r.timings.backupSessionMs / 1000).toFixed(1)}s`
        : '';
  return `backup ${r.namespace}/${r.name} ready (${r.mode}${extra}${r.adopted ? '; adopted an earlier run' : ''})`;
}

/**
 * The text output of `backup create`.
 *
 * @example
 * ```ts
 * console.log(renderBackupCreate(report));
 * ```
 */
export function renderBackupCreate(r: BackupCreateReport): string {
  const m = r.metadata;
  const w = r.walMetadata ?? {};
  return renderFields([
    ['backup', `${r.namespace}/${r.name}`],
    ['mode', r.mode],
    ['source PVC', r.pvc],
    ['CloudNativePG', r.cnpg ? `Cluster ${r.cnpg.cluster}, instance ${r.cnpg.instance} (${r.cnpg.role})` : undefined],
    ['driver', `${r.driver} (${r.atomicSnapshots ? 'atomic' : 'not atomic'} snapshots)`],
    ['snapshot class', r.snapshotClass],
    ['fencing', r.fencing ? `${r.fencing}${r.timings.fencedMs !== undefined ? `; stopped for ${(r.timings.fencedMs / 1000).toFixed(1)}s` : ''}` : undefined],
    ...r.snapshots.map((s): [string, string] => [
      `${s.role} snapshot`,
      `${s.name}${s.restoreSize ? ` (${s.restoreSize})` : ''}${s.requestToCutMs !== undefined ? `, cut after ${(s.requestToCutMs / 1000).toFixed(1)}s` : ''}`,
    ]),
    ['engine', m['engine'] ? `${String(m['engine'])} ${String(m['engineVersion'] ?? '')}`.trim() : undefined],
    ['checkpoint LSN', m['checkpointLsn'] as string | undefined],
    ['start LSN', m['startLsn'] as string | undefined],
    ['stop LSN', (m['stopLsn'] ?? w['stopLsn']) as string | undefined],
    [
      'WAL files',
      m['firstWalFile']
        ? `${String(m['firstWalFile'])}${(m['lastWalFile'] ?? w['lastWalFile']) ? ` .. ${String(m['lastWalFile'] ?? w['lastWalFile'])}` : ''}`
        : undefined,
    ],
    ['driver errors', r.snapshotErrors.length ? `${r.snapshotErrors.length} (retried): ${r.snapshotErrors.at(-1)}` : undefined],
    ['took', `${(r.timings.totalMs / 1000).toFixed(1)}s`],
  ]);
}

/**
 * What `--dry-run` prints as `-o json|yaml`: the VolumeSnapshots the backup would create, as a
 * kubectl `List`.
 *
 * @example
 * ```ts
 * const list: BackupPlanList = JSON.parse(stdout);
 * list.items[0]?.metadata.name;
 * ```
 */
export interface BackupPlanList {
  apiVersion: 'v1';
  kind: 'List';
  items: VolumeSnapshot[];
}

/**
 * The dry run: the same discovery and checks as a backup, and the manifests it would apply;
 * `server` sends them to the API server with `dryRun=All`. Nothing is written, no database is
 * contacted, nothing is fenced.
 *
 * @example
 * ```ts
 * const { plan, cnpg } = await runBackupPlan({ ...args, dryRun: 'server' });
 * ```
 */
export async function runBackupPlan(
  args: BackupCreateArgs,
  opts: { client?: SnapshotClient; environment?: NodeJS.ProcessEnv } = {},
): Promise<{ plan: BackupPlan; cnpg?: CnpgInstance; engine: EngineChoice }> {
  const client = opts.client ?? snapshotClientFor(args);
  const namespace = client.clients.namespace;
  return await explainingMissingNamespaces(client, [{ namespace }], async () => {
    const { options, cnpg, engine } = await backupOptions(client, args, opts.environment ?? process.env);
    const { deadlineMs: _deadline, ...planOptions } = options;
    const plan = await planBackup(client.clients, { ...planOptions, dryRun: args.dryRun === 'server' ? 'server' : 'client' });
    return { plan, engine, ...(cnpg ? { cnpg } : {}) };
  });
}

/**
 * What the dry run found, as lines (printed on stderr, and as `#` comments before the YAML in text output).
 *
 * @example
 * ```ts
 * for (const line of planLines(plan)) console.error(line);
 * ```
 */
export function planLines(plan: BackupPlan, cnpg?: CnpgInstance, engine?: EngineChoice): string[] {
  const wal = plan.manifests.length > 1;
  return [
    `dry run (${plan.dryRun}${plan.dryRun === 'server' ? ': validated by the API server, nothing stored' : ': nothing sent to the API server'}): backup ${plan.namespace}/${plan.name}`,
    ...(cnpg ? [`CloudNativePG Cluster ${cnpg.cluster}: instance ${cnpg.instance}, ${cnpg.reason}`] : []),
    ...(engine ? [engineLine(engine)] : []),
    `PVC ${plan.pvc} -> driver ${plan.driver} (${plan.atomicity.atomic ? 'atomic' : 'not atomic'} snapshots: ${plan.atomicity.reason}) -> VolumeSnapshotClass ${plan.snapshotClass} (${plan.snapshotClassSource})`,
    `mode ${plan.mode}${plan.modeSource === 'default' ? ` (the default for ${plan.atomicity.atomic ? 'atomic' : 'non-atomic'} snapshots)` : ''}`,
    ...(plan.fencing ? [`fencing: ${plan.fencing}`] : []),
    ...(plan.session?.via === 'pod'
      ? [
          `SQL session: through the API server to pod ${plan.session.pod} port ${plan.session.port} (a port-forward), credentials from ${plan.session.credentials}`,
        ]
      : []),
    ...(plan.dataLayout
      ? [
          `data directory: ${plan.dataLayout.dataSubPath === undefined ? 'not in the volume as far as the pod spec says' : plan.dataLayout.dataSubPath === '' ? 'the volume root' : plan.dataLayout.dataSubPath}${plan.dataLayout.runAsUser !== undefined ? `, uid ${plan.dataLayout.runAsUser}` : ''} (${plan.dataLayout.source}); recorded for restore and verify`,
        ]
      : []),
    ...(plan.session?.via === 'connection' ? [`SQL session: the connection given${plan.session.pod ? `, checked to be on pod ${plan.session.pod}` : ''}`] : []),
    ...plan.existing.map(
      (e) =>
        `VolumeSnapshot ${e.name} exists already: the ${e.role} snapshot of an earlier run of this backup, which a run adopts${e.role === 'data' && plan.adopt ? (plan.adopt.cut ? ' (already cut)' : ' (not cut yet)') : ''}`,
    ),
    ...(plan.groupSnapshot
      ? [
          `VolumeGroupSnapshot ${plan.groupSnapshot.metadata.name} (class ${plan.groupSnapshot.spec.volumeGroupSnapshotClassName}) cuts PVCs ${[plan.pvc, ...(plan.volumes ?? []).map((v) => v.claim)].join(', ')} at one instant (labelled ${GROUP_SNAPSHOT_PVC_LABEL}=${plan.name} until it is cut); the snapshot-controller names its member snapshots, which get this backup's labels and annotations`,
        ]
      : []),
    ...(plan.mode === 'online' && wal
      ? ['the -wal snapshot is created after pg_backup_stop; LSNs, WAL files and backup_label are added to the annotations while the backup runs']
      : []),
    ...(plan.mode === 'online' && !wal
      ? [
          'one session holds the global lock across the cut (no -wal snapshot: the redo and binary logs are in the data directory); the binary log position and GTID set are added to the annotations',
        ]
      : []),
  ];
}

/**
 * The engine line of progress and of the dry run.
 *
 * @example
 * ```ts
 * engineLine({ engine: 'mariadb', family: 'mysql', reason: 'image mariadb:10.11 (pod/shop-0)', explicit: true }); // 'engine: mariadb, from image mariadb:10.11 (pod/shop-0)'
 * ```
 */
export function engineLine(engine: EngineChoice): string {
  return `engine: ${engine.engine}, from ${engine.reason}`;
}
