// KubeClients, error mapping and watchUntil against the real kube-apiserver (RBAC on) and
// snapshot-controller of the shared local cluster.
import { KubeConfig, RbacAuthorizationV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { clusterFromEnv, dbaasRejection } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isDbaasError, type DbaasError } from '../errors.js';
import { buildVolumeSnapshot } from '../manifests/builders.js';
import { KubeClients } from './clients.js';
import type { VolumeSnapshot } from './snapshot-types.js';
import { watchUntil } from './watch-until.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const ns = `kube-${Date.now().toString(36)}`;
const admin = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });

beforeAll(async () => {
  await admin.core.createNamespace({ body: { metadata: { name: ns } } });
});
afterAll(async () => {
  await admin.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('KubeClients on the real apiserver', () => {
  it('reads the namespace from the kubeconfig/options and maps a real 404 and 409', async () => {
    expect(admin.server).toBe(info.server);
    const missing = await dbaasRejection(admin.core.readNamespacedConfigMap({ name: 'nope', namespace: ns }));
    expect(missing.code).toBe('KUBE_NOT_FOUND');
    expect(missing.message).toBe(`configmaps "nope" in namespace "${ns}" not found`);
    await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'dup' } } });
    const dup = await dbaasRejection(admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'dup' } } }));
    expect(dup.code).toBe('KUBE_CONFLICT');
    expect(dup.message).toBe(`configmaps "dup" in namespace "${ns}" already exists: configmaps "dup" already exists`);
  });

  it('a VolumeSnapshot the CRD CEL rules refuse is KUBE_INVALID with the rule message', async () => {
    const bad = {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'both-sources', namespace: ns },
      spec: { source: { persistentVolumeClaimName: 'a', volumeSnapshotContentName: 'b' } },
    } as unknown as VolumeSnapshot;
    const e = await dbaasRejection(admin.volumeSnapshots.create(bad));
    expect(e.code).toBe('KUBE_INVALID');
    expect(e.message).toContain('exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set');
  });
});

describe('watchUntil on the real apiserver', () => {
  const path = () => `/api/v1/namespaces/${ns}/configmaps`;

  it('sees a change made after it started (list, then watch from the list resourceVersion)', async () => {
    await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'w1' }, data: { ready: 'no' } } });
    const types: string[] = [];
    const waiting = watchUntil<V1ConfigMap>(admin, {
      path: path(),
      name: 'w1',
      predicate: (cm) => cm?.data?.ready === 'yes',
      onEvent: (_cm, e) => types.push(e.type),
      deadline: Date.now() + 30_000,
    });
    await new Promise((r) => setTimeout(r, 700));
    await admin.core.patchNamespacedConfigMap({ name: 'w1', namespace: ns, body: [{ op: 'replace', path: '/data/ready', value: 'yes' }] });
    const result = await waiting;
    expect(result.object?.data?.ready).toBe('yes');
    expect(result.type).toBe('MODIFIED');
    expect(types).toEqual(['LISTED', 'MODIFIED']);
    expect(result.stats).toMatchObject({ lists: 1, watches: 1, reconnects: 0, relists: 0 });
  });

  it('waits for an object to appear and to disappear; a label selector matches only its objects', async () => {
    const appear = watchUntil<V1ConfigMap>(admin, { path: path(), name: 'later', predicate: (cm) => cm !== undefined, deadline: Date.now() + 30_000 });
    await new Promise((r) => setTimeout(r, 500));
    await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'later', labels: { set: 'a' } } } });
    expect((await appear).type).toBe('ADDED');
    const gone = watchUntil<V1ConfigMap>(admin, {
      path: path(),
      name: 'later',
      predicate: (_cm, e) => e.type === 'DELETED' || e.type === 'ABSENT',
      deadline: Date.now() + 30_000,
    });
    await new Promise((r) => setTimeout(r, 500));
    await admin.core.deleteNamespacedConfigMap({ name: 'later', namespace: ns });
    expect((await gone).type).toBe('DELETED');
    const two = watchUntil<V1ConfigMap>(admin, {
      path: path(),
      labelSelector: 'set=b',
      predicate: (_cm, e) => e.objects.size === 2,
      deadline: Date.now() + 30_000,
    });
    for (const name of ['b1', 'x1', 'b2']) {
      await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name, labels: { set: name === 'x1' ? 'x' : 'b' } } } });
    }
    const r = await two;
    expect(r.stats.lists).toBe(1);
    expect(r.object?.metadata?.name).toBe('b2');
    expect(r.type).toBe('ADDED');
  });

  it('times out with KUBE_TIMEOUT naming the last state (the snapshot-controller error of a snapshot of a missing PVC)', async () => {
    const vs = buildVolumeSnapshot({
      namespace: ns,
      pvc: 'no-such-pvc',
      snapshotClass: 'csi-hostpath-snapclass',
      metadata: { backupSet: 'never-cut', role: 'data', mode: 'fenced', requestedAt: new Date() },
    });
    await admin.volumeSnapshots.create(vs);
    const t0 = Date.now();
    const e = await dbaasRejection(
      watchUntil<VolumeSnapshot>(admin, {
        path: admin.volumeSnapshots.path(),
        name: 'never-cut',
        predicate: (s) => !!s?.status?.boundVolumeSnapshotContentName && !!s.status.creationTime,
        deadline: Date.now() + 8000,
        what: 'to be cut',
      }),
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(7900);
    expect(e.code).toBe('KUBE_TIMEOUT');
    expect(e.message).toMatch(
      new RegExp(`^timed out waiting for volumesnapshots "never-cut" in namespace "${ns}" to be cut; last seen: resourceVersion \\d+, `),
    );
    console.log(`[kube.cluster] timeout message: ${e.message}`);
    // what the real snapshot-controller v8.7.0 records for a snapshot of a PVC that does not exist
    // (it does not name the PVC)
    expect(e.message).toContain(
      '"error":{"message":"Failed to create snapshot content with error snapshot controller failed to update never-cut on API server: cannot get claim from snapshot"',
    );
    expect((e.details as { lastSeen: VolumeSnapshot }).lastSeen.status?.readyToUse).toBe(false);
  });

  it('resumes from the last resourceVersion when a watch ends (server-side timeout after 25 s), without a relist', async () => {
    await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'slow' }, data: { n: '0' } } });
    const waiting = watchUntil<V1ConfigMap>(admin, { path: path(), name: 'slow', predicate: (cm) => cm?.data?.n === '1', deadline: Date.now() + 60_000 });
    await new Promise((r) => setTimeout(r, 27_000));
    await admin.core.patchNamespacedConfigMap({ name: 'slow', namespace: ns, body: [{ op: 'replace', path: '/data/n', value: '1' }] });
    const r = await waiting;
    expect(r.type).toBe('MODIFIED');
    expect(r.stats).toMatchObject({ lists: 1, relists: 0, reconnects: 0 });
    expect(r.stats.watches).toBeGreaterThanOrEqual(2);
  }, 70_000);

  it('ends with KUBE_ABORTED on abort', async () => {
    const ac = new AbortController();
    const waiting = watchUntil(admin, { path: path(), name: 'w1', predicate: () => false, deadline: Date.now() + 30_000, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user pressed Ctrl-C')), 300);
    const e = await dbaasRejection(waiting);
    expect(e.code).toBe('KUBE_ABORTED');
  });
});

