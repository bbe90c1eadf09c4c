import { KubeClients, type KubeClientsOptions } from '../kube/clients.js';
import { executeRestore, runRestore, type RestoreOptions, type RestoreResult } from './restore.js';
import {
  planRestoreForStatefulSet,
  planRestoreInPlace,
  restoreInPlace,
  type InPlaceRestoreOptions,
  type InPlaceRestorePlan,
  type InPlaceRestoreResult,
  type StatefulSetRestoreOptions,
} from './workload.js';
import { executeCnpgRestore, planCnpgRestore, type CnpgRestoreOptions, type CnpgRestorePlan, type CnpgRestoreResult } from './cnpg.js';
import { planVerify, runVerify, type VerifyOptions, type VerifyPlan, type VerifyResult } from './verify.js';

/**
 * Restores backups into new PVCs and verifies them before anyone trusts them.
 *
 * @example
 * ```ts
 * import { RestoreClient, podVerifyRuntime } from '@kubectl-dbaas/sdk';
 * const client = new RestoreClient({ namespace: 'staging' });
 * const r = await client.restore({ backup: 'nightly', backupNamespace: 'prod', namespace: 'staging', pvcName: 'pg-restored' });
 * const v = await client.verify({ namespace: 'staging', pvc: r.pvcName, runtime: podVerifyRuntime() });
 * ```
 */
export class RestoreClient {
  readonly clients: KubeClients;

  /**
   * @param clients Existing {@link KubeClients}, or options to load them (`--kubeconfig`, `--context`, `-n`).
   * @example
   * ```ts
   * import { KubeClients, RestoreClient } from '@kubectl-dbaas/sdk';
   * const client = new RestoreClient(KubeClients.load({ context: 'prod' }));
   * ```
   */
  constructor(clients: KubeClients | KubeClientsOptions = {}) {
    this.clients = clients instanceof KubeClients ? clients : KubeClients.load(clients);
  }

  /**
   * Restores a backup set into a new PVC: size at least the snapshot's restoreSize (default equal),
   * a StorageClass of the snapshot's driver, another namespace through a temporary pre-provisioned
   * VolumeSnapshotContent (Retain) that is removed once the PVC is bound, `online` sets completed
   * with their WAL and backup_label by the restore-prep step. Never overwrites or adopts a PVC; on
   * failure or abort it deletes what it created, or names what remains.
   *
   * @throws DbaasError `BACKUP_NOT_READY`, `RESTORE_SIZE_TOO_SMALL`, `STORAGE_CLASS_MISMATCH`, `RESTORE_TARGET_EXISTS`, `RESTORE_PREP_FAILED`, `RESTORE_FAILED`, `KUBE_TIMEOUT`, `KUBE_ABORTED`
   * @example
   * ```ts
   * import { RestoreClient } from '@kubectl-dbaas/sdk';
   * const client = new RestoreClient({ namespace: 'db' });
   * const r = await client.restore({ backup: 'nightly', namespace: 'db', pvcName: 'pg-restored' });
   * console.log(r.state, r.timings.createToBoundMs);
   * ```
   */
  async restore(options: RestoreOptions): Promise<RestoreResult> {
    return await runRestore(this.clients, options);
  }

