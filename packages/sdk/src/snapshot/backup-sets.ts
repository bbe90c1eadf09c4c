// Pure logic of the read side of SnapshotClient: a VolumeSnapshot's state, its parsed metadata (the
// one codec of manifests/metadata.ts), and the grouping of the data and `-wal` snapshots of a backup
// set, sorted newest first, and whether a set can be restored. Nothing here talks to a cluster.
import { toDbaasError } from '../errors.js';
import type { VolumeSnapshot } from '../kube/snapshot-types.js';
import type { SnapshotAtomicity } from '../manifests/atomicity.js';
import {
  DBAAS_LABELS,
  SNAPSHOT_ROLES,
  hasWalSnapshot,
  isManagedSnapshot,
  readSnapshotMetadata,
  type ConsistencyMode,
  type SnapshotMetadata,
  type SnapshotRole,
} from '../manifests/metadata.js';

/**
 * State of one VolumeSnapshot, or of a backup set (the worst of its snapshots):
 * `ready` (`status.readyToUse`), `error` (`status.error` set and not ready), else `pending`.
 *
 * @example
 * ```ts
 * if (set.state === 'error') console.error(set.error);
 * ```
 */
export type SnapshotState = 'ready' | 'pending' | 'error';

/**
 * One VolumeSnapshot as `SnapshotClient.list` reports it: no raw object (so that a list of
 * thousands stays small), the fields a listing shows, and the parsed kubectl-dbaas metadata, or
 * `metadataError` when it does not parse.
 *
 * @example
 * ```ts
 * const s: SnapshotSummary = summarizeSnapshot(vs);
 * console.log(s.name, s.role, s.state, s.metadata?.mode ?? s.metadataError);
 * ```
 */
export interface SnapshotSummary {
  namespace: string;
  name: string;
  uid?: string;
  /** `dbaas.io/role` label (`data` when there is none or an unknown one). */
  role: SnapshotRole;
  /** Carries `app.kubernetes.io/managed-by=kubectl-dbaas` and `dbaas.io/backup-type=volumesnapshot`. */
  managed: boolean;
  state: SnapshotState;
  /** `status.error.message` (also while not yet failed for good: the controller retries). */
  error?: string;
  sourcePvc?: string;
  snapshotClass?: string;
  boundContentName?: string;
  /** `status.restoreSize` (a quantity string). */
  restoreSize?: string;
  /**
   * The cut: the instant kubectl-dbaas saw the snapshot controller bind the content and record its
   * `status.creationTime`, kept in the `dbaas.io/cut-at` annotation (docs/consistency.md); the
   * fence or the backup session ended right after it. For a snapshot without that annotation (not
   * cut yet when the run ended, or not made by kubectl-dbaas), `status.creationTime`.
   */
  cutAt?: Date;
  /**
   * `status.creationTime`: the time the CSI driver gave the snapshot (usually when its
   * CreateSnapshot began; on hostpath before the copy is made). Not the cut: it can be seconds
   * earlier than the moment the cut was recorded.
   */
  storageCreationTime?: Date;
  /** `metadata.creationTimestamp`. */
  createdAt?: Date;
  /** Being deleted (`metadata.deletionTimestamp` set). */
  deleting: boolean;
  /** The VolumeGroupSnapshot it was cut by (`status.volumeGroupSnapshotName`): it is deleted with its group, never alone. */
  groupSnapshot?: string;
  metadata?: SnapshotMetadata;
  /** Why the kubectl-dbaas metadata did not parse (managed snapshots only). */
  metadataError?: string;
}

/**
 * The snapshots of one backup: the data snapshot (named after the set) and, for `online`, the
 * `<set>-wal` snapshot, grouped by the `dbaas.io/backup-set` label.
 *
 * @example
 * ```ts
 * for (const set of (await client.list({ namespace: 'db' })).items) {
 *   console.log(set.name, set.state, set.time.toISOString(), set.wal ? '+wal' : '');
 * }
 * ```
 */
