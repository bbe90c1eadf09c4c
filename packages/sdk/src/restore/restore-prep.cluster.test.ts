// jobRestorePrepExecutor on the shared cluster's node: the Job ManifestBuilder builds runs for real
// (job controller, kube-scheduler, kubelet, our PostgreSQL image as uid 999) on two hostpath PVCs.
// A Job that completes copies the WAL segment and writes backup_label; one whose script fails ends
// in RESTORE_PREP_FAILED with the script's message from the pod's log; one that never finishes ends
// at the deadline; the Job and its pods are deleted in every case.
// Needs the node and the hostpath plugin: skipped with the reason printed otherwise.
import { chown, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { V1Job } from '@kubernetes/client-node';
import {
  POSTGRES_IMAGE_UID,
  STORAGE_CLASS,
  TEST_IMAGES,
  clusterFromEnv,
  createBoundPvc,
  dbaasRejection,
  hostpathSkipReason,
  skipWhen,
} from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isDbaasError } from '../errors.js';
import { KubeClients } from '../kube/clients.js';
import { buildRestorePrepJob } from '../manifests/builders.js';
import { jobRestorePrepExecutor } from './restore-prep.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const why = hostpathSkipReason(info, 'restore-prep Job tests');
const ns = `prep-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const SEGMENT = '000000010000000000000004';
const LABEL = 'START WAL LOCATION: 0/4000028 (file 000000010000000000000004)\nCHECKPOINT LOCATION: 0/4000080\n';
const dirs: Record<string, string> = {};

function job(name: string, dataPvc: string, walPvc: string, extra: Partial<Parameters<typeof buildRestorePrepJob>[0]> = {}): V1Job {
  return buildRestorePrepJob({
    name,
    namespace: ns,
    image: TEST_IMAGES.postgres(17),
    imagePullPolicy: 'Never',
    dataPvc,
    walPvc,
    walFiles: [SEGMENT],
    backupLabel: LABEL,
    runAsUser: POSTGRES_IMAGE_UID,
    ...extra,
  });
}

async function gone(name: string): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const j = await clients.batch.readNamespacedJob({ name, namespace: ns }).catch((error: unknown) => {
      if (isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
      throw error;
    });
    const pods = (await clients.core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${name}` })).items;
    if (!j && pods.length === 0) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** A PVC whose hostpath directory is the PostgreSQL user's (as the image's entrypoint leaves PGDATA). */
async function volume(name: string): Promise<string> {
  const dir = await createBoundPvc(clients, info, {
    metadata: { name, namespace: ns },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '64Mi' } } },
  });
  await chown(dir, POSTGRES_IMAGE_UID, POSTGRES_IMAGE_UID);
  dirs[name] = dir;
  return dir;
}

