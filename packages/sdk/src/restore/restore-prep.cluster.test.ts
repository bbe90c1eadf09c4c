// jobRestorePrepExecutor against the real kube-apiserver: the Job ManifestBuilder builds is accepted
// by server-side validation, a Job that never finishes ends in a deadline error, a failed or
// completed Job is read from its status, and the Job is deleted in every case. This cluster runs no
// job controller and no kubelet, so the test writes the Job status the job controller would write.
import type { V1Job } from '@kubernetes/client-node';
import { clusterFromEnv, dbaasRejection } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isDbaasError } from '../errors.js';
import { KubeClients } from '../kube/clients.js';
import { buildRestorePrepJob } from '../manifests/builders.js';
import { jobRestorePrepExecutor } from './restore-prep.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const ns = `prep-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });

function job(name: string): V1Job {
  return buildRestorePrepJob({
    name,
    namespace: ns,
    image: 'postgres:17',
    dataPvc: 'pg-restored',
    walPvc: 'pg-restored-dbaas-wal',
    walFiles: ['000000010000000000000004'],
    backupLabel: 'START WAL LOCATION: 0/4000028 (file 000000010000000000000004)\nCHECKPOINT LOCATION: 0/4000080\n',
    runAsUser: 999,
  });
}

async function jobGone(name: string): Promise<boolean> {
  try {
    const j = await clients.batch.readNamespacedJob({ name, namespace: ns });
    return j.metadata?.deletionTimestamp !== undefined;
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) return true;
    throw error;
  }
}

/** Writes the status the job controller would, once the executor has created the Job. */
async function finishJob(name: string, status: V1Job['status']): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const current = await clients.batch.readNamespacedJob({ name, namespace: ns }).catch(() => undefined);
    if (current) {
      await clients.batch.replaceNamespacedJobStatus({ name, namespace: ns, body: { ...current, status } });
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Job ${name} was never created`);
}

beforeAll(async () => {
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
});
afterAll(async () => {
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('jobRestorePrepExecutor on the real apiserver', () => {
  const executor = jobRestorePrepExecutor();

  it('a Job that never finishes: deadline error naming the Job, and the Job is deleted', async () => {
    const e = await dbaasRejection(executor.run(clients, { namespace: ns, job: job('never'), dataPvc: 'pg-restored', walPvc: 'pg-restored-dbaas-wal', deadline: Date.now() + 2000 }));
    expect(e.code).toBe('KUBE_TIMEOUT');
    expect(e.message).toContain('never');
    // Why: this cluster runs no job controller, so no pod was ever created; the fix says where to look.
    expect(e.message).toMatch(/last seen: active 0, failed 0; no pod of Job never ever ran: none was created, and no event says why$/);
    expect(e.fix).toMatch(/^Check that the job controller \(kube-controller-manager\) is running/);
    expect(await jobGone('never')).toBe(true);
  });

  it('a failed Job: RESTORE_PREP_FAILED with the reason, and the Job is deleted', async () => {
    const now = new Date();
    const run = executor.run(clients, { namespace: ns, job: job('fails'), dataPvc: 'pg-restored', walPvc: 'pg-restored-dbaas-wal', deadline: Date.now() + 30_000 });
    await finishJob('fails', {
      startTime: now,
      failed: 2,
      conditions: [
        { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: now, lastProbeTime: now },
        { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: now, lastProbeTime: now },
      ],
    });
    const e = await dbaasRejection(run);
    expect(e.code).toBe('RESTORE_PREP_FAILED');
    expect(e.message).toContain('BackoffLimitExceeded: Job has reached the specified backoff limit');
    expect(await jobGone('fails')).toBe(true);
  });

  it('a completed Job resolves, and the Job is deleted', async () => {
    const now = new Date();
    const run = executor.run(clients, { namespace: ns, job: job('succeeds'), dataPvc: 'pg-restored', walPvc: 'pg-restored-dbaas-wal', deadline: Date.now() + 30_000 });
    await finishJob('succeeds', {
      startTime: now,
      completionTime: now,
      succeeded: 1,
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: now, lastProbeTime: now },
        { type: 'Complete', status: 'True', lastTransitionTime: now, lastProbeTime: now },
      ],
    });
    await expect(run).resolves.toEqual({ output: '' });
    expect(await jobGone('succeeds')).toBe(true);
  });
});
