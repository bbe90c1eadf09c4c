import { chmod, mkdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { buildPvcFromSnapshot, watchUntil, type KubeClients } from '@kubectl-dbaas/sdk';
import { accessProblem, postgresRunAs } from '../postgres/user.js';
import { startPostgres, type PostgresServer, type StartPostgresOptions } from '../postgres/server.js';
import { BTRFS_DRIVER, HOSTPATH_DRIVER, STORAGE_CLASS } from './cluster.js';

/** The parts of a local cluster that {@link runPostgresOnVolume} needs (a `LocalCluster` or a `SharedClusterInfo`). */
export interface VolumeHost {
  /** Path of the kubeconfig (`LocalCluster.kubeconfigPath` or `SharedClusterInfo.kubeconfig`). */
  kubeconfigPath?: string;
  kubeconfig?: string;
  /** The hostpath plugin's `--statedir`. */
  hostpathStateDir: string;
  /** The btrfs test driver's `--root` (absent when that driver does not run). */
  btrfsRoot?: string;
}

/** Options of {@link runPostgresOnVolume}. */
export interface RunOnVolumeOptions extends Omit<StartPostgresOptions, 'dataDirectory'> {
  /** Use `<volume>/<subPath>` as the data directory (as a Pod's `volumeMounts[].subPath` would). Default: the volume root. */
  subPath?: string;
}

/**
 * Where the PV bound to a PVC lives on this machine, the directory kubelet bind-mounts into a Pod:
 * `<hostpathStateDir>/<volumeHandle>` for a hostpath CSI volume, `<btrfsRoot>/volumes/<volumeHandle>`
 * for one of the btrfs test driver. Throws when the PVC is not Bound or its PV is of another driver.
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
  const under =
    csi?.driver === HOSTPATH_DRIVER ? host.hostpathStateDir : csi?.driver === BTRFS_DRIVER && host.btrfsRoot ? path.join(host.btrfsRoot, 'volumes') : undefined;
  if (!csi || under === undefined) {
    throw new Error(
      `PV ${pv.metadata?.name} of PVC ${pvc.namespace}/${pvc.name} is not a volume of ${HOSTPATH_DRIVER}${host.btrfsRoot ? ` or ${BTRFS_DRIVER}` : ''} (driver ${csi?.driver ?? 'none'})`,
    );
  }
  if (!/^[\w.-]+$/.test(csi.volumeHandle)) throw new Error(`unexpected volume handle ${JSON.stringify(csi.volumeHandle)}`);
  const dir = path.join(under, csi.volumeHandle);
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

/**
 * The names of a namespace's PVCs that are not being deleted, sorted: what tests compare before and
 * after an operation (a deleted PVC lingers while its finalizers run).
 *
 * @example
 * ```ts
 * expect(await livePvcNames(clients, 'ns')).not.toContain('scratch');
 * ```
 */
export async function livePvcNames(clients: KubeClients, namespace: string): Promise<string[]> {
  return (await clients.core.listNamespacedPersistentVolumeClaim({ namespace })).items
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((p) => p.metadata!.name!)
    .sort();
}

/**
 * Creates a PVC, waits until it is Bound, and returns its volume directory (where kubelet would
 * mount it).
 *
 * @example
 * const dir = await createBoundPvc(clients, cluster, { metadata: { name: 'data', namespace: 'db' }, spec });
 */
export async function createBoundPvc(clients: KubeClients, host: VolumeHost, body: V1PersistentVolumeClaim, timeoutMs = 120_000): Promise<string> {
  const namespace = body.metadata?.namespace ?? clients.namespace;
  const name = body.metadata!.name!;
  await clients.core.createNamespacedPersistentVolumeClaim({ namespace, body });
  await watchUntil<V1PersistentVolumeClaim>(clients, {
    path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
    name,
    predicate: (p) => p?.status?.phase === 'Bound',
    deadline: Date.now() + timeoutMs,
    what: 'to be Bound',
  });
  return await volumeDirectoryOf(host, { namespace, name });
}

/**
 * A plain PVC of the hostpath StorageClass from one VolumeSnapshot (ManifestBuilder's
 * buildPvcFromSnapshot, no RestoreClient): for tests that look at or break a snapshot's copy
 * directly. Returns its volume directory once Bound.
 *
 * @example
 * const dir = await pvcFromSnapshot(clients, cluster, { namespace: 'db', snapshot: 'nightly', pvcName: 'copy' });
 */
export async function pvcFromSnapshot(clients: KubeClients, host: VolumeHost, opts: { namespace: string; snapshot: string; pvcName: string }): Promise<string> {
  const vs = await clients.volumeSnapshots.get(opts.snapshot, opts.namespace);
  return await createBoundPvc(
    clients,
    host,
    buildPvcFromSnapshot({
      name: opts.pvcName,
      namespace: opts.namespace,
      snapshot: { name: opts.snapshot, restoreSize: vs.status?.restoreSize, driver: HOSTPATH_DRIVER },
      storageClass: { name: STORAGE_CLASS, provisioner: HOSTPATH_DRIVER },
    }),
  );
}
