import { pollUntil } from '../assertions.js';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, StorageV1Api, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HOSTPATH_DRIVER, SNAPSHOT_CLASS, STORAGE_CLASS, STORAGE_CLASS_WFFC } from './cluster.js';
import { probe } from './http.js';
import { clusterFromEnv } from './shared.js';
import './provided-context.js';
import { skipWhen } from '../skip-reason.js';

const run = promisify(execFile);
const info = clusterFromEnv(inject('dbaasCluster'));
const hasHostpath = !info.hostpathUnavailable;
const kc = new KubeConfig();
kc.loadFromFile(info.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const ns = `t-${Date.now().toString(36)}`;

type Snapshot = {
  metadata?: { name?: string };
  status?: {
    readyToUse?: boolean;
    restoreSize?: string;
    boundVolumeSnapshotContentName?: string;
    error?: { message?: string };
  };
};

/** The waits of these tests: {@link pollUntil} with their default of two minutes. */
function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  return pollUntil(what, timeoutMs, fn, { intervalMs: 500 });
}

function snapshotBody(name: string, pvc: string) {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: { name, namespace: ns },
    spec: { volumeSnapshotClassName: SNAPSHOT_CLASS, source: { persistentVolumeClaimName: pvc } },
  };
}

async function getSnapshot(name: string): Promise<Snapshot> {
  return (await custom.getNamespacedCustomObject({
    group: 'snapshot.storage.k8s.io',
    version: 'v1',
    namespace: ns,
    plural: 'volumesnapshots',
    name,
  })) as Snapshot;
}

function pvcBody(name: string, size: string, fromSnapshot?: string): V1PersistentVolumeClaim {
  return {
    metadata: { name, namespace: ns },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: STORAGE_CLASS,
      resources: { requests: { storage: size } },
      ...(fromSnapshot ? { dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: fromSnapshot } } : {}),
    },
  };
}

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('local cluster (control plane, snapshot controller, CRDs, classes)', () => {
  it('serves the real kubectl: version v1.36 and `kubectl get volumesnapshots -A`', async () => {
    const version = await run('kubectl', ['--kubeconfig', info.kubeconfig, 'version', '-o', 'json']);
    const parsed = JSON.parse(version.stdout) as { serverVersion: { gitVersion: string; minor: string } };
    expect(parsed.serverVersion.gitVersion).toMatch(/^v1\.36\.\d+$/);
    const res = await run('kubectl', ['--kubeconfig', info.kubeconfig, 'get', 'volumesnapshots', '-A']);
    // An empty list: kubectl prints "No resources found" on stderr and exits 0.
    expect(res.stdout + res.stderr).toMatch(/No resources found|NAMESPACE/);
  });

  it('has the VolumeSnapshot CRDs Established', async () => {
    const api = kc.makeApiClient(ApiextensionsV1Api);
    for (const name of [
      'volumesnapshots.snapshot.storage.k8s.io',
      'volumesnapshotcontents.snapshot.storage.k8s.io',
      'volumesnapshotclasses.snapshot.storage.k8s.io',
    ]) {
      const crd = await api.readCustomResourceDefinition({ name });
      expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status, name).toBe('True');
      expect(crd.spec.versions.find((v) => v.name === 'v1')?.served, name).toBe(true);
    }
  });

  it('has the storage classes (Immediate and WaitForFirstConsumer) and the snapshot class', async () => {
    const storage = kc.makeApiClient(StorageV1Api);
    const sc = await storage.readStorageClass({ name: STORAGE_CLASS });
    expect(sc.provisioner).toBe(HOSTPATH_DRIVER);
    expect(sc.volumeBindingMode).toBe('Immediate');
    const wffc = await storage.readStorageClass({ name: STORAGE_CLASS_WFFC });
    expect(wffc.provisioner).toBe(HOSTPATH_DRIVER);
    expect(wffc.volumeBindingMode).toBe('WaitForFirstConsumer');
    const vsc = (await custom.getClusterCustomObject({
      group: 'snapshot.storage.k8s.io',
      version: 'v1',
      plural: 'volumesnapshotclasses',
      name: SNAPSHOT_CLASS,
    })) as { driver: string; deletionPolicy: string };
    expect(vsc.driver).toBe(HOSTPATH_DRIVER);
    expect(vsc.deletionPolicy).toBe('Delete');
  });

  it('enforces RBAC: an unauthenticated request is refused', async () => {
    const anonymous = await probe(`${info.server}/api/v1/namespaces`, {
      ca: await readFile(path.join(info.stateDir, 'pki', 'ca.crt')),
    });
    expect(anonymous.status).toBe(401);
    const denied = await run('kubectl', [
      '--kubeconfig',
      info.kubeconfig,
      'auth',
      'can-i',
      'create',
      'volumesnapshots',
      '--as=system:serviceaccount:default:nobody',
      '-n',
      ns,
    ]).catch((err: { stdout: string }) => err);
    expect(String((denied as { stdout: string }).stdout).trim()).toBe('no');
  });

  it('surfaces the error of a VolumeSnapshot whose PVC does not exist (snapshot-controller)', async () => {
    await custom.createNamespacedCustomObject({
      group: 'snapshot.storage.k8s.io',
      version: 'v1',
      namespace: ns,
      plural: 'volumesnapshots',
      body: snapshotBody('snap-of-missing', 'no-such-pvc'),
    });
    const message = await until(
      'status.error on snap-of-missing',
      async () => {
        const s = await getSnapshot('snap-of-missing');
        return s.status?.error?.message;
      },
      90_000,
    );
    // snapshot-controller v8.7.0 words it: "Failed to create snapshot content with error snapshot
    // controller failed to update <name> on API server: cannot get claim from snapshot".
    expect(message).toMatch(/cannot get claim from snapshot/);
    const s = await getSnapshot('snap-of-missing');
    expect(s.status?.readyToUse ?? false).toBe(false);
    expect(s.status?.boundVolumeSnapshotContentName).toBeUndefined();
    const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=snap-of-missing' });
    expect(events.items.map((e) => e.reason)).toContain('SnapshotContentCreationFailed');
  });

  it('leaves a WaitForFirstConsumer PVC Pending (no scheduler, no kubelet)', async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { ...pvcBody('wffc', '10Mi'), spec: { ...pvcBody('wffc', '10Mi').spec, storageClassName: STORAGE_CLASS_WFFC } },
    });
    await new Promise((r) => setTimeout(r, 3000));
    const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: 'wffc' });
    expect(pvc.status?.phase).toBe('Pending');
  });
});

