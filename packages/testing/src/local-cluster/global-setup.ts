import { readFile } from 'node:fs/promises';
import { LocalCluster, type ClusterRecord } from './cluster.js';
import { SHARED_CLUSTER_ENV, type SharedClusterInfo } from './shared.js';
import './provided-context.js';

interface ProvideApi {
  provide: (key: 'dbaasCluster', value: SharedClusterInfo) => void;
}

/**
 * Vitest global setup for the `cluster` project: one {@link LocalCluster} per test run, shared by
 * every test file, torn down at the end (also when tests fail or the run is interrupted). Set
 * `DBAAS_TESTING_CLUSTER_RECORD=<stateDir>/cluster.json` to use a cluster started by
 * `dbaas-testing up` instead (it is then left running).
 */
export default async function setup(project: ProvideApi): Promise<() => Promise<void>> {
  let info: SharedClusterInfo;
  let cluster: LocalCluster | undefined;
  const existing = process.env.DBAAS_TESTING_CLUSTER_RECORD;
  if (existing) {
    const rec = JSON.parse(await readFile(existing, 'utf8')) as ClusterRecord;
    info = {
      kubeconfig: rec.kubeconfig,
      stateDir: rec.stateDir,
      hostpathStateDir: rec.hostpathStateDir,
      server: rec.server,
      ...(rec.hostpathUnavailable ? { hostpathUnavailable: rec.hostpathUnavailable } : {}),
      ...(rec.btrfsUnavailable ? { btrfsUnavailable: rec.btrfsUnavailable } : {}),
      ...(rec.nodeUnavailable ? { nodeUnavailable: rec.nodeUnavailable } : {}),
      ...(rec.cnpgUnavailable ? { cnpgUnavailable: rec.cnpgUnavailable } : {}),
      startSeconds: rec.startSeconds,
    };
  } else {
    cluster = await LocalCluster.start({ log: (l) => console.log(l) });
    info = {
      kubeconfig: cluster.kubeconfigPath,
      stateDir: cluster.stateDir,
      hostpathStateDir: cluster.hostpathStateDir,
      server: cluster.server,
      ...(cluster.hostpathUnavailable ? { hostpathUnavailable: cluster.hostpathUnavailable } : {}),
      ...(cluster.btrfsUnavailable ? { btrfsUnavailable: cluster.btrfsUnavailable } : {}),
      ...(cluster.nodeUnavailable ? { nodeUnavailable: cluster.nodeUnavailable } : {}),
      ...(cluster.cnpgUnavailable ? { cnpgUnavailable: cluster.cnpgUnavailable } : {}),
      startSeconds: cluster.startSeconds,
    };
  }
  process.env[SHARED_CLUSTER_ENV.kubeconfig] = info.kubeconfig;
  process.env[SHARED_CLUSTER_ENV.info] = JSON.stringify(info);
  project.provide('dbaasCluster', info);
  return async () => {
    await cluster?.stop();
  };
}
