// The project's btrfs CSI driver in the shared cluster, through the real external-provisioner,
// external-snapshotter, kubelet and node-driver-registrar: a pod writes into a dbaas-btrfs volume,
// the volume is snapshotted (dbaas-btrfs-snapclass), written again, and a PVC restored from the
// snapshot holds what was there at the snapshot, not what came after. Needs the node and the btrfs
// driver: skipped with the reason printed otherwise.
import { pollUntil } from '../assertions.js';
import { CoreV1Api, CustomObjectsApi, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { snapshotAtomicity } from '@kubectl-dbaas/sdk';
import { TEST_IMAGES } from '../node/images.js';
import { skipWhen } from '../skip-reason.js';
import { BTRFS_DRIVER, BTRFS_SNAPSHOT_CLASS, BTRFS_STORAGE_CLASS } from './cluster.js';
import { clusterFromEnv } from './shared.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const why = info.nodeUnavailable
  ? `the test cluster has no node: ${info.nodeUnavailable}`
  : info.btrfsUnavailable
    ? `btrfs CSI driver unavailable: ${info.btrfsUnavailable}`
    : undefined;
if (why) console.warn(`[dbaas-testing] SKIPPING btrfs driver cluster tests (not passed): ${why}`);

const ns = `btrfs-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
const kc = new KubeConfig();
kc.loadFromFile(info.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const SIZE = '64Mi';

beforeAll(async () => {
  if (!why) await core.createNamespace({ body: { metadata: { name: ns } } });
});
afterAll(async () => {
  if (!why) await core.deleteNamespace({ name: ns }).catch(() => undefined);
});

async function createPvc(name: string, dataSource?: { kind: string; apiGroup: string; name: string }): Promise<void> {
  await core.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        storageClassName: BTRFS_STORAGE_CLASS,
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: SIZE } },
        ...(dataSource ? { dataSource } : {}),
      },
    },
  });
}

/**
 * Runs `script` in a pod with the PVC at /data and returns its output once it succeeded. The
 * script is a constant; what it writes comes in through the environment.
 */
async function runInPod(name: string, claim: string, script: string, env: Record<string, string> = {}): Promise<string> {
  const body: V1Pod = {
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: TEST_IMAGES.postgres(17),
          command: ['sh', '-c', script],
          env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
      ],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }],
    },
  };
  await core.createNamespacedPod({ namespace: ns, body });
  const phase = await pollUntil(`pod ${name} to finish`, 120_000, async () => {
    const p = (await core.readNamespacedPod({ name, namespace: ns })).status?.phase;
    return p === 'Succeeded' || p === 'Failed' ? p : undefined;
  });
  const log = await core.readNamespacedPodLog({ name, namespace: ns });
  if (phase !== 'Succeeded') throw new Error(`pod ${name} ${phase}: ${log}`);
  // Deleted before the next pod mounts the volume: the unpublish is part of what is tested.
  await core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 });
  return log;
}

async function volumeSnapshot(name: string): Promise<{ status?: { readyToUse?: boolean; restoreSize?: string; boundVolumeSnapshotContentName?: string } }> {
  return (await custom.getNamespacedCustomObject({ group: 'snapshot.storage.k8s.io', version: 'v1', namespace: ns, plural: 'volumesnapshots', name })) as {
    status?: { readyToUse?: boolean; restoreSize?: string; boundVolumeSnapshotContentName?: string };
  };
}

describe('btrfs CSI driver in the cluster', () => {
  it('a snapshot restored to a new PVC holds what the volume held at the snapshot, not what was written after', skipWhen(why), async () => {
    expect(snapshotAtomicity(BTRFS_DRIVER)).toMatchObject({ atomic: true, source: 'table' });
    await createPvc('source');
    await runInPod('write-before', 'source', 'printf %s "$TOKEN" > /data/token && sync', { TOKEN: `before-${ns}` });
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'source', namespace: ns });
    const pv = await core.readPersistentVolume({ name: pvc.spec!.volumeName! });
    expect(pv.spec?.csi?.driver).toBe(BTRFS_DRIVER);

    const t0 = Date.now();
    await custom.createNamespacedCustomObject({
      group: 'snapshot.storage.k8s.io',
      version: 'v1',
      namespace: ns,
      plural: 'volumesnapshots',
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshot',
        metadata: { name: 'snap' },
        spec: { volumeSnapshotClassName: BTRFS_SNAPSHOT_CLASS, source: { persistentVolumeClaimName: 'source' } },
      },
    });
    const ready = await pollUntil('VolumeSnapshot snap readyToUse', 120_000, async () => {
      const vs = await volumeSnapshot('snap');
      return vs.status?.readyToUse ? vs : undefined;
    });
    console.log(`[dbaas-testing] btrfs VolumeSnapshot readyToUse ${Date.now() - t0} ms after its creation`);
    expect(ready.status?.restoreSize).toBe(SIZE);
    const content = (await custom.getClusterCustomObject({
      group: 'snapshot.storage.k8s.io',
      version: 'v1',
      plural: 'volumesnapshotcontents',
      name: ready.status!.boundVolumeSnapshotContentName!,
    })) as { spec?: { driver?: string } };
    expect(content.spec?.driver).toBe(BTRFS_DRIVER);

    await runInPod('write-after', 'source', 'printf %s "$TOKEN" > /data/token && sync', { TOKEN: `after-${ns}` });
    await createPvc('restored', { kind: 'VolumeSnapshot', apiGroup: 'snapshot.storage.k8s.io', name: 'snap' });
    expect(await runInPod('read-restored', 'restored', 'cat /data/token')).toBe(`before-${ns}`);
    expect(await runInPod('read-source', 'source', 'cat /data/token')).toBe(`after-${ns}`);
    // The restored volume is writable and its own: a write there leaves the source alone.
    await runInPod('write-restored', 'restored', 'printf %s "$TOKEN" > /data/token && sync', { TOKEN: `restored-${ns}` });
    expect(await runInPod('reread-source', 'source', 'cat /data/token')).toBe(`after-${ns}`);
  });
});
