// Why a Job's or a pod's work never started, from what the cluster says about it: the Job's pods
// (none: the Job's events), each pod's scheduling condition, its containers' waiting reasons and
// its Warning events, and whether the cluster has a node at all. Read when a wait for a Job or pod
// has timed out, so that the error says why and what to do instead of only "last seen: active 0".
// Best effort: what cannot be read (no permission for events or nodes) is left out.
//
// While a pod is awaited, failFastWhenStuck polls it (or a Job's pods) and ends the wait at once
// when its state will not resolve by itself (stuckReason holds the rule), so that a pod that
// cannot be scheduled or attached fails in seconds with the event's text instead of at the
// deadline.
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { DbaasError } from '../errors.js';
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

/**
 * A pod state that will not resolve by itself, once it has lasted `graceMs`.
 *
 * @example
 * ```ts
 * const stuck: StuckPod = { key: 'scheduling', event: "FailedScheduling: 0/1 nodes are available: ...", fix: 'Give the scheduler a node that fits ...', graceMs: 5000 };
 * ```
 */
export interface StuckPod {
  /** What kind of state, so that its grace period restarts when the state changes. */
  key: 'scheduling' | 'multi-attach' | 'image' | 'image-pull' | 'admission';
  /** The event's (or condition's) reason and text, as the cluster wrote it. */
  event: string;
  fix: string;
  graceMs: number;
}

/**
 * How long an unschedulable pod is given before the wait ends: the scheduler retries at once when
 * something it was waiting for appears (a node, a released volume), so a few seconds cover a race
 * with a pod or node that is just being removed or added.
 *
 * @example
 * ```ts
 * setTimeout(check, SCHEDULING_GRACE_MS);
 * ```
 */
export const SCHEDULING_GRACE_MS = 5_000;

/**
 * How long a Multi-Attach error is given: it resolves by itself when the pod still holding the
 * volume on another node is already going away and the volume is detached, which takes seconds.
 *
 * @example
 * ```ts
 * setTimeout(check, MULTI_ATTACH_GRACE_MS);
 * ```
 */
export const MULTI_ATTACH_GRACE_MS = 20_000;

/**
 * How long a pod that does not fit for want of CPU, memory or pod slots is given: pods ending
 * nearby (verify's own inspect pod is deleted just before its scratch server is created) free them.
 *
 * @example
 * ```ts
 * setTimeout(check, CAPACITY_GRACE_MS);
 * ```
 */
export const CAPACITY_GRACE_MS = 20_000;

/**
 * How long a pull that the registry (or the name lookup) refuses outright must last before the
 * wait gives up: long enough for a DNS or registry blip, short of a restore's whole deadline.
 *
 * @example
 * ```ts
 * setTimeout(check, IMAGE_PULL_GRACE_MS);
 * ```
 */
export const IMAGE_PULL_GRACE_MS = 30_000;
/** Pull errors that retrying does not change: no such image, tag or registry host, no access. */
const REFUSED_PULL = /not found|manifest unknown|no such host|unauthorized|denied|forbidden|\b40[134]\b/i;

/**
 * Scheduler messages that resolve by themselves: a claim not bound yet (the provisioner is
 * working), a claim not yet in the scheduler's cache, volume binding in progress, a node that is
 * not ready or unreachable for now (the node controller clears those taints when it recovers).
 * One such reason anywhere in the message (for any node) is enough to wait.
 */
const TRANSIENT_SCHEDULING =
  /unbound immediate PersistentVolumeClaims|persistentvolumeclaim "[^"]*" not found|binding volumes|VolumeBinding|waiting for|node\.kubernetes\.io\/(not-ready|unreachable|network-unavailable)/i;
const CAPACITY = /Insufficient (cpu|memory|ephemeral-storage)|Too many pods/i;

