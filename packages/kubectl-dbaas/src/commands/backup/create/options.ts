// Parsing of `backup create`'s own flags that are more than a value: the target and --fence.
// Pure (no SDK), so the command can refuse bad flags before loading anything.
import { parseFencedObject } from '../../../fence-object.js';
import { UsageError } from '../../../usage-error.js';

/**
 * What to back up: a PVC, a StatefulSet pod (its data PVC), or an instance of a CloudNativePG
 * Cluster (a standby unless `instance` is named).
 *
 * @example
 * ```ts
 * const t: CreateTarget = { kind: 'cluster', name: 'pg', instance: 'pg-2' };
 * ```
 */
export type CreateTarget = { kind: 'pvc'; name: string } | { kind: 'pod'; name: string } | { kind: 'cluster'; name: string; instance?: string };

/**
 * How a `fenced` backup stops the database: `auto` (from the target: its StatefulSet or CNPG
 * Cluster, or the StatefulSet whose volumeClaimTemplates made the PVC), a named StatefulSet
 * scaled to 0 and back, or a CNPG Cluster's `cnpg.io/fencedInstances` for the target's instance.
 *
 * @example
 * ```ts
 * parseFence('statefulset/pg'); // { kind: 'statefulset', name: 'pg' }
 * ```
 */
export type FenceChoice = { kind: 'auto' } | { kind: 'statefulset'; name: string } | { kind: 'cnpg'; cluster: string };

/**
 * Parses `--fence`: `auto`, `statefulset/NAME` (also `sts/NAME`), `cnpg/CLUSTER`.
 *
 * @throws UsageError for anything else.
 * @example
 * ```ts
 * parseFence('cnpg/pg'); // { kind: 'cnpg', cluster: 'pg' }
 * ```
 */
export function parseFence(text: string): FenceChoice {
  if (text === 'auto') return { kind: 'auto' };
  const parsed = parseFencedObject(text);
  if (!parsed) throw new UsageError(`--fence: "${text}" is not a fencing; use auto, statefulset/NAME or cnpg/CLUSTER`);
  return parsed;
}

/**
 * The one target named by `--pvc`, `--pod` or `--cnpg-cluster` (`--instance` only with
 * `--cnpg-cluster`). `--cnpg-cluster`, not `--cluster`: that is kubectl's flag for the kubeconfig cluster.
 *
 * @throws UsageError when none or several are given.
 * @example
 * ```ts
 * createTarget({ pod: 'pg-0' }); // { kind: 'pod', name: 'pg-0' }
 * ```
 */
export function createTarget(flags: {
  pvc?: string | undefined;
  pod?: string | undefined;
  cnpgCluster?: string | undefined;
  instance?: string | undefined;
}): CreateTarget {
  const given = (['pvc', 'pod', 'cnpgCluster'] as const).filter((k) => flags[k] !== undefined);
  const flag = (k: (typeof given)[number]) => (k === 'cnpgCluster' ? '--cnpg-cluster' : `--${k}`);
  if (given.length === 0)
    throw new UsageError('name what to back up: --pvc NAME (a volume), --pod NAME (a StatefulSet pod) or --cnpg-cluster NAME (a CloudNativePG Cluster)');
  if (given.length > 1) throw new UsageError(`give one target, not ${given.map(flag).join(' and ')}`);
  if (flags.instance !== undefined && given[0] !== 'cnpgCluster')
    throw new UsageError('--instance goes with --cnpg-cluster (it names the CloudNativePG instance to back up)');
  const kind = given[0]!;
  const name = flags[kind]!;
  if (kind === 'cnpgCluster') return { kind: 'cluster', name, ...(flags.instance !== undefined ? { instance: flags.instance } : {}) };
  return { kind, name };
}