export interface BackupSet {
  namespace: string;
  /** The backup set name (`dbaas.io/backup-set`; the snapshot's own name when it has no such label). */
  name: string;
  data?: SnapshotSummary;
  wal?: SnapshotSummary;
  /** The snapshots of the instance's other volumes (its `pg_wal`, tablespaces) in a set of several volumes. */
  volumes: SnapshotSummary[];
  /** Volumes the data snapshot lists as members of the set (`dbaas.io/set-volumes`) that have no snapshot: it cannot be restored. */
  missingVolumes: string[];
  /** Every snapshot of the set (data first). */
  snapshots: SnapshotSummary[];
  /** Every snapshot is managed by kubectl-dbaas. */
  managed: boolean;
  /** `error` if any snapshot failed, `ready` if all are ready, else `pending`. */
  state: SnapshotState;
  /** The first `status.error.message` of its snapshots. */
  error?: string;
  /** The first metadata error of its snapshots. */
  metadataError?: string;
  /** Requested time from the metadata (`dbaas.io/requested-at`), else the oldest creationTimestamp. */
  time: Date;
  /** Where {@link time} came from. */
  timeSource: 'requested-at' | 'creationTimestamp' | 'unknown';
  sourcePvc?: string;
  mode?: ConsistencyMode;
  /** An `online` set whose `-wal` snapshot is missing: it cannot be restored. */
  missingWal: boolean;
}

