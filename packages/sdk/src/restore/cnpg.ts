// Restore of a backup set into a new CloudNativePG Cluster (docs/cnpg.md, "Restoring into a new
// Cluster"): CloudNativePG itself brings the Cluster up through `bootstrap.recovery.volumeSnapshots`.
// Without a WAL archive CloudNativePG's snapshot recovery only cleans the data directory (it drops
// standby.signal, postmaster.pid, pg_replslot/*) and starts it, so what it is given must start
// consistent on its own:
// - a set that is not `online` (a fenced copy is cleanly shut down, a crash or checkpoint copy of an
//   atomic driver crash-recovers) is given as it is: the backup's own snapshots;
// - an `online` set needs backup_label and the WAL to the stop LSN inside the data directory: it is
//   restored into staging PVCs by the restore-prep step, and snapshots of those are given.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { DbaasError, isDbaasError, toDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import { CNPG_CLUSTERS, CNPG_HEALTHY_PHASE, cnpgClustersPath, findCnpgClusterObject, runningImage, type CnpgClusterObject } from '../kube/cnpg-cluster.js';
import { SNAPSHOT_API_VERSION, type VolumeSnapshot } from '../kube/snapshot-types.js';
import { isGone, watchUntil } from '../kube/watch-until.js';
import { DBAAS_LABELS, MANAGED_BY, type ConsistencyMode } from '../manifests/metadata.js';
import { assertDnsLabel, derivedName } from '../manifests/names.js';
import { compareQuantities } from '../manifests/quantity.js';
import { SnapshotClient } from '../snapshot/snapshot-client.js';
import { executeRestore, planRestore, type RestorePlan, type RestorePrepOptions, type RestoreResult } from './restore.js';

const DEFAULT_DEADLINE_MS = 20 * 60_000;
/** Suffix of the staging PVCs and snapshots of an `online` set: `<cluster>-dbaas-restore`. */
export const CNPG_RESTORE_STAGING_SUFFIX = '-dbaas-restore';
/** Label on the staging snapshots: the Cluster they were made for. */
export const CNPG_RESTORE_FOR_LABEL = 'dbaas.io/restore-for';
/** CloudNativePG's label (or annotation) naming what a volume holds; its recovery checks it. */
export const CNPG_PVC_ROLE_LABEL = 'cnpg.io/pvcRole';

/**
 * Options of {@link RestoreClient.restoreToCnpgCluster}.
 *
 * @example
 * ```ts
 * const options: CnpgRestoreOptions = { backup: 'nightly', namespace: 'db', cluster: 'pg-restored' };
 * ```
 */
export interface CnpgRestoreOptions {
  /** The backup set (in `namespace`). */
  backup: string;
  /** Namespace of the backup and of the new Cluster: CloudNativePG bootstraps from snapshots in its own namespace only. */
  namespace: string;
  /** Name of the new Cluster; refused if it exists. */
  cluster: string;
  /**
   * The new Cluster's spec before its bootstrap is set. Default: the spec of the Cluster the backup
   * was taken from (its `backup`, `plugins`, `replica` and `bootstrap` left out), which must still exist.
   */
  spec?: Record<string, unknown>;
  /** Default: the spec's. */
  instances?: number;
  /** The restore-prep Job of an `online` set. Default image: the spec's `imageName`, else the source Cluster's running image. */
  prep?: RestorePrepOptions;
  /** Wait until the Cluster is healthy with every instance ready (default true). */
  wait?: boolean;
  /** Default 20 minutes. */
  deadlineMs?: number;
  signal?: AbortSignal;
  onProgress?: (event: { phase: 'prepared' | 'cluster-created' | 'healthy' | 'cleanup'; message: string }) => void;
}

/**
 * What {@link RestoreClient.restoreToCnpgCluster} would do, checked against the cluster.
 *
 * @example
 * ```ts
 * const plan = await client.planRestoreToCnpgCluster({ backup: 'nightly', namespace: 'db', cluster: 'pg2' });
 * console.log(plan.source, plan.snapshots.data);
 * ```
 */