beforeAll(async () => {
  if (why) return;
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  for (const name of ['data', 'wal', 'empty-data', 'empty-wal']) await volume(name);
  // A data directory and a WAL volume holding the segment, as restored snapshots would.
  await writeFile(path.join(dirs.data!, 'PG_VERSION'), '17\n');
  await writeFile(path.join(dirs.data!, 'postmaster.pid'), '1\n');
  await mkdir(path.join(dirs.wal!, 'pg_wal'));
  await writeFile(path.join(dirs.wal!, 'pg_wal', SEGMENT), Buffer.alloc(16 * 1024 * 1024, 7));
  for (const f of ['PG_VERSION', 'postmaster.pid']) await chown(path.join(dirs.data!, f), POSTGRES_IMAGE_UID, POSTGRES_IMAGE_UID);
}, 120_000);
afterAll(async () => {
  if (!why) await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('jobRestorePrepExecutor on the node', () => {
  const executor = jobRestorePrepExecutor();

  it('a completed Job: the segment copied, backup_label written, postmaster.pid removed; the Job and its pod are deleted', skipWhen(why), async () => {
    const started = Date.now();
    const { output } = await executor.run(clients, {
      namespace: ns,
      job: job('succeeds', 'data', 'wal'),
      dataPvc: 'data',
      walPvc: 'wal',
      deadline: Date.now() + 120_000,
    });
    const ms = Date.now() - started;
    expect(output).toBe('dbaas-restore-prep: copied 1 WAL segment(s), wrote backup_label in /dbaas/data');
    expect(await readFile(path.join(dirs.data!, 'backup_label'), 'utf8')).toBe(LABEL);
    expect((await readFile(path.join(dirs.data!, 'pg_wal', SEGMENT))).equals(Buffer.alloc(16 * 1024 * 1024, 7))).toBe(true);
    expect((await readdir(dirs.data!)).sort()).toEqual(['PG_VERSION', 'backup_label', 'pg_wal']);
    expect(await gone('succeeds')).toBe(true);
    console.log(`[restore-prep.cluster] restore-prep Job created -> Complete -> log read: ${ms} ms`);
  });

  it(
    "a Job whose script fails: RESTORE_PREP_FAILED with the script's message from the pod's log; the Job and its pods are deleted",
    skipWhen(why),
    async () => {
      const e = await dbaasRejection(
        executor.run(clients, {
          namespace: ns,
          job: job('fails', 'empty-data', 'empty-wal', { backoffLimit: 0 }),
          dataPvc: 'empty-data',
          walPvc: 'empty-wal',
          deadline: Date.now() + 120_000,
        }),
      );
      expect(e.code).toBe('RESTORE_PREP_FAILED');
      expect(e.message).toMatch(
        /restore-prep Job .*\/fails failed \(BackoffLimitExceeded: .*\): dbaas-restore-prep: no PG_VERSION in \/dbaas\/data or one level below: not a PostgreSQL data directory/,
      );
      expect(await gone('fails')).toBe(true);
    },
  );

  it('a Job that never finishes: deadline error naming the Job; the Job and its pod are deleted', skipWhen(why), async () => {
    const e = await dbaasRejection(
      executor.run(clients, {
        namespace: ns,
        job: job('never', 'empty-data', 'empty-wal', { command: ['/bin/sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] }),
        dataPvc: 'empty-data',
        walPvc: 'empty-wal',
        deadline: Date.now() + 8000,
      }),
    );
    expect(e.code).toBe('KUBE_TIMEOUT');
    expect(e.message).toContain('never');
    expect(await gone('never')).toBe(true);
  });

  it("a Job whose pod no node can take: POD_CANNOT_START in seconds with the scheduler's text; the Job and its pod are deleted", skipWhen(why), async () => {
    const started = Date.now();
    const e = await dbaasRejection(
      executor.run(clients, {
        namespace: ns,
        job: job('unschedulable', 'empty-data', 'empty-wal', { nodeSelector: { 'dbaas.io/no-such-node': 'true' } }),
        dataPvc: 'empty-data',
        walPvc: 'empty-wal',
        deadline: Date.now() + 120_000,
      }),
    );
    const ms = Date.now() - started;
    expect(e.code).toBe('POD_CANNOT_START');
    expect(e.message).toMatch(
      new RegExp(
        `^restore-prep Job ${ns}/unschedulable cannot start: its pod unschedulable-\\w+: FailedScheduling: 0/1 nodes are available: 1 node\\(s\\) didn't match Pod's node affinity/selector`,
      ),
    );
    expect(ms, 'the scheduling grace (5 s) and a poll, not the 120 s deadline').toBeLessThan(20_000);
    expect(await gone('unschedulable')).toBe(true);
    console.log(`[restore-prep.cluster] unschedulable restore-prep pod reported after ${ms} ms`);
  });

  it('a Job whose image is not on the node and may not be pulled (ErrImageNeverPull): POD_CANNOT_START at once, naming the image', skipWhen(why), async () => {
    const started = Date.now();
    const e = await dbaasRejection(
      executor.run(clients, {
        namespace: ns,
        job: job('no-image', 'empty-data', 'empty-wal', { image: 'dbaas.invalid/none:1' }),
        dataPvc: 'empty-data',
        walPvc: 'empty-wal',
        deadline: Date.now() + 120_000,
      }),
    );
    const ms = Date.now() - started;
    expect(e.code).toBe('POD_CANNOT_START');
    expect(e.message).toMatch(new RegExp(`^restore-prep Job ${ns}/no-image cannot start: its pod no-image-\\w+: ErrImageNeverPull: .*dbaas\\.invalid/none:1`));
    expect(e.fix).toMatch(/^Load dbaas\.invalid\/none:1 onto node \S+, or give an image the node has/);
    expect(ms, 'no grace for an image the node will never have').toBeLessThan(20_000);
    expect(await gone('no-image')).toBe(true);
    console.log(`[restore-prep.cluster] restore-prep pod without its image reported after ${ms} ms`);
  });
});
