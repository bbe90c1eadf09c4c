/** What the `cluster` test project's global setup hands to the tests (see {@link clusterFromEnv}). */
export interface SharedClusterInfo {
  kubeconfig: string;
  stateDir: string;
  hostpathStateDir: string;
  server: string;
  /** Why the hostpath plugin is not running; undefined when it is. */
  hostpathUnavailable?: string;
  /** Why the btrfs driver (`dbaas-btrfs`, `dbaas-btrfs-snapclass`) is not running; undefined when it is. */
  btrfsUnavailable?: string;
  /** Why the cluster has no node (kubelet, containerd), so no pod runs; undefined when it has one. */
  nodeUnavailable?: string;
  /** Why CloudNativePG cannot be installed (`installCnpgOperator`); undefined when it can. */
  cnpgUnavailable?: string;
  startSeconds: number;
}

/** Environment variables the global setup sets for the test workers (and their children). */
export const SHARED_CLUSTER_ENV = {
  kubeconfig: 'DBAAS_TESTING_KUBECONFIG',
  info: 'DBAAS_TESTING_CLUSTER_INFO',
} as const;

/**
 * The shared cluster's info inside a test: from vitest's `inject('dbaasCluster')` when given, else
 * from `$DBAAS_TESTING_CLUSTER_INFO`.
 *
 * @example
 * import { inject } from 'vitest';
 * const info = clusterFromEnv(inject('dbaasCluster'));
 */
export function clusterFromEnv(injected?: SharedClusterInfo): SharedClusterInfo {
  if (injected) return injected;
  const raw = process.env[SHARED_CLUSTER_ENV.info];
  if (!raw) throw new Error(`no shared cluster: run through the vitest 'cluster' project (global setup), or set ${SHARED_CLUSTER_ENV.info}`);
  return JSON.parse(raw) as SharedClusterInfo;
}
