// Built-in fencing strategies for `fenced` backups: scale a StatefulSet to zero and back, or
// CloudNativePG's `cnpg.io/fencedInstances` annotation. Both go through the kube layer only and
// leave a record on the object so an interrupted run can be undone by running unfence() again.
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { DbaasError } from '../errors.js';
import { watchUntil } from '../kube/watch-until.js';
import type { FenceContext, FencingStrategy } from './engine.js';

/**
 * Annotation on a StatefulSet fenced by kubectl-dbaas: the replica count to restore. Present = a
 * fence is in place (possibly from an interrupted run); `unfence()` restores it and removes it.
 *
 * @example
 * ```ts
 * // kubectl annotate sts pg dbaas.io/fenced-replicas-  (after scaling back by hand)
 * ```
 */
export const FENCED_REPLICAS_ANNOTATION = 'dbaas.io/fenced-replicas';

/**
 * CloudNativePG's fencing annotation on a `postgresql.cnpg.io/v1` Cluster: a JSON list of fenced
 * instance (pod) names, or `["*"]`.
 *
 * @example
 * ```ts
 * cluster.metadata.annotations[CNPG_FENCED_INSTANCES_ANNOTATION]; // '["pg-1"]'
 * ```
 */
export const CNPG_FENCED_INSTANCES_ANNOTATION = 'cnpg.io/fencedInstances';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * Fencing by scaling a StatefulSet to zero replicas and back. `fence()` records the current
 * replicas in the `dbaas.io/fenced-replicas` annotation (kept when already there: an interrupted
 * run's fence is adopted, not recorded as 0), scales to 0 and waits until the StatefulSet reports
 * no pods; `unfence()` scales back to the recorded count and removes the annotation (a no-op when
 * it is absent). Pods are stopped by their `terminationGracePeriodSeconds` (PostgreSQL images
 * shut down cleanly on SIGTERM: a "smart"/"fast" shutdown).
 *
 * @example
 * ```ts
 * await runBackup(clients, { namespace: 'db', target: { pvc: 'data-pg-0' }, mode: 'fenced', fencing: statefulSetFencing('pg') });
 * ```
 */
export function statefulSetFencing(name: string, opts: { waitForReadyOnUnfence?: boolean } = {}): FencingStrategy {
  const read = (ctx: FenceContext): Promise<V1StatefulSet> => ctx.clients.apps.readNamespacedStatefulSet({ name, namespace: ctx.namespace });
  return {
    description: `StatefulSet ${name} scaled to 0 and back`,
    async fence(ctx) {
      const sts = await read(ctx);
      const recorded = sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION];
      const replicas = recorded ?? String(sts.spec?.replicas ?? 1);
      if (!/^\d+$/.test(replicas)) {
        throw new DbaasError('TARGET_UNSUPPORTED', `StatefulSet ${ctx.namespace}/${name} has ${FENCED_REPLICAS_ANNOTATION}: "${replicas}", not a replica count`, {
          details: { statefulSet: name, annotation: FENCED_REPLICAS_ANNOTATION, value: replicas },
          fix: `kubectl -n ${ctx.namespace} annotate statefulset ${name} ${FENCED_REPLICAS_ANNOTATION}-   (after checking spec.replicas)`,
        });
      }
      ctx.log?.(`fencing: StatefulSet ${name} ${recorded ? `already fenced (replicas ${recorded} recorded by an earlier run)` : `replicas ${replicas} -> 0`}`);
      await ctx.clients.apps.patchNamespacedStatefulSet(
        { name, namespace: ctx.namespace, body: { metadata: { annotations: { [FENCED_REPLICAS_ANNOTATION]: replicas } }, spec: { replicas: 0 } } },
        mergePatch,
      );
      await watchUntil<V1StatefulSet>(ctx.clients, {
        path: `/apis/apps/v1/namespaces/${encodeURIComponent(ctx.namespace)}/statefulsets`,
        name,
        what: 'to have no pods (scaled to 0 for the fenced backup)',
        predicate: (s) => !!s && (s.status?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0) && (s.status?.replicas ?? 0) === 0,
        deadline: ctx.deadline,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    },
    async unfence(ctx) {
      const sts = await read(ctx);
      const recorded = sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION];
      if (recorded === undefined) return;
      ctx.log?.(`unfencing: StatefulSet ${name} replicas 0 -> ${recorded}`);
      await ctx.clients.apps.patchNamespacedStatefulSet(
        { name, namespace: ctx.namespace, body: { metadata: { annotations: { [FENCED_REPLICAS_ANNOTATION]: null } }, spec: { replicas: Number(recorded) } } },
        mergePatch,
      );
      if (opts.waitForReadyOnUnfence) {
        await watchUntil<V1StatefulSet>(ctx.clients, {
          path: `/apis/apps/v1/namespaces/${encodeURIComponent(ctx.namespace)}/statefulsets`,
          name,
          what: `to have ${recorded} ready replica(s) again`,
          predicate: (s) => (s?.status?.readyReplicas ?? 0) >= Number(recorded),
          deadline: Math.max(ctx.deadline, Date.now() + 300_000),
        });
      }
    },
  };
}

/**
 * The fenced-instance list of a CNPG annotation value, with `instance` added or removed; `undefined`
 * when the list becomes empty (remove the annotation).
 *
 * @throws DbaasError `TARGET_UNSUPPORTED` when the annotation (read from the Cluster) is not a JSON list of strings.
 * @example
 * ```ts
 * cnpgFencedInstances('["pg-2"]', 'pg-1', true); // '["pg-2","pg-1"]'
 * cnpgFencedInstances('["pg-1"]', 'pg-1', false); // undefined
 * ```
 */
export function cnpgFencedInstances(current: string | undefined, instance: string, fenced: boolean): string | undefined {
  let list: string[] = [];
  if (current !== undefined && current !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(current);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || parsed.some((x) => typeof x !== 'string')) {
      throw new DbaasError('TARGET_UNSUPPORTED', `${CNPG_FENCED_INSTANCES_ANNOTATION} is ${JSON.stringify(current)}, not a JSON list of instance names`, {
        fix: `Set the Cluster's ${CNPG_FENCED_INSTANCES_ANNOTATION} annotation to a JSON list of instance names (or remove it) with kubectl annotate, then back up again.`,
        details: { annotation: CNPG_FENCED_INSTANCES_ANNOTATION, value: current },
      });
    }
    list = parsed as string[];
  }
  if (fenced) {
    if (!list.includes(instance) && !list.includes('*')) list.push(instance);
  } else {
    list = list.filter((x) => x !== instance);
  }
  return list.length ? JSON.stringify(list) : undefined;
}

