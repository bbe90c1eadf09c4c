// The verification pods against the real kube-apiserver: accepted by server-side validation (pod
// security fields, probes, volumes, requests and limits); a pod whose PVC does not exist (yet:
// kube-scheduler may place it once it does) waits to its deadline and ends in an error that says
// it was not scheduled; a pod no node can take (a node selector no node has) fails in seconds with
// the scheduler's text. The pods are deleted in every case. The pods running for real (inspect + exec tar, scratch PostgreSQL + port-forward) are
// in restore.cluster.test.ts, on restored PVCs of a StatefulSet's backups.
import { STORAGE_CLASS, clusterFromEnv, createBoundPvc, dbaasRejection, hostpathSkipReason, skipWhen } from '@kubectl-dbaas/testing';
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
    // Longer than the scheduling grace: a claim the scheduler does not know yet is not a reason to stop early.
    const started = Date.now();
    const e = await dbaasRejection(runtime.openVolume(clients, { namespace: ns, pvc: 'pg-restored', dataSubPath: undefined, deadline: Date.now() + 8000 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(7500);
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

  it(
    "a pod no node can take (a node selector no node has): POD_CANNOT_START in seconds with the scheduler's text and a fix; the pod is deleted",
    skipWhen(hostpathSkipReason(info, 'an unschedulable verification pod on a bound PVC')),
    async () => {
      await createBoundPvc(clients, info, {
        metadata: { name: 'bound', namespace: ns },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '16Mi' } } },
      });
      const runtime = podVerifyRuntime({ nodeSelector: { 'dbaas.io/no-such-node': 'true' } });
      const started = Date.now();
      const e = await dbaasRejection(runtime.openVolume(clients, { namespace: ns, pvc: 'bound', dataSubPath: undefined, deadline: Date.now() + 120_000 }));
      const ms = Date.now() - started;
      expect(e.code).toBe('POD_CANNOT_START');
      expect(e.kind).toBe('failed');
      expect(e.message).toMatch(
        new RegExp(
          `^verification pod ${ns}/bound-inspect cannot start: its pod bound-inspect: FailedScheduling: 0/1 nodes are available: 1 node\\(s\\) didn't match Pod's node affinity/selector`,
        ),
      );
      expect(e.fix).toMatch(/^Give the scheduler a node that fits: .*describe pod bound-inspect shows the details\.$/);
      expect(ms, 'the scheduling grace (5 s) and a poll, not the 120 s deadline').toBeLessThan(20_000);
      expect((await clients.core.listNamespacedPod({ namespace: ns })).items.filter((p) => !p.metadata?.deletionTimestamp)).toEqual([]);
      console.log(`[pod-runtime.cluster] unschedulable verification pod reported after ${ms} ms`);
    },
  );
});
