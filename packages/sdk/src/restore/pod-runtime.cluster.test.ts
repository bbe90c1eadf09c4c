// The verification pods against the real kube-apiserver: accepted by server-side validation (pod
// security fields, probes, volumes), and a pod that never runs (its PVC does not exist, so
// kube-scheduler cannot place it) ends in a deadline error that says it was not scheduled, with the
// pod deleted. The pods running for real (inspect + exec tar, scratch PostgreSQL + port-forward) are
// in restore.cluster.test.ts, on restored PVCs of a StatefulSet's backups.
import { clusterFromEnv, dbaasRejection } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClients } from '../kube/clients.js';
import { buildScratchPod, podVerifyRuntime } from './pod-runtime.js';
import { SCRATCH_SERVER_SETTINGS } from './verify.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const ns = `podrt-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });

beforeAll(async () => {
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
});
afterAll(async () => {
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('verification pods on the real apiserver', () => {
  it('both pods pass server-side validation', async () => {
    for (const role of ['inspect', 'server'] as const) {
      const body = buildScratchPod({
        role,
        name: `x-${role}`,
        namespace: ns,
        pvc: 'pg-restored',
        image: 'postgres:17',
        runAsUser: 999,
        fsGroup: 999,
        dataSubPath: 'pgdata',
        settings: { ...SCRATCH_SERVER_SETTINGS },
      });
      const created = await clients.core.createNamespacedPod({ namespace: ns, body, dryRun: 'All' });
      expect(created.spec?.containers[0]?.command).toEqual(body.spec?.containers[0]?.command);
    }
  });

  it('a pod that is never scheduled: deadline error naming why, and the pod is deleted', async () => {
    const runtime = podVerifyRuntime();
    const e = await dbaasRejection(runtime.openVolume(clients, { namespace: ns, pvc: 'pg-restored', dataSubPath: undefined, deadline: Date.now() + 2000 }));
    expect(e.code).toBe('KUBE_TIMEOUT');
    expect(e.message).toMatch(/pg-restored-inspect.*to be Running/);
    expect(e.message).toMatch(/not scheduled yet/);
    expect((await clients.core.listNamespacedPod({ namespace: ns })).items).toEqual([]);
    const s = await dbaasRejection(
      runtime.startPostgres(clients, {
        namespace: ns,
        pvc: 'pg-restored',
        dataSubPath: '',
        major: 17,
        settings: { ...SCRATCH_SERVER_SETTINGS },
        deadline: Date.now() + 2000,
      }),
    );
    expect(s.code).toBe('KUBE_TIMEOUT');
    expect(s.message).toMatch(/to be Ready \(PostgreSQL accepting connections\)/);
    expect((await clients.core.listNamespacedPod({ namespace: ns })).items).toEqual([]);
  });
});