  /**
   * Restores a backup set into the PVC a StatefulSet's pod will start on,
   * `<template>-<statefulSet>-<ordinal>`: create the StatefulSet afterwards (or scale it up to that
   * ordinal) and its controller adopts the PVC. Refused when that PVC exists.
   *
   * @throws DbaasError as {@link RestoreClient.restore}; `TARGET_NOT_FOUND` (an existing StatefulSet without that template).
   * @example
   * ```ts
   * import { RestoreClient } from '@kubectl-dbaas/sdk';
   * const client = new RestoreClient({ namespace: 'db' });
   * const r = await client.restoreForStatefulSet({ backup: 'nightly', namespace: 'db', statefulSet: 'pg-new', template: 'data' });
   * console.log(r.pvcName); // data-pg-new-0
   * ```
   */
  async restoreForStatefulSet(options: StatefulSetRestoreOptions): Promise<RestoreResult> {
    const startedAt = Date.now();
    const plan = await planRestoreForStatefulSet(this.clients, options);
    return await executeRestore(this.clients, plan.restore, {
      startedAt,
      deadline: startedAt + (options.deadlineMs ?? 15 * 60_000),
      ...(options.prep?.executor ? { prepExecutor: options.prep.executor } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  }

  /**
   * Restores a backup in place under a StatefulSet of one replica: its PV is set to Retain, the
   * StatefulSet scaled to 0 (a fence with a lease), the old PV bound to `<pvc>-previous`, the PVC of
   * the same name made from the backup, the StatefulSet scaled back and waited Ready. Nothing of the
   * old data is deleted; the result says how to roll back. Refused without `confirm: true`.
   *
   * @throws DbaasError `INVALID_ARGUMENT` (no confirmation), `TARGET_NOT_FOUND`, `TARGET_UNSUPPORTED`, `RESTORE_TARGET_EXISTS`, `KUBE_CONFLICT`, `RESTORE_FAILED` (`details.oldData` says where the old data is)
   * @example
   * ```ts
   * import { RestoreClient } from '@kubectl-dbaas/sdk';
   * const client = new RestoreClient({ namespace: 'db' });
   * const r = await client.restoreInPlace({ backup: 'nightly', namespace: 'db', statefulSet: 'pg', confirm: true });
   * console.log(`old data kept in PVC ${r.previousPvcName}`);
   * ```
   */
  async restoreInPlace(options: InPlaceRestoreOptions): Promise<InPlaceRestoreResult> {
    return await restoreInPlace(this.clients, options);
  }

  /**
   * What {@link RestoreClient.restoreInPlace} would do, checked against the cluster and nothing changed.
   *
   * @example
   * ```ts
   * import { RestoreClient } from '@kubectl-dbaas/sdk';
   * const client = new RestoreClient({ namespace: 'db' });
   * const plan = await client.planRestoreInPlace({ backup: 'nightly', namespace: 'db', statefulSet: 'pg' });
   * console.log(plan.steps.join('\n'));
   * ```
   */
  async planRestoreInPlace(options: InPlaceRestoreOptions): Promise<InPlaceRestorePlan> {
    return await planRestoreInPlace(this.clients, options);
  }

  /**
   * Restores a backup set into a new CloudNativePG Cluster, which CloudNativePG bootstraps from
   * VolumeSnapshots (`bootstrap.recovery.volumeSnapshots`): the backup's own snapshots when it is not
   * `online`; an `online` set first restored into staging PVCs with its WAL and backup_label, whose
   * snapshots it is given (deleted once the Cluster is healthy). The spec is the source Cluster's
   * (without `backup`, `plugins`, `replica`) or `spec`. No WAL archive is needed.
   *
   * @throws DbaasError `RESTORE_TARGET_EXISTS`, `TARGET_NOT_FOUND`, `TARGET_UNSUPPORTED`, `RESTORE_FAILED` (`details.remaining`), `KUBE_TIMEOUT`, and what {@link RestoreClient.restore} throws
   * @example
   * ```ts
   * import { RestoreClient } from '@kubectl-dbaas/sdk';
   * const client = new RestoreClient({ namespace: 'db' });
   * const r = await client.restoreToCnpgCluster({ backup: 'nightly', namespace: 'db', cluster: 'pg-restored' });
   * console.log(r.primary, r.readyInstances);
   * ```
   */
  async restoreToCnpgCluster(options: CnpgRestoreOptions): Promise<CnpgRestoreResult> {
    const plan = await planCnpgRestore(this.clients, options);
    return await executeCnpgRestore(this.clients, plan, options);
  }

  /**
   * What {@link RestoreClient.restoreToCnpgCluster} would create, checked against the cluster and nothing changed.
   *
   * @example
   * ```ts
   * import { RestoreClient } from '@kubectl-dbaas/sdk';
   * const client = new RestoreClient({ namespace: 'db' });
   * const plan = await client.planRestoreToCnpgCluster({ backup: 'nightly', namespace: 'db', cluster: 'pg-restored' });
   * console.log(plan.source, plan.clusterManifest);
   * ```
   */
  async planRestoreToCnpgCluster(options: CnpgRestoreOptions): Promise<CnpgRestorePlan> {
    return await planCnpgRestore(this.clients, options);
  }

  /**
   * Verifies a backup (restored into a scratch PVC, removed afterwards) or a restored PVC: offline
   * with WalInspector, then a scratch PostgreSQL (recovery ends, timeline, amcheck, your checks).
   *
   * @example
   * ```ts
   * import { RestoreClient, podVerifyRuntime } from '@kubectl-dbaas/sdk';
   * const client = new RestoreClient({ namespace: 'db' });
   * const runtime = podVerifyRuntime(); // an inspect pod and a scratch PostgreSQL pod
   * const v = await client.verify({ namespace: 'db', backup: 'nightly', runtime });
   * if (!v.ok) process.exitCode = 1;
   * ```
   */
  async verify(options: VerifyOptions): Promise<VerifyResult> {
    return await runVerify(this.clients, options);
  }

  /**
   * What {@link RestoreClient.verify} would do, checked against the cluster and nothing created: the
   * volume, the scratch restore's objects, the checks, the runtime; refusals come here, with their fix.
   *
   * @example
   * ```ts
   * import { RestoreClient, podVerifyRuntime } from '@kubectl-dbaas/sdk';
   * const client = new RestoreClient({ namespace: 'db' });
   * const runtime = podVerifyRuntime(); // an inspect pod and a scratch PostgreSQL pod
   * const plan = await client.planVerify({ namespace: 'db', backup: 'nightly', runtime });
   * console.log(plan.amcheck, plan.creates.length);
   * ```
   */
  async planVerify(options: VerifyOptions): Promise<VerifyPlan> {
    return await planVerify(this.clients, options);
  }
}
