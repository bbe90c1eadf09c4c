// Whether a CSI driver's snapshots are atomic (one point in time), and the consistency mode that
// follows from it (docs/consistency.md). A per-driver fact, overridable per VolumeSnapshotClass.
import { DbaasError } from '../errors.js';
import type { ConsistencyMode } from './metadata.js';

/**
 * Annotation on a VolumeSnapshotClass that overrides the driver table: `"true"` or `"false"`.
 *
 * @example
 * ```ts
 * // kubectl annotate volumesnapshotclass fast dbaas.io/atomic-snapshots=true
 * snapshotAtomicity(cls.driver, cls); // source: 'annotation'
 * ```
 */
export const ATOMIC_SNAPSHOTS_ANNOTATION = 'dbaas.io/atomic-snapshots';

/**
 * The built-in table: CSI driver name -> whether its snapshots are atomic, and why.
 *
 * @example
 * ```ts
 * KNOWN_DRIVER_ATOMICITY['hostpath.csi.k8s.io'].atomic; // false
 * ```
 */
export const KNOWN_DRIVER_ATOMICITY: Readonly<Record<string, { atomic: boolean; reason: string }>> = {
  'hostpath.csi.k8s.io': { atomic: false, reason: 'the hostpath driver copies the live directory with tar czf, file by file' },
  'ebs.csi.aws.com': { atomic: true, reason: 'EBS snapshots are point-in-time block-level copies of the volume' },
  'pd.csi.storage.gke.io': { atomic: true, reason: 'GCE persistent disk snapshots are crash-consistent block-level copies' },
  'disk.csi.azure.com': { atomic: true, reason: 'Azure managed disk snapshots are crash-consistent block-level copies' },
  'rbd.csi.ceph.com': { atomic: true, reason: 'Ceph RBD snapshots are point-in-time copy-on-write images' },
  'zfs.csi.openebs.io': { atomic: true, reason: 'OpenEBS ZFS-LocalPV uses ZFS snapshots, atomic per dataset' },
  'local.csi.openebs.io': { atomic: true, reason: 'OpenEBS LVM-LocalPV uses LVM thin snapshots, point-in-time per logical volume' },
  'btrfs.test.csi.kubectl-dbaas.io': {
    atomic: true,
    reason: "read-only btrfs subvolume snapshots: one instant for the whole volume (the project's own test driver)",
  },
};

/**
 * The atomicity verdict for a driver (and optionally its VolumeSnapshotClass).
 * `source`: where it came from; an `unknown` driver is treated as not atomic (the safe default).
 *
 * @example
 * ```ts
 * const a: SnapshotAtomicity = { driver: 'ebs.csi.aws.com', atomic: true, source: 'table', reason: '...' };
 * ```
 */
export interface SnapshotAtomicity {
  driver: string;
  atomic: boolean;
  source: 'annotation' | 'table' | 'unknown';
  reason: string;
}

/**
 * Whether snapshots of `driver` are atomic: the VolumeSnapshotClass annotation
 * `dbaas.io/atomic-snapshots` wins, then the built-in table, else "not atomic" (unknown driver).
 *
 * @throws DbaasError `INVALID_ARGUMENT` when the annotation is neither `"true"` nor `"false"`.
 * @example
 * ```ts
 * snapshotAtomicity('hostpath.csi.k8s.io').atomic; // false
 * snapshotAtomicity('my.csi.example.com', { metadata: { name: 'fast', annotations: { 'dbaas.io/atomic-snapshots': 'true' } } }).atomic; // true
 * ```
 */
export function snapshotAtomicity(driver: string, snapshotClass?: { metadata?: { name?: string; annotations?: Record<string, string> } }): SnapshotAtomicity {
  const value = snapshotClass?.metadata?.annotations?.[ATOMIC_SNAPSHOTS_ANNOTATION];
  const className = snapshotClass?.metadata?.name ?? '(unnamed)';
  if (value !== undefined) {
    if (value !== 'true' && value !== 'false') {
      throw new DbaasError(
        'INVALID_ARGUMENT',
        `VolumeSnapshotClass "${className}" has ${ATOMIC_SNAPSHOTS_ANNOTATION}: "${value}"; it must be "true" or "false"`,
        {
          fix: `kubectl annotate volumesnapshotclass ${className} ${ATOMIC_SNAPSHOTS_ANNOTATION}=false --overwrite`,
        },
      );
    }
    return {
      driver,
      atomic: value === 'true',
      source: 'annotation',
      reason: `VolumeSnapshotClass "${className}" says ${ATOMIC_SNAPSHOTS_ANNOTATION}: "${value}"`,
    };
  }
  const known = KNOWN_DRIVER_ATOMICITY[driver];
  if (known) return { driver, atomic: known.atomic, source: 'table', reason: known.reason };
  return {
    driver,
    atomic: false,
    source: 'unknown',
    reason: `kubectl-dbaas does not know whether ${driver} snapshots are atomic, so it assumes they are not`,
  };
}

