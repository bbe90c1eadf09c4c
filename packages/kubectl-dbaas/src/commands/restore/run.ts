// `kubectl dbaas restore`: RestoreClient.restore and planRestore (the dry run) of the SDK with the
// CLI's flags, progress and output. Loaded lazily when the command runs.
import {
  ENGINE_NAMES,
  hasWalSnapshot,
  planRestore,
  SnapshotClient,
  isDbaasError,
  type RestoreClient,
  type RestoreOptions,
  type RestorePrepOptions,
  type RestorePlan,
  type RestoreProgress,
} from '@kubectl-dbaas/sdk';
import { explainingMissingNamespaces, restoreClientFor, type NamespaceOf } from '../../cli-shared.js';
import { formatSeconds } from '../../duration.js';
import type { KubeArgs } from '../../global-options.js';
import { renderFields } from '../../output.js';
import type { ProgressReporter } from '../../progress.js';
import { restoreReport, rtoLine, type RestoreReport } from '../../restore-report.js';

/**
 * Arguments of `restore`, parsed.
 *
 * @example
 * ```ts
 * const args: RestoreCommandArgs = { backup: 'nightly', to: 'pg-restored', timeoutMs: 900_000 };
 * ```
 */
export interface RestoreCommandArgs extends KubeArgs {
  backup: string;
  to: string;
  fromNamespace?: string | undefined;
  size?: string | undefined;
  storageClass?: string | undefined;
  consumerNode?: string | undefined;
  prepImage?: string | undefined;
  prepUid?: number | undefined;
  prepFsGroup?: number | undefined;
  dataSubPath?: string | undefined;
  /** `--volume-mount`: new mount paths of a set's other volumes, by volume name. */
  volumeMounts?: Record<string, string> | undefined;
  /** `--keep-cnpg-settings`: a CloudNativePG instance's copy keeps its files as they are. */
  keepCnpgSettings?: boolean | undefined;
  timeoutMs: number;
}

/**
 * The restore-prep Job's options from `--prep-image`, `--prep-uid` and `--prep-fs-group`.
 *
 * @example
 * ```ts
 * prepOptions({ prepUid: 26 }); // { runAsUser: 26 }
 * ```
 */
export function prepOptions(args: Pick<RestoreCommandArgs, 'prepImage' | 'prepUid' | 'prepFsGroup'>): RestorePrepOptions {
  return {
    ...(args.prepImage !== undefined ? { image: args.prepImage } : {}),
    ...(args.prepUid !== undefined ? { runAsUser: args.prepUid } : {}),
    ...(args.prepFsGroup !== undefined ? { fsGroup: args.prepFsGroup } : {}),
  };
}

/**
 * The SDK's restore options for the parsed flags.
 *
 * @example
 * ```ts
 * const options = restoreOptions(args, 'db');
 * options.backupNamespace; // args.fromNamespace ?? 'db'
 * ```
 */
export function restoreOptions(args: RestoreCommandArgs, namespace: string): RestoreOptions {
  const prep = { ...prepOptions(args), ...(args.dataSubPath !== undefined ? { dataSubPath: args.dataSubPath } : {}) };
  return {
    backup: args.backup,
    namespace,
    backupNamespace: args.fromNamespace ?? namespace,
    pvcName: args.to,
    ...(args.size !== undefined ? { size: args.size } : {}),
    ...(args.storageClass !== undefined ? { storageClass: args.storageClass } : {}),
    ...(args.consumerNode !== undefined ? { consumerNode: args.consumerNode } : {}),
    ...(Object.keys(prep).length > 0 ? { prep } : {}),
    ...(args.volumeMounts !== undefined ? { volumeMountPaths: args.volumeMounts } : {}),
    ...(args.keepCnpgSettings ? { plainServer: false } : {}),
    deadlineMs: args.timeoutMs,
  };
}

/**
 * The namespaces a restore works in, for {@link explainingMissingNamespaces}: the target's (`-n`),
 * then the backup's (`--from-namespace`; when it is the target's, that one is named, as the user
 * gave it).
 *
 * @example
 * ```ts
 * namespacesOf({ namespace: 'staging', backupNamespace: 'prod' }); // [{ namespace: 'staging', option: 'namespace' }, { namespace: 'prod', option: 'backupNamespace' }]
 * ```
 */
