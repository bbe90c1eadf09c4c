// Why a Job's or a pod's work never started, from what the cluster says about it: the Job's pods
// (none: the Job's events), each pod's scheduling condition, its containers' waiting reasons and
// its Warning events, and whether the cluster has a node at all. Read when a wait for a Job or pod
// has timed out, so that the error says why and what to do instead of only "last seen: active 0".
// Best effort: what cannot be read (no permission for events or nodes) is left out.
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import type { KubeClients } from './clients.js';

/**
 * Why no pod did the work, and what to do.
 *
 * @example
 * ```ts
 * const why: PodDiagnosis = { reason: 'its pod x cannot be scheduled: 0/1 nodes are available: ...', fix: 'kubectl -n db describe pod x ...' };
 * ```
 */
export interface PodDiagnosis {
  reason: string;
  fix: string;
  details: Record<string, unknown>;
}

async function events(clients: KubeClients, namespace: string, kind: string, name: string): Promise<CoreV1Event[]> {
  try {
    const list = await clients.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` });
    const time = (e: CoreV1Event) => String(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? '');
    return [...list.items].sort((a, b) => time(a).localeCompare(time(b)));
  } catch {
    return [];
  }
}

/** The number of nodes, or undefined when they cannot be listed (no permission: cluster-scoped). */
async function nodeCount(clients: KubeClients): Promise<number | undefined> {
  try {
    return (await clients.core.listNode({ limit: 1 })).items.length;
  } catch {
    return undefined;
  }
}

const NO_NODE: Omit<PodDiagnosis, 'details'> = {
  reason: 'the cluster has no node to run it on',
  fix: 'kubectl get nodes lists none: add a node (a kubelet) to the cluster, then run the command again.',
};

function lastWarning(list: CoreV1Event[]): CoreV1Event | undefined {
  return [...list].reverse().find((e) => e.type === 'Warning');
}

/**
 * Why `pod` is not running, from its status and events.
 *
 * @example
 * ```ts
 * const why = await diagnosePod(clients, pod);
 * ```
 */
export async function diagnosePod(clients: KubeClients, pod: V1Pod): Promise<PodDiagnosis> {
  const namespace = pod.metadata?.namespace ?? clients.namespace;
  const name = pod.metadata?.name ?? '?';
  const describe = `kubectl -n ${namespace} describe pod ${name}`;
  const podEvents = await events(clients, namespace, 'Pod', name);
  const warning = lastWarning(podEvents);
  const details: Record<string, unknown> = {
    pod: name,
    phase: pod.status?.phase,
    ...(warning ? { lastWarning: `${warning.reason}: ${warning.message}` } : {}),
  };
  if (!pod.spec?.nodeName) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if ((await nodeCount(clients)) === 0) return { ...NO_NODE, reason: `its pod ${name} was never scheduled: ${NO_NODE.reason}`, details };
    if (scheduled?.status === 'False') {
      const message = scheduled.message ?? warning?.message ?? 'no reason given';
      return {
        reason: `its pod ${name} cannot be scheduled (${scheduled.reason ?? 'Unschedulable'}): ${message}`,
        fix: `Give the scheduler a node that fits: free or add capacity, or change what the message names (a taint, a node selector or affinity, a volume bound to another node's zone). ${describe} shows the details.`,
        details: { ...details, scheduler: message },
      };
    }
    return {
      reason: `its pod ${name} was never scheduled, and no scheduler said why`,
      fix: `Check that kube-scheduler is running (kubectl get pods -n kube-system, or the control plane's logs); ${describe} shows the pod's events.`,
      details,
    };
  }
  const node = pod.spec.nodeName;
  for (const container of pod.status?.containerStatuses ?? []) {
    const waiting = container.state?.waiting;
    if (!waiting?.reason) continue;
    const image = container.image || pod.spec.containers.find((c) => c.name === container.name)?.image || '?';
    if (waiting.reason === 'ErrImageNeverPull') {
      return {
        reason: `its pod ${name} cannot start: image ${image} is not present on node ${node} and its pull policy is Never (ErrImageNeverPull)`,
        fix: `Load ${image} onto node ${node}, or give an image the node has (a restore's prep.image, verify's image).`,
        details: { ...details, image, node, waiting: waiting.reason },
      };
    }
    if (/ErrImagePull|ImagePullBackOff|InvalidImageName/.test(waiting.reason)) {
      return {
        reason: `its pod ${name} cannot pull image ${image} on node ${node} (${waiting.reason})${waiting.message ? `: ${waiting.message}` : ''}`,
        fix: `Check the image name and that node ${node} can reach its registry (a mirror, imagePullSecrets), or give another image (a restore's prep.image, verify's image).`,
        details: { ...details, image, node, waiting: waiting.reason },
      };
    }
    if (waiting.reason !== 'ContainerCreating' && waiting.reason !== 'PodInitializing') {
      return {
        reason: `its pod ${name} on node ${node} is waiting: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`,
        fix: `${describe} shows the pod's events; kubectl -n ${namespace} logs ${name} its output, if it started.`,
        details: { ...details, node, waiting: waiting.reason },
      };
    }
  }
  if (warning) {
    const volumes = /FailedMount|FailedAttachVolume/.test(warning.reason ?? '');
    return {
      reason: `its pod ${name} on node ${node} is ${pod.status?.phase ?? 'not running'}: ${warning.reason}: ${warning.message ?? ''}`.trim(),
      fix: volumes
        ? `The volume cannot be attached or mounted on node ${node}: ${describe}, and the CSI driver's logs on that node.`
        : `${describe} shows the pod's events.`,
      details: { ...details, node },
    };
  }
  return {
    reason: `its pod ${name} on node ${node} is ${pod.status?.phase ?? 'not running'} and nothing says why`,
    fix: `${describe} shows the pod's events; check that the kubelet on ${node} is running (kubectl get node ${node}).`,
    details: { ...details, node },
  };
}