function date(text: string | Date | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const d = text instanceof Date ? text : new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * State of a VolumeSnapshot from its status: ready beats a stale error, an error beats pending.
 *
 * @example
 * ```ts
 * snapshotState({ readyToUse: false, error: { message: 'cannot get claim from snapshot' } }); // 'error'
 * ```
 */
export function snapshotState(status: VolumeSnapshot['status']): SnapshotState {
  if (status?.readyToUse) return 'ready';
  if (status?.error?.message) return 'error';
  return 'pending';
}

/**
 * A {@link SnapshotSummary} of a VolumeSnapshot. Metadata that does not parse is reported in
 * `metadataError`; it never throws for a managed or unmanaged snapshot.
 *
 * @example
 * ```ts
 * const s = summarizeSnapshot(await clients.volumeSnapshots.get('nightly', 'db'));
 * ```
 */
export function summarizeSnapshot(vs: VolumeSnapshot): SnapshotSummary {
  const labels = vs.metadata.labels ?? {};
  const managed = isManagedSnapshot(vs);
  const s: SnapshotSummary = {
    namespace: vs.metadata.namespace ?? '',
    name: vs.metadata.name ?? '',
    role: (SNAPSHOT_ROLES as readonly string[]).includes(labels[DBAAS_LABELS.role] ?? '') ? (labels[DBAAS_LABELS.role] as SnapshotRole) : 'data',
    managed,
    state: snapshotState(vs.status),
    deleting: !!vs.metadata.deletionTimestamp,
  };
  const uid = vs.metadata.uid;
  if (uid) s.uid = uid;
  if (vs.status?.error?.message) s.error = vs.status.error.message;
  const pvc = vs.spec?.source?.persistentVolumeClaimName;
  if (pvc) s.sourcePvc = pvc;
  if (vs.spec?.volumeSnapshotClassName) s.snapshotClass = vs.spec.volumeSnapshotClassName;
  if (vs.status?.boundVolumeSnapshotContentName) s.boundContentName = vs.status.boundVolumeSnapshotContentName;
  if (vs.status?.restoreSize) s.restoreSize = vs.status.restoreSize;
  if (vs.status?.volumeGroupSnapshotName) s.groupSnapshot = vs.status.volumeGroupSnapshotName;
  const storageTime = date(vs.status?.creationTime);
  if (storageTime) s.storageCreationTime = storageTime;
  const created = date(vs.metadata.creationTimestamp as Date | string | undefined);
  if (created) s.createdAt = created;
  if (managed) {
    try {
      s.metadata = readSnapshotMetadata(vs);
    } catch (error) {
      s.metadataError = toDbaasError(error).message;
    }
  }
  // One definition of the cut everywhere (list, describe, -o json): the recorded one.
  const cut = s.metadata?.cutAt ?? storageTime;
  if (cut) s.cutAt = cut;
  return s;
}

const ROLE_ORDER = { data: 0, wal: 1, volume: 2 } as const;

/**
 * Groups snapshot summaries into backup sets (by namespace and `dbaas.io/backup-set`), newest
 * first (see {@link compareBackupSets}). A snapshot without the label is a set of its own.
 *
 * @example
 * ```ts
 * const sets = groupBackupSets(items.map(summarizeSnapshot), items.map((vs) => vs.metadata.labels?.['dbaas.io/backup-set']));
 * ```
 */
export function groupBackupSets(snapshots: readonly SnapshotSummary[], setNames?: readonly (string | undefined)[]): BackupSet[] {
  const groups = new Map<string, { namespace: string; name: string; members: SnapshotSummary[] }>();
  snapshots.forEach((s, i) => {
    const name = setNames?.[i] || s.metadata?.backupSet || s.name;
    const key = `${s.namespace}\u0000${name}`;
    let g = groups.get(key);
    if (!g) {
      g = { namespace: s.namespace, name, members: [] };
      groups.set(key, g);
    }
    g.members.push(s);
  });
  const sets: BackupSet[] = [];
  for (const g of groups.values()) sets.push(toBackupSet(g.namespace, g.name, g.members));
  return sortBackupSets(sets);
}

function toBackupSet(namespace: string, name: string, members: SnapshotSummary[]): BackupSet {
  const snapshots = [...members].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.name.localeCompare(b.name));
  const data = snapshots.find((s) => s.role === 'data');
  const wal = snapshots.find((s) => s.role === 'wal');
  const states = snapshots.map((s) => s.state);
  const state: SnapshotState = states.includes('error') ? 'error' : states.every((st) => st === 'ready') ? 'ready' : 'pending';
  const withMeta = data?.metadata ? data : snapshots.find((s) => s.metadata);
  const requested = withMeta?.metadata?.requestedAt;
  const created = snapshots
    .map((s) => s.createdAt)
    .filter((d): d is Date => !!d)
    .sort((a, b) => a.getTime() - b.getTime())[0];
  const set: BackupSet = {
    namespace,
    name,
    snapshots,
    managed: snapshots.every((s) => s.managed),
    state,
    time: requested ?? created ?? new Date(0),
    timeSource: requested ? 'requested-at' : created ? 'creationTimestamp' : 'unknown',
    missingWal: false,
    volumes: snapshots.filter((s) => s.role === 'volume'),
    missingVolumes: [],
  };
  const present = new Set(set.volumes.map((s) => s.metadata?.volume));
  set.missingVolumes = (data?.metadata?.setVolumes ?? []).filter((v) => !present.has(v));
  if (data) set.data = data;
  if (wal) set.wal = wal;
  const error = snapshots.find((s) => s.error)?.error;
  if (error) set.error = error;
  const metadataError = snapshots.find((s) => s.metadataError);
  if (metadataError) set.metadataError = `${metadataError.name}: ${metadataError.metadataError}`;
  const source = withMeta?.metadata?.sourcePvc ?? data?.sourcePvc;
  if (source) set.sourcePvc = source;
  const mode = withMeta?.metadata?.mode;
  if (mode) {
    set.mode = mode;
    set.missingWal = hasWalSnapshot({ mode, engine: withMeta?.metadata?.engine, walVolume: data?.metadata?.walVolume }) && !wal;
  }
  return set;
}

/**
 * Order of backup sets: newest {@link BackupSet.time} first, then namespace and name.
 *
 * @example
 * ```ts
 * sets.sort(compareBackupSets);
 * ```
 */
export function compareBackupSets(a: BackupSet, b: BackupSet): number {
  return b.time.getTime() - a.time.getTime() || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
}

