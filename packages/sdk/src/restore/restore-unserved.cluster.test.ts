// RestoreClient's checks, dry run and clean-up on the real apiserver and snapshot-controller,
// without any CSI driver: the backups are pre-provisioned VolumeSnapshotContent + VolumeSnapshot
// pairs of a driver no sidecar serves (made ready by writing the content's status, as a sidecar
// would), and its StorageClass has no provisioner running, so a restored PVC never binds. That is
// enough to show that bad input is refused before anything is created, that a deadline or an abort
// removes everything a restore made, and that WaitForFirstConsumer returns instead of hanging.
// Runs in CI; the round trips with data are in restore.cluster.test.ts (hostpath plugin).
import { UNSERVED_DRIVER as DRIVER, clusterFromEnv, dbaasRejection, provisionBackupSnapshot, writeContentReady } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClients } from '../kube/clients.js';
import type { VolumeSnapshot } from '../kube/snapshot-types.js';
import { watchUntil } from '../kube/watch-until.js';
import { DBAAS_LABELS, type ConsistencyMode } from '../manifests/metadata.js';
import { planRestore, type RestoreProgress } from './restore.js';
import { podVerifyRuntime } from './pod-runtime.js';
import { RestoreClient } from './restore-client.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const stamp = Date.now().toString(36);
const ns = `rsu-${stamp}`;
const target = `rsu-target-${stamp}`;
const CLASS = `unserved-${stamp}`;
const CLASS_WFFC = `unserved-wffc-${stamp}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const restoreClient = new RestoreClient(clients);
const contents: string[] = [];

/** A ready (or pending) pre-provisioned backup snapshot of the unserved driver (1 GiB restoreSize). */
async function provisioned(set: string, role: 'data' | 'wal', mode: ConsistencyMode, ready = true): Promise<void> {
  contents.push(await provisionBackupSnapshot(clients, { namespace: ns, set, role, mode, ready }));
}

/** Plays the sidecar for a content a restore is about to create (there is none for this driver). */
async function sidecarFor(contentName: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const exists = await clients.volumeSnapshotContents.get(contentName).then(
      () => true,
      () => false,
    );
    if (exists) return await writeContentReady(clients, contentName);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the restore never created ${contentName}`);
}

/** PVCs (not being deleted), VolumeSnapshots of a namespace and the contents bound to it. */
async function objects(namespace: string): Promise<string[]> {
  const pvcs = (await clients.core.listNamespacedPersistentVolumeClaim({ namespace })).items
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((p) => `pvc/${p.metadata!.name}`);
  const vs = (await clients.volumeSnapshots.listAll({ namespace })).filter((s) => !s.metadata.deletionTimestamp).map((s) => `vs/${s.metadata.name}`);
  const vsc = (await clients.volumeSnapshotContents.listAll())
    .filter((c) => c.spec.volumeSnapshotRef.namespace === namespace && !c.metadata.deletionTimestamp)
    .map((c) => `vsc/${c.metadata.name}`);
  return [...pvcs, ...vs, ...vsc].sort();
}

/** Deletions finish asynchronously (finalizers): polls until `namespace` holds `expected`. */
async function settlesTo(namespace: string, expected: string[]): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  let now = await objects(namespace);
  while (JSON.stringify(now) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    now = await objects(namespace);
  }
  return now;
}

beforeAll(async () => {
  for (const name of [ns, target]) await clients.core.createNamespace({ body: { metadata: { name } } });
  await clients.storage.createStorageClass({ body: { metadata: { name: CLASS }, provisioner: DRIVER, volumeBindingMode: 'Immediate' } });
  await clients.storage.createStorageClass({ body: { metadata: { name: CLASS_WFFC }, provisioner: DRIVER, volumeBindingMode: 'WaitForFirstConsumer' } });
  await provisioned('alpha', 'data', 'fenced');
  await provisioned('beta', 'data', 'online');
  await provisioned('beta', 'wal', 'online');
  await provisioned('pending', 'data', 'fenced', false);
  await watchUntil<VolumeSnapshot>(clients, {
    path: clients.volumeSnapshots.path({ namespace: ns }),
    labelSelector: `${DBAAS_LABELS.managedBy}=kubectl-dbaas`,
    predicate: (_o, e) => [...e.objects.values()].filter((o) => o.status?.readyToUse === true).length === 3,
    deadline: Date.now() + 60_000,
    what: 'to be ready',
  });
});

afterAll(async () => {
  for (const name of [ns, target]) await clients.core.deleteNamespace({ name }).catch(() => undefined);
  for (const name of [CLASS, CLASS_WFFC]) await clients.storage.deleteStorageClass({ name }).catch(() => undefined);
  for (const name of contents) await clients.volumeSnapshotContents.delete(name).catch(() => undefined);
});