export interface CnpgRestorePlan {
  namespace: string;
  cluster: string;
  backup: { name: string; mode: ConsistencyMode | undefined; engineVersion: string | undefined };
  /** The Cluster whose spec is copied, when it is. */
  sourceCluster?: string;
  /** `backup-snapshots`: the backup's own snapshots; `prepared`: snapshots of staging PVCs restored with backup_label and WAL. */
  source: 'backup-snapshots' | 'prepared';
  /** The VolumeSnapshots the Cluster bootstraps from (storage and walStorage). */
  snapshots: { data: string; wal?: string };
  /** `prepared`: the restore of the set into the staging PVCs. */
  restore?: RestorePlan;
  /** `prepared`: the snapshots of the staging PVCs. */
  stagedSnapshots: VolumeSnapshot[];
  clusterManifest: CnpgClusterObject;
  /** Sections of the source spec that are not copied, each with why. */
  notCopied: string[];
  /** Everything it creates, in order. */
  manifests: object[];
}

/**
 * What a restore into a new Cluster did.
 *
 * @example
 * ```ts
 * const r = await client.restoreToCnpgCluster({ backup: 'nightly', namespace: 'db', cluster: 'pg2' });
 * console.log(r.primary, r.timings.totalMs);
 * ```
 */
export interface CnpgRestoreResult {
  namespace: string;
  cluster: string;
  backup: CnpgRestorePlan['backup'];
  source: CnpgRestorePlan['source'];
  snapshots: CnpgRestorePlan['snapshots'];
  notCopied: string[];
  /** `healthy`, or `created` when not waited for. */
  state: 'healthy' | 'created';
  phase: string | undefined;
  primary: string | undefined;
  instances: number | undefined;
  readyInstances: number | undefined;
  /** The `online` set's restore into the staging PVCs. */
  prepared?: Pick<RestoreResult, 'prepOutput' | 'timings'>;
  /** Objects left behind, each with why and how to delete it. */
  remaining: string[];
  timings: { prepareMs: number | undefined; clusterMs: number | undefined; totalMs: number };
}

const DROPPED_SECTIONS: Record<string, string> = {
  bootstrap: 'replaced by recovery from the backup',
  backup: "the new Cluster would archive WAL to the source's destination and mix both clusters' WAL: add one with a new destination",
  plugins: "a WAL archive plugin would write to the source's destination: add it with a new one",
  replica: 'the new Cluster starts as a primary Cluster',
};

/**
 * The new Cluster: `base` (a Cluster spec) without the sections of {@link DROPPED_SECTIONS}, its
 * bootstrap `recovery.volumeSnapshots` from the given snapshots. Pure.
 *
 * @throws DbaasError `INVALID_ARGUMENT` (a walStorage snapshot without `walStorage` in the spec, or the reverse)
 * @example
 * ```ts
 * const { manifest } = buildCnpgRecoveryCluster({ name: 'pg2', namespace: 'db', base: source.spec!, snapshots: { data: 'nightly' } });
 * ```
 */
export function buildCnpgRecoveryCluster(input: {
  name: string;
  namespace: string;
  base: Record<string, unknown>;
  snapshots: { data: string; wal?: string };
  instances?: number;
  /** Pinned when the base names no image (the copy's major must match the image's). */
  image?: string;
  /** The data snapshot's restoreSize: the Cluster's storage is raised to it when smaller. */
  restoreSize?: string;
}): { manifest: CnpgClusterObject; notCopied: string[] } {
  const spec = structuredClone(input.base) as Record<string, unknown> & {
    instances?: number;
    imageName?: string;
    imageCatalogRef?: unknown;
    storage?: { size?: string };
    walStorage?: unknown;
  };
  const notCopied: string[] = [];
  for (const [section, why] of Object.entries(DROPPED_SECTIONS)) {
    if (section in spec) {
      if (section !== 'bootstrap') notCopied.push(`spec.${section}: ${why}`);
      delete spec[section];
    }
  }
  if (input.instances !== undefined) spec.instances = input.instances;
  if (spec.imageName === undefined && spec.imageCatalogRef === undefined && input.image) spec.imageName = input.image;
  if (input.snapshots.wal !== undefined && spec.walStorage === undefined) {
    throw new DbaasError('INVALID_ARGUMENT', `the backup has a pg_wal volume (${input.snapshots.wal}) and the Cluster spec has no walStorage`, {
      fix: 'Give the Cluster a walStorage section (CloudNativePG restores the pg_wal snapshot into it).',
      option: 'spec',
    });
  }
  if (input.snapshots.wal === undefined && spec.walStorage !== undefined) {
    throw new DbaasError('INVALID_ARGUMENT', 'the Cluster spec has walStorage and the backup has no pg_wal volume: its WAL is inside the data directory', {
      fix: 'Remove walStorage from the spec (an instance can be moved to walStorage later, as CloudNativePG documents).',
      option: 'spec',
    });
  }
  if (input.restoreSize && spec.storage?.size && compareQuantities(spec.storage.size, input.restoreSize) < 0) {
    spec.storage = { ...spec.storage, size: input.restoreSize };
  }
  const ref = (name: string) => ({ name, kind: 'VolumeSnapshot', apiGroup: 'snapshot.storage.k8s.io' });
  spec.bootstrap = {
    recovery: {
      volumeSnapshots: { storage: ref(input.snapshots.data), ...(input.snapshots.wal ? { walStorage: ref(input.snapshots.wal) } : {}) },
    },
  };
  return {
    manifest: {
      apiVersion: `${CNPG_CLUSTERS.group}/${CNPG_CLUSTERS.version}`,
      kind: 'Cluster',
      metadata: { name: input.name, namespace: input.namespace, labels: { [DBAAS_LABELS.managedBy]: MANAGED_BY } },
      spec,
    },
    notCopied,
  };
}

