import {
  backupSetRestorability,
  type BackupSetDetails,
  type ConsistencyMode,
  type DescribedSnapshot,
  type Restorability,
  type SnapshotAtomicity,
  type SnapshotClient,
  type SnapshotRole,
  type SnapshotContentSummary,
} from '@kubectl-dbaas/sdk';
import { formatAge } from '../../../duration.js';
import type { KubeArgs } from '../../../global-options.js';
import { renderFields } from '../../../output.js';
import { explainingMissingNamespaces, metadataView, snapshotClientFor, type MetadataView } from '../../../cli-shared.js';

/**
 * Arguments of `backup describe`.
 *
 * @example
 * ```ts
 * const args: BackupDescribeArgs = { name: 'nightly', namespace: 'db' };
 * ```
 */
export interface BackupDescribeArgs extends KubeArgs {
  name: string;
}

/**
 * One snapshot of a described backup: its state, VolumeSnapshotContent and metadata.
 *
 * @example
 * ```ts
 * console.log(view.snapshots[0]?.content?.snapshotHandle);
 * ```
 */
export interface DescribedSnapshotView {
  name: string;
  role: SnapshotRole;
  state: DescribedSnapshot['state'];
  error?: string;
  snapshotClass?: string;
  sourcePvc?: string;
  restoreSize?: string;
  /** The cut as kubectl-dbaas recorded it (`dbaas.io/cut-at`; docs/consistency.md), else `status.creationTime`. */
  cutAt?: string;
  /** `status.creationTime`: the CSI driver's own time for the snapshot (not the cut). */
  storageCreationTime?: string;
  createdAt?: string;
  deleting: boolean;
  content?: SnapshotContentSummary;
  contentError?: string;
  metadata?: MetadataView;
  metadataError?: string;
}

/**
 * What `backup describe -o json|yaml` prints.
 *
 * @example
 * ```ts
 * const view: BackupDescription = JSON.parse(stdout);
 * ```
 */
export interface BackupDescription {
  kind: 'Backup';
  namespace: string;
  name: string;
  state: BackupSetDetails['state'];
  error?: string;
  mode?: ConsistencyMode;
  sourcePvc?: string;
  time: string;
  timeSource: BackupSetDetails['timeSource'];
  managed: boolean;
  missingWal: boolean;
  /** A set of several volumes: the volumes its data snapshot lists that have no snapshot (it cannot be restored). */
  missingVolumes?: string[];
  metadataError?: string;
  /**
   * Whether the data snapshot's driver takes atomic snapshots (from its content's driver and, when
   * readable, its VolumeSnapshotClass): what a `crash` or `checkpoint` copy relies on.
   */
  atomicity?: SnapshotAtomicity;
  snapshots: DescribedSnapshotView[];
}

function snapshotView(s: DescribedSnapshot): DescribedSnapshotView {
  return {
    name: s.name,
    role: s.role,
    state: s.state,
    ...(s.error ? { error: s.error } : {}),
    ...(s.snapshotClass ? { snapshotClass: s.snapshotClass } : {}),
    ...(s.sourcePvc ? { sourcePvc: s.sourcePvc } : {}),
    ...(s.restoreSize ? { restoreSize: s.restoreSize } : {}),
    ...(s.cutAt ? { cutAt: s.cutAt.toISOString() } : {}),
    ...(s.storageCreationTime ? { storageCreationTime: s.storageCreationTime.toISOString() } : {}),
    ...(s.createdAt ? { createdAt: s.createdAt.toISOString() } : {}),
    deleting: s.deleting,
    ...(s.content ? { content: s.content } : {}),
    ...(s.contentError ? { contentError: s.contentError } : {}),
    ...(s.metadata ? { metadata: metadataView(s.metadata) } : {}),
    ...(s.metadataError ? { metadataError: s.metadataError } : {}),
  };
}

/**
 * The description of a set as printed (no raw objects: `kubectl get volumesnapshot -o yaml` shows those).
 *
 * @example
 * ```ts
 * const view = backupDescription(await client.describe({ name: 'nightly' }));
 * ```
 */
export function backupDescription(d: BackupSetDetails, atomicity?: SnapshotAtomicity): BackupDescription {
  return {
    kind: 'Backup',
    namespace: d.namespace,
    name: d.name,
    state: d.state,
    ...(d.error ? { error: d.error } : {}),
    ...(d.mode ? { mode: d.mode } : {}),
    ...(d.sourcePvc ? { sourcePvc: d.sourcePvc } : {}),
    time: d.time.toISOString(),
    timeSource: d.timeSource,
    managed: d.managed,
    missingWal: d.missingWal,
    ...(d.missingVolumes.length ? { missingVolumes: d.missingVolumes } : {}),
    ...(d.metadataError ? { metadataError: d.metadataError } : {}),
    ...(atomicity ? { atomicity } : {}),
    snapshots: d.snapshots.map(snapshotView),
  };
}

