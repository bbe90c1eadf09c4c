// SnapshotClient, read/delete side: list (paginated, grouped into backup sets, newest first),
// describe (a set with its VolumeSnapshotContents), delete (the data and -wal snapshots together,
// only our own), prune (plan first, dry-run by default). All Kubernetes access goes through kube/.
import type { V1Job, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { deleteGroupSnapshot } from './group-snapshot.js';
import { DbaasError, isDbaasError } from '../errors.js';
import { KubeClients, type KubeClientsOptions } from '../kube/clients.js';
import type { VolumeSnapshot, VolumeSnapshotContent } from '../kube/snapshot-types.js';
import { snapshotAtomicity, type SnapshotAtomicity } from '../manifests/atomicity.js';
import { watchUntil } from '../kube/watch-until.js';
import { DBAAS_LABELS, isManagedSnapshot, managedSnapshotSelector, MANAGED_BY } from '../manifests/metadata.js';
import { assertLabelValue } from '../manifests/names.js';
import { liftFence, type LiftFenceOptions, type LiftFenceResult } from '../engines/fencing.js';
import { runBackup, type BackupOptions, type BackupResult } from './backup.js';
import { groupBackupSets, summarizeSnapshot, type BackupSet, type SnapshotSummary } from './backup-sets.js';
import { planPrune, type PrunePlan, type PrunePolicy } from './prune-plan.js';

/**
 * An object {@link SnapshotClient.serverDryRun} sends: a VolumeSnapshotContent, VolumeSnapshot,
 * PersistentVolumeClaim or Job, as a backup or restore plan lists them.
 *
 * @example
 * ```ts
 * import type { DryRunObject } from '@kubectl-dbaas/sdk';
 * const pvc: DryRunObject = { kind: 'PersistentVolumeClaim', metadata: { name: 'pg-restored', namespace: 'db' } };
 * ```
 */
export interface DryRunObject {
  kind?: string | undefined;
  metadata?: { name?: string | undefined; namespace?: string | undefined } | undefined;
}

/**
 * Options of {@link SnapshotClient.list}.
 *
 * @example
 * ```ts
 * import { SnapshotClient, type SnapshotListSetsOptions } from '@kubectl-dbaas/sdk';
 * const opts: SnapshotListSetsOptions = { allNamespaces: true, backupSource: 'data-pg-0', pageSize: 200 };
 * const { items } = await new SnapshotClient().list(opts);
 * ```
 */
export interface SnapshotListSetsOptions {
  /** Namespace (default: the clients' namespace). */
  namespace?: string;
  /** Every namespace (`-A`). */
  allNamespaces?: boolean;
  /** Only sets of this source PVC (`dbaas.io/backup-source`). */
  backupSource?: string;
  /** An extra label selector, ANDed with the managed-by selector. */
  labelSelector?: string;
  /** Objects per list request (`limit`); every page is read through `continue`. Default 500. */
  pageSize?: number;
  /** Alias of `pageSize`. */
  limit?: number;
  /** Also list snapshots not managed by kubectl-dbaas (default false). */
  includeUnmanaged?: boolean;
  signal?: AbortSignal;
}

/**
 * Result of {@link SnapshotClient.list}.
 *
 * @example
 * ```ts
 * import { SnapshotClient, type BackupSetList } from '@kubectl-dbaas/sdk';
 * const client = new SnapshotClient({ namespace: 'db' });
 * const { items, snapshotCount, pages }: BackupSetList = await client.list({ namespace: 'db' });
 * ```
 */
export interface BackupSetList {
  /** Backup sets, newest first. */
  items: BackupSet[];
  /** VolumeSnapshots read. */
  snapshotCount: number;
  /** List requests made. */
  pages: number;
}

/**
 * A VolumeSnapshotContent as {@link SnapshotClient.describe} shows it.
 *
 * @example
 * ```ts
 * import { SnapshotClient, type SnapshotContentSummary } from '@kubectl-dbaas/sdk';
 * const client = new SnapshotClient({ namespace: 'db' });
 * const content: SnapshotContentSummary | undefined = (await client.describe({ name: 'nightly' })).data?.content;
 * if (content) console.log(content.driver, content.snapshotHandle, content.deletionPolicy, content.restoreSize);
 * ```
 */
export interface SnapshotContentSummary {
  name: string;
  driver: string;
  deletionPolicy: VolumeSnapshotContent['spec']['deletionPolicy'];
  /** `status.snapshotHandle`, else `spec.source.snapshotHandle` (pre-provisioned). */
  snapshotHandle?: string;
  /** `spec.source.volumeHandle` (dynamic contents). */
  volumeHandle?: string;
  /** Bytes (`status.restoreSize`). */
  restoreSize?: number;
  readyToUse: boolean;
  error?: string;
}

/**
 * One snapshot of a described set: the summary, the raw object and its content.
 *
 * @example
 * ```ts
 * import { SnapshotClient } from '@kubectl-dbaas/sdk';
 * const client = new SnapshotClient({ namespace: 'db' });
 * const details = await client.describe({ name: 'nightly' });
 * for (const s of details.snapshots) console.log(s.name, s.content?.snapshotHandle ?? s.contentError);
 * ```
 */
export interface DescribedSnapshot extends SnapshotSummary {
  object: VolumeSnapshot;
  content?: SnapshotContentSummary;
  /** Why the content could not be read (e.g. not found), when the snapshot names one. */
  contentError?: string;
}

/**
 * Result of {@link SnapshotClient.describe}.
 *
 * @example
 * ```ts
 * import { SnapshotClient } from '@kubectl-dbaas/sdk';
 * const client = new SnapshotClient({ namespace: 'db' });
 * const d = await client.describe({ namespace: 'db', name: 'nightly' });
 * console.log(d.state, d.data?.content?.driver, d.wal?.content?.snapshotHandle);
 * ```
 */
export interface BackupSetDetails extends Omit<BackupSet, 'data' | 'wal' | 'volumes' | 'snapshots'> {
  data?: DescribedSnapshot;
  wal?: DescribedSnapshot;
  volumes: DescribedSnapshot[];
  snapshots: DescribedSnapshot[];
}

/**
 * Options of {@link SnapshotClient.delete}.
 *
 * @example
 * ```ts
 * import { SnapshotClient } from '@kubectl-dbaas/sdk';
 * const client = new SnapshotClient({ namespace: 'db' });
 * await client.delete({ namespace: 'db', name: 'nightly', wait: true, timeoutMs: 60_000 });
 * ```
 */
export interface DeleteBackupSetOptions {
  namespace?: string;
  /** The backup set (the data snapshot's name); `<set>-wal` is taken as the set too. */
  name: string;
  /** Wait until both snapshots are gone (watch-based). Default false. */
  wait?: boolean;
  /** Deadline of the wait. Default 120 000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Result of {@link SnapshotClient.delete}.
 *
 * @example
 * ```ts
 * import { SnapshotClient } from '@kubectl-dbaas/sdk';
 * const client = new SnapshotClient({ namespace: 'db' });
 * const { deleted } = await client.delete({ namespace: 'db', name: 'nightly' }); // ['nightly', 'nightly-wal']
 * ```
 */
export interface DeleteBackupSetResult {
  namespace: string;
  name: string;
  /** Snapshot names deleted (requested). */
  deleted: string[];
  /** True when waited until every one was gone. */
  gone: boolean;
}

/**
 * Options of {@link SnapshotClient.prune}.
 *
 * @example
 * ```ts
 * import type { PruneOptions } from '@kubectl-dbaas/sdk';
 * const opts: PruneOptions = { namespace: 'db', keepDaily: 7, keepWeekly: 4, dryRun: false };
 * ```
 */
export interface PruneOptions extends PrunePolicy {
  namespace?: string;
  allNamespaces?: boolean;
  /** Only sets of this source PVC. */
  backupSource?: string;
  /** Plan only (default true). */
  dryRun?: boolean;
  /** Wait for each deletion to finish. Default false. */
  wait?: boolean;
  /** Clock for max-age (tests). Default now. */
  now?: Date;
  pageSize?: number;
  signal?: AbortSignal;
}

/**
 * Result of {@link SnapshotClient.prune}: the plan, and what was done.
 *
 * @example
 * ```ts
 * import { SnapshotClient } from '@kubectl-dbaas/sdk';
 * const client = new SnapshotClient({ namespace: 'db' });
 * const r = await client.prune({ namespace: 'db', keepLast: 3 });
 * if (r.dryRun) for (const d of r.delete) console.log('would delete', d.name, d.reasons);
 * ```
 */
export interface PruneResult extends PrunePlan {
  dryRun: boolean;
  /** Sets deleted (empty on a dry run). */
  deleted: DeleteBackupSetResult[];
}

const DEFAULT_PAGE_SIZE = 500;

/**
 * Backups as VolumeSnapshots: the read and delete side (`list`, `describe`, `delete`, `prune`).
 * Lists only snapshots labelled `app.kubernetes.io/managed-by=kubectl-dbaas` (unless asked) and
 * never deletes any other.
 *
 * @example
 * ```ts
 * import { SnapshotClient } from '@kubectl-dbaas/sdk';
 * const client = new SnapshotClient({ context: 'prod', namespace: 'db' });
 * const { items } = await client.list();
 * const details = await client.describe({ name: items[0]!.name });
 * const plan = await client.prune({ keepDaily: 7 }); // dry run
 * await client.backup({ namespace: 'db', target: { pod: 'pg-0' } }); // fenced (StatefulSet scaled to 0 and back) on hostpath
 * ```
 */
export class SnapshotClient {
  readonly clients: KubeClients;

  /**
   * @param clients Existing {@link KubeClients}, or options to load them (`--kubeconfig`, `--context`, `-n`).
   * @example
   * ```ts
   * import { KubeClients, SnapshotClient } from '@kubectl-dbaas/sdk';
   * const client = new SnapshotClient(KubeClients.load({ namespace: 'db' }));
   * ```
   */
  constructor(clients: KubeClients | KubeClientsOptions = {}) {
    this.clients = clients instanceof KubeClients ? clients : KubeClients.load(clients);
  }

  /**
   * Takes a backup of a PVC or a pod's data volume in the consistency mode chosen for the driver
   * (docs/consistency.md): `fenced` by default on non-atomic drivers such as hostpath,
   * `checkpoint` on atomic ones; `online` holds one SQL session with a replication slot and adds a
   * `<name>-wal` snapshot. See {@link runBackup}.
   *
   * @example
   * ```ts
   * import { SnapshotClient } from '@kubectl-dbaas/sdk';
   * const client = new SnapshotClient({ namespace: 'db' });
   * // online: one SQL session, opened through the pod that mounts the PVC
   * const result = await client.backup({ namespace: 'db', target: { pvc: 'data-pg-0' }, mode: 'online', database: { throughPod: {} } });
   * console.log(result.name, result.mode);
   * ```
   */
  async backup(options: BackupOptions): Promise<BackupResult> {
    return await runBackup(this.clients, options);
  }

  /**
   * Lifts a fence that a killed or failed `fenced` backup left on a StatefulSet or a CloudNativePG
   * instance, and waits until the database serves again. See {@link liftFence}.
   *
   * @example
   * ```ts
   * import { SnapshotClient } from '@kubectl-dbaas/sdk';
   * const client = new SnapshotClient({ namespace: 'db' });
   * const lifted = await client.liftFence({ namespace: 'db', statefulSet: 'pg' });
   * console.log(lifted.lifted ? `${lifted.object} serving again after ${lifted.readyMs} ms` : 'nothing was fenced');
   * ```
   */
  async liftFence(options: LiftFenceOptions): Promise<LiftFenceResult> {
    return await liftFence(this.clients, options);
  }

  /**
   * Lists backup sets: every page (`limit` + `continue`), grouped by `dbaas.io/backup-set`,
   * newest first (requested time, else creationTimestamp), each with its state and parsed metadata.
   * A snapshot whose metadata does not parse is listed with `metadataError`.
   *
   * @example
   * ```ts
   * import { SnapshotClient } from '@kubectl-dbaas/sdk';
   * const client = new SnapshotClient({ namespace: 'db' });
   * const { items } = await client.list({ allNamespaces: true, backupSource: 'data-pg-0' });
   * for (const s of items) console.log(s.namespace, s.name, s.state, s.error ?? '');
   * ```
   */
  async list(opts: SnapshotListSetsOptions = {}): Promise<BackupSetList> {
    const selector = this.selector(opts);
    const limit = opts.pageSize ?? opts.limit ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1)
      throw new DbaasError('INVALID_ARGUMENT', `page size must be a positive integer, got ${limit}`, {
        option: opts.pageSize !== undefined ? 'pageSize' : 'limit',
      });
    const summaries: SnapshotSummary[] = [];
    const setNames: (string | undefined)[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      if (opts.signal?.aborted) throw new DbaasError('KUBE_ABORTED', 'listing snapshots: aborted', { cause: opts.signal.reason });
      const page = await this.clients.volumeSnapshots.list({
        ...(opts.allNamespaces ? { allNamespaces: true } : { namespace: opts.namespace ?? this.clients.namespace }),
        ...(selector ? { labelSelector: selector } : {}),
        limit,
        ...(cont ? { continue: cont } : {}),
      });
      pages += 1;
      // Summarize page by page: the raw objects of a page are dropped before the next is read.
      for (const vs of page.items) {
        summaries.push(summarizeSnapshot(vs));
        setNames.push(vs.metadata.labels?.[DBAAS_LABELS.backupSet]);
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items: groupBackupSets(summaries, setNames), snapshotCount: summaries.length, pages };
  }

  private selector(opts: { backupSource?: string; labelSelector?: string; includeUnmanaged?: boolean }): string {
    const parts: string[] = [];
    if (opts.includeUnmanaged) {
      if (opts.backupSource !== undefined) parts.push(`${DBAAS_LABELS.backupSource}=${assertLabelValue(opts.backupSource, DBAAS_LABELS.backupSource)}`);
    } else {
      parts.push(managedSnapshotSelector(opts.backupSource !== undefined ? { sourcePvc: opts.backupSource } : {}));
    }
    if (opts.labelSelector?.trim()) parts.push(opts.labelSelector.trim());
    return parts.join(',');
  }

  /**
   * When `namespace` does not exist, the error that says so; undefined when it exists or cannot be
   * read (no permission to get namespaces). A list in a missing namespace is empty and a get is
   * "not found": both hide a mistyped namespace, which this names.
   *
   * @param option The option that named the namespace (`'namespace'`, `'backupNamespace'`), set on the error.
   * @example
   * ```ts
   * import { SnapshotClient } from '@kubectl-dbaas/sdk';
   * const client = new SnapshotClient({ namespace: 'db' });
   * const missing = await client.missingNamespace('prod');
   * if (missing) throw missing; // KUBE_NOT_FOUND, details.missingNamespace = 'prod'
   * ```
   */
  async missingNamespace(namespace: string, option = 'namespace'): Promise<DbaasError | undefined> {
    try {
      await this.clients.core.readNamespace({ name: namespace });
      return undefined;
    } catch (error) {
      if (!isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
      return new DbaasError('KUBE_NOT_FOUND', `namespace "${namespace}" not found (context "${this.clients.context}")`, {
        fix: "Check the name with kubectl get namespaces (the default is the context's namespace).",
        cause: error,
        details: { missingNamespace: namespace },
        option,
      });
    }
  }

  /**
   * Whether the driver of a described set's data snapshot takes atomic snapshots: what a `crash`
   * or `checkpoint` copy relies on. Its VolumeSnapshotClass may override the driver table
   * (`dbaas.io/atomic-snapshots`); a class that cannot be read leaves the table's answer.
   * Undefined when the data snapshot's content (and so its driver) is unknown.
   *
   * @example
   * ```ts
   * import { SnapshotClient } from '@kubectl-dbaas/sdk';
   * const client = new SnapshotClient({ namespace: 'db' });
   * const details = await client.describe({ namespace: 'db', name: 'nightly' });
   * (await client.atomicity(details))?.atomic; // false on hostpath.csi.k8s.io
   * ```
   */
  async atomicity(details: Pick<BackupSetDetails, 'data'>): Promise<SnapshotAtomicity | undefined> {
    const driver = details.data?.content?.driver;
    if (!driver) return undefined;
    const className = details.data?.snapshotClass;
    const cls = className ? await this.clients.volumeSnapshotClasses.get(className).catch(() => undefined) : undefined;
    return snapshotAtomicity(driver, cls);
  }

  /**
   * Sends objects a plan would create (VolumeSnapshotContents, VolumeSnapshots,
   * PersistentVolumeClaims, Jobs) to the API server with `dryRun=All`, in order, and returns its
   * answers (defaults applied, admission run): nothing is stored. Namespaced objects go to their
   * own namespace, else the client's.
   *
   * @throws DbaasError as a real create would (`KUBE_CONFLICT`, `KUBE_INVALID`, `KUBE_FORBIDDEN`, ...),
   *   `INVALID_ARGUMENT` for another kind.
   * @example
   * ```ts
   * import { SnapshotClient, planRestore } from '@kubectl-dbaas/sdk';
   * const client = new SnapshotClient({ namespace: 'db' });
   * const plan = await planRestore(client.clients, { backup: 'nightly', namespace: 'db', pvcName: 'pg-restored' });
   * const answers = await client.serverDryRun(plan.manifests);
   * ```
   */
  async serverDryRun<T extends DryRunObject>(objects: readonly T[]): Promise<T[]> {
    const answers: T[] = [];
    for (const object of objects) {
      const namespace = object.metadata?.namespace ?? this.clients.namespace;
      if (object.kind === 'VolumeSnapshotContent')
        answers.push((await this.clients.volumeSnapshotContents.create(object as unknown as VolumeSnapshotContent, { dryRun: true })) as unknown as T);
      else if (object.kind === 'VolumeSnapshot')
        answers.push((await this.clients.volumeSnapshots.create(object as unknown as VolumeSnapshot, { dryRun: true })) as unknown as T);
      else if (object.kind === 'PersistentVolumeClaim')
        answers.push(
          (await this.clients.core.createNamespacedPersistentVolumeClaim({
            namespace,
            body: object as V1PersistentVolumeClaim,
            dryRun: 'All',
          })) as unknown as T,
        );
      else if (object.kind === 'Job')
        answers.push((await this.clients.batch.createNamespacedJob({ namespace, body: object as V1Job, dryRun: 'All' })) as unknown as T);
      else
        throw new DbaasError(
          'INVALID_ARGUMENT',
          `cannot dry-run a ${String(object.kind)}: only VolumeSnapshotContent, VolumeSnapshot, PersistentVolumeClaim and Job`,
        );
    }
    return answers;
  }

  /** The snapshots of a set: the one named `name` (managed or not) and every one labelled with the set. */
  private async members(namespace: string, name: string): Promise<{ named?: VolumeSnapshot; members: VolumeSnapshot[] }> {
    const named = await this.clients.volumeSnapshots.get(name, namespace).catch((error: unknown) => {
      if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
      throw error;
    });
    const labelled = await this.clients.volumeSnapshots.list({ namespace, labelSelector: managedSnapshotSelector({ backupSet: name }), limit: 50 });
    const members = new Map<string, VolumeSnapshot>();
    for (const vs of labelled.items) members.set(vs.metadata.name ?? '', vs);
    if (named && isManagedSnapshot(named) && named.metadata.labels?.[DBAAS_LABELS.backupSet] === name) members.set(name, named);
    return { ...(named ? { named } : {}), members: [...members.values()] };
  }

  private notFound(namespace: string, name: string): DbaasError {
    return new DbaasError(
      'KUBE_NOT_FOUND',
      `backup "${name}" not found in namespace "${namespace}" (no VolumeSnapshot "${name}" and none labelled ${DBAAS_LABELS.backupSet}=${name})`,
      {
        fix: `List the backups of the namespace: kubectl get volumesnapshots -n ${namespace} -l ${DBAAS_LABELS.managedBy}=${MANAGED_BY} (SnapshotClient.list).`,
        details: { namespace, name },
      },
    );
  }

  /** Resolves a user-given name: the set itself, or `<set>-wal`. */
  private async resolve(namespace: string, name: string): Promise<{ set: string; named?: VolumeSnapshot; members: VolumeSnapshot[] }> {
    assertLabelValue(name, 'backup name');
    let found = await this.members(namespace, name);
    let set = name;
    if (found.members.length === 0 && found.named) {
      // `nightly-wal` given: its label names the set.
      const label = found.named.metadata.labels?.[DBAAS_LABELS.backupSet];
      if (isManagedSnapshot(found.named) && label && label !== name) {
        set = label;
        found = await this.members(namespace, label);
      }
    }
    return { set, ...found };
  }

  /**
   * One backup set with both snapshots, their VolumeSnapshotContents (driver, snapshotHandle,
   * deletionPolicy, restoreSize) and parsed metadata.
   *
   * @throws DbaasError `KUBE_NOT_FOUND` (the fix says how to list the backups)
   * @example
   * ```ts
   * import { SnapshotClient } from '@kubectl-dbaas/sdk';
   * const client = new SnapshotClient({ namespace: 'db' });
   * const d = await client.describe({ namespace: 'db', name: 'nightly' });
   * console.log(d.data?.metadata?.stopLsn, d.data?.content?.snapshotHandle);
   * ```
   */
  async describe(opts: { namespace?: string; name: string }): Promise<BackupSetDetails> {
    const namespace = opts.namespace ?? this.clients.namespace;
    const { set, named, members } = await this.resolve(namespace, opts.name);
    const objects = members.length > 0 ? members : named ? [named] : [];
    if (objects.length === 0) throw this.notFound(namespace, opts.name);
    const [group] = groupBackupSets(
      objects.map(summarizeSnapshot),
      objects.map(() => set),
    );
    const described = await Promise.all(
      group!.snapshots.map(async (summary): Promise<DescribedSnapshot> => {
        const object = objects.find((o) => o.metadata.name === summary.name)!;
        const out: DescribedSnapshot = { ...summary, object };
        if (summary.boundContentName) {
          try {
            out.content = summarizeContent(await this.clients.volumeSnapshotContents.get(summary.boundContentName));
          } catch (error) {
            out.contentError = (error as Error).message;
          }
        }
        return out;
      }),
    );
    const { data: _d, wal: _w, volumes: _v, snapshots: _s, ...rest } = group!;
    const details: BackupSetDetails = { ...rest, snapshots: described, volumes: described.filter((s) => s.role === 'volume') };
    const data = described.find((s) => s.role === 'data');
    const wal = described.find((s) => s.role === 'wal');
    if (data) details.data = data;
    if (wal) details.wal = wal;
    return details;
  }

  /**
   * Deletes a backup set: its data and `-wal` snapshots together (each with a uid precondition,
   * so a snapshot re-created meanwhile is not touched). Refuses a snapshot not managed by
   * kubectl-dbaas. With `wait`, watches until both are gone (finalizers removed by the
   * snapshot-controller).
   *
   * @throws DbaasError `SNAPSHOT_NOT_MANAGED`, `KUBE_NOT_FOUND`, `KUBE_TIMEOUT` (wait), `KUBE_ABORTED`
   * @example
   * ```ts
   * import { SnapshotClient } from '@kubectl-dbaas/sdk';
   * const client = new SnapshotClient({ namespace: 'db' });
   * await client.delete({ namespace: 'db', name: 'nightly', wait: true });
   * ```
   */
  async delete(opts: DeleteBackupSetOptions): Promise<DeleteBackupSetResult> {
    const namespace = opts.namespace ?? this.clients.namespace;
    const { set, named, members } = await this.resolve(namespace, opts.name);
    if (named && !isManagedSnapshot(named)) {
      throw new DbaasError(
        'SNAPSHOT_NOT_MANAGED',
        `VolumeSnapshot "${opts.name}" in namespace "${namespace}" is not managed by kubectl-dbaas (it has no label ${DBAAS_LABELS.managedBy}=${MANAGED_BY}): refusing to delete it`,
        { fix: `Delete it with kubectl if you mean to: kubectl delete volumesnapshot ${opts.name} -n ${namespace}`, details: { namespace, name: opts.name } },
      );
    }
    if (members.length === 0) throw this.notFound(namespace, opts.name);
    return await this.deleteSnapshots(
      namespace,
      set,
      members.map((m) => ({ name: m.metadata.name!, uid: m.metadata.uid, groupSnapshot: m.status?.volumeGroupSnapshotName })),
      opts,
    );
  }

  /**
   * Deletes exactly `snapshots` of the set `set`, each only if its uid is still the one given (a
   * snapshot re-created meanwhile is not touched); with `wait`, until they are gone. Snapshots cut
   * by a VolumeGroupSnapshot go with their group, which is deleted instead (the snapshot-controller
   * refuses to delete one of them alone), once it is checked to be this set's and nothing else's.
   */
  private async deleteSnapshots(
    namespace: string,
    set: string,
    snapshots: { name: string; uid: string | undefined; groupSnapshot?: string | undefined }[],
    opts: Pick<DeleteBackupSetOptions, 'wait' | 'timeoutMs' | 'signal'>,
  ): Promise<DeleteBackupSetResult> {
    const names = snapshots.map((m) => m.name).sort();
    for (const group of new Set(snapshots.flatMap((m) => (m.groupSnapshot ? [m.groupSnapshot] : [])))) {
      await this.assertGroupOfSet(namespace, set, group);
      const outcome = await deleteGroupSnapshot(this.clients, namespace, group, opts.signal ? { signal: opts.signal } : {});
      if (outcome !== true) throw new DbaasError('KUBE_CONFLICT', `deleting backup "${set}": VolumeGroupSnapshot ${group} ${outcome}`);
    }
    for (const vs of snapshots) {
      if (vs.groupSnapshot) continue;
      if (opts.signal?.aborted) throw new DbaasError('KUBE_ABORTED', `deleting backup "${set}": aborted`, { cause: opts.signal.reason });
      try {
        await this.clients.custom.deleteNamespacedCustomObject({
          group: this.clients.volumeSnapshots.group,
          version: this.clients.volumeSnapshots.version,
          plural: this.clients.volumeSnapshots.plural,
          namespace,
          name: vs.name,
          body: { preconditions: vs.uid !== undefined ? { uid: vs.uid } : {} },
        });
      } catch (error) {
        if (!isDbaasError(error, 'KUBE_NOT_FOUND')) throw error;
      }
    }
    let gone = false;
    if (opts.wait) {
      await watchUntil<VolumeSnapshot>(this.clients, {
        path: this.clients.volumeSnapshots.path({ namespace }),
        labelSelector: managedSnapshotSelector({ backupSet: set }),
        predicate: (_o, e) => names.every((n) => !e.objects.has(`${namespace}/${n}`)),
        deadline: Date.now() + (opts.timeoutMs ?? 120_000),
        what: `(${names.join(', ')}) to be deleted`,
        ...(opts.signal ? { signal: opts.signal } : {}),
        describe: (o) =>
          o
            ? `${o.metadata.name} finalizers ${JSON.stringify(o.metadata.finalizers ?? [])}, deletionTimestamp ${String(o.metadata.deletionTimestamp ?? '-')}`
            : 'none left',
      });
      gone = true;
    }
    return { namespace, name: set, deleted: names, gone };
  }

  /**
   * Prunes backup sets by a retention policy (see {@link planPrune}): lists, plans, and unless
   * `dryRun` (the default) deletes the sets the plan marks `delete`. Never deletes unmanaged
   * snapshots or the newest ready set.
   *
   * @example
   * ```ts
   * import { SnapshotClient } from '@kubectl-dbaas/sdk';
   * const client = new SnapshotClient({ namespace: 'db' });
   * const plan = await client.prune({ namespace: 'db', keepLast: 3, keepDaily: 7 }); // dry run
   * const done = await client.prune({ namespace: 'db', keepLast: 3, keepDaily: 7, dryRun: false });
   * ```
   */
  async prune(opts: PruneOptions): Promise<PruneResult> {
    const dryRun = opts.dryRun ?? true;
    const { items } = await this.list({
      ...(opts.allNamespaces ? { allNamespaces: true } : { namespace: opts.namespace ?? this.clients.namespace }),
      ...(opts.backupSource !== undefined ? { backupSource: opts.backupSource } : {}),
      ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const policy: PrunePolicy = {};
    for (const k of ['keepLast', 'maxAge', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const)
      if (opts[k] !== undefined) (policy as Record<string, unknown>)[k] = opts[k];
    const plan = planPrune(items, policy, opts.now ?? new Date());
    const deleted = dryRun ? [] : await this.executePrune(plan, items, opts);
    return { ...plan, dryRun, deleted };
  }

  /** Refuses to delete a group that is not this set's own, or that also cut snapshots of another set. */
  private async assertGroupOfSet(namespace: string, set: string, group: string): Promise<void> {
    const vgs = await this.clients.volumeGroupSnapshots.get(group, namespace).catch((error: unknown) => {
      if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
      throw error;
    });
    if (!vgs) return;
    const owned = (await this.clients.volumeSnapshots.listAll({ namespace })).filter((vs) =>
      vs.metadata.ownerReferences?.some((o) => o.kind === 'VolumeGroupSnapshot' && o.uid === vgs.metadata.uid),
    );
    const foreign = owned.filter((vs) => vs.metadata.labels?.[DBAAS_LABELS.backupSet] !== set).map((vs) => vs.metadata.name);
    if (vgs.metadata.labels?.[DBAAS_LABELS.backupSet] !== set || foreign.length) {
      throw new DbaasError(
        'SNAPSHOT_NOT_MANAGED',
        `backup "${set}" was cut by VolumeGroupSnapshot ${namespace}/${group}, which ${foreign.length ? `also holds snapshots outside the set (${foreign.join(', ')})` : "is not labelled as this set's"}: refusing to delete it (its snapshots go with it)`,
        {
          fix: `Inspect it (kubectl -n ${namespace} describe volumegroupsnapshot ${group}) and delete it with kubectl if you mean to.`,
          details: { namespace, set, group },
        },
      );
    }
  }

  /**
   * Deletes what `plan` marks `delete`, and only that: each set's snapshots as the plan lists them,
   * with the uids of the listing the plan was made from. No second listing: a snapshot that joined a
   * set since, or was re-created under a planned name, is not the plan's and is left alone.
   */
  private async executePrune(plan: PrunePlan, listed: readonly BackupSet[], opts: Pick<PruneOptions, 'wait' | 'signal'>): Promise<DeleteBackupSetResult[]> {
    const deleted: DeleteBackupSetResult[] = [];
    for (const d of plan.delete) {
      const set = listed.find((s) => s.namespace === d.namespace && s.name === d.name)!;
      const snapshots = d.snapshots.map((name) => {
        const listedSnapshot = set.snapshots.find((x) => x.name === name)!;
        return { name, uid: listedSnapshot.uid, groupSnapshot: listedSnapshot.groupSnapshot };
      });
      deleted.push(
        await this.deleteSnapshots(d.namespace, d.name, snapshots, { ...(opts.wait ? { wait: true } : {}), ...(opts.signal ? { signal: opts.signal } : {}) }),
      );
    }
    return deleted;
  }
}

/**
 * The fields of a VolumeSnapshotContent that {@link SnapshotClient.describe} shows.
 *
 * @example
 * ```ts
 * import { KubeClients, summarizeContent } from '@kubectl-dbaas/sdk';
 * const clients = KubeClients.load({ namespace: 'db' });
 * const vs = await clients.volumeSnapshots.get('nightly');
 * const content = summarizeContent(await clients.volumeSnapshotContents.get(vs.status!.boundVolumeSnapshotContentName!));
 * ```
 */
export function summarizeContent(c: VolumeSnapshotContent): SnapshotContentSummary {
  const out: SnapshotContentSummary = {
    name: c.metadata.name ?? '',
    driver: c.spec.driver,
    deletionPolicy: c.spec.deletionPolicy,
    readyToUse: !!c.status?.readyToUse,
  };
  const handle = c.status?.snapshotHandle ?? c.spec.source.snapshotHandle;
  if (handle) out.snapshotHandle = handle;
  if (c.spec.source.volumeHandle) out.volumeHandle = c.spec.source.volumeHandle;
  if (c.status?.restoreSize !== undefined) out.restoreSize = c.status.restoreSize;
  if (c.status?.error?.message) out.error = c.status.error.message;
  return out;
}