describe('RestoreClient without a CSI driver: checks, dry run, clean-up', () => {
  it('refuses before creating anything: size, storage class, existing PVC, unknown or pending backup', async () => {
    const before = await objects(ns);
    const small = await dbaasRejection(restoreClient.restore({ backup: 'alpha', namespace: ns, pvcName: 'r1', storageClass: CLASS, size: '512Mi' }));
    expect(small.code).toBe('RESTORE_SIZE_TOO_SMALL');
    expect(small.message).toContain('below the restoreSize 1Gi');
    const wrong = await dbaasRejection(restoreClient.restore({ backup: 'alpha', namespace: ns, pvcName: 'r1', storageClass: 'csi-hostpath-sc' }));
    expect(wrong.code).toBe('STORAGE_CLASS_MISMATCH');
    expect(wrong.option).toBe('storageClass');
    expect(wrong.fix).toContain(CLASS);
    await clients.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: 'taken' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'none', resources: { requests: { storage: '1Gi' } } } },
    });
    const taken = await clients.core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: 'taken' });
    const exists = await dbaasRejection(restoreClient.restore({ backup: 'alpha', namespace: ns, pvcName: 'taken', storageClass: CLASS }));
    expect(exists.code).toBe('RESTORE_TARGET_EXISTS');
    expect(exists.option).toBe('pvcName');
    expect((await clients.core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: 'taken' })).metadata?.resourceVersion).toBe(
      taken.metadata?.resourceVersion,
    );
    const unknown = await dbaasRejection(restoreClient.restore({ backup: 'nope', namespace: ns, pvcName: 'r1' }));
    expect(unknown.code).toBe('KUBE_NOT_FOUND');
    const pending = await dbaasRejection(restoreClient.restore({ backup: 'pending', namespace: ns, pvcName: 'r1' }));
    expect(pending.code).toBe('BACKUP_NOT_READY');
    expect(pending.option).toBe('backup');
    expect(pending.fix).toMatch(/Wait until it is readyToUse/);
    // Two classes of the driver, neither the source's nor the default: the restore asks which one
    // (the cluster's choice, not the caller's input being wrong: refused, with the option to set).
    const ambiguous = await dbaasRejection(restoreClient.restore({ backup: 'alpha', namespace: ns, pvcName: 'r1' }));
    expect(ambiguous.code).toBe('STORAGE_CLASS_MISMATCH');
    expect(ambiguous.kind).toBe('refused');
    expect(ambiguous.option).toBe('storageClass');
    expect(ambiguous.fix).toContain(`${CLASS}, ${CLASS_WFFC}`);
    expect(ambiguous.fix).not.toMatch(/--/);
    expect(await objects(ns)).toEqual([...before, 'pvc/taken'].sort());
  });

  it('planRestore of an online set into another namespace: temporary sources, data and WAL PVCs, restore-prep Job; nothing created', async () => {
    const plan = await planRestore(clients, { backup: 'beta', backupNamespace: ns, namespace: target, pvcName: 'pg', storageClass: CLASS });
    expect(plan).toMatchObject({
      set: 'beta',
      mode: 'online',
      restoreType: 'cross-namespace',
      storageClassName: CLASS,
      restoreSize: '1Gi',
      walFiles: ['000000010000000000000003'],
    });
    expect(plan.manifests.map((m) => `${m.kind}/${m.metadata?.name}`)).toEqual([
      `VolumeSnapshotContent/dbaas-${target}-pg-dbaas-src`,
      'VolumeSnapshot/pg-dbaas-src',
      `VolumeSnapshotContent/dbaas-${target}-pg-dbaas-wal-dbaas-src`,
      'VolumeSnapshot/pg-dbaas-wal-dbaas-src',
      'PersistentVolumeClaim/pg',
      'PersistentVolumeClaim/pg-dbaas-wal',
      'Job/pg-prep',
    ]);
    const content = plan.sources.data.pair!.content;
    expect(content.spec).toMatchObject({ deletionPolicy: 'Retain', driver: DRIVER, source: { snapshotHandle: 'handle-beta' } });
    expect(plan.pvcs.data.metadata?.labels).toMatchObject({ [DBAAS_LABELS.restoredFrom]: 'beta', [DBAAS_LABELS.restoreType]: 'cross-namespace' });
    expect(plan.prepJob?.spec?.template.spec?.containers[0]?.image).toBe('postgres:17');
    expect(await objects(target)).toEqual([]);
  });

  it('planVerify: the scratch restore planned as a restore is, the checks decided; refusals before anything is created', async () => {
    const runtime = podVerifyRuntime();
    const plan = await restoreClient.planVerify({
      namespace: target,
      backup: 'beta',
      backupNamespace: ns,
      runtime,
      restore: { storageClass: CLASS },
      checks: [{ name: 'rows', sql: 'select true' }],
    });
    expect(plan).toMatchObject({
      namespace: target,
      scratch: true,
      backup: { namespace: ns, name: 'beta', mode: 'online' },
      amcheck: 'install',
      live: 'if-offline-safe',
      runtime: runtime.description,
    });
    expect(plan.pvc).toMatch(/^verify-beta-[0-9a-f]{6}$/);
    expect(plan.checks.map((c) => c.name)).toEqual(['rows']);
    expect(plan.creates.map((o) => `${o.kind}/${o.name}`)).toEqual([
      ...plan.restore!.manifests.map((m) => `${m.kind}/${m.metadata?.name}`),
      `Pod/${plan.pvc}-inspect`,
      `Pod/${plan.pvc}-verify-pg`,
    ]);
    expect(plan.creates.map((o) => o.kind)).toEqual([
      'VolumeSnapshotContent',
      'VolumeSnapshot',
      'VolumeSnapshotContent',
      'VolumeSnapshot',
      'PersistentVolumeClaim',
      'PersistentVolumeClaim',
      'Job',
      'Pod',
      'Pod',
    ]);
    expect(plan.restore!.pvcName).toBe(plan.pvc);
    // A scratch restore from another namespace that would wait for its first pod (its temporary
    // VolumeSnapshot must outlive the binding) needs the node up front: refused before it is made.
    const waits = await dbaasRejection(
      restoreClient.planVerify({ namespace: target, backup: 'alpha', backupNamespace: ns, runtime, restore: { storageClass: CLASS_WFFC } }),
    );
    expect(waits).toMatchObject({ code: 'TARGET_UNSUPPORTED', kind: 'refused', option: 'restore.consumerNode' });
    expect(waits.message).toContain('from another namespace');
    // In the backup's own namespace verify's first pod is the consumer: planned, nothing refused.
    const sameNamespace = await restoreClient.planVerify({ namespace: ns, backup: 'alpha', runtime, restore: { storageClass: CLASS_WFFC } });
    expect(sameNamespace.restore?.endsWaitingForConsumer).toBe(true);
    expect(`${waits.message} ${waits.fix}`).not.toMatch(/--/);
    const both = await dbaasRejection(restoreClient.planVerify({ namespace: target, backup: 'alpha', pvc: 'x', runtime }));
    expect(both).toMatchObject({ code: 'INVALID_ARGUMENT', kind: 'usage' });
    expect(both.fix).not.toMatch(/--/);
    expect(await objects(target)).toEqual([]);
  });

  it('a volume that never binds: the deadline error names the PVC, and the temporary sources and PVCs are all removed', async () => {
    const events: RestoreProgress[] = [];
    const sidecar = sidecarFor(`dbaas-${target}-never-dbaas-src`);
    const e = await dbaasRejection(
      restoreClient.restore({
        backup: 'alpha',
        backupNamespace: ns,
        namespace: target,
        pvcName: 'never',
        storageClass: CLASS,
        deadlineMs: 8000,
        onProgress: (p) => events.push(p),
      }),
    );
    expect(e.code).toBe('KUBE_TIMEOUT');
    expect(e.message).toMatch(/"never".*to be Bound/);
    await sidecar;
    expect(events.map((p) => p.phase)).toEqual(['resolved', 'source-created', 'pvc-created', 'cleanup']);
    // What the CLI reads: typed fields, not the messages.
    expect(events[0]!.restoreType).toBe('cross-namespace');
    expect(events[1]!.objects).toEqual([
      { kind: 'VolumeSnapshotContent', name: `dbaas-${target}-never-dbaas-src` },
      { kind: 'VolumeSnapshot', name: 'never-dbaas-src', namespace: target },
    ]);
    expect(events[2]!.objects).toEqual([{ kind: 'PersistentVolumeClaim', name: 'never', namespace: target }]);
    expect(events[3]!.failure).toBe(e.message);
    expect(await settlesTo(target, [])).toEqual([]);
    // The backup itself is untouched.
    expect((await clients.volumeSnapshots.get('alpha', ns)).status?.readyToUse).toBe(true);
  });

  it('an abort right after the PVCs are created removes everything, also for an online set', async () => {
    const before = await objects(ns);
    const controller = new AbortController();
    const e = await dbaasRejection(
      restoreClient.restore({
        backup: 'beta',
        namespace: ns,
        pvcName: 'aborted',
        storageClass: CLASS,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'pvc-created') controller.abort(new Error('test abort'));
        },
      }),
    );
    expect(e.code).toBe('KUBE_ABORTED');
    expect(await settlesTo(ns, before)).toEqual(before);
  });

  it('WaitForFirstConsumer without a consumer: returns at once with the state and the temporary objects to delete after binding', async () => {
    const sidecar = sidecarFor(`dbaas-${target}-later-dbaas-src`);
    const r = await restoreClient.restore({
      backup: 'alpha',
      backupNamespace: ns,
      namespace: target,
      pvcName: 'later',
      storageClass: CLASS_WFFC,
      deadlineMs: 30_000,
    });
    await sidecar;
    expect(r.state).toBe('waiting-for-first-consumer');
    expect(r.pvc.status?.phase).toBe('Pending');
    expect(r.timings.totalMs).toBeLessThan(20_000);
    expect(r.remaining).toHaveLength(2);
    expect(r.remaining.join('\n')).toMatch(
      /VolumeSnapshotContent dbaas-.*-later-dbaas-src: the source of the pending PVC; delete it after the PVC is Bound \(kubectl delete volumesnapshotcontent/,
    );
    expect(await objects(target)).toEqual(['pvc/later', 'vs/later-dbaas-src', `vsc/dbaas-${target}-later-dbaas-src`]);
  });
});
