// `--prep local` (restore) and `--runtime local` (verify): for the kubectl-dbaas project's own test
// cluster only (packages/testing: etcd, kube-apiserver, the CSI hostpath plugin as local processes,
// no kubelet). There a Job or a pod never runs, so the restore-prep command and the scratch
// PostgreSQL run as local processes over the hostpath volume directories. The testing package is an
// optional peer dependency, never bundled, loaded only here, by dynamic import.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DbaasError } from '@kubectl-dbaas/sdk';
import { LOCAL_CLUSTER_ENV } from './local-note.js';

/**
 * The parts of the local test cluster the local runtime needs: its kubeconfig and the hostpath
 * plugin's state directory (volume `<handle>` is the directory `<hostpathStateDir>/<handle>`).
 *
 * @example
 * ```ts
 * const host: LocalClusterHost = { stateDir: '/tmp/dbaas-cluster-x', kubeconfigPath: '/tmp/dbaas-cluster-x/kubeconfig', hostpathStateDir: '/tmp/dbaas-cluster-x/hostpath' };
 * ```
 */
export interface LocalClusterHost {
  stateDir: string;
  kubeconfigPath: string;
  hostpathStateDir: string;
}

/** The fields of the testing package's `cluster.json` (ClusterRecord) read here. */
interface ClusterRecordFields {
  stateDir?: unknown;
  kubeconfig?: unknown;
  hostpathStateDir?: unknown;
  hostpathUnavailable?: unknown;
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isFile() === true;
}

/**
 * Finds the local test cluster: `--local-cluster` (its state directory, or the `cluster.json` in
 * it), else `$DBAAS_LOCAL_CLUSTER`, else the directory of the kubeconfig in use (`--kubeconfig`, else
 * the first file of `$KUBECONFIG`) when it holds a `cluster.json` (the test cluster writes its
 * kubeconfig next to it, so `export KUBECONFIG=...` as `dbaas-testing up` prints is enough).
 *
 * @throws DbaasError `KUBE_CONFIG_INVALID` when none is found, or the cluster runs without the CSI hostpath plugin.
 * @example
 * ```ts
 * const host = await findLocalCluster({ localCluster: '/tmp/dbaas-cluster-x' }, process.env);
 * ```
 */
export async function findLocalCluster(
  args: { localCluster?: string | undefined; kubeconfig?: string | undefined },
  environment: NodeJS.ProcessEnv = process.env,
): Promise<LocalClusterHost> {
  const kubeconfig = args.kubeconfig ?? environment.KUBECONFIG?.split(path.delimiter).find((p) => p !== '');
  const given = args.localCluster ?? environment[LOCAL_CLUSTER_ENV];
  const candidates = given !== undefined && given !== '' ? [given] : kubeconfig ? [path.dirname(kubeconfig)] : [];
  for (const candidate of candidates) {
    const file = candidate.endsWith('.json') ? candidate : path.join(candidate, 'cluster.json');
    if (!(await isFile(file))) continue;
    let record: ClusterRecordFields;
    try {
      record = JSON.parse(await readFile(file, 'utf8')) as ClusterRecordFields;
    } catch (error) {
      throw new DbaasError('KUBE_CONFIG_INVALID', `${file} is not a cluster record of the testing package: ${(error as Error).message}`, { cause: error });
    }
    if (typeof record.hostpathStateDir !== 'string' || typeof record.kubeconfig !== 'string') {
      throw new DbaasError('KUBE_CONFIG_INVALID', `${file} is not a cluster record of the testing package (no hostpathStateDir or kubeconfig)`);
    }
    if (typeof record.hostpathUnavailable === 'string') {
      throw new DbaasError('KUBE_CONFIG_INVALID', `the local test cluster ${path.dirname(file)} runs without the CSI hostpath plugin (${record.hostpathUnavailable}): no volume can be restored or read there`, {
        fix: 'Start the test cluster with the plugin (DBAAS_TESTING_BIN_DIR=<dir with hostpathplugin>, see packages/testing/go/BLOCKED.md).',
      });
    }
    return { stateDir: typeof record.stateDir === 'string' ? record.stateDir : path.dirname(file), kubeconfigPath: record.kubeconfig, hostpathStateDir: record.hostpathStateDir };
  }
  const where = given ? `${given} holds no cluster.json` : kubeconfig ? `no cluster.json next to the kubeconfig ${kubeconfig}` : 'no --local-cluster, $DBAAS_LOCAL_CLUSTER or kubeconfig path to look next to';
  throw new DbaasError('KUBE_CONFIG_INVALID', `local mode needs the kubectl-dbaas test cluster (dbaas-testing up, or the tests' LocalCluster): ${where}`, {
    fix: `Pass --local-cluster <its state directory> (or set $${LOCAL_CLUSTER_ENV}), or point --kubeconfig/$KUBECONFIG at the kubeconfig it wrote. On a real cluster leave --prep job / --runtime pod (the defaults).`,
  });
}

/**
 * The exports of `@kubectl-dbaas/testing` used here.
 *
 * @example
 * ```ts
 * const runtime = (await loadTestingPackage('--runtime local')).localVerifyRuntime(host);
 * ```
 */
export type TestingPackage = Pick<typeof import('@kubectl-dbaas/testing'), 'localRestorePrepExecutor' | 'localVerifyRuntime'>;

/**
 * Loads `@kubectl-dbaas/testing` (optional peer dependency; never bundled into the plugin).
 *
 * @throws DbaasError `INVALID_ARGUMENT` (exit 2) when it is not installed, saying that local mode is for the project's test cluster only.
 * @example
 * ```ts
 * const { localVerifyRuntime } = await loadTestingPackage('--runtime local');
 * ```
 */
export async function loadTestingPackage(flag: string, load: () => Promise<TestingPackage> = () => import('@kubectl-dbaas/testing')): Promise<TestingPackage> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes('@kubectl-dbaas/testing')) {
      throw new DbaasError('INVALID_ARGUMENT', `${flag} is for the kubectl-dbaas project's kubelet-less test cluster only, and needs the @kubectl-dbaas/testing package, which is not installed here`, {
        fix: `On a real cluster leave it out (${flag.startsWith('--prep') ? '--prep job' : '--runtime pod'}, the default). For the test cluster, run the plugin from the kubectl-dbaas repository after npm install.`,
        cause: error,
      });
    }
    throw error;
  }
}
