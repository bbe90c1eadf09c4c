// diagnoseJob / diagnosePod against the real cluster: its kube-scheduler, kubelet and job
// controller put the pods in the states a user meets (unschedulable, image not on the node, no pod
// created under a quota), and the test checks what is read back and said.
import type { V1Pod } from '@kubernetes/client-node';
import { clusterFromEnv, pollUntil, skipWhen } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClients } from './clients.js';
import { diagnoseJob, diagnosePod } from './pod-diagnosis.js';

const info = clusterFromEnv(inject('dbaasCluster'));
const ns = `diag-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });

function pod(name: string, extra: Partial<V1Pod['spec']> = {}, labels: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name, namespace: ns, labels },
    spec: { containers: [{ name: 'prep', image: 'dbaas.invalid/none:1', imagePullPolicy: 'Never' }], ...extra },
  };
}

beforeAll(async () => {
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
});
afterAll(async () => {
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

/** Polls a diagnosis until it says what the real components did (they take a moment). */
async function eventually<T extends { reason: string }>(what: () => Promise<T>, pattern: RegExp, timeoutMs = 60_000): Promise<T> {
  let last: T | undefined;
  return await pollUntil(
    `a diagnosis matching ${pattern}`,
    timeoutMs,
    async () => {
      last = await what();
      return pattern.test(last.reason) ? last : undefined;
    },
    { describe: () => last?.reason },
  );
}

const why = info.nodeUnavailable ? `the test cluster has no node: ${info.nodeUnavailable}` : undefined;

describe('why a Job or pod never did its work', skipWhen(why), () => {
  it('a pod no scheduler looks at; a pod the scheduler marks Unschedulable, with its message', async () => {
    const unseen = await clients.core.createNamespacedPod({ namespace: ns, body: pod('unseen', { schedulerName: 'no-such-scheduler' }) });
    const never = await diagnosePod(clients, unseen);
    expect(never.reason).toBe('its pod unseen was never scheduled, and no scheduler said why');
    expect(never.fix).toMatch(/^Check that kube-scheduler is running/);

    await clients.core.createNamespacedPod({ namespace: ns, body: pod('waiting', { nodeSelector: { 'dbaas.io/no-such-node': 'true' } }) });
    const unschedulable = await eventually(
      async () => diagnosePod(clients, await clients.core.readNamespacedPod({ name: 'waiting', namespace: ns })),
      /cannot be scheduled/,
    );
    expect(unschedulable.reason).toMatch(
      /^its pod waiting cannot be scheduled \(Unschedulable\): 0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector/,
    );
    expect(unschedulable.fix).toMatch(/^Give the scheduler a node that fits: .* kubectl -n \S+ describe pod waiting shows the details\.$/);
  });

  it('a pod whose image is not on the node (ErrImageNeverPull): the image, the node and the fix', async () => {
    await clients.core.createNamespacedPod({ namespace: ns, body: pod('no-image') });
    const noImage = await eventually(
      async () => diagnosePod(clients, await clients.core.readNamespacedPod({ name: 'no-image', namespace: ns })),
      // The kubelet first records a Failed event, then the container's waiting reason: the latter is what it settles on.
      /cannot start: image/,
    );
    const nodeName = (await clients.core.readNamespacedPod({ name: 'no-image', namespace: ns })).spec?.nodeName;
    expect(nodeName, 'placed by the scheduler').toBeTruthy();
    expect(noImage.reason).toBe(
      `its pod no-image cannot start: image dbaas.invalid/none:1 is not present on node ${nodeName} and its pull policy is Never (ErrImageNeverPull)`,
    );
    expect(noImage.fix).toBe(`Load dbaas.invalid/none:1 onto node ${nodeName}, or give an image the node has (a restore's prep.image, verify's image).`);
  });

  it("a Job without pods: suspended, none created; under a quota, the job controller's FailedCreate; with a pod: the pod's reason", async () => {
    const job = (name: string, extra: Record<string, unknown> = {}) => ({
      metadata: { name, namespace: ns },
      spec: {
        backoffLimit: 0,
        ...extra,
        template: {
          spec: {
            restartPolicy: 'Never',
            schedulerName: 'no-such-scheduler',
            containers: [{ name: 'c', image: 'dbaas.invalid/none:1', imagePullPolicy: 'Never' }],
          },
        },
      },
    });
    await clients.batch.createNamespacedJob({ namespace: ns, body: job('quiet', { suspend: true }) });
    expect((await diagnoseJob(clients, ns, 'quiet')).reason).toBe('no pod of Job quiet ever ran: none was created, and no event says why');

    const quotaNs = `${ns}-quota`;
    await clients.core.createNamespace({ body: { metadata: { name: quotaNs } } });
    try {
      await clients.core.createNamespacedResourceQuota({ namespace: quotaNs, body: { metadata: { name: 'no-pods' }, spec: { hard: { pods: '0' } } } });
      await clients.batch.createNamespacedJob({ namespace: quotaNs, body: { ...job('capped'), metadata: { name: 'capped', namespace: quotaNs } } });
      const quota = await eventually(() => diagnoseJob(clients, quotaNs, 'capped'), /FailedCreate/);
      expect(quota.reason).toMatch(
        /^no pod of Job capped ever ran: the Job could not create one \(FailedCreate\): .*(exceeded quota|status unknown for quota): no-pods/,
      );
      expect(quota.fix).toMatch(/^Fix what the message names \(a ResourceQuota/);
    } finally {
      await clients.core.deleteNamespace({ name: quotaNs }).catch(() => undefined);
    }

    await clients.batch.createNamespacedJob({ namespace: ns, body: job('unplaced') });
    const unplaced = await eventually(() => diagnoseJob(clients, ns, 'unplaced'), /was never scheduled/);
    expect(unplaced.reason).toMatch(/^its pod unplaced-\w+ was never scheduled, and no scheduler said why$/);
  });
});
