// The CloudNativePG `Cluster` resource (`postgresql.cnpg.io/v1`), read and watched through the
// custom objects API: the one place that names its group, version and plural.
import { isDbaasError } from '../errors.js';
import type { KubeClients } from './clients.js';

/**
 * Where CloudNativePG's Clusters are served.
 *
 * @example
 * ```ts
 * await clients.custom.getNamespacedCustomObject({ ...CNPG_CLUSTERS, namespace: 'db', name: 'pg' });
 * ```
 */
export const CNPG_CLUSTERS = Object.freeze({ group: 'postgresql.cnpg.io', version: 'v1', plural: 'clusters' } as const);

/**
 * `status.phase` of a Cluster whose instances are all up (CloudNativePG's own words).
 *
 * @example
 * ```ts
 * const healthy = cluster.status?.phase === CNPG_HEALTHY_PHASE;
 * ```
 */
export const CNPG_HEALTHY_PHASE = 'Cluster in healthy state';

/**
 * The parts of a Cluster the SDK reads; `spec` is kept whole so that it can be copied.
 *
 * @example
 * ```ts
 * const c: CnpgClusterObject = await readCnpgClusterObject(clients, 'db', 'pg');
 * console.log(c.status?.currentPrimary);
 * ```
 */
export interface CnpgClusterObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string>; resourceVersion?: string };
  spec?: Record<string, unknown> & { instances?: number; imageName?: string };
  status?: {
    instanceNames?: string[];
    currentPrimary?: string;
    image?: string;
    phase?: string;
    phaseReason?: string;
    instances?: number;
    readyInstances?: number;
    /** The image that last ran on the data directory, and its major version. */
    pgDataImageInfo?: { image?: string; majorVersion?: number };
  };
}

/**
 * A Cluster as the API server has it.
 *
 * @throws DbaasError `KUBE_NOT_FOUND` (no such Cluster, or CloudNativePG is not installed)
 * @example
 * ```ts
 * const pg = await readCnpgClusterObject(clients, 'db', 'pg');
 * ```
 */
export async function readCnpgClusterObject(clients: KubeClients, namespace: string, name: string): Promise<CnpgClusterObject> {
  return (await clients.custom.getNamespacedCustomObject({ ...CNPG_CLUSTERS, namespace, name })) as CnpgClusterObject;
}

/**
 * {@link readCnpgClusterObject}, undefined when there is no such Cluster (or no CloudNativePG).
 *
 * @example
 * ```ts
 * if (await findCnpgClusterObject(clients, 'db', 'pg2')) throw new Error('exists');
 * ```
 */
export async function findCnpgClusterObject(clients: KubeClients, namespace: string, name: string): Promise<CnpgClusterObject | undefined> {
  try {
    return await readCnpgClusterObject(clients, namespace, name);
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
    throw error;
  }
}

/**
 * The collection path of Clusters in `namespace`, for watchUntil.
 *
 * @example
 * ```ts
 * await watchUntil(clients, { path: cnpgClustersPath('db'), name: 'pg', predicate, deadline });
 * ```
 */
export function cnpgClustersPath(namespace: string): string {
  return `/apis/${CNPG_CLUSTERS.group}/${CNPG_CLUSTERS.version}/namespaces/${namespace}/${CNPG_CLUSTERS.plural}`;
}

/**
 * The image a Cluster's instances run (`status.pgDataImageInfo.image`, else `status.image`, else
 * `spec.imageName`): the image for pods that work on a copy of its data. Undefined when the
 * Cluster (or CloudNativePG) is not there, or, given `major`, when the Cluster now runs another
 * major version than that copy (it was upgraded since).
 *
 * @example
 * ```ts
 * const image = (await cnpgClusterImage(clients, 'db', 'pg', 15)) ?? 'postgres:15';
 * ```
 */
export async function cnpgClusterImage(clients: KubeClients, namespace: string, name: string, major?: number): Promise<string | undefined> {
  const cluster = await findCnpgClusterObject(clients, namespace, name);
  return cluster ? runningImage(cluster, major) : undefined;
}

/**
 * What {@link cnpgClusterImage} reads from a Cluster already at hand.
 *
 * @example
 * ```ts
 * runningImage({ status: { pgDataImageInfo: { image: 'pg:16', majorVersion: 16 } } }, 15); // undefined
 * ```
 */
export function runningImage(cluster: CnpgClusterObject, major?: number): string | undefined {
  const running = cluster.status?.pgDataImageInfo;
  if (major !== undefined && running?.majorVersion !== undefined && running.majorVersion !== major) return undefined;
  return running?.image ?? cluster.status?.image ?? cluster.spec?.imageName;
}