/**
 * Fencing of one CloudNativePG instance through `cnpg.io/fencedInstances` on its Cluster: the
 * operator stops PostgreSQL in that pod (cleanly) and keeps the pod. `fence()` adds the instance
 * and waits until the pod is not Ready; `unfence()` removes it (the annotation is dropped when the
 * list becomes empty). An instance fenced by `["*"]` is left as it is.
 *
 * @example
 * ```ts
 * await runBackup(clients, { namespace: 'db', target: { pod: 'pg-1' }, mode: 'fenced', fencing: cnpgFencing('pg', 'pg-1') });
 * ```
 */
export function cnpgFencing(cluster: string, instance: string): FencingStrategy {
  const group = 'postgresql.cnpg.io';
  const version = 'v1';
  const plural = 'clusters';
  const readAnnotation = async (ctx: FenceContext): Promise<string | undefined> => {
    const obj = (await ctx.clients.custom.getNamespacedCustomObject({ group, version, plural, namespace: ctx.namespace, name: cluster })) as {
      metadata?: { annotations?: Record<string, string> };
    };
    return obj.metadata?.annotations?.[CNPG_FENCED_INSTANCES_ANNOTATION];
  };
  const write = async (ctx: FenceContext, value: string | undefined): Promise<void> => {
    await ctx.clients.custom.patchNamespacedCustomObject(
      { group, version, plural, namespace: ctx.namespace, name: cluster, body: { metadata: { annotations: { [CNPG_FENCED_INSTANCES_ANNOTATION]: value ?? null } } } },
      mergePatch,
    );
  };
  return {
    description: `CloudNativePG instance ${instance} of Cluster ${cluster} fenced (${CNPG_FENCED_INSTANCES_ANNOTATION})`,
    async fence(ctx) {
      const next = cnpgFencedInstances(await readAnnotation(ctx), instance, true);
      ctx.log?.(`fencing: ${CNPG_FENCED_INSTANCES_ANNOTATION}=${next} on Cluster ${cluster}`);
      await write(ctx, next);
      await watchUntil<V1Pod>(ctx.clients, {
        path: `/api/v1/namespaces/${encodeURIComponent(ctx.namespace)}/pods`,
        name: instance,
        what: 'to stop PostgreSQL (not Ready) after fencing',
        predicate: (pod) =>
          !pod || pod.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True',
        deadline: ctx.deadline,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    },
    async unfence(ctx) {
      const current = await readAnnotation(ctx);
      if (current === undefined) return;
      const next = cnpgFencedInstances(current, instance, false);
      if (next === current) return;
      ctx.log?.(`unfencing: ${CNPG_FENCED_INSTANCES_ANNOTATION}=${next ?? '(removed)'} on Cluster ${cluster}`);
      await write(ctx, next);
    },
  };
}