/**
 * A snapshot of a staging PVC for CloudNativePG: its `cnpg.io/pvcRole` label says what it holds.
 *
 * @example
 * ```ts
 * const vs = buildStagedSnapshot({ namespace: 'db', cluster: 'pg2', pvc: 'pg2-dbaas-restore', role: 'PG_DATA', snapshotClass: 'csi-hostpath-snapclass' });
 * ```
 */
export function buildStagedSnapshot(input: {
  namespace: string;
  cluster: string;
  pvc: string;
  role: 'PG_DATA' | 'PG_WAL';
  snapshotClass?: string;
}): VolumeSnapshot {
  return {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: 'VolumeSnapshot',
    metadata: {
      name: input.pvc,
      namespace: input.namespace,
      labels: { [CNPG_RESTORE_FOR_LABEL]: input.cluster, [CNPG_PVC_ROLE_LABEL]: input.role },
    },
    spec: {
      source: { persistentVolumeClaimName: input.pvc },
      ...(input.snapshotClass ? { volumeSnapshotClassName: input.snapshotClass } : {}),
    },
  };
}

/**
 * Plans a restore into a new Cluster without changing anything.
 *
 * @throws DbaasError `RESTORE_TARGET_EXISTS`, `TARGET_NOT_FOUND` (no source Cluster and no `spec`), `TARGET_UNSUPPORTED` (not PostgreSQL, tablespaces), and what {@link planRestore} throws
 * @example
 * ```ts
 * const plan = await planCnpgRestore(clients, { backup: 'nightly', namespace: 'db', cluster: 'pg2' });
 * ```
 */
