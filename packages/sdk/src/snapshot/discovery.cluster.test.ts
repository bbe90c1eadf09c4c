// Discovery (PVC -> PV -> CSI driver -> VolumeSnapshotClass, pod -> data PVC and owning
// StatefulSet) and the StatefulSet fencing strategy on the shared local cluster: a real PostgreSQL
// StatefulSet (statefulset controller, kube-scheduler, kubelet) whose pod really stops when fenced
// and comes back Ready when unfenced.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import {
  BTRFS_DRIVER,
  BTRFS_STORAGE_CLASS,
  HOSTPATH_DRIVER,
  PAUSE_IMAGE,
  SNAPSHOT_CLASS,
  STORAGE_CLASS_WFFC,
  clusterFromEnv,
  dbaasRejection,
  deployPostgres,
  type PostgresPod,
} from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FENCED_REPLICAS_ANNOTATION, statefulSetFencing } from '../engines/fencing.js';
import { KubeClients } from '../kube/clients.js';
import { watchUntil } from '../kube/watch-until.js';
import { runBackup } from './backup.js';
import { DATA_VOLUME_ANNOTATION, discoverBackupTarget, impliedFencing } from './discovery.js';
import { hostpathSkipReason, skipWhen } from '@kubectl-dbaas/testing';

const info = clusterFromEnv(inject('dbaasCluster'));
const _hasHostpath = !info.hostpathUnavailable;
const why = hostpathSkipReason(info, 'discovery tests on a StatefulSet pod');
const ns = `disc-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
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
let db: Promise<PostgresPod> | undefined;
/** One PostgreSQL StatefulSet (`pg`, one pod) for the tests below, deployed on first use. */
const database = (): Promise<PostgresPod> => (db ??= deployPostgres({ kubeConfig: clients.kubeConfig, namespace: ns, name: 'pg', major: 17 }));

afterAll(async () => {
  if (db) await (await db.catch(() => undefined))?.close();
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
  await clients.core.deletePersistentVolume({ name: pvName }).catch(() => undefined);
});

describe('discoverBackupTarget', () => {
  it('refuses a PVC that is not Bound, naming it', async () => {
    await clients.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'waiting' },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS_WFFC, resources: { requests: { storage: '1Gi' } } },
      },
    });
    const e = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'waiting' } }));
    expect(e.code).toBe('TARGET_UNSUPPORTED');
    expect(e.message).toMatch(/PVC .*\/waiting is Pending: only a Bound volume can be snapshotted; its StorageClass .* is WaitForFirstConsumer/);
    expect(e.fix).toMatch(/^Start the workload that mounts waiting/);
    // An Immediate class with no provisioner running: the message must not talk about a first consumer.
    await clients.storage.createStorageClass({
      body: { metadata: { name: `${ns}-immediate` }, provisioner: 'none.dbaas.test', volumeBindingMode: 'Immediate' },
    });
    try {
      await clients.core.createNamespacedPersistentVolumeClaim({
        namespace: ns,
        body: {
          metadata: { name: 'unprovisioned' },
          spec: { accessModes: ['ReadWriteOnce'], storageClassName: `${ns}-immediate`, resources: { requests: { storage: '1Gi' } } },
        },
      });
      const immediate = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'unprovisioned' } }));
      expect(immediate.code).toBe('TARGET_UNSUPPORTED');
      expect(immediate.message).toMatch(
        /is Pending: only a Bound volume can be snapshotted; its StorageClass .*-immediate binds immediately, so the provisioner has not made the volume/,
      );
      expect(immediate.message).not.toMatch(/WaitForFirstConsumer|consumer/);
      expect(immediate.fix).toMatch(/describe pvc unprovisioned shows the provisioner's events/);
    } finally {
      await clients.storage.deleteStorageClass({ name: `${ns}-immediate` }).catch(() => undefined);
    }
    const missing = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'nope' } }));
    expect(missing.code).toBe('TARGET_NOT_FOUND');
    expect(missing.message).toBe(`PVC ${ns}/nope does not exist`);
    expect(missing.option).toBe('target');
    const missingPod = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pod: 'nope-0' } }));
    expect(missingPod.code).toBe('TARGET_NOT_FOUND');
    expect(missingPod.message).toBe(`pod ${ns}/nope-0 does not exist`);
    expect(missingPod.fix).toContain(`kubectl get pods -n ${ns}`);
  });

  it('a CSI driver without a VolumeSnapshotClass: the error shows how to create one', async () => {
    await clients.core.createPersistentVolume({
      body: {
        metadata: { name: pvName },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: '',
          csi: { driver: 'example.csi.dbaas.test', volumeHandle: ns },
        },
      },
    });
    await clients.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'foreign' },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pvName, resources: { requests: { storage: '1Gi' } } },
      },
    });
    await bound('foreign');
    const e = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'foreign' } }));
    expect(e.code).toBe('KUBE_NOT_FOUND');
    expect(e.message).toBe('no VolumeSnapshotClass for CSI driver example.csi.dbaas.test');
    expect(e.fix).toMatch(/kind: VolumeSnapshotClass[\s\S]*driver: example.csi.dbaas.test/);
    const named = await dbaasRejection(discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'foreign' }, snapshotClass: SNAPSHOT_CLASS }));
    expect(named.code).toBe('TARGET_UNSUPPORTED');
    expect(named.option).toBe('snapshotClass');
    expect(named.message).toMatch(new RegExp(`"${SNAPSHOT_CLASS}" is for driver ${HOSTPATH_DRIVER}, but the volume is a example.csi.dbaas.test volume`));
    // The default mode on an unknown driver is fenced (not known to be atomic).
    const f = await dbaasRejection(runBackup(clients, { namespace: ns, target: { pvc: 'foreign' }, mode: 'crash' }));
    expect(f.code).toBe('KUBE_NOT_FOUND');
  });

  it('a StatefulSet pod: its data PVC, the hostpath class (the only one) and the StatefulSet as the fencing owner', skipWhen(why), async () => {
    const pg = await database();
    const found = await discoverBackupTarget(clients, { namespace: ns, target: { pod: pg.podName } });
    expect(found.pvc.metadata.name).toBe('data-pg-0');
    expect(found.driver).toBe(HOSTPATH_DRIVER);
    expect(found.snapshotClass.metadata.name).toBe(SNAPSHOT_CLASS);
    expect(found.snapshotClassSource).toBe('only-class'); // the test cluster's one hostpath class has no default annotation
    expect(found.atomicity.atomic).toBe(false);
    expect(found.workload).toEqual({ kind: 'StatefulSet', name: 'pg' });
    // The PVC alone leads to the same fencing (the StatefulSet whose volumeClaimTemplate made it).
    expect((await impliedFencing(clients, await discoverBackupTarget(clients, { namespace: ns, target: { pvc: 'data-pg-0' } })))?.description).toBe(
      'StatefulSet pg scaled to 0 and back',
    );
  });
});

async function podGone(name: string): Promise<boolean> {
  return await clients.core.readNamespacedPod({ namespace: ns, name }).then(
    () => false,
    (e: { code?: string }) => e.code === 'KUBE_NOT_FOUND',
  );
}

describe('statefulSetFencing', () => {
  it(
    'scales to 0 recording the replicas and returns once the pod is gone, adopts an interrupted fence, scales back (pod Ready again) and removes the record',
    skipWhen(why),
    async () => {
      const pg = await database();
      const fencing = statefulSetFencing('pg', { waitForReadyOnUnfence: true });
      const ctx = { clients, namespace: ns, deadline: Date.now() + 120_000 };
      const started = Date.now();
      await fencing.fence(ctx);
      const fenceMs = Date.now() - started;
      expect(await podGone(pg.podName)).toBe(true); // PostgreSQL really stopped: the kubelet ended the container and the pod is gone
      let sts = await clients.apps.readNamespacedStatefulSet({ name: 'pg', namespace: ns });
      expect(sts.spec?.replicas).toBe(0);
      expect(sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION]).toBe('1');
      // A second run after an interrupted one keeps the original count (not 0).
      await statefulSetFencing('pg').fence(ctx);
      sts = await clients.apps.readNamespacedStatefulSet({ name: 'pg', namespace: ns });
      expect(sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION]).toBe('1');
      const unfenceStarted = Date.now();
      await fencing.unfence(ctx);
      const unfenceMs = Date.now() - unfenceStarted;
      sts = await clients.apps.readNamespacedStatefulSet({ name: 'pg', namespace: ns });
      expect(sts.spec?.replicas).toBe(1);
      expect(sts.status?.readyReplicas).toBe(1); // waitForReadyOnUnfence: back and Ready
      expect(sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION]).toBeUndefined();
      expect((await pg.query<{ one: number }>('select 1 as one'))[0]!.one).toBe(1); // serving again, through the same port-forward
      await fencing.unfence(ctx); // idempotent
      expect((await clients.apps.readNamespacedStatefulSet({ name: 'pg', namespace: ns })).spec?.replicas).toBe(1);
      console.log(`[discovery.cluster] statefulSetFencing: fence (scale 0, pod gone) ${fenceMs} ms, unfence until Ready ${unfenceMs} ms`);
    },
  );
});

describe('a PostgreSQL spread over several PVCs', () => {
  it(
    'crash on a driver without a VolumeGroupSnapshotClass (btrfs, atomic per volume) is refused before anything is created: its WAL on another PVC (POSTGRES_INITDB_WALDIR), a tablespace PVC (cnpg.io/pvcRole), even with the data volume annotated',
    skipWhen(why),
    async () => {
      for (const [name, labels] of [
        ['spread-data', {}],
        ['spread-wal', {}],
        ['spread-tbs', { 'cnpg.io/pvcRole': 'PG_TABLESPACE' }],
      ] as const) {
        await clients.core.createNamespacedPersistentVolumeClaim({
          namespace: ns,
          body: {
            metadata: { name, labels },
            spec: { storageClassName: BTRFS_STORAGE_CLASS, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } } },
          },
        });
        await bound(name);
      }
      // What the backup reads is the pod's spec: whether it runs does not matter here.
      await clients.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'spread', annotations: { [DATA_VOLUME_ANNOTATION]: 'data' } },
          spec: {
            containers: [
              {
                name: 'postgres',
                image: PAUSE_IMAGE,
                imagePullPolicy: 'Never',
                env: [{ name: 'POSTGRES_INITDB_WALDIR', value: '/wal/pg_wal' }],
                volumeMounts: [
                  { name: 'data', mountPath: '/var/lib/postgresql/data' },
                  { name: 'wal', mountPath: '/wal' },
                  { name: 'tbs', mountPath: '/tablespaces/a' },
                ],
              },
            ],
            volumes: [
              { name: 'data', persistentVolumeClaim: { claimName: 'spread-data' } },
              { name: 'wal', persistentVolumeClaim: { claimName: 'spread-wal' } },
              { name: 'tbs', persistentVolumeClaim: { claimName: 'spread-tbs' } },
            ],
          },
        },
      });
      const refused = await dbaasRejection(runBackup(clients, { namespace: ns, target: { pod: 'spread' }, mode: 'crash', name: 'spread-1' }));
      expect(refused).toMatchObject({ code: 'TARGET_UNSUPPORTED', option: 'mode' });
      expect(refused.message).toContain(
        `PostgreSQL in pod ${ns}/spread keeps its WAL on PVC spread-wal (POSTGRES_INITDB_WALDIR=/wal/pg_wal, inside volume wal at /wal), a tablespace on PVC spread-tbs (CloudNativePG's cnpg.io/pvcRole PG_TABLESPACE): its volumes must be cut at one instant in mode crash, by a VolumeGroupSnapshot, and driver ${BTRFS_DRIVER} has no VolumeGroupSnapshotClass`,
      );
      expect(refused.fix).toContain('otherwise use mode fenced');
      expect(await clients.volumeSnapshots.listAll({ namespace: ns })).toEqual([]);
    },
  );

  it('checkpoint through a SQL session: a tablespace outside the data directory is refused before the cut', skipWhen(why), async () => {
    const pg = await database();
    // A directory the server's user owns, made by the server itself (COPY TO PROGRAM runs as that user).
    await pg.query("copy (select 1) to program 'mkdir -p /tmp/dbaas-tablespace'");
    await pg.query("create tablespace outside location '/tmp/dbaas-tablespace'");
    try {
      const refused = await dbaasRejection(
        runBackup(clients, { namespace: ns, target: { pod: pg.podName }, mode: 'checkpoint', force: true, database: pg.connectionConfig, name: 'tbs-1' }),
      );
      expect(refused).toMatchObject({ code: 'TARGET_UNSUPPORTED', option: 'target' });
      expect(refused.message).toContain('the database has tablespaces outside its data directory (outside at /tmp/dbaas-tablespace)');
      expect(await clients.volumeSnapshots.listAll({ namespace: ns })).toEqual([]);
    } finally {
      await pg.query('drop tablespace outside');
    }
  });
});
