// diagnoseJob / diagnosePod against the real kube-apiserver. This cluster runs no scheduler, no
// kubelet and no job controller, so the test writes the status and events they would write (as
// restore-prep.cluster.test.ts writes a Job's status) and checks what is read back and said.
import type { V1Pod } from '@kubernetes/client-node';
import { clusterFromEnv } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClients } from './clients.js';
import { diagnoseJob, diagnosePod } from './pod-diagnosis.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const ns = `diag-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });

function pod(name: string, extra: Partial<V1Pod['spec']> = {}, labels: Record<string, string> = {}): V1Pod {
  return { metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'prep', image: 'dbaas.invalid/none:1', imagePullPolicy: 'Never' }], ...extra } };
}

async function event(kind: string, name: string, reason: string, message: string): Promise<void> {
  const now = new Date();
  await clients.core.createNamespacedEvent({
    namespace: ns,
    body: { metadata: { name: `${name}.${reason.toLowerCase()}`, namespace: ns }, involvedObject: { kind, name, namespace: ns, apiVersion: kind === 'Job' ? 'batch/v1' : 'v1' }, reason, message, type: 'Warning', firstTimestamp: now, lastTimestamp: now, count: 1, source: { component: 'test' } },
  });
}

beforeAll(async () => {
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
});
afterAll(async () => {
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('why a Job or pod never did its work', () => {
  it('a pod no scheduler looked at; then one the scheduler marked Unschedulable, with its message', async () => {
    const created = await clients.core.createNamespacedPod({ namespace: ns, body: pod('waiting') });
    const unseen = await diagnosePod(clients, created);
    expect(unseen.reason).toBe('its pod waiting was never scheduled, and no scheduler said why');
    expect(unseen.fix).toMatch(/^Check that kube-scheduler is running/);

    const message = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
    const now = new Date();
    await clients.core.replaceNamespacedPodStatus({
      name: 'waiting',
      namespace: ns,
      body: { ...created, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: now }] } },
    });
    const why = await diagnosePod(clients, await clients.core.readNamespacedPod({ name: 'waiting', namespace: ns }));
    expect(why.reason).toBe(`its pod waiting cannot be scheduled (Unschedulable): ${message}`);
    expect(why.fix).toMatch(/^Give the scheduler a node that fits: .* kubectl -n \S+ describe pod waiting shows the details\.$/);
  });

  it('a pod on a node whose image is not there (ErrImageNeverPull): the image, the node and the fix', async () => {
    const [node] = (await clients.core.listNode()).items;
    expect(node?.metadata?.name, 'the test cluster registers one Node object').toBeDefined();
    const nodeName = node!.metadata!.name!;
    const created = await clients.core.createNamespacedPod({ namespace: ns, body: pod('no-image', { nodeName }) });
    await clients.core.replaceNamespacedPodStatus({
      name: 'no-image',
      namespace: ns,
      body: {
        ...created,
        status: {
          phase: 'Pending',
          containerStatuses: [{ name: 'prep', image: 'dbaas.invalid/none:1', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImageNeverPull', message: 'Container image "dbaas.invalid/none:1" is not present with pull policy of Never' } } }],
        },
      },
    });
    const why = await diagnosePod(clients, await clients.core.readNamespacedPod({ name: 'no-image', namespace: ns }));
    expect(why.reason).toBe(`its pod no-image cannot start: image dbaas.invalid/none:1 is not present on node ${nodeName} and its pull policy is Never (ErrImageNeverPull)`);
    expect(why.fix).toBe(`Load dbaas.invalid/none:1 onto node ${nodeName}, or give an image the node has (--prep-image / prep.image, --image for verify).`);
  });

  it('a Job without pods: its FailedCreate event, else that no controller made one; with a pod: the pod\'s reason', async () => {
    await clients.batch.createNamespacedJob({ namespace: ns, body: { metadata: { name: 'quiet', namespace: ns }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } } } });
    expect((await diagnoseJob(clients, ns, 'quiet')).reason).toBe('no pod of Job quiet ever ran: none was created, and no event says why');
    await event('Job', 'quiet', 'FailedCreate', 'Error creating: pods "quiet-abcde" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=10, limited: pods=10');
    const quota = await diagnoseJob(clients, ns, 'quiet');
    expect(quota.reason).toBe('no pod of Job quiet ever ran: the Job could not create one (FailedCreate): Error creating: pods "quiet-abcde" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=10, limited: pods=10');
    expect(quota.fix).toMatch(/^Fix what the message names \(a ResourceQuota/);
    await clients.core.createNamespacedPod({ namespace: ns, body: pod('quiet-xyz12', {}, { 'job-name': 'quiet' }) });
    expect((await diagnoseJob(clients, ns, 'quiet')).reason).toBe('its pod quiet-xyz12 was never scheduled, and no scheduler said why');
  });
});