/**
 * The consistency mode to use: the requested one if it is safe on this driver for this engine,
 * else an error; the default when none is requested.
 *
 * - PostgreSQL (or no engine given): default `checkpoint` on atomic drivers, `fenced` otherwise.
 *   `crash` and `checkpoint` on a non-atomic driver are refused unless `force`: both trust the
 *   snapshot to be one point in time, and a torn copy can start and be silently corrupt.
 * - MySQL/MariaDB: default `online` (global lock across the cut, binlog position recorded) on
 *   atomic drivers, `fenced` otherwise. `checkpoint` does not exist for them (InnoDB has no
 *   statement that makes a file-by-file copy of a running server consistent). `crash` and `online`
 *   on a non-atomic driver are refused unless `force`: under `FLUSH TABLES WITH READ LOCK` or
 *   `BACKUP STAGE BLOCK_COMMIT` InnoDB keeps flushing pages and advancing its checkpoint, and a
 *   `tar` of the live directory was measured to give copies that do not start or start corrupt
 *   (docs/engines.md).
 *
 * @throws DbaasError `MODE_UNSAFE`; `INVALID_ARGUMENT` for a mode the engine does not have.
 * @example
 * ```ts
 * chooseConsistencyMode(snapshotAtomicity('hostpath.csi.k8s.io')); // 'fenced'
 * chooseConsistencyMode(snapshotAtomicity('ebs.csi.aws.com')); // 'checkpoint'
 * chooseConsistencyMode(snapshotAtomicity('hostpath.csi.k8s.io'), 'online'); // 'online'
 * chooseConsistencyMode(snapshotAtomicity('ebs.csi.aws.com'), undefined, { engine: 'mariadb' }); // 'online'
 * chooseConsistencyMode(snapshotAtomicity('hostpath.csi.k8s.io'), 'online', { engine: 'mariadb' }); // throws MODE_UNSAFE
 * ```
 */
export function chooseConsistencyMode(
  atomicity: SnapshotAtomicity,
  requested?: ConsistencyMode,
  opts: { force?: boolean; engine?: 'postgres' | 'mysql' | 'mariadb' } = {},
): ConsistencyMode {
  if (opts.engine === 'mysql' || opts.engine === 'mariadb') return chooseMysqlMode(atomicity, requested, opts.engine, opts.force ?? false);
  if (requested === undefined) return atomicity.atomic ? 'checkpoint' : 'fenced';
  if ((requested === 'crash' || requested === 'checkpoint') && !atomicity.atomic && !opts.force) {
    throw new DbaasError(
      'MODE_UNSAFE',
      `mode "${requested}" is unsafe on ${atomicity.driver}: its snapshots are not atomic (${atomicity.reason}). ` +
        `A ${requested} snapshot copies data files, pg_wal and pg_control at different moments while the database writes; ` +
        'such a torn copy may fail to start or, worse, start and be silently corrupt (lost commits, index/heap mismatches).',
      {
        fix:
          'Use --mode fenced (brief stop of the database, always consistent) or --mode online (no downtime, backup mode with the WAL to the stop LSN). ' +
          `If the driver's snapshots really are atomic, annotate its VolumeSnapshotClass with ${ATOMIC_SNAPSHOTS_ANNOTATION}="true"; --force takes the risk anyway.`,
        details: { ...atomicity, requested },
      },
    );
  }
  return requested;
}

/**
 * The modes each engine has, and on which drivers (docs/engines.md says why).
 *
 * @example
 * ```ts
 * ENGINE_MODES.mariadb.nonAtomic; // ['fenced']
 * ```
 */
export const ENGINE_MODES = {
  postgres: { atomic: ['crash', 'checkpoint', 'fenced', 'online'], nonAtomic: ['fenced', 'online'] },
  mysql: { atomic: ['crash', 'fenced', 'online'], nonAtomic: ['fenced'] },
  mariadb: { atomic: ['crash', 'fenced', 'online'], nonAtomic: ['fenced'] },
} as const satisfies Record<'postgres' | 'mysql' | 'mariadb', { atomic: readonly ConsistencyMode[]; nonAtomic: readonly ConsistencyMode[] }>;

function chooseMysqlMode(atomicity: SnapshotAtomicity, requested: ConsistencyMode | undefined, engine: 'mysql' | 'mariadb', force: boolean): ConsistencyMode {
  const name = engine === 'mariadb' ? 'MariaDB' : 'MySQL';
  if (requested === undefined) return atomicity.atomic ? 'online' : 'fenced';
  if (requested === 'checkpoint') {
    throw new DbaasError(
      'INVALID_ARGUMENT',
      `mode "checkpoint" does not exist for ${name}: InnoDB has no statement that makes a copy of a running server consistent`,
      {
        fix: atomicity.atomic ? 'Use --mode online (global read lock across the cut, binlog position recorded) or --mode fenced.' : 'Use --mode fenced.',
        details: { engine, requested },
      },
    );
  }
  if ((requested === 'crash' || requested === 'online') && !atomicity.atomic && !force) {
    const what =
      requested === 'online'
        ? `Under ${engine === 'mariadb' ? 'BACKUP STAGE BLOCK_COMMIT' : 'FLUSH TABLES WITH READ LOCK'} commits stop, but InnoDB still flushes pages and advances its checkpoint, ` +
          'so a file-by-file copy (tablespaces read before the redo log) can miss redo it needs: measured on MariaDB 10.11 with tar under the lock, copies that did not start ' +
          '("Not applying ... due to corruption") and copies that started corrupt (CHECK TABLE: "Clustered index record not found").'
        : 'A crash snapshot copies the tablespaces and the redo log at different moments while InnoDB writes; such a torn copy may fail to start or start corrupt.';
    throw new DbaasError(
      'MODE_UNSAFE',
      `mode "${requested}" is unsafe for ${name} on ${atomicity.driver}: its snapshots are not atomic (${atomicity.reason}). ${what}`,
      {
        fix:
          'Use --mode fenced (a clean shutdown of the database, the snapshot, a restart: always consistent). ' +
          `If the driver's snapshots really are atomic, annotate its VolumeSnapshotClass with ${ATOMIC_SNAPSHOTS_ANNOTATION}="true"; --force takes the risk anyway.`,
        details: { ...atomicity, requested, engine },
      },
    );
  }
  return requested;
}