describe('RBAC: a ServiceAccount token without permissions', () => {
  let sa: KubeClients;

  beforeAll(async () => {
    await admin.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'backup' } } });
    const tr = await admin.core.createNamespacedServiceAccountToken({
      name: 'backup',
      namespace: ns,
      body: { spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 600 } },
    });
    const cluster = admin.kubeConfig.getCurrentCluster()!;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'local', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
      users: [{ name: 'backup', token: tr.status!.token }],
      contexts: [{ name: 'backup', cluster: 'local', user: 'backup', namespace: ns }],
      currentContext: 'backup',
    });
    sa = KubeClients.fromKubeConfig(kc);
  });

  it('gets KUBE_FORBIDDEN naming verb, resource, group and namespace, with a Role rule as the fix that really works', async () => {
    expect(sa.namespace).toBe(ns);
    const e = await dbaasRejection(sa.volumeSnapshots.list());
    expect(e.code).toBe('KUBE_FORBIDDEN');
    expect(e.message).toContain(
      `forbidden: system:serviceaccount:${ns}:backup cannot list volumesnapshots (API group "snapshot.storage.k8s.io") in namespace "${ns}"`,
    );
    expect(e.fix).toContain('- apiGroups: ["snapshot.storage.k8s.io"]');
    expect(e.fix).toContain('resources: ["volumesnapshots"]');
    expect(e.fix).toContain('verbs: ["list"]');
    expect(e.fix).toContain(`--serviceaccount=${ns}:backup`);
    console.log(`[kube.cluster] forbidden: ${e.message}\nfix:\n${e.fix}`);

    // typed core client, and cluster scope
    const core = await dbaasRejection(sa.core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace: ns }));
    expect(core.message).toContain('cannot get persistentvolumeclaims (the core API group)');
    const classes = await dbaasRejection(sa.volumeSnapshotClasses.list());
    expect(classes.message).toContain('cannot list volumesnapshotclasses (API group "snapshot.storage.k8s.io") at cluster scope');
    expect(classes.fix).toContain('ClusterRole');

    // grant exactly the rule the fix shows (list): watchUntil then fails on the next verb, watch
    const rbac = admin.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'vs-list' }, rules: [{ apiGroups: ['snapshot.storage.k8s.io'], resources: ['volumesnapshots'], verbs: ['list'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'vs-list' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'vs-list' },
        subjects: [{ kind: 'ServiceAccount', name: 'backup', namespace: ns }],
      },
    });
    await expect
      .poll(
        async () =>
          await sa.volumeSnapshots.list().then(
            () => 'ok',
            (x: DbaasError) => x.code,
          ),
        { timeout: 10_000 },
      )
      .toBe('ok');
    const w = await dbaasRejection(watchUntil(sa, { path: sa.volumeSnapshots.path(), name: 'x', predicate: () => false, deadline: Date.now() + 10_000 }));
    expect(w.code).toBe('KUBE_FORBIDDEN');
    expect(w.message).toBe(`forbidden: cannot watch volumesnapshots (API group "snapshot.storage.k8s.io") in namespace "${ns}"`);
    expect(w.fix).toContain('verbs: ["watch"]');
    expect(isDbaasError(w, 'KUBE_FORBIDDEN')).toBe(true);
  });
});