export function namespacesOf(options: Pick<RestoreOptions, 'namespace' | 'backupNamespace'>): NamespaceOf[] {
  return [
    { namespace: options.namespace!, option: 'namespace' },
    { namespace: options.backupNamespace ?? options.namespace!, option: 'backupNamespace' },
  ];
}

/**
 * Runs a restore with progress on `progress`, aborted by `signal` (Ctrl-C: what the restore
 * created is deleted, or named when it cannot be).
 *
 * @throws DbaasError from the SDK: `KUBE_NOT_FOUND` (no such backup: the fix lists them; a missing
 *   namespace is named), `BACKUP_NOT_READY`, `RESTORE_SIZE_TOO_SMALL`, `STORAGE_CLASS_MISMATCH`,
 *   `RESTORE_TARGET_EXISTS`, `RESTORE_PREP_FAILED`, `RESTORE_FAILED`, `KUBE_TIMEOUT`, `KUBE_ABORTED`.
 * @example
 * ```ts
 * const report = await runRestoreCommand(args, { progress: createProgress(), signal });
 * ```
 */
export async function runRestoreCommand(
  args: RestoreCommandArgs,
  opts: { client?: RestoreClient; signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<RestoreReport> {
  const client = opts.client ?? restoreClientFor(args);
  const namespace = client.clients.namespace;
  const progress = opts.progress;
  progress?.phase('checking the backup, the size and the StorageClass');
  const options = restoreOptions(args, namespace);
  return await explainingMissingNamespaces(client, namespacesOf(options), async () => {
    const seen = { cleanup: false };
    const onProgress = progress ? restoreProgressFollower(progress, seen) : undefined;
    const result = await client
      .restore({ ...options, ...(opts.signal ? { signal: opts.signal } : {}), ...(onProgress ? { onProgress } : {}) })
      .catch((error: unknown) => {
        // The SDK has cleaned up when it throws after a cleanup event: that phase is done, unless it left objects (RESTORE_FAILED names them).
        if (seen.cleanup) {
          if (isDbaasError(error, 'RESTORE_FAILED')) progress?.fail('objects remain (named below)');
          else progress?.succeed();
        }
        throw error;
      });
    const report = restoreReport(result);
    progress?.done(summaryLine(report));
    return report;
  });
}

/**
 * Maps the SDK's restore events onto progress phases: each phase is what the restore waits for now.
 *
 * @example
 * ```ts
 * await client.restore({ ...options, onProgress: restoreProgressFollower(createProgress()) });
 * ```
 */
export function restoreProgressFollower(progress: ProgressReporter, seen: { cleanup: boolean } = { cleanup: false }): (event: RestoreProgress) => void {
  return (event) => {
    switch (event.phase) {
      case 'resolved':
        progress.detail(event.message);
        progress.phase(event.restoreType === 'cross-namespace' ? 'creating the temporary VolumeSnapshotContent and VolumeSnapshot' : 'creating the PVC');
        break;
      case 'source-created':
        progress.detail(event.message);
        progress.phase('creating the PVC');
        break;
      case 'pvc-created':
        progress.detail(event.message);
        progress.phase("waiting for the PVC to be Bound (the driver writes the snapshot's data)");
        break;
      case 'waiting-for-first-consumer':
        progress.detail(event.message);
        break;
      case 'bound':
        progress.detail(event.message);
        break;
      case 'prep-started':
        progress.phase('restore-prep');
        progress.detail(event.message);
        break;
      case 'data-ready':
        progress.phase('removing temporary objects');
        progress.detail(event.message);
        break;
      case 'cleanup':
        // The phase that was running failed (or was interrupted); then what the restore created is deleted.
        seen.cleanup = true;
        progress.fail(event.failure);
        progress.phase('cleaning up: deleting what this restore created');
        break;
    }
  };
}

/**
 * The summary line printed on stderr when the restore is done.
 *
 * @example
 * ```ts
 * summaryLine(report); // 'restored backup db/nightly into PVC db/pg-restored (ready)'
 * ```
 */
export function summaryLine(r: RestoreReport): string {
  return `restored backup ${r.backup.namespace}/${r.backup.name} into PVC ${r.namespace}/${r.pvc} (${r.state === 'ready' ? 'ready' : 'waiting for its first consumer'})`;
}

/**
 * The text output of `restore`: what was restored where, its state, and the RTO breakdown.
 *
 * @example
 * ```ts
 * console.log(renderRestore(report));
 * ```
 */
export function renderRestore(r: RestoreReport): string {
  const b = r.backup;
  const state =
    r.state === 'ready'
      ? `ready: the PVC holds the backup${hasWalSnapshot(b) ? ', its WAL and backup_label (PostgreSQL replays to the end of the backup when it starts)' : ''}`
      : `waiting for first consumer: StorageClass ${r.storageClass} binds on first use, so the volume is provisioned from the snapshot when the first pod that mounts PVC ${r.pvc} is scheduled (--consumer-node binds it now)`;
  const fields = renderFields([
    ['PVC', `${r.namespace}/${r.pvc}${r.volume ? ` (volume ${r.volume})` : ''}`],
    [
      'backup',
      `${b.namespace}/${b.name}${b.mode ? ` (${b.mode}${b.engineVersion ? `, ${ENGINE_NAMES[b.engine ?? 'postgres']} ${b.engineVersion}` : ''})` : ''}`,
    ],
    [
      'restore type',
      r.restoreType === 'cross-namespace'
        ? `cross-namespace (a temporary VolumeSnapshotContent with the backup's snapshotHandle, Retain${r.state === 'ready' ? ', removed' : ''})`
        : 'snapshot (spec.dataSource)',
    ],
    ['size', r.size],
    ['storage class', `${r.storageClass} (${r.driver})`],
    [
      'volumes',
      r.volumes?.length
        ? `${r.volumes.map((v) => `PVC ${v.pvc} (${v.holds === 'wal' ? 'pg_wal' : 'a tablespace'}) mounted at ${v.mountPath}`).join('; ')}: mount each where it says, beside the data PVC where it was, so that the links in the data directory resolve`
        : undefined,
    ],
    ['state', state],
    [
      'configuration',
      r.plainServerSettings
        ? `a CloudNativePG instance's copy, for a plain PostgreSQL server: ${Object.keys(r.plainServerSettings).join(', ')} set at the end of postgresql.conf, standby.signal removed (docs/cnpg.md)`
        : undefined,
    ],
    ['RTO', rtoLine(r.timings)],
    ['phases', r.timings.phases.map((p) => `${p.phase} +${formatSeconds(p.atMs)}`).join(', ')],
    ['remaining', r.remaining.length ? r.remaining.join('; ') : undefined],
    ['next', r.state === 'ready' && !r.volumes?.length ? `kubectl dbaas verify --pvc ${r.pvc} -n ${r.namespace}` : undefined],
  ]);
  return fields;
}

/**
 * One object of a restore plan, as printed by `--dry-run`.
 *
 * @example
 * ```ts
 * const kinds = view.manifests.map((m: RestoreManifest) => m.kind);
 * ```
 */
export type RestoreManifest = RestorePlan['manifests'][number];

/**
 * The dry run of `restore`: the plan, and whether the objects went to the API server.
 *
 * @example
 * ```ts
 * const view: RestorePlanView = await runRestorePlan({ ...args, dryRun: 'client' });
 * ```
 */
export interface RestorePlanView {
  dryRun: 'client' | 'server';
  plan: RestorePlan;
  /** What would be created, in order (the server's answers with `server`). */
  manifests: RestoreManifest[];
}

/**
 * The dry run: the same checks as a restore (backup ready, size, StorageClass, no existing target)
 * and every object it would create; `server` sends each to the API server with `dryRun=All`.
 * Nothing is stored.
 *
 * @example
 * ```ts
 * const view = await runRestorePlan({ ...args, dryRun: 'server' });
 * view.manifests.map((m) => m.kind);
 * ```
 */
export async function runRestorePlan(
  args: RestoreCommandArgs & { dryRun: 'client' | 'server' },
  opts: { client?: RestoreClient } = {},
): Promise<RestorePlanView> {
  const client = opts.client ?? restoreClientFor(args);
  const options = restoreOptions(args, client.clients.namespace);
  return await explainingMissingNamespaces(client, namespacesOf(options), async () => {
    const plan = await planRestore(client.clients, options);
    const manifests = args.dryRun === 'server' ? await new SnapshotClient(client.clients).serverDryRun(plan.manifests) : plan.manifests;
    return { dryRun: args.dryRun, plan, manifests };
  });
}

/**
 * What the dry run found, as lines (on stderr, and as `#` comments before the YAML in text output).
 *
 * @example
 * ```ts
 * for (const line of restorePlanLines(view)) console.error(line);
 * ```
 */
export function restorePlanLines(view: RestorePlanView): string[] {
  const p = view.plan;
  const pvc = p.pvcs.data;
  return [
    `dry run (${view.dryRun}${view.dryRun === 'server' ? ': validated by the API server, nothing stored' : ': nothing sent to the API server'}): restore backup ${p.backupNamespace}/${p.set} -> PVC ${p.namespace}/${p.pvcName}`,
    `backup: ${p.mode ?? 'unknown mode'}${p.engineVersion ? `, PostgreSQL ${p.engineVersion}` : ''}, restoreSize ${p.restoreSize}, driver ${p.driver}`,
    `PVC size ${pvc.spec?.resources?.requests?.['storage'] ?? p.restoreSize}, StorageClass ${p.storageClassName}${p.waitForConsumer ? ' (WaitForFirstConsumer: without --consumer-node the PVC waits for its first pod)' : ''}`,
    ...(p.volumes?.length
      ? [`the set's other volumes: ${p.volumes.map((v) => `${v.volume} -> PVC ${p.namespace}/${v.pvcName} (mounted at ${v.mountPath})`).join(', ')}`]
      : []),
    ...(p.crossNamespace
      ? [`cross-namespace: a VolumeSnapshotContent (Retain, the backup's snapshotHandle) and a VolumeSnapshot in ${p.namespace}, deleted once the PVC is Bound`]
      : []),
    ...(p.online
      ? [
          p.walPvcName
            ? `online: the -wal snapshot is restored into the scratch PVC ${p.walPvcName}; restore-prep copies ${p.walFiles.length} WAL segment(s) ${p.walFiles[0]}..${p.walFiles.at(-1)} into pg_wal/ and writes backup_label, then the scratch PVC is deleted`
            : `online: pg_wal's own volume, snapshotted after pg_backup_stop, is restored into PVC ${p.prepWalPvc}; restore-prep checks that it holds the ${p.walFiles.length} WAL segment(s) ${p.walFiles[0]}..${p.walFiles.at(-1)} and writes backup_label`,
          `restore-prep runs as the Job ${p.prepJob?.metadata?.name} (image ${p.prepJob?.spec?.template.spec?.containers[0]?.image})`,
        ]
      : []),
    ...(p.plainServerSettings
      ? [
          `a CloudNativePG instance's copy, for a plain PostgreSQL server: the Job ${p.prepJob?.metadata?.name} appends ${Object.keys(p.plainServerSettings).join(', ')} to its postgresql.conf and removes standby.signal (--keep-cnpg-settings leaves the files as they are)`,
        ]
      : []),
  ];
}

/**
 * The dry run's objects as a kubectl `List` (what `-o json|yaml` prints).
 *
 * @example
 * ```ts
 * const list = restorePlanList(view);
 * list.items.length;
 * ```
 */
export function restorePlanList(view: RestorePlanView): { apiVersion: 'v1'; kind: 'List'; items: RestoreManifest[] } {
  return { apiVersion: 'v1', kind: 'List', items: view.manifests };
}

const RESOURCE: Record<string, string> = {
  VolumeSnapshotContent: 'volumesnapshotcontent.snapshot.storage.k8s.io',
  VolumeSnapshot: 'volumesnapshot.snapshot.storage.k8s.io',
  PersistentVolumeClaim: 'persistentvolumeclaim',
  Job: 'job.batch',
};

/**
 * `-o name` of the dry run: `resource/name` per object, as kubectl prints them.
 *
 * @example
 * ```ts
 * manifestNames(restorePlanList(view)); // ['persistentvolumeclaim/pg-restored']
 * ```
 */
export function manifestNames(list: { items: RestoreManifest[] }): string[] {
  return list.items.map((m) => `${RESOURCE[m.kind ?? ''] ?? String(m.kind).toLowerCase()}/${m.metadata?.name}`);
}
