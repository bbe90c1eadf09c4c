// Whether a CSI driver's snapshots are atomic (one point in time), and the consistency mode that
// follows from it (DESIGN.md section 3). A per-driver fact, overridable per VolumeSnapshotClass.
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
export function snapshotAtomicity(
  driver: string,
  snapshotClass?: { metadata?: { name?: string; annotations?: Record<string, string> } },
): SnapshotAtomicity {
  const value = snapshotClass?.metadata?.annotations?.[ATOMIC_SNAPSHOTS_ANNOTATION];
  const className = snapshotClass?.metadata?.name ?? '(unnamed)';
  if (value !== undefined) {
    if (value !== 'true' && value !== 'false') {
      throw new DbaasError('INVALID_ARGUMENT', `VolumeSnapshotClass "${className}" has ${ATOMIC_SNAPSHOTS_ANNOTATION}: "${value}"; it must be "true" or "false"`, {
        fix: `kubectl annotate volumesnapshotclass ${className} ${ATOMIC_SNAPSHOTS_ANNOTATION}=false --overwrite`,
      });
    }
    return { driver, atomic: value === 'true', source: 'annotation', reason: `VolumeSnapshotClass "${className}" says ${ATOMIC_SNAPSHOTS_ANNOTATION}: "${value}"` };
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
 * The consistency mode to use: the requested one if it is safe on this driver, else an error; the
 * default when none is requested (`checkpoint` on atomic drivers, `fenced` otherwise).
 * `crash` and `checkpoint` on a non-atomic driver are refused unless `force` is set: both trust
 * the snapshot to be one point in time, and a torn copy can start and be silently corrupt.
 *
 * @throws DbaasError `MODE_UNSAFE`
 * @example
 * ```ts
 * chooseConsistencyMode(snapshotAtomicity('hostpath.csi.k8s.io')); // 'fenced'
 * chooseConsistencyMode(snapshotAtomicity('ebs.csi.aws.com')); // 'checkpoint'
 * chooseConsistencyMode(snapshotAtomicity('hostpath.csi.k8s.io'), 'online'); // 'online'
 * ```
 */
export function chooseConsistencyMode(atomicity: SnapshotAtomicity, requested?: ConsistencyMode, opts: { force?: boolean } = {}): ConsistencyMode {
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
