// The rule of when a pod's wait ends early (stuckReason): pure logic over a pod's status and events
// as the scheduler, the attach/detach controller and the kubelet write them. The same rule acting on
// real pods is in pod-diagnosis.cluster.test.ts.
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CAPACITY_GRACE_MS, MULTI_ATTACH_GRACE_MS, IMAGE_PULL_GRACE_MS, SCHEDULING_GRACE_MS, stuckReason } from './pod-diagnosis.js';

const NODE_SELECTOR_MESSAGE =
  "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";

function unscheduled(message: string): V1Pod {
  return {
    metadata: { name: 'p', namespace: 'db' },
    spec: { containers: [{ name: 'c', image: 'postgres:17' }] },
    status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }] },
  };
}

function onNode(waiting?: { reason: string; message?: string }): V1Pod {
  return {
    metadata: { name: 'p', namespace: 'db' },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'postgres:17' }] },
    status: {
      phase: 'Pending',
      containerStatuses: [{ name: 'c', image: 'postgres:17', imageID: '', ready: false, restartCount: 0, ...(waiting ? { state: { waiting } } : {}) }],
    },
  };
}

function event(reason: string, message: string, type = 'Warning'): CoreV1Event {
  return { metadata: {}, involvedObject: {}, reason, message, type };
}

describe('stuckReason: when waiting for a pod is pointless', () => {
  it('unschedulable for a reason that stays (a node selector no node has): stuck after the scheduling grace, with the text', () => {
    const stuck = stuckReason(unscheduled(NODE_SELECTOR_MESSAGE), [event('FailedScheduling', NODE_SELECTOR_MESSAGE)]);
    expect(stuck).toEqual({
      key: 'scheduling',
      event: `FailedScheduling: ${NODE_SELECTOR_MESSAGE}`,
      fix: expect.stringMatching(/^Give the scheduler a node that fits: .* kubectl -n db describe pod p shows the details\.$/),
      graceMs: SCHEDULING_GRACE_MS,
    });
  });

  it('unschedulable for a reason that resolves by itself (claims not bound or not known yet), or with a node on its way: not stuck', () => {
    for (const message of [
      '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
      '0/1 nodes are available: persistentvolumeclaim "pg-restored" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
      'running PreBind plugin "VolumeBinding": binding volumes: timed out waiting for the condition',
      "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 node(s) didn't match Pod's node affinity/selector.",
    ]) {
      expect(stuckReason(unscheduled(message), [event('FailedScheduling', message)]), message).toBeUndefined();
    }
    expect(
      stuckReason(unscheduled(NODE_SELECTOR_MESSAGE), [
        event('FailedScheduling', NODE_SELECTOR_MESSAGE),
        event('TriggeredScaleUp', 'pod triggered scale-up: [{pool-1 1->2 (max: 5)}]', 'Normal'),
      ]),
    ).toBeUndefined();
    const full = '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.';
    expect(stuckReason(unscheduled(full), [])?.graceMs, 'pods ending nearby free capacity: a longer grace').toBe(CAPACITY_GRACE_MS);
    const pending: V1Pod = { ...unscheduled(''), status: { phase: 'Pending' } };
    expect(stuckReason(pending, []), 'not yet looked at by a scheduler').toBeUndefined();
  });

  it('a Multi-Attach error (attach or mount): stuck after its longer grace; other attach and mount failures are retried: not stuck', () => {
    const multi = 'Multi-Attach error for volume "pvc-1" Volume is already used by pod(s) pg-0';
    for (const reason of ['FailedAttachVolume', 'FailedMount']) {
      expect(stuckReason(onNode({ reason: 'ContainerCreating' }), [event(reason, multi)])).toEqual({
        key: 'multi-attach',
        event: `${reason}: ${multi}`,
        fix: expect.stringMatching(/^A ReadWriteOnce volume attaches to one node at a time/),
        graceMs: MULTI_ATTACH_GRACE_MS,
      });
    }
    expect(
      stuckReason(onNode({ reason: 'ContainerCreating' }), [event('FailedMount', 'MountVolume.SetUp failed for volume "data": rpc error: code = Unavailable')]),
    ).toBeUndefined();
  });

  it('an image the node will never have (ErrImageNeverPull, InvalidImageName): stuck at once; a pod starting normally: not stuck', () => {
    expect(stuckReason(onNode({ reason: 'ErrImageNeverPull', message: 'Container image "postgres:17" is not present with pull policy of Never' }), [])).toEqual(
      {
        key: 'image',
        event: 'ErrImageNeverPull: Container image "postgres:17" is not present with pull policy of Never',
        fix: "Load postgres:17 onto node n1, or give an image the node has (a restore's prep.image, verify's image).",
        graceMs: 0,
      },
    );
    expect(stuckReason(onNode({ reason: 'ContainerCreating' }), [event('Pulled', 'already present', 'Normal')])).toBeUndefined();
    // As the kubelet said it here (no registry reachable): stuck after a grace; a timeout is retried.
    const refused =
      'failed to pull and unpack image "docker.io/library/postgres:15": failed to resolve reference "docker.io/library/postgres:15": failed to do request: Head "https://registry-1.docker.io/v2/library/postgres/manifests/15": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host';
    for (const reason of ['ErrImagePull', 'ImagePullBackOff']) {
      expect(stuckReason(onNode({ reason, message: refused }), [])).toMatchObject({ key: 'image-pull', graceMs: IMAGE_PULL_GRACE_MS });
    }
    expect(stuckReason(onNode({ reason: 'ErrImagePull', message: 'failed to do request: context deadline exceeded' }), [])).toBeUndefined();
    expect(stuckReason(onNode(), [])).toBeUndefined();
  });
});