export async function planCnpgRestore(clients: KubeClients, options: CnpgRestoreOptions): Promise<CnpgRestorePlan> {
  const namespace = assertDnsLabel(options.namespace, 'namespace');
  const cluster = assertDnsLabel(options.cluster, 'Cluster name');
  if (options.instances !== undefined && (!Number.isInteger(options.instances) || options.instances < 1)) {
    throw new DbaasError('INVALID_ARGUMENT', `instances must be a positive integer, not ${options.instances}`, { option: 'instances' });
  }
  if (await findCnpgClusterObject(clients, namespace, cluster)) {
    throw new DbaasError('RESTORE_TARGET_EXISTS', `Cluster ${namespace}/${cluster} exists: a restore creates a new Cluster and never writes into one`, {
      fix: 'Name a new Cluster.',
      option: 'cluster',
    });
  }
  const staging = derivedName(cluster, CNPG_RESTORE_STAGING_SUFFIX, 'subdomain', 'staging PVC name');
  const details = await new SnapshotClient(clients).describe({ namespace, name: options.backup });
  const workload = details.data?.metadata?.sourceWorkload;
  let base = options.spec;
  let sourceCluster: string | undefined;
  let sourceImage: string | undefined;
  if (workload?.kind === 'Cluster') {
    const source = await findCnpgClusterObject(clients, namespace, workload.name);
    if (source) {
      // The copy's major must be the image's: not the source's image when it was upgraded since.
      sourceImage = runningImage(source, Number((details.data?.metadata?.engineVersion ?? '').split('.')[0]) || undefined);
      if (!base) {
        base = source.spec ?? {};
        sourceCluster = workload.name;
      }
    }
  }
  const image = (base?.imageName as string | undefined) ?? sourceImage;
  // The set's checks (managed, ready, complete, one driver) are planRestore's; its PVCs are the
  // staging ones, used only for an online set.
  const restore = await planRestore(clients, {
    backup: options.backup,
    namespace,
    pvcName: staging,
    volumePvcNames: (volume) => `${staging}-${volume}`,
    prep: { ...(image ? { image } : {}), ...options.prep },
    // CloudNativePG writes the configuration of its instances itself.
    plainServer: false,
  });
  if (restore.engine !== 'postgres') {
    throw new DbaasError('TARGET_UNSUPPORTED', `backup "${restore.set}" is of ${restore.engine}: CloudNativePG runs PostgreSQL`, { option: 'backup' });
  }
  const tablespaces = (restore.volumes ?? []).filter((v) => v.holds === 'tablespace');
  if (tablespaces.length) {
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `backup "${restore.set}" has tablespace volumes (${tablespaces.map((v) => v.volume).join(', ')}): restoring them into a CloudNativePG Cluster is not supported yet`,
      { fix: `Restore it into PVCs instead: kubectl dbaas restore ${restore.set} --to PVC -n ${namespace}`, option: 'backup' },
    );
  }
  if (!base) {
    throw new DbaasError(
      'TARGET_NOT_FOUND',
      workload?.kind === 'Cluster'
        ? `the Cluster the backup was taken from (${namespace}/${workload.name}) no longer exists, and no spec for the new Cluster was given`
        : `backup "${restore.set}" was not taken from a CloudNativePG Cluster, and no spec for the new Cluster was given`,
      {
        fix: 'Give the new Cluster a spec: kubectl dbaas restore BACKUP --cnpg-cluster NAME --cnpg-spec cluster.yaml (a Cluster manifest; its bootstrap is replaced), or `spec` in the SDK.',
        option: 'spec',
      },
    );
  }
  const walVolume = (restore.volumes ?? []).find((v) => v.holds === 'wal');
  const online = restore.online;
  const snapshotClass = details.data?.snapshotClass ? { snapshotClass: details.data.snapshotClass } : {};
  const stagedSnapshots = online
    ? [
        buildStagedSnapshot({ namespace, cluster, pvc: staging, role: 'PG_DATA', ...snapshotClass }),
        ...(walVolume ? [buildStagedSnapshot({ namespace, cluster, pvc: walVolume.pvcName, role: 'PG_WAL', ...snapshotClass })] : []),
      ]
    : [];
  for (const vs of stagedSnapshots) {
    const name = vs.metadata.name!;
    const left = await clients.volumeSnapshots.get(name, namespace).catch((error: unknown) => {
      if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
      throw error;
    });
    if (left) {
      throw new DbaasError(
        'RESTORE_TARGET_EXISTS',
        `VolumeSnapshot ${namespace}/${name} exists: the staging snapshot of an earlier restore into Cluster ${cluster}?`,
        {
          fix: `Delete it if that restore is over: kubectl delete volumesnapshot ${name} -n ${namespace}`,
          details: { namespace, name },
        },
      );
    }
  }
  const snapshots = online
    ? { data: staging, ...(walVolume ? { wal: walVolume.pvcName } : {}) }
    : { data: restore.sources.data.vsName, ...(walVolume ? { wal: walVolume.source.vsName } : {}) };
  const { manifest, notCopied } = buildCnpgRecoveryCluster({
    name: cluster,
    namespace,
    base,
    snapshots,
    ...(options.instances !== undefined ? { instances: options.instances } : {}),
    ...(image ? { image } : {}),
    restoreSize: restore.restoreSize,
  });
  return {
    namespace,
    cluster,
    backup: { name: restore.set, mode: restore.mode, engineVersion: restore.engineVersion },
    ...(sourceCluster ? { sourceCluster } : {}),
    source: online ? 'prepared' : 'backup-snapshots',
    snapshots,
    ...(online ? { restore } : {}),
    stagedSnapshots,
    clusterManifest: manifest,
    notCopied,
    manifests: [...(online ? restore.manifests : []), ...stagedSnapshots, manifest],
  };
}

