// What `--help` says about the local modes (`restore --prep local`, `verify --runtime local`).
// Pure text, so the command definitions can use it without loading the SDK at start-up.

/**
 * Environment variable naming the local test cluster's state directory (what `dbaas-testing up` made).
 *
 * @example
 * ```ts
 * process.env[LOCAL_CLUSTER_ENV] = '/tmp/dbaas-cluster-x';
 * ```
 */
export const LOCAL_CLUSTER_ENV = 'DBAAS_LOCAL_CLUSTER';

/**
 * What `--help` says about `local`, once for both commands.
 *
 * @example
 * ```ts
 * `--runtime pod, or local (${LOCAL_ONLY_NOTE})`;
 * ```
 */
export const LOCAL_ONLY_NOTE = "for the kubectl-dbaas project's kubelet-less test cluster only; needs the @kubectl-dbaas/testing package";