/**
 * Why the Job `name` has not done its work: no pod created (its events say why, or no controller
 * created one, or there is no node), else what {@link diagnosePod} says of its newest pod.
 *
 * @example
 * ```ts
 * const why = await diagnoseJob(clients, 'db', 'pg-restored-job-prep');
 * ```
 */
export async function diagnoseJob(clients: KubeClients, namespace: string, name: string): Promise<PodDiagnosis> {
  let pods: V1Pod[] = [];
  try {
    pods = (await clients.core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` })).items;
  } catch {
    // unreadable: as if none
  }
  const newest = [...pods].sort((a, b) => String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')))[0];
  if (newest) {
    const why = await diagnosePod(clients, newest);
    return { ...why, details: { ...why.details, job: name, pods: pods.length } };
  }
  const jobEvents = await events(clients, namespace, 'Job', name);
  const warning = lastWarning(jobEvents);
  if (warning) {
    return {
      reason: `no pod of Job ${name} ever ran: the Job could not create one (${warning.reason}): ${warning.message ?? ''}`.trim(),
      fix: `Fix what the message names (a ResourceQuota or LimitRange, Pod Security admission, a missing ServiceAccount); kubectl -n ${namespace} describe job ${name} shows the events.`,
      details: { job: name, pods: 0, lastWarning: `${warning.reason}: ${warning.message}` },
    };
  }
  if ((await nodeCount(clients)) === 0) {
    return { ...NO_NODE, reason: `no pod of Job ${name} ever ran: no pod was created, and ${NO_NODE.reason}`, details: { job: name, pods: 0, nodes: 0 } };
  }
  return {
    reason: `no pod of Job ${name} ever ran: none was created, and no event says why`,
    fix: `Check that the job controller (kube-controller-manager) is running; kubectl -n ${namespace} describe job ${name} shows the Job's events.`,
    details: { job: name, pods: 0 },
  };
}