/**
 * Runs a {@link CnpgRestorePlan}: (for an `online` set) restores it into the staging PVCs, snapshots
 * them and deletes the PVCs; creates the Cluster; waits until it is healthy; deletes the staging
 * snapshots. A failure before the Cluster exists deletes what it created; after, the Cluster and
 * the snapshots it bootstraps from are left and named (with the commands that delete them).
 *
 * @throws DbaasError `RESTORE_FAILED`, `KUBE_TIMEOUT`, `KUBE_ABORTED`, and what {@link executeRestore} throws
 * @example
 * ```ts
 * const r = await executeCnpgRestore(clients, await planCnpgRestore(clients, options), options);
 * ```
 */
export async function executeCnpgRestore(
  clients: KubeClients,
  plan: CnpgRestorePlan,
  options: Pick<CnpgRestoreOptions, 'wait' | 'deadlineMs' | 'signal' | 'onProgress' | 'prep'> = {},
): Promise<CnpgRestoreResult> {
  const startedAt = Date.now();
  const deadline = startedAt + (options.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const { namespace } = plan;
  const signal = options.signal;
  const progress = options.onProgress ?? (() => undefined);
  const stagingPvcs: string[] = [];
  const staged: string[] = [];
  let clusterCreated = false;
  let prepared: CnpgRestoreResult['prepared'];
  let prepareMs: number | undefined;
  try {
    if (plan.restore) {
      const restored = await executeRestore(clients, plan.restore, {
        startedAt,
        deadline,
        ...(options.prep?.executor ? { prepExecutor: options.prep.executor } : {}),
        ...(signal ? { signal } : {}),
      });
      stagingPvcs.push(restored.pvcName, ...(restored.volumes ?? []).map((v) => v.pvcName));
      prepared = { ...(restored.prepOutput !== undefined ? { prepOutput: restored.prepOutput } : {}), timings: restored.timings };
      for (const vs of plan.stagedSnapshots) {
        await clients.volumeSnapshots.create(vs);
        staged.push(vs.metadata.name!);
      }
      for (const name of staged) await waitSnapshotReady(clients, namespace, name, deadline, signal);
      // The snapshots hold the prepared data now; the PVCs were only the way to them.
      for (const pvc of stagingPvcs.splice(0)) await deletePvc(clients, namespace, pvc);
      prepareMs = Date.now() - startedAt;
      progress({ phase: 'prepared', message: `snapshots ${staged.join(', ')} hold the backup with backup_label and its WAL (${prepareMs} ms)` });
    }
    await clients.custom.createNamespacedCustomObject({ ...CNPG_CLUSTERS, namespace, body: plan.clusterManifest });
    clusterCreated = true;
    const clusterAt = Date.now();
    progress({
      phase: 'cluster-created',
      message: `Cluster ${namespace}/${plan.cluster} created, bootstrapping from ${Object.values(plan.snapshots).join(', ')}`,
    });
    if (options.wait === false) {
      return result(plan, 'created', undefined, prepared, stagedRemaining(plan, staged), { prepareMs, clusterMs: undefined, totalMs: Date.now() - startedAt });
    }
    const healthy = await waitCnpgHealthy(clients, plan, deadline, signal);
    const clusterMs = Date.now() - clusterAt;
    progress({ phase: 'healthy', message: `Cluster ${plan.cluster} healthy, ${healthy.status?.readyInstances} instance(s) ready (${clusterMs} ms)` });
    // CloudNativePG needs the bootstrap snapshots no more: replicas are cloned from the primary.
    const remaining: string[] = [];
    for (const name of staged) {
      await clients.volumeSnapshots.delete(name, namespace).catch((error: unknown) => {
        if (!isDbaasError(error, 'KUBE_NOT_FOUND'))
          remaining.push(
            `VolumeSnapshot ${namespace}/${name}: ${(error as Error).message}; delete it with: kubectl delete volumesnapshot ${name} -n ${namespace}`,
          );
      });
    }
    if (staged.length) progress({ phase: 'cleanup', message: `deleted the staging snapshots ${staged.join(', ')}` });
    return result(plan, 'healthy', healthy, prepared, remaining, { prepareMs, clusterMs, totalMs: Date.now() - startedAt });
  } catch (error) {
    const failure = toDbaasError(error);
    const remaining: string[] = [];
    for (const pvc of stagingPvcs) {
      await deletePvc(clients, namespace, pvc).catch((e: unknown) =>
        remaining.push(`PVC ${namespace}/${pvc} (${(e as Error).message}; delete it with: kubectl delete pvc ${pvc} -n ${namespace})`),
      );
    }
    if (clusterCreated) {
      remaining.push(
        `Cluster ${namespace}/${plan.cluster} (not healthy: ${failure.message}; read kubectl cnpg status ${plan.cluster} -n ${namespace}, or delete it with: kubectl delete clusters.postgresql.cnpg.io ${plan.cluster} -n ${namespace})`,
        ...stagedRemaining(plan, staged),
      );
    } else {
      for (const name of staged) {
        await clients.volumeSnapshots.delete(name, namespace).catch((e: unknown) => {
          if (!isDbaasError(e, 'KUBE_NOT_FOUND'))
            remaining.push(
              `VolumeSnapshot ${namespace}/${name} (${(e as Error).message}; delete it with: kubectl delete volumesnapshot ${name} -n ${namespace})`,
            );
        });
      }
    }
    if (remaining.length === 0) throw failure;
    throw new DbaasError('RESTORE_FAILED', `${failure.message}; left: ${remaining.join('; ')}`, {
      ...(failure.fix ? { fix: failure.fix } : {}),
      cause: failure,
      details: { remaining, code: failure.code },
    });
  }
}

function stagedRemaining(plan: CnpgRestorePlan, staged: string[]): string[] {
  return staged.map(
    (name) =>
      `VolumeSnapshot ${plan.namespace}/${name}: the Cluster bootstraps from it; delete it once the Cluster is healthy (kubectl delete volumesnapshot ${name} -n ${plan.namespace})`,
  );
}

function result(
  plan: CnpgRestorePlan,
  state: CnpgRestoreResult['state'],
  cluster: CnpgClusterObject | undefined,
  prepared: CnpgRestoreResult['prepared'],
  remaining: string[],
  timings: CnpgRestoreResult['timings'],
): CnpgRestoreResult {
  return {
    namespace: plan.namespace,
    cluster: plan.cluster,
    backup: plan.backup,
    source: plan.source,
    snapshots: plan.snapshots,
    notCopied: plan.notCopied,
    state,
    phase: cluster?.status?.phase,
    primary: cluster?.status?.currentPrimary,
    instances: cluster?.status?.instances,
    readyInstances: cluster?.status?.readyInstances,
    ...(prepared ? { prepared } : {}),
    remaining,
    timings,
  };
}

async function waitSnapshotReady(clients: KubeClients, namespace: string, name: string, deadline: number, signal?: AbortSignal): Promise<void> {
  await watchUntil<VolumeSnapshot>(clients, {
    path: clients.volumeSnapshots.path({ namespace }),
    name,
    predicate: (vs, event) => {
      if (isGone(event)) throw new DbaasError('RESTORE_FAILED', `VolumeSnapshot ${namespace}/${name} was deleted before it was ready`);
      if (vs?.status?.error?.message) throw new DbaasError('RESTORE_FAILED', `VolumeSnapshot ${namespace}/${name} failed: ${vs.status.error.message}`);
      return vs?.status?.readyToUse === true;
    },
    deadline,
    ...(signal ? { signal } : {}),
    what: 'to be ready',
    describe: (vs) => `readyToUse ${vs?.status?.readyToUse ?? false}`,
  });
}

async function waitCnpgHealthy(clients: KubeClients, plan: CnpgRestorePlan, deadline: number, signal?: AbortSignal): Promise<CnpgClusterObject> {
  const instances = plan.clusterManifest.spec?.instances ?? 1;
  const done = await watchUntil<CnpgClusterObject>(clients, {
    path: cnpgClustersPath(plan.namespace),
    name: plan.cluster,
    predicate: (c, event) => {
      if (isGone(event)) throw new DbaasError('RESTORE_FAILED', `Cluster ${plan.namespace}/${plan.cluster} was deleted while it bootstrapped`);
      return c?.status?.phase === CNPG_HEALTHY_PHASE && (c.status.readyInstances ?? 0) >= instances;
    },
    deadline,
    ...(signal ? { signal } : {}),
    what: `to be healthy with ${instances} ready instance(s)`,
    describe: (c) =>
      `phase "${c?.status?.phase ?? 'none'}"${c?.status?.phaseReason ? ` (${c.status.phaseReason})` : ''}, ${c?.status?.readyInstances ?? 0} ready`,
  });
  return done.object!;
}

async function deletePvc(clients: KubeClients, namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined> {
  try {
    return await clients.core.deleteNamespacedPersistentVolumeClaim({ namespace, name });
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
    throw error;
  }
}