describe('hostpath CSI volumes and snapshots', () => {
  const why = `CSI hostpath plugin unavailable: ${info.hostpathUnavailable}`;
  if (!hasHostpath) {
    console.warn(`[dbaas-testing] SKIPPING hostpath tests (not passed): ${why}`);
  }
  const state: { volumeHandle?: string | undefined; snapHandle?: string | undefined; restoreSize?: string | undefined } = {};

  it('PVC -> Bound, volume directory under the plugin state dir [skipped when hostpath is unavailable]', skipWhen(info.hostpathUnavailable), async () => {
    await core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: pvcBody('data', '64Mi') });
    const pvName = await until('PVC data Bound', async () => {
      const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: 'data' });
      return pvc.status?.phase === 'Bound' ? pvc.spec?.volumeName : undefined;
    });
    const pv = await core.readPersistentVolume({ name: pvName! });
    expect(pv.spec?.csi?.driver).toBe(HOSTPATH_DRIVER);
    state.volumeHandle = pv.spec!.csi!.volumeHandle;
    expect(existsSync(path.join(info.hostpathStateDir, state.volumeHandle))).toBe(true);
  });

  it('writes data into the volume directory [skipped when hostpath is unavailable]', skipWhen(info.hostpathUnavailable), async () => {
    const dir = path.join(info.hostpathStateDir, state.volumeHandle!);
    await writeFile(path.join(dir, 'hello.txt'), 'hello from kubectl-dbaas\n');
    expect(await readFile(path.join(dir, 'hello.txt'), 'utf8')).toBe('hello from kubectl-dbaas\n');
  });

  it(
    'VolumeSnapshot -> readyToUse with restoreSize, .snap file written [skipped when hostpath is unavailable]',
    skipWhen(info.hostpathUnavailable),
    async () => {
      await custom.createNamespacedCustomObject({
        group: 'snapshot.storage.k8s.io',
        version: 'v1',
        namespace: ns,
        plural: 'volumesnapshots',
        body: snapshotBody('snap1', 'data'),
      });
      const s = await until('snap1 readyToUse', async () => {
        const snap = await getSnapshot('snap1');
        if (snap.status?.error?.message) throw new Error(snap.status.error.message);
        return snap.status?.readyToUse ? snap : undefined;
      });
      expect(s.status?.restoreSize).toBeTruthy();
      state.restoreSize = s.status!.restoreSize!;
      const content = (await custom.getClusterCustomObject({
        group: 'snapshot.storage.k8s.io',
        version: 'v1',
        plural: 'volumesnapshotcontents',
        name: s.status!.boundVolumeSnapshotContentName!,
      })) as { status?: { snapshotHandle?: string } };
      state.snapHandle = content.status?.snapshotHandle;
      expect(state.snapHandle).toBeTruthy();
      const files = await readdir(info.hostpathStateDir);
      expect(files).toContain(`${state.snapHandle}.snap`);
    },
  );

  it('PVC from the snapshot -> Bound with identical content [skipped when hostpath is unavailable]', skipWhen(info.hostpathUnavailable), async () => {
    await core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: pvcBody('restored', state.restoreSize!, 'snap1') });
    const pvName = await until('PVC restored Bound', async () => {
      const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: 'restored' });
      return pvc.status?.phase === 'Bound' ? pvc.spec?.volumeName : undefined;
    });
    const pv = await core.readPersistentVolume({ name: pvName! });
    const dir = path.join(info.hostpathStateDir, pv.spec!.csi!.volumeHandle);
    expect(await readFile(path.join(dir, 'hello.txt'), 'utf8')).toBe('hello from kubectl-dbaas\n');
  });

  it(
    'refuses a PVC smaller than the snapshot, with the error in the PVC events [skipped when hostpath is unavailable]',
    skipWhen(info.hostpathUnavailable),
    async () => {
      await core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: pvcBody('too-small', '1Mi', 'snap1') });
      const msg = await until('ProvisioningFailed event on too-small', async () => {
        const evs = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=too-small' });
        return evs.items.find((e) => e.reason === 'ProvisioningFailed')?.message;
      });
      expect(msg).toMatch(/size|smaller|less/i);
      const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: 'too-small' });
      expect(pvc.status?.phase).toBe('Pending');
    },
  );

  it('deleting the VolumeSnapshot removes the .snap file [skipped when hostpath is unavailable]', skipWhen(info.hostpathUnavailable), async () => {
    await core.deleteNamespacedPersistentVolumeClaim({ namespace: ns, name: 'too-small' });
    await custom.deleteNamespacedCustomObject({
      group: 'snapshot.storage.k8s.io',
      version: 'v1',
      namespace: ns,
      plural: 'volumesnapshots',
      name: 'snap1',
    });
    await until('.snap removed', async () => {
      const files = await readdir(info.hostpathStateDir);
      return files.includes(`${state.snapHandle}.snap`) ? undefined : true;
    });
  });
});
