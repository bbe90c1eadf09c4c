import { chmod, mkdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { accessProblem, postgresRunAs } from '../postgres/user.js';
import { startPostgres, type PostgresServer, type StartPostgresOptions } from '../postgres/server.js';
import { HOSTPATH_DRIVER } from './cluster.js';

/** The parts of a local cluster that {@link runPostgresOnVolume} needs (a `LocalCluster` or a `SharedClusterInfo`). */
export interface VolumeHost {
  /** Path of the kubeconfig (`LocalCluster.kubeconfigPath` or `SharedClusterInfo.kubeconfig`). */
  kubeconfigPath?: string;
  kubeconfig?: string;
  /** The hostpath plugin's `--statedir`. */
  hostpathStateDir: string;
}

/** Options of {@link runPostgresOnVolume}. */
export interface RunOnVolumeOptions extends Omit<StartPostgresOptions, 'dataDirectory'> {
  /** Use `<volume>/<subPath>` as the data directory (as a Pod's `volumeMounts[].subPath` would). Default: the volume root. */
  subPath?: string;
}

/**
 * Where the PV bound to a PVC lives on this machine: `<hostpathStateDir>/<volumeHandle>`, the
 * directory kubelet would bind-mount into a Pod. Throws when the PVC is not Bound or its PV is not
 * a hostpath CSI volume.
 *
 * @example
 * const dir = await volumeDirectoryOf(cluster, { namespace: 'db', name: 'data' });
 */
export async function volumeDirectoryOf(host: VolumeHost, pvc: { namespace: string; name: string }): Promise<string> {
  const kubeconfig = host.kubeconfigPath ?? host.kubeconfig;
  if (!kubeconfig) throw new Error('volumeDirectoryOf: the cluster has no kubeconfig path');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const claim = await core.readNamespacedPersistentVolumeClaim({ namespace: pvc.namespace, name: pvc.name });
  if (claim.status?.phase !== 'Bound' || !claim.spec?.volumeName) {
    throw new Error(`PVC ${pvc.namespace}/${pvc.name} is ${claim.status?.phase ?? 'unknown'}, not Bound`);
  }
  const pv = await core.readPersistentVolume({ name: claim.spec.volumeName });
  const csi = pv.spec?.csi;
  if (!csi || csi.driver !== HOSTPATH_DRIVER) {
    throw new Error(`PV ${pv.metadata?.name} of PVC ${pvc.namespace}/${pvc.name} is not a ${HOSTPATH_DRIVER} volume`);
  }
  if (!/^[\w.-]+$/.test(csi.volumeHandle)) throw new Error(`unexpected volume handle ${JSON.stringify(csi.volumeHandle)}`);
  const dir = path.join(host.hostpathStateDir, csi.volumeHandle);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    throw new Error(`volume directory ${dir} of PV ${pv.metadata?.name} does not exist`);
  }
  return dir;
}

/**
 * When tests run as root the PostgreSQL user must reach a directory inside a volume: mkdtemp made
 * the cluster state dir 0700, so the directories above it get search permission (o+x) for that
 * user, never read permission.
 *
 * @example
 * await letPostgresUserReach(cluster, volume, path.join(volume, 'pgdata'));
 */
export async function letPostgresUserReach(host: VolumeHost, volume: string, target: string): Promise<void> {
  const runAs = postgresRunAs();
  if (!runAs.switched) return;
  for (const dir of [path.dirname(host.hostpathStateDir), host.hostpathStateDir, ...(target !== volume ? [volume] : [])]) {
    const st = await stat(dir);
    if ((st.mode & 0o001) === 0) await chmod(dir, (st.mode & 0o7777) | 0o001);
  }
  const problem = accessProblem(path.dirname(target), runAs, 'x');
  if (problem) throw new Error(`the PostgreSQL user ${runAs.name} cannot reach ${target}: ${problem}`);
}

/**
 * Runs a real PostgreSQL whose data directory is a PVC's volume directory, as a local process
 * (there is no kubelet): what a Pod mounting that PVC would run. Uses the postgres fixtures of this
 * package (`startPostgres`), so the server runs as an unprivileged user when tests run as root; the
 * directories above the volume get search permission (o+x) for that user, never read permission.
 * An empty volume is `initdb`-ed; one holding `PG_VERSION` (a restored snapshot) is started as is.
 *
 * @example
 * const pg = await runPostgresOnVolume(cluster, { namespace: 'db', name: 'data' }, { major: 17 });
 * await pg.query('create table t (x int)');
 * await pg.stop();
 */
export async function runPostgresOnVolume(
  host: VolumeHost,
  pvc: { namespace: string; name: string },
  options: RunOnVolumeOptions = {},
): Promise<PostgresServer> {
  const volume = await volumeDirectoryOf(host, pvc);
  const { subPath, ...pgOptions } = options;
  const dataDirectory = subPath ? path.join(volume, subPath) : volume;
  if (subPath) await mkdir(dataDirectory, { recursive: true, mode: 0o700 });
  await letPostgresUserReach(host, volume, dataDirectory);
  const initdb = pgOptions.initdb ?? !existsSync(path.join(dataDirectory, 'PG_VERSION'));
  return await startPostgres({ ...pgOptions, initdb, dataDirectory });
}
