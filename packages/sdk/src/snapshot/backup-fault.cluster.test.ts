// runBackup with the snapshot-controller stopped mid-backup: its own LocalCluster (with the hostpath
// plugin when DBAAS_TESTING_BIN_DIR provides it), so stopping a component does not disturb the
// shared cluster of the other tests. Skipped with the reason printed when the plugin is unavailable.
import { LocalCluster, STORAGE_CLASS, availablePostgresMajors, clusterFromEnv, localPostgresFencing, runPostgresOnVolume, type PostgresServer } from '@kubectl-dbaas/testing';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DbaasError } from '../errors.js';
import { KubeClients } from '../kube/clients.js';
import { watchUntil } from '../kube/watch-until.js';
import { runBackup, type BackupProgress } from './backup.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const hasHostpath = !info.hostpathUnavailable;
const ns = 'fault';
let cluster: LocalCluster | undefined;
let clients: KubeClients;
let server: PostgresServer | undefined;

beforeAll(async () => {
  if (!hasHostpath) return;
  cluster = await LocalCluster.start({ log: () => undefined });
  clients = KubeClients.load({ kubeconfig: cluster.kubeconfigPath, namespace: ns });
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  await clients.core.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: { metadata: { name: 'pgdata' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '1Gi' } } } },
  });
  await watchUntil<V1PersistentVolumeClaim>(clients, {
    path: `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
    name: 'pgdata',
    predicate: (p) => p?.status?.phase === 'Bound',
    deadline: Date.now() + 120_000,
  });
  server = await runPostgresOnVolume(cluster, { namespace: ns, name: 'pgdata' }, { major: availablePostgresMajors().at(-1)! });
  await server.query('create table t (id int primary key)');
});

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  await cluster?.stop();
});

describe('runBackup faults', () => {
  if (!hasHostpath) console.warn(`[dbaas-testing] SKIPPING runBackup fault tests (not passed): CSI hostpath plugin unavailable: ${info.hostpathUnavailable}`);

  it.skipIf(!hasHostpath)('fenced with the snapshot-controller stopped mid-backup: deadline error naming the wait, fence lifted, partial snapshot deleted', async () => {
    const local = localPostgresFencing(server!);
    let down: Promise<void> | undefined;
    // The controller is stopped while the database is being fenced (after the backup started,
    // before its snapshot is requested) and stays down past the backup's deadline.
    const fencing = {
      description: local.description,
      fence: async () => {
        down = cluster!.restartComponent('snapshot-controller', { downMs: 35_000 });
        await local.fence();
        await new Promise((r) => setTimeout(r, 2000));
      },
      unfence: () => local.unfence(),
    };
    const events: BackupProgress[] = [];
    const started = Date.now();
    let error: DbaasError | undefined;
    try {
      await runBackup(clients, { namespace: ns, target: { pvc: 'pgdata' }, name: 'fault-1', fencing, deadlineMs: 15_000, onProgress: (e) => events.push(e) });
    } catch (e) {
      error = e as DbaasError;
    }
    const elapsed = Date.now() - started;
    expect(error?.code).toBe('KUBE_TIMEOUT');
    expect(error?.message).toMatch(/fault-1 was not cut within the backup's deadline/);
    expect(error?.message).toMatch(/The fence was lifted/);
    expect(error?.fix).toMatch(/snapshot-controller/);
    expect(local.stats).toMatchObject({ fenced: 1, unfenced: 1 });
    expect(server!.running).toBe(true);
    expect(await server!.query('select 1 as one')).toEqual([{ one: 1 }]);
    expect(error?.details?.deletedSnapshots).toEqual(['fault-1']);
    expect(elapsed).toBeLessThan(45_000);
    console.log(`[backup-fault] deadline 15 s -> error after ${elapsed} ms: ${error?.message}`);
    await down;
  });
});