/**
 * Sorts backup sets newest first (a new array).
 *
 * @example
 * ```ts
 * const newest = sortBackupSets(sets)[0];
 * ```
 */
export function sortBackupSets(sets: readonly BackupSet[]): BackupSet[] {
  return [...sets].sort(compareBackupSets);
}

/**
 * Whether a backup set can be restored: `yes`, `no`, `not-yet` (snapshots still pending),
 * `not-guaranteed` (a copy that relies on atomic snapshots, from a driver that does not take them)
 * or `unknown`.
 *
 * @example
 * ```ts
 * const r: Restorability = 'not-guaranteed';
 * ```
 */
export type Restorability = 'yes' | 'no' | 'not-yet' | 'not-guaranteed' | 'unknown';

/**
 * The verdict of {@link backupSetRestorability}: whether, and why.
 *
 * @example
 * ```ts
 * const verdict: RestorabilityVerdict = { restorable: 'yes', why: 'a copy of a cleanly stopped database' };
 * ```
 */
export interface RestorabilityVerdict {
  restorable: Restorability;
  why: string;
}

/**
 * Whether a backup set can be restored, from its state, metadata and consistency mode: an `online`
 * set needs its `-wal` snapshot; a `crash` or `checkpoint` copy is only as good as the atomicity of
 * the driver's snapshots (`atomicity`, from {@link SnapshotClient.atomicity}; undefined when the
 * driver is unknown).
 *
 * @example
 * ```ts
 * const details = await client.describe({ name: 'nightly' });
 * const { restorable, why } = backupSetRestorability(details, await client.atomicity(details));
 * console.log(`${restorable}: ${why}`); // 'yes: with its -wal snapshot (backup_label and the WAL to the stop LSN)'
 * ```
 */
export function backupSetRestorability(
  set: Pick<BackupSet, 'missingWal' | 'metadataError' | 'state' | 'mode'> & Partial<Pick<BackupSet, 'missingVolumes' | 'volumes'>>,
  atomicity?: SnapshotAtomicity,
): RestorabilityVerdict {
  if (set.missingVolumes?.length)
    return {
      restorable: 'no',
      why: `the snapshot of volume ${set.missingVolumes.join(', ')} of this set is missing (the data directory's links into it would point nowhere)`,
    };
  if (set.missingWal)
    return { restorable: 'no', why: 'the -wal snapshot of this online backup is missing (the data snapshot alone has no WAL to the stop LSN)' };
  if (set.metadataError) return { restorable: 'unknown', why: 'the kubectl-dbaas metadata does not parse' };
  if (set.state === 'error') return { restorable: 'no', why: 'a snapshot failed (see its error)' };
  if (set.state !== 'ready') return { restorable: 'not-yet', why: 'waiting for the snapshots to be ready' };
  switch (set.mode) {
    case 'fenced':
      return { restorable: 'yes', why: 'a copy of a cleanly stopped database' };
    case 'online':
      return set.volumes?.some((v) => v.metadata?.holds === 'wal')
        ? { restorable: 'yes', why: "with its WAL volume's snapshot, taken after pg_backup_stop (backup_label and the WAL to the stop LSN)" }
        : { restorable: 'yes', why: 'with its -wal snapshot (backup_label and the WAL to the stop LSN)' };
    case 'crash':
    case 'checkpoint':
      if (!atomicity) return { restorable: 'unknown', why: "yes if the driver's snapshots are atomic (its content could not be read)" };
      if (!atomicity.atomic) {
        return {
          restorable: 'not-guaranteed',
          why: `a ${set.mode} copy on ${atomicity.driver}, whose snapshots are not atomic (${atomicity.reason}); it was forced past the refusal of that mode and may be torn`,
        };
      }
      return { restorable: 'yes', why: 'crash-consistent (atomic snapshots); PostgreSQL replays its WAL on start' };
    default:
      return { restorable: 'unknown', why: 'ready, but no consistency mode is recorded (not taken by kubectl-dbaas)' };
  }
}
