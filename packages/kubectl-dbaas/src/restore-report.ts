// The printed form of a restore, shared by `restore` and by `verify` (whose scratch restore is
// printed the same way). Only types come from the SDK: nothing is loaded at start-up.
import type { ConsistencyMode, RestorePhase, RestoreResult } from '@kubectl-dbaas/sdk';
import { formatSeconds } from './duration.js';

/**
 * What `restore -o json|yaml` prints.
 *
 * @example
 * ```ts
 * const report: RestoreReport = JSON.parse(stdout);
 * console.log(report.pvc, report.state, report.timings.createToBoundMs);
 * ```
 */
export interface RestoreReport {
  kind: 'Restore';
  namespace: string;
  /** The new PVC. */
  pvc: string;
  /** Its PersistentVolume, once bound. */
  volume?: string;
  state: 'ready' | 'waiting-for-first-consumer';
  backup: { namespace: string; name: string; mode?: ConsistencyMode; engine?: 'postgres' | 'mysql' | 'mariadb'; engineVersion?: string };
  restoreType: 'snapshot' | 'cross-namespace';
  size: string;
  storageClass: string;
  driver: string;
  /** A set of several volumes: the PVC restored for each other volume, and where the database container must mount it. */
  volumes?: { volume: string; holds: 'wal' | 'tablespace'; mountPath: string; pvc: string }[];
  /** Objects left besides the PVC, each with why and how to delete it. */
  remaining: string[];
  /** Output of the restore-prep step (online backups). */
  prepOutput?: string;
  /** A CloudNativePG instance's copy made ready for a plain PostgreSQL server: what was appended to its postgresql.conf. */
  plainServerSettings?: Readonly<Record<string, string>>;
  /** The RTO breakdown: milliseconds since the restore started at each phase. */
  timings: { totalMs: number; createToBoundMs?: number; prepMs?: number; phases: { phase: RestorePhase; atMs: number }[] };
}

/**
 * The printed form of the SDK's RestoreResult.
 *
 * @example
 * ```ts
 * restoreReport(await client.restore(options)).timings.createToBoundMs;
 * ```
 */
export function restoreReport(result: RestoreResult): RestoreReport {
  const t = result.timings;
  return {
    kind: 'Restore',
    namespace: result.namespace,
    pvc: result.pvcName,
    ...(result.pvc.spec?.volumeName ? { volume: result.pvc.spec.volumeName } : {}),
    state: result.state,
    backup: {
      namespace: result.backup.namespace,
      name: result.backup.name,
      ...(result.backup.mode ? { mode: result.backup.mode } : {}),
      ...(result.backup.engine ? { engine: result.backup.engine } : {}),
      ...(result.backup.engineVersion ? { engineVersion: result.backup.engineVersion } : {}),
    },
    restoreType: result.restoreType,
    size: result.size,
    storageClass: result.storageClass,
    driver: result.driver,
    ...(result.volumes ? { volumes: result.volumes.map(({ volume, holds, mountPath, pvcName }) => ({ volume, holds, mountPath, pvc: pvcName })) } : {}),
    remaining: result.remaining,
    ...(result.prepOutput ? { prepOutput: result.prepOutput } : {}),
    ...(result.plainServerSettings ? { plainServerSettings: result.plainServerSettings } : {}),
    timings: {
      totalMs: t.totalMs,
      ...(t.createToBoundMs !== undefined ? { createToBoundMs: t.createToBoundMs } : {}),
      ...(t.prepMs !== undefined ? { prepMs: t.prepMs } : {}),
      phases: t.phases,
    },
  };
}

/**
 * The RTO breakdown as one line: total, PVC created to Bound (the driver writing the data), restore-prep.
 *
 * @example
 * ```ts
 * rtoLine(report.timings); // '9.2s in all: PVC created -> Bound 7.9s, restore-prep 0.8s'
 * ```
 */
export function rtoLine(t: RestoreReport['timings']): string {
  const parts = [
    t.createToBoundMs !== undefined ? `PVC created -> Bound ${formatSeconds(t.createToBoundMs)}` : undefined,
    t.prepMs !== undefined ? `restore-prep (WAL and backup_label) ${formatSeconds(t.prepMs)}` : undefined,
  ].filter((p): p is string => p !== undefined);
  return `${formatSeconds(t.totalMs)} in all${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
