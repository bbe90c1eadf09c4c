import type { CoreV1Api } from '@kubernetes/client-node';
import { PAUSE_IMAGE } from '../../node/images.js';
import { STORAGE_CLASS } from '../cluster.js';

/**
 * A pod (the pause image) with a fresh CSI volume mounted, Running: everything a node does for a
 * pod (sandbox, network namespace, veth, cgroups, the volume published, a projected token) at the
 * smallest cost. For tests of what a node leaves behind.
 *
 * @example
 * await runPodWithVolume(cluster.kubeConfig().makeApiClient(CoreV1Api), 'default', 'holder');
 */
export async function runPodWithVolume(core: CoreV1Api, namespace: string, name: string, timeoutMs = 120_000): Promise<void> {
  await core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: {
      metadata: { name },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '10Mi' } } },
    },
  });
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: name } }],
      },
    },
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = await core.readNamespacedPod({ name, namespace });
    if (pod.status?.phase === 'Running') return;
    if (Date.now() > deadline) throw new Error(`pod ${namespace}/${name} not Running after ${timeoutMs / 1000} s: ${JSON.stringify(pod.status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
