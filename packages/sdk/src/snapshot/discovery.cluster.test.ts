// Discovery (PVC -> PV -> CSI driver -> VolumeSnapshotClass, pod -> data PVC and owning
// StatefulSet) and the StatefulSet fencing strategy against the real kube-apiserver of the shared
// local cluster. Its kube-controller-manager runs only the storage controllers (no StatefulSet
// controller, no kubelet), so the test plays the StatefulSet controller's part: it creates the pod
// and PVC a StatefulSet would, and writes the status (replicas, observedGeneration) it would write.
import type { V1PersistentVolumeClaim, V1StatefulSet } from '@kubernetes/client-node';
import { HOSTPATH_DRIVER, SNAPSHOT_CLASS, STORAGE_CLASS, STORAGE_CLASS_WFFC, clusterFromEnv, dbaasRejection } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FENCED_REPLICAS_ANNOTATION, statefulSetFencing } from '../engines/fencing.js';
import { KubeClients } from '../kube/clients.js';
import { watchUntil } from '../kube/watch-until.js';
import { runBackup } from './backup.js';
import { discoverBackupTarget } from './discovery.js';
import { skipWhen } from '@kubectl-dbaas/testing';

const info = clusterFromEnv(inject('dbaasCluster'));
const hasHostpath = !info.hostpathUnavailable;
const ns = `disc-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const pvName = `${ns}-foreign-driver`;


async function bound(name: string): Promise<void> {
  await watchUntil<V1PersistentVolumeClaim>(clients, {
    path: `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
    name,
    predicate: (p) => p?.status?.phase === 'Bound',
    deadline: Date.now() + 60_000,
    what: 'to be Bound',
  });
}

beforeAll(async () => {
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
});
afterAll(async () => {
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
  await clients.core.deletePersistentVolume({ name: pvName }).catch(() => undefined);
});

describe('discoverBackupTarget', () => {
  it('refuses a PVC that is not Bound, naming it', async () => {
    await clients.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: 'waiting' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS_WFFC, resources: { requests: { storage: '1Gi' } } } },
    });
    const e = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'waiting' } }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/PVC .*\/waiting is Pending: only a Bound volume can be snapshotted; its StorageClass .* is WaitForFirstConsumer/);
    expect(e.fix).toMatch(/^Start the workload that mounts waiting/);
    // An Immediate class with no provisioner running: the message must not talk about a first consumer.
    await clients.storage.createStorageClass({ body: { metadata: { name: `${ns}-immediate` }, provisioner: 'none.dbaas.test', volumeBindingMode: 'Immediate' } });
    try {
      await clients.core.createNamespacedPersistentVolumeClaim({
        namespace: ns,
        body: { metadata: { name: 'unprovisioned' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: `${ns}-immediate`, resources: { requests: { storage: '1Gi' } } } },
      });
      const immediate = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'unprovisioned' } }));
      expect(immediate.message).toMatch(/is Pending: only a Bound volume can be snapshotted; its StorageClass .*-immediate binds immediately, so the provisioner has not made the volume/);
      expect(immediate.message).not.toMatch(/WaitForFirstConsumer|consumer/);
      expect(immediate.fix).toMatch(/describe pvc unprovisioned shows the provisioner's events/);
    } finally {
      await clients.storage.deleteStorageClass({ name: `${ns}-immediate` }).catch(() => undefined);
    }
    const missing = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'nope' } }));
    expect(missing.code).toBe('KUBE_NOT_FOUND');
  });

  it('a CSI driver without a VolumeSnapshotClass: the error shows how to create one', async () => {
    await clients.core.createPersistentVolume({
      body: {
        metadata: { name: pvName },
        spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: '', csi: { driver: 'example.csi.dbaas.test', volumeHandle: ns } },
      },
    });
    await clients.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: 'foreign' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pvName, resources: { requests: { storage: '1Gi' } } } },
    });
    await bound('foreign');
    const e = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'foreign' } }));
    expect(e.code).toBe('KUBE_NOT_FOUND');
    expect(e.message).toBe('no VolumeSnapshotClass for CSI driver example.csi.dbaas.test');
    expect(e.fix).toMatch(/kind: VolumeSnapshotClass[\s\S]*driver: example.csi.dbaas.test/);
    const named = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'foreign' }, snapshotClass: SNAPSHOT_CLASS }));
    expect(named.code).toBe('INVALID_ARGUMENT');
    expect(named.message).toMatch(new RegExp(`"${SNAPSHOT_CLASS}" is for driver ${HOSTPATH_DRIVER}, but the volume is a example.csi.dbaas.test volume`));
    // The default mode on an unknown driver is fenced (not known to be atomic).
    const f = await dbaasRejection(runBackup(clients, { namespace: ns, target: { pvc: 'foreign' }, mode: 'crash' }));
    expect(f.code).toBe('KUBE_NOT_FOUND');
  });

  it('a StatefulSet pod: its data PVC, the hostpath class (the only one) and the StatefulSet as the fencing owner', skipWhen(info.hostpathUnavailable), async () => {
    const sts = await clients.apps.createNamespacedStatefulSet({ namespace: ns, body: statefulSet(1) });
    await clients.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: 'data-pg-0' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '1Gi' } } } },
    });
    await bound('data-pg-0');
    await clients.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: {
          name: 'pg-0',
          labels: { app: 'pg' },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'pg', uid: sts.metadata!.uid!, controller: true }],
        },
        spec: {
          containers: [{ name: 'postgres', image: 'postgres:17', volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }, { name: 'run', mountPath: '/run' }] }],
          volumes: [
            { name: 'data', persistentVolumeClaim: { claimName: 'data-pg-0' } },
            { name: 'run', emptyDir: {} },
          ],
        },
      },
    });
    const found = await discoverBackupTarget(clients, { namespace: ns, target: { pod: 'pg-0' } });
    expect(found.pvc.metadata.name).toBe('data-pg-0');
    expect(found.driver).toBe(HOSTPATH_DRIVER);
    expect(found.snapshotClass.metadata.name).toBe(SNAPSHOT_CLASS);
    expect(found.snapshotClassSource).toBe('only-class'); // the test cluster's one hostpath class has no default annotation
    expect(found.atomicity.atomic).toBe(false);
    expect(found.workload).toEqual({ kind: 'StatefulSet', name: 'pg' });
    await clients.core.deleteNamespacedPod({ name: 'pg-0', namespace: ns });
    await clients.apps.deleteNamespacedStatefulSet({ name: 'pg', namespace: ns });
  });
});

