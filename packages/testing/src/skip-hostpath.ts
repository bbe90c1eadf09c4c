// The one skip set-up of the cluster tests whose pods run on the CSI hostpath driver's volumes:
// the shared cluster may come up without its node (not root, no containerd) or without the hostpath
// plugin (no binaries), and those tests then skip, saying which, instead of failing on a PVC that
// never binds or a pod that never starts.
import type { SharedClusterInfo } from './local-cluster/shared.js';

/**
 * Why tests that run pods on hostpath volumes of the shared cluster cannot run here, or undefined
 * when they can; for {@link skipWhen}. When they cannot, it also warns on stderr, naming `tests`,
 * so a run that skips them says so where it happens (the summary lists each skipped test too).
 *
 * @example
 * ```ts
 * const info = clusterFromEnv(inject('dbaasCluster'));
 * const why = hostpathSkipReason(info, 'restore-prep Job tests');
 * it('a completed Job', skipWhen(why), async () => { ... });
 * ```
 */
export function hostpathSkipReason(info: Pick<SharedClusterInfo, 'hostpathUnavailable' | 'nodeUnavailable'>, tests: string): string | undefined {
  const reason = info.nodeUnavailable
    ? `the test cluster has no node: ${info.nodeUnavailable}`
    : info.hostpathUnavailable
      ? `CSI hostpath plugin unavailable: ${info.hostpathUnavailable}`
      : undefined;
  if (reason !== undefined) console.warn(`[dbaas-testing] SKIPPING ${tests} (not passed): ${reason}`);
  return reason;
}

/**
 * Why CloudNativePG tests cannot run on the shared cluster (no node, no hostpath plugin, no CNPG
 * manager binary or images), or undefined when they can; warns like {@link hostpathSkipReason}.
 *
 * @example
 * const why = cnpgSkipReason(clusterFromEnv(inject('dbaasCluster')), 'CNPG backup tests');
 */
export function cnpgSkipReason(
  info: Pick<SharedClusterInfo, 'hostpathUnavailable' | 'nodeUnavailable' | 'cnpgUnavailable'>,
  tests: string,
): string | undefined {
  const hostpath = hostpathSkipReason(info, tests);
  if (hostpath !== undefined) return hostpath;
  if (info.cnpgUnavailable === undefined) return undefined;
  const reason = `CloudNativePG unavailable: ${info.cnpgUnavailable}`;
  console.warn(`[dbaas-testing] SKIPPING ${tests} (not passed): ${reason}`);
  return reason;
}
