import { KubeClients, type KubeClientsOptions } from '../kube/clients.js';
import { runRestore, type RestoreOptions, type RestoreResult } from './restore.js';
import { planVerify, runVerify, type VerifyOptions, type VerifyPlan, type VerifyResult } from './verify.js';

/**
 * Restores backups into new PVCs and verifies them before anyone trusts them.
 *
 * @example
 * ```ts
 * const client = new RestoreClient({ namespace: 'staging' });
 * const r = await client.restore({ backup: 'nightly', backupNamespace: 'prod', namespace: 'staging', pvcName: 'pg-restored' });
 * const v = await client.verify({ namespace: 'staging', pvc: r.pvcName, runtime });
 * ```
 */
export class RestoreClient {
  readonly clients: KubeClients;

  /**
   * @param clients Existing {@link KubeClients}, or options to load them (`--kubeconfig`, `--context`, `-n`).
   * @example
   * ```ts
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
   * const r = await client.restore({ backup: 'nightly', namespace: 'db', pvcName: 'pg-restored' });
   * console.log(r.state, r.timings.createToBoundMs);
   * ```
   */
  async restore(options: RestoreOptions): Promise<RestoreResult> {
    return await runRestore(this.clients, options);
  }

  /**
   * Verifies a backup (restored into a scratch PVC, removed afterwards) or a restored PVC: offline
   * with WalInspector, then a scratch PostgreSQL (recovery ends, timeline, amcheck, your checks).
   *
   * @example
   * ```ts
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
   * const plan = await client.planVerify({ namespace: 'db', backup: 'nightly', runtime });
   * console.log(plan.amcheck, plan.creates.length);
   * ```
   */
  async planVerify(options: VerifyOptions): Promise<VerifyPlan> {
    return await planVerify(this.clients, options);
  }
}