/** What the StatefulSet controller would write: status.replicas = spec.replicas, observedGeneration = generation. */
async function reconcileStatus(name: string): Promise<void> {
  const s = await clients.apps.readNamespacedStatefulSet({ name, namespace: ns });
  s.status = { ...(s.status ?? { replicas: 0 }), replicas: s.spec?.replicas ?? 0, observedGeneration: s.metadata?.generation ?? 0 };
  await clients.apps.replaceNamespacedStatefulSetStatus({ name, namespace: ns, body: s });
}

function statefulSet(replicas: number, name = 'pg'): V1StatefulSet {
  return {
    metadata: { name },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'postgres', image: 'postgres:17' }] } },
      volumeClaimTemplates: [
        { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '1Gi' } } } },
      ],
    },
  };
}

describe('statefulSetFencing', () => {
  it('scales to 0 recording the replicas, waits for no pods, adopts an interrupted fence, scales back and removes the record', async () => {
    await clients.apps.createNamespacedStatefulSet({ namespace: ns, body: { ...statefulSet(2, 'fence'), spec: { ...statefulSet(2, 'fence').spec!, volumeClaimTemplates: [] } } });
    await reconcileStatus('fence');
    const fencing = statefulSetFencing('fence');
    const ctx = { clients, namespace: ns, deadline: Date.now() + 60_000 };
    let fenced = false;
    const fencing1 = fencing.fence(ctx).then(() => (fenced = true));
    await watchUntil<V1StatefulSet>(clients, { path: `/apis/apps/v1/namespaces/${ns}/statefulsets`, name: 'fence', predicate: (s) => s?.spec?.replicas === 0, deadline: Date.now() + 30_000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(fenced).toBe(false); // still waiting: the pods are not gone yet (status.replicas 2)
    await reconcileStatus('fence');
    await fencing1;
    let sts = await clients.apps.readNamespacedStatefulSet({ name: 'fence', namespace: ns });
    expect(sts.spec?.replicas).toBe(0);
    expect(sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION]).toBe('2');
    // A second run after an interrupted one keeps the original count (not 0).
    await statefulSetFencing('fence').fence(ctx);
    sts = await clients.apps.readNamespacedStatefulSet({ name: 'fence', namespace: ns });
    expect(sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION]).toBe('2');
    await fencing.unfence(ctx);
    sts = await clients.apps.readNamespacedStatefulSet({ name: 'fence', namespace: ns });
    expect(sts.spec?.replicas).toBe(2);
    expect(sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION]).toBeUndefined();
    await fencing.unfence(ctx); // idempotent
    expect((await clients.apps.readNamespacedStatefulSet({ name: 'fence', namespace: ns })).spec?.replicas).toBe(2);
  });
});
