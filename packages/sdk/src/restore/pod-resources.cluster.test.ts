// The pods and the Job the tool creates in a namespace whose ResourceQuota covers requests.cpu and
// limits.memory, as many real clusters' namespaces are: the API server rejects any pod that omits
// either. An online backup of PostgreSQL in a StatefulSet is restored there (its restore-prep Job
// must run) and the restored PVC verified (inspect pod, scratch PostgreSQL pod): both succeed
// because every container carries requests and limits. The quota is shown to bite first: a pod
// without limits is refused in that namespace.
// Needs the node and the hostpath plugin: skipped with the reason printed otherwise.
import { randomBytes } from 'node:crypto';
import {
  POSTGRES_IMAGE_UID,
  TEST_IMAGES,
  clusterFromEnv,
  dbaasRejection,
  deployPostgres,
  hostpathSkipReason,
  type PostgresPod,
  skipWhen,
} from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClients } from '../kube/clients.js';
import { runBackup } from '../snapshot/backup.js';
import { podVerifyRuntime } from './pod-runtime.js';
import { RestoreClient } from './restore-client.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const why = hostpathSkipReason(info, 'pod resources under a ResourceQuota');
const ns = `quota-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const runtime = podVerifyRuntime({ image: (m) => TEST_IMAGES.postgres(m as 17), runAsUser: POSTGRES_IMAGE_UID, imagePullPolicy: 'Never' });
const prep = { image: TEST_IMAGES.postgres(17), runAsUser: POSTGRES_IMAGE_UID, imagePullPolicy: 'Never' as const };
let source: PostgresPod | undefined;

beforeAll(async () => {
  if (why) return;
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  await clients.core.createNamespacedResourceQuota({
    namespace: ns,
    body: { metadata: { name: 'limits-required' }, spec: { hard: { 'requests.cpu': '8', 'limits.memory': '16Gi' } } },
  });
  // Admission enforces a quota once its controller has written the status.
  const deadline = Date.now() + 30_000;
  while (!(await clients.core.readNamespacedResourceQuota({ namespace: ns, name: 'limits-required' })).status?.hard) {
    if (Date.now() > deadline) throw new Error('the ResourceQuota controller never wrote the quota status');
    await new Promise((r) => setTimeout(r, 250));
  }
  source = await deployPostgres({ kubeConfig: clients.kubeConfig, namespace: ns, name: 'pg', major: 17 });
  await source.query('create table t (id bigint primary key)');
  await source.query('insert into t select generate_series(1, 1000)');
}, 300_000);

afterAll(async () => {
  await source?.close().catch(() => undefined);
  if (!why) await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('under a ResourceQuota that requires requests.cpu and limits.memory', skipWhen(why), () => {
  it('a pod without them is refused there (the quota bites)', async () => {
    const e = await dbaasRejection(
      clients.core.createNamespacedPod({
        namespace: ns,
        dryRun: 'All',
        body: { metadata: { name: 'bare' }, spec: { containers: [{ name: 'c', image: TEST_IMAGES.postgres(17) }] } },
      }),
    );
    expect(e.code).toBe('KUBE_FORBIDDEN');
    expect(e.message).toMatch(/must specify .*limits\.memory|must specify .*requests\.cpu/);
  });

  it('an online backup restores (its restore-prep Job runs) and the restored PVC verifies (inspect and scratch PostgreSQL pods)', async () => {
    const backup = await runBackup(clients, {
      namespace: ns,
      target: { pod: source!.podName },
      mode: 'online',
      name: 'online-1',
      database: source!.connectionConfig,
      deadlineMs: 240_000,
    });
    expect(backup.mode).toBe('online');
    const restoreClient = new RestoreClient(clients);
    const r = await restoreClient.restore({ backup: 'online-1', namespace: ns, pvcName: 'restored', prep });
    expect(r.state).toBe('ready');
    expect(r.prepOutput).toMatch(/copied \d+ WAL segment\(s\), wrote backup_label/);
    const v = await restoreClient.verify({ namespace: ns, pvc: 'restored', runtime, checks: [{ name: 'rows', sql: 'select count(*) = 1000 from t' }] });
    expect(v.failures).toEqual([]);
    expect(v.offline?.verdict).toBe('online-backup-complete');
    expect(v.live).toBeDefined();
  }, 600_000);
});