/**
 * Whether `pod` is stuck in a state that will not resolve by itself, from its status and events
 * (oldest first). The rule:
 * - not scheduled, `PodScheduled` False with reason `Unschedulable`: stuck ({@link SCHEDULING_GRACE_MS};
 *   {@link CAPACITY_GRACE_MS} when CPU, memory or pod slots are short), unless the message says a
 *   claim is not bound or not known yet, volumes are being bound or a node is not ready or
 *   unreachable (those resolve), or a cluster autoscaler announced a node for it
 *   (`TriggeredScaleUp`): then the wait goes on to its deadline;
 * - a `FailedAttachVolume` or `FailedMount` event with a Multi-Attach error (a ReadWriteOnce volume
 *   in use on another node): stuck ({@link MULTI_ATTACH_GRACE_MS}); other attach and mount
 *   failures are retried by the kubelet and wait to the deadline;
 * - a container waiting with `ErrImageNeverPull` or `InvalidImageName`: stuck at once (nothing
 *   retries them into success); with `ErrImagePull` or `ImagePullBackOff` because the registry or
 *   its name lookup refuses (not found, no such host, no access): stuck after
 *   {@link IMAGE_PULL_GRACE_MS}; other pull errors (timeouts, rate limits) wait to the deadline.
 *
 * @example
 * ```ts
 * const stuck = stuckReason(pod, await listEventsOfPod());
 * if (stuck) console.log(stuck.event);
 * ```
 */
export function stuckReason(pod: V1Pod, podEvents: CoreV1Event[]): StuckPod | undefined {
  const namespace = pod.metadata?.namespace ?? '?';
  const name = pod.metadata?.name ?? '?';
  const describe = `kubectl -n ${namespace} describe pod ${name}`;
  const text = (e: CoreV1Event | undefined) => (e ? `${e.reason}: ${e.message ?? ''}`.trim() : undefined);
  if (!pod.spec?.nodeName) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (scheduled?.status !== 'False' || scheduled.reason !== 'Unschedulable') return undefined;
    if (podEvents.some((e) => e.reason === 'TriggeredScaleUp')) return undefined;
    const lastEvent = [...podEvents].reverse().find((e) => e.reason === 'FailedScheduling');
    const message = scheduled.message ?? lastEvent?.message ?? '';
    if (TRANSIENT_SCHEDULING.test(message)) return undefined;
    return {
      key: 'scheduling',
      event: `FailedScheduling: ${message}`,
      fix: `Give the scheduler a node that fits: free or add capacity, or change what the message names (a taint, a node selector or affinity, a volume bound to another node's zone). ${describe} shows the details.`,
      graceMs: CAPACITY.test(message) ? CAPACITY_GRACE_MS : SCHEDULING_GRACE_MS,
    };
  }
  for (const container of pod.status?.containerStatuses ?? []) {
    const waiting = container.state?.waiting;
    if (waiting?.reason === 'ErrImageNeverPull' || waiting?.reason === 'InvalidImageName') {
      const image = container.image || pod.spec.containers.find((c) => c.name === container.name)?.image || '?';
      return {
        key: 'image',
        event: `${waiting.reason}: ${waiting.message ?? `image ${image}`}`,
        fix:
          waiting.reason === 'ErrImageNeverPull'
            ? `Load ${image} onto node ${pod.spec.nodeName}, or give an image the node has (a restore's prep.image, verify's image).`
            : `Give a valid image reference (a restore's prep.image, verify's image).`,
        graceMs: 0,
      };
    }
  }
  for (const container of pod.status?.containerStatuses ?? []) {
    const waiting = container.state?.waiting;
    if ((waiting?.reason === 'ErrImagePull' || waiting?.reason === 'ImagePullBackOff') && REFUSED_PULL.test(waiting.message ?? '')) {
      return {
        key: 'image-pull',
        event: `${waiting.reason}: ${waiting.message}`,
        fix: `Check the image name and that node ${pod.spec.nodeName} can reach its registry (a mirror, imagePullSecrets), or give an image the node has (a restore's prep.image, verify's image).`,
        graceMs: IMAGE_PULL_GRACE_MS,
      };
    }
  }
  const attach = [...podEvents]
    .reverse()
    .find((e) => e.type === 'Warning' && (e.reason === 'FailedAttachVolume' || e.reason === 'FailedMount') && /Multi-Attach error/i.test(e.message ?? ''));
  if (attach) {
    return {
      key: 'multi-attach',
      event: text(attach)!,
      fix: `A ReadWriteOnce volume attaches to one node at a time, and another pod (the message names it) uses it on another node: stop that pod, or run this on its node. ${describe} shows the events.`,
      graceMs: MULTI_ATTACH_GRACE_MS,
    };
  }
  return undefined;
}

/**
 * What {@link failFastWhenStuck} watches: one pod, or the pods of a Job (and the Job's own
 * `FailedCreate` events: an admission webhook or Pod Security refusing its pods).
 *
 * @example
 * ```ts
 * const target: StuckWatchTarget = { namespace: 'db', job: 'pg-restored-prep', what: 'restore-prep Job db/pg-restored-prep' };
 * ```
 */