/**
 * Describes one backup: both snapshots (`NAME` or `NAME-wal` both find the set), their contents
 * and metadata.
 *
 * @throws DbaasError `KUBE_NOT_FOUND` (the backup, or the namespace), `KUBE_FORBIDDEN`, ...
 * @example
 * ```ts
 * const view = await runBackupDescribe({ name: 'nightly', namespace: 'db' });
 * ```
 */
export async function runBackupDescribe(args: BackupDescribeArgs, client: SnapshotClient = snapshotClientFor(args)): Promise<BackupDescription> {
  const namespace = client.clients.namespace;
  const details = await explainingMissingNamespaces(client, [{ namespace }], () => client.describe({ namespace, name: args.name }));
  return backupDescription(details, await client.atomicity(details));
}

const when = (iso: string | undefined, now: number): string | undefined => (iso ? `${iso} (${formatAge(now - Date.parse(iso))} ago)` : undefined);
const indent = (text: string, by: string): string =>
  text
    .split('\n')
    .map((line) => `${by}${line}`)
    .join('\n');

const RESTORABLE: Record<Restorability, string> = { yes: 'yes', no: 'no', 'not-yet': 'not yet', 'not-guaranteed': 'not guaranteed', unknown: 'unknown' };

function restorable(d: BackupDescription): string {
  const { restorable, why } = backupSetRestorability(d, d.atomicity);
  return `${RESTORABLE[restorable]}: ${why}`;
}

/**
 * The text of `backup describe`, as `kubectl describe` lays it out.
 *
 * @example
 * ```ts
 * console.log(renderBackupDescription(view, { now: new Date() }));
 * ```
 */
export function renderBackupDescription(d: BackupDescription, opts: { now?: Date } = {}): string {
  const now = (opts.now ?? new Date()).getTime();
  const data = d.snapshots.find((s) => s.role === 'data');
  const m = (data ?? d.snapshots[0])?.metadata ?? {};
  const wal = d.snapshots.find((s) => s.role === 'wal')?.metadata ?? {};
  const str = (v: unknown): string | undefined => (v === undefined ? undefined : typeof v === 'object' ? Object.values(v as object).join('/') : String(v));
  const head = renderFields([
    ['Name', d.name],
    ['Namespace', d.namespace],
    ['State', d.error ? `${d.state}: ${d.error}` : d.state],
    ['Restorable', restorable(d)],
    ['Mode', d.mode],
    ['Source PVC', d.sourcePvc],
    ['Source workload', str(m.sourceWorkload)],
    [d.timeSource === 'requested-at' ? 'Requested' : 'Created', when(d.time, now)],
    ['Engine', m.engine ? `${str(m.engine)}${m.engineVersion ? ` ${str(m.engineVersion)}` : ''}` : undefined],
    ['System identifier', str(m.systemIdentifier)],
    ['Timeline', str(m.timeline)],
    ['Checkpoint LSN', str(m.checkpointLsn)],
    ['Redo LSN', str(m.redoLsn)],
    ['Start LSN', str(m.startLsn)],
    ['Stop LSN', str(m.stopLsn ?? wal.stopLsn)],
    [
      'WAL files',
      m.firstWalFile ? `${str(m.firstWalFile)}${(m.lastWalFile ?? wal.lastWalFile) ? ` .. ${str(m.lastWalFile ?? wal.lastWalFile)}` : ''}` : undefined,
    ],
    ['Metadata error', d.metadataError],
  ]);
  const snapshots = d.snapshots.map((s) => {
    const fields = renderFields([
      ['State', s.error ? `${s.state}: ${s.error}` : s.state],
      ['Deleting', s.deleting ? 'yes' : undefined],
      ['Snapshot class', s.snapshotClass],
      ['Cut', when(s.cutAt, now)],
      [
        'Driver creation time',
        s.storageCreationTime && s.storageCreationTime !== s.cutAt ? `${s.storageCreationTime} (status.creationTime; not the cut)` : undefined,
      ],
      ['Ready', s.metadata?.readyAt ? String(s.metadata.readyAt) : undefined],
      ['Restore size', s.restoreSize],
      ['Content', s.content?.name ?? s.contentError],
      ['Driver', s.content?.driver],
      ['Snapshot handle', s.content?.snapshotHandle],
      ['Deletion policy', s.content?.deletionPolicy],
      ['Content error', s.content?.error],
      ['Metadata error', s.metadataError],
    ]);
    return `  ${s.name} (${s.role}):\n${indent(fields, '    ')}`;
  });
  return `${head}\nSnapshots:\n${snapshots.join('\n')}`;
}
