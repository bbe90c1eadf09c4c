// Which engine a backup target runs, read from the cluster: the pod's (or, for a PVC, the pods
// mounting it, else the StatefulSet whose volumeClaimTemplates made it) container images,
// environment variable names and labels, and the PVC name, given to the pure detectEngine.
import type { V1PodSpec, V1StatefulSet } from '@kubernetes/client-node';
import { detectEngine, type EngineDetection } from '../engines/mysql/detect.js';
import { isDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import { dataPvcOfPod, type BackupTarget } from './discovery.js';

/**
 * The engine of a backup target, and where it was read (`workload`: `pod/NAME` or
 * `statefulset/NAME`, absent when only the PVC name was there to read).
 *
 * @example
 * ```ts
 * const d: TargetEngineDetection = { engine: 'mariadb', source: 'image', evidence: 'image mariadb:10.11', workload: 'pod/shop-0' };
 * ```
 */
export type TargetEngineDetection = EngineDetection & { workload?: string };

function specEvidence(spec: V1PodSpec | undefined): { images: string[]; envNames: string[] } {
  const containers = spec?.containers ?? [];
  return {
    images: containers.map((c) => c.image ?? '').filter((i) => i !== ''),
    envNames: containers.flatMap((c) => (c.env ?? []).map((e) => e.name)),
  };
}

/**
 * Detects the engine of a backup target from what the cluster shows of it (see `detectEngine`
 * for the rules): for a pod, its containers and labels; for a PVC, the pods mounting it, else the
 * StatefulSet whose volumeClaimTemplates made it (scaled to 0 still has its template), and the
 * PVC name. Reads only; a list it may not do (RBAC) leaves that evidence out.
 *
 * @throws DbaasError `KUBE_NOT_FOUND` for a pod target that does not exist.
 * @example
 * ```ts
 * const d = await detectTargetEngine(clients, { namespace: 'db', target: { pod: 'shop-0' } });
 * if (d.engine === undefined) console.log(`cannot tell: ${d.evidence}`);
 * ```
 */
export async function detectTargetEngine(clients: KubeClients, opts: { namespace: string; target: BackupTarget }): Promise<TargetEngineDetection> {
  const { namespace, target } = opts;
  if (target.pod !== undefined) {
    const pod = await clients.core.readNamespacedPod({ name: target.pod, namespace });
    let pvcName: string | undefined;
    try {
      pvcName = dataPvcOfPod(pod);
    } catch {
      pvcName = undefined; // the backup's discovery reports that; detection just has no PVC name
    }
    return {
      ...detectEngine({ ...specEvidence(pod.spec), labels: pod.metadata?.labels ?? {}, ...(pvcName ? { pvcName } : {}) }),
      workload: `pod/${target.pod}`,
    };
  }
  const pvcName = target.pvc!;
  const optional = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      if (isDbaasError(error, 'KUBE_FORBIDDEN')) return undefined;
      throw error;
    }
  };
  const pods = await optional(() => clients.core.listNamespacedPod({ namespace }));
  const pod = pods?.items.find((p) => (p.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === pvcName));
  if (pod) {
    return { ...detectEngine({ ...specEvidence(pod.spec), labels: pod.metadata?.labels ?? {}, pvcName }), workload: `pod/${pod.metadata?.name}` };
  }
  const sets = await optional(() => clients.apps.listNamespacedStatefulSet({ namespace }));
  const owner = sets?.items.find((s: V1StatefulSet) =>
    (s.spec?.volumeClaimTemplates ?? []).some((t) => {
      const prefix = `${t.metadata?.name}-${s.metadata?.name}-`;
      return pvcName.startsWith(prefix) && /^\d+$/.test(pvcName.slice(prefix.length));
    }),
  );
  if (owner) {
    const labels = { ...(owner.spec?.template.metadata?.labels ?? {}), ...(owner.metadata?.labels ?? {}) };
    return { ...detectEngine({ ...specEvidence(owner.spec?.template.spec), labels, pvcName }), workload: `statefulset/${owner.metadata?.name}` };
  }
  return detectEngine({ pvcName });
}