export interface StuckWatchTarget {
  namespace: string;
  pod?: string;
  job?: string;
  /** Names what is awaited, at the start of the error message. */
  what: string;
  signal?: AbortSignal | undefined;
  /** Polling period. Default 1000 ms. */
  intervalMs?: number;
}

async function podsOf(clients: KubeClients, target: StuckWatchTarget): Promise<V1Pod[]> {
  if (target.pod) return [await clients.core.readNamespacedPod({ namespace: target.namespace, name: target.pod })];
  return (await clients.core.listNamespacedPod({ namespace: target.namespace, labelSelector: `job-name=${target.job}` })).items;
}

/** A Job's pods refused at creation for a reason that retrying does not change (not a quota that is merely full). */
async function jobRefusal(clients: KubeClients, target: StuckWatchTarget): Promise<StuckPod | undefined> {
  if (!target.job) return undefined;
  const refused = [...(await events(clients, target.namespace, 'Job', target.job))]
    .reverse()
    .find((e) => e.reason === 'FailedCreate' && /forbidden/i.test(e.message ?? '') && !/exceeded quota/i.test(e.message ?? ''));
  if (!refused) return undefined;
  return {
    key: 'admission',
    event: `FailedCreate: ${refused.message ?? ''}`,
    fix: `Fix what the message names (a ResourceQuota or LimitRange, Pod Security admission, a missing ServiceAccount); kubectl -n ${target.namespace} describe job ${target.job} shows the events.`,
    graceMs: 0,
  };
}

/**
 * Runs `work` (a wait for a pod or a Job, given the signal to stop on) while polling the pod or
 * the Job's pods: when one of them is stuck ({@link stuckReason}) for its grace period, `work` is
 * aborted and this rejects with `POD_CANNOT_START`, whose message carries the event's text. What
 * cannot be read (no permission on events) is skipped; the wait then ends at its deadline as before.
 *
 * @throws DbaasError `POD_CANNOT_START`, or what `work` throws
 * @example
 * ```ts
 * const pod = await failFastWhenStuck(clients, { namespace: 'db', pod: 'x', what: 'pod db/x' }, (signal) => waitForPod(signal));
 * ```
 */
export async function failFastWhenStuck<T>(clients: KubeClients, target: StuckWatchTarget, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const outer = target.signal;
  const onOuterAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  let stuckError: DbaasError | undefined;
  let done = false;
  let wake: (() => void) | undefined;
  const firstSeen = new Map<string, number>();
  const poll = async () => {
    while (!done) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, target.intervalMs ?? 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (done) return;
      const found: { pod: string; stuck: StuckPod }[] = [];
      try {
        for (const pod of await podsOf(clients, target)) {
          const stuck = stuckReason(pod, await events(clients, target.namespace, 'Pod', pod.metadata?.name ?? ''));
          if (stuck) found.push({ pod: pod.metadata?.name ?? '?', stuck });
        }
        const refusal = await jobRefusal(clients, target);
        if (refusal) found.push({ pod: '', stuck: refusal });
      } catch {
        continue; // unreadable now (a pod not created yet, an API hiccup): look again
      }
      const now = Date.now();
      const keys = new Set(found.map((f) => `${f.pod}/${f.stuck.key}`));
      for (const k of firstSeen.keys()) if (!keys.has(k)) firstSeen.delete(k);
      for (const { pod, stuck } of found) {
        const k = `${pod}/${stuck.key}`;
        const since = firstSeen.get(k) ?? now;
        firstSeen.set(k, since);
        if (now - since < stuck.graceMs) continue;
        const whose = pod ? `its pod ${pod}` : 'its pods';
        stuckError = new DbaasError('POD_CANNOT_START', `${target.what} cannot start: ${whose}: ${stuck.event}`, {
          fix: stuck.fix,
          details: { pod, event: stuck.event, stuckForMs: now - since },
        });
        controller.abort(stuckError);
        return;
      }
    }
  };
  const polling = poll();
  try {
    return await work(controller.signal);
  } catch (error) {
    throw stuckError ?? error;
  } finally {
    done = true;
    wake?.();
    outer?.removeEventListener('abort', onOuterAbort);
    // Not awaited: a poll in flight against a slow API server must not hold up a finished wait;
    // it sees `done` when it returns (and never rejects: each look catches its errors).
    void polling;
  }
}
