// Built-in fencing strategies for `fenced` backups: scale a StatefulSet to zero and back, or
// CloudNativePG's `cnpg.io/fencedInstances` annotation. Both go through the kube layer only and
// leave a record on the object so an interrupted run can be undone by running unfence() again.
import { CNPG_CLUSTERS } from '../kube/cnpg-cluster.js';
import { hostname } from 'node:os';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { DbaasError, isDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
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

/**
 * Annotation on a fenced object: who holds the fence and until when (JSON {@link FenceLease}). A run
 * refuses to take or lift a fence whose lease another backup holds and that has not expired; an
 * expired lease is a run that was killed, whose fence a new run adopts and `liftFence` lifts.
 *
 * @example
 * ```ts
 * // kubectl get sts pg -o jsonpath='{.metadata.annotations.dbaas\.io/fence-lease}'
 * ```
 */
export const FENCE_LEASE_ANNOTATION = 'dbaas.io/fence-lease';

/**
 * Annotation on a StatefulSet fenced with `retainClaims`: its `persistentVolumeClaimRetentionPolicy.whenScaled`
 * before the fence (`Delete`), restored by `unfence()`.
 *
 * @example
 * ```ts
 * sts.metadata.annotations[FENCED_WHEN_SCALED_ANNOTATION]; // 'Delete'
 * ```
 */
export const FENCED_WHEN_SCALED_ANNOTATION = 'dbaas.io/fenced-when-scaled';

/**
 * The lease a fence carries.
 *
 * @example
 * ```ts
 * const lease: FenceLease = { backup: 'db/nightly', process: 'laptop/4242', acquiredAt: '2026-12-05T02:00:00.000Z', expiresAt: '2026-12-05T02:15:00.000Z' };
 * ```
 */
export interface FenceLease {
  /** `<namespace>/<name>` of the backup set that fenced. */
  backup: string;
  /** `<host>/<pid>` of the process that fenced. */
  process: string;
  acquiredAt: string;
  expiresAt: string;
  /** CloudNativePG: the instance fenced. */
  instance?: string;
}

/**
 * The holder a backup writes into its fence lease: the backup set and this process.
 *
 * @example
 * ```ts
 * fenceHolder('db', 'nightly'); // { backup: 'db/nightly', process: 'laptop/4242' }
 * ```
 */
export function fenceHolder(namespace: string, backup: string): { backup: string; process: string } {
  return { backup: `${namespace}/${backup}`, process: `${hostname()}/${process.pid}` };
}

const UNKNOWN_HOLDER = 'unknown';

/** How long after the backup's deadline a lease still holds: the time its cleanup may take. */
const LEASE_GRACE_MS = 5 * 60_000;

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * Reads a lease annotation; undefined when absent or unreadable (then it protects nothing).
 *
 * @example
 * ```ts
 * parseFenceLease(sts.metadata?.annotations?.[FENCE_LEASE_ANNOTATION])?.expiresAt;
 * ```
 */
export function parseFenceLease(value: string | undefined): FenceLease | undefined {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<FenceLease>;
    if (typeof parsed.backup !== 'string' || typeof parsed.expiresAt !== 'string' || Number.isNaN(Date.parse(parsed.expiresAt))) return undefined;
    return {
      backup: parsed.backup,
      process: String(parsed.process ?? ''),
      acquiredAt: String(parsed.acquiredAt ?? ''),
      expiresAt: parsed.expiresAt,
      ...(parsed.instance ? { instance: parsed.instance } : {}),
    };
  } catch {
    return undefined;
  }
}

function newLease(ctx: FenceContext, instance?: string): string {
  const now = Date.now();
  const lease: FenceLease = {
    backup: ctx.holder?.backup ?? UNKNOWN_HOLDER,
    process: ctx.holder?.process ?? UNKNOWN_HOLDER,
    acquiredAt: new Date(now).toISOString(),
    expiresAt: new Date(Math.max(ctx.deadline, now) + LEASE_GRACE_MS).toISOString(),
    ...(instance ? { instance } : {}),
  };
  return JSON.stringify(lease);
}

/** A fenced object as messages name it: in words, as `kind/name`, and how to lift its fence by hand. */
interface FencedObjectNames {
  text: string;
  ref: string;
  lift: string;
}

/** A live lease of another backup in `annotations`: the refusal to fence (or lift) the object. */
function heldByAnother(annotations: Record<string, string>, ctx: FenceContext, object: FencedObjectNames): DbaasError | undefined {
  const lease = parseFenceLease(annotations[FENCE_LEASE_ANNOTATION]);
  // A caller without a holder is 'unknown' in its leases too: it adopts what an earlier anonymous run left, as before leases.
  if (!lease || Date.parse(lease.expiresAt) <= Date.now() || lease.backup === (ctx.holder?.backup ?? UNKNOWN_HOLDER)) return undefined;
  return new DbaasError('KUBE_CONFLICT', `${object.text} is fenced by backup ${lease.backup} (process ${lease.process}) until ${lease.expiresAt}`, {
    fix: `Wait for that backup to end. If its process is gone, lift its fence (${object.lift}) and run again.`,
    details: { lease, fenceHeld: object.ref },
  });
}

/**
 * Fencing by scaling a StatefulSet to zero replicas and back. `fence()` records the current
 * replicas in the `dbaas.io/fenced-replicas` annotation (kept when already there: an interrupted
 * run's fence is adopted, not recorded as 0) and a {@link FenceLease}, scales to 0 in the same
 * patch (conditional on the object being unchanged since it was read) and waits until the
 * StatefulSet reports no pods; `check()` says when the fence no longer holds (scaled back, pods
 * again, its spec changed); `unfence()` scales back to the recorded count and removes the
 * annotations (a no-op when they are absent); `waitRestored()` waits for the pods to be Ready.
 *
 * A StatefulSet with `persistentVolumeClaimRetentionPolicy.whenScaled: Delete` deletes its PVCs when
 * scaled to 0: `preflight()` refuses it, unless `retainClaims` is set, which sets `whenScaled:
 * Retain` for the time of the fence and restores `Delete` afterwards.
 *
 * @example
 * ```ts
 * await runBackup(clients, { namespace: 'db', target: { pvc: 'data-pg-0' }, mode: 'fenced', fencing: statefulSetFencing('pg') });
 * ```
 */
export function statefulSetFencing(name: string, opts: { waitForReadyOnUnfence?: boolean; retainClaims?: boolean } = {}): FencingStrategy {
  const read = (ctx: FenceContext): Promise<V1StatefulSet> => ctx.clients.apps.readNamespacedStatefulSet({ name, namespace: ctx.namespace });
  const path = (ctx: FenceContext) => `/apis/apps/v1/namespaces/${encodeURIComponent(ctx.namespace)}/statefulsets`;
  const names = (ctx: FenceContext): FencedObjectNames => ({
    text: `StatefulSet ${ctx.namespace}/${name}`,
    ref: `statefulset/${name}`,
    lift: `kubectl -n ${ctx.namespace} scale statefulset ${name} --replicas=<N> and remove its ${FENCED_REPLICAS_ANNOTATION} and ${FENCE_LEASE_ANNOTATION} annotations, or the SDK's liftFence`,
  });
  /** The generation our fencing patch produced: any later change of the spec is someone else's. */
  let fencedGeneration: number | undefined;
  let restoreTo: number | undefined;
  const refusal = (ctx: FenceContext, sts: V1StatefulSet): DbaasError | undefined => {
    const whenScaled = sts.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled;
    const alreadyRetained = sts.metadata?.annotations?.[FENCED_WHEN_SCALED_ANNOTATION] !== undefined;
    if (whenScaled === 'Delete' && !opts.retainClaims && !alreadyRetained) {
      return new DbaasError(
        'TARGET_UNSUPPORTED',
        `StatefulSet ${ctx.namespace}/${name} deletes its PVCs when scaled down (persistentVolumeClaimRetentionPolicy.whenScaled: Delete): fencing it by scaling to 0 would delete the volume being backed up`,
        {
          fix: 'Let the fence keep the PVCs (it sets whenScaled: Retain while fenced and Delete again afterwards), set whenScaled: Retain on the StatefulSet yourself, or use mode online.',
          option: 'fenceRetainClaims',
          details: { statefulSet: name, whenScaled },
        },
      );
    }
    return heldByAnother(sts.metadata?.annotations ?? {}, ctx, names(ctx));
  };
  return {
    description: `StatefulSet ${name} scaled to 0 and back`,
    object: `statefulset/${name}`,
    async preflight(ctx) {
      const why = refusal(ctx, await read(ctx));
      if (why) throw why;
    },
    async fence(ctx) {
      const sts = await read(ctx);
      const why = refusal(ctx, sts);
      if (why) throw why;
      const annotations = sts.metadata?.annotations ?? {};
      const recorded = annotations[FENCED_REPLICAS_ANNOTATION];
      const replicas = recorded ?? String(sts.spec?.replicas ?? 1);
      if (!/^\d+$/.test(replicas)) {
        throw new DbaasError(
          'TARGET_UNSUPPORTED',
          `StatefulSet ${ctx.namespace}/${name} has ${FENCED_REPLICAS_ANNOTATION}: "${replicas}", not a replica count`,
          {
            details: { statefulSet: name, annotation: FENCED_REPLICAS_ANNOTATION, value: replicas },
            fix: `kubectl -n ${ctx.namespace} annotate statefulset ${name} ${FENCED_REPLICAS_ANNOTATION}-   (after checking spec.replicas)`,
          },
        );
      }
      const retain = sts.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled === 'Delete';
      ctx.log?.(
        `fencing: StatefulSet ${name} ${recorded ? `already fenced (replicas ${recorded} recorded by an earlier run, adopted)` : `replicas ${replicas} -> 0`}${retain ? '; whenScaled Delete -> Retain while fenced' : ''}`,
      );
      // resourceVersion makes the patch conditional: a change since the read (another run fencing) is a conflict, not a silent overwrite.
      const patched = await ctx.clients.apps.patchNamespacedStatefulSet(
        {
          name,
          namespace: ctx.namespace,
          body: {
            metadata: {
              resourceVersion: sts.metadata?.resourceVersion,
              annotations: {
                [FENCED_REPLICAS_ANNOTATION]: replicas,
                [FENCE_LEASE_ANNOTATION]: newLease(ctx),
                ...(retain ? { [FENCED_WHEN_SCALED_ANNOTATION]: 'Delete' } : {}),
              },
            },
            spec: { replicas: 0, ...(retain ? { persistentVolumeClaimRetentionPolicy: { whenScaled: 'Retain' } } : {}) },
          },
        },
        mergePatch,
      );
      fencedGeneration = patched.metadata?.generation;
      await watchUntil<V1StatefulSet>(ctx.clients, {
        path: path(ctx),
        name,
        what: 'to have no pods (scaled to 0 for the fenced backup)',
        predicate: (s) => !!s && (s.status?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0) && (s.status?.replicas ?? 0) === 0,
        deadline: ctx.deadline,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    },
    async check(ctx) {
      const sts = await read(ctx);
      const where = `StatefulSet ${ctx.namespace}/${name}`;
      if ((sts.spec?.replicas ?? 0) !== 0)
        return `${where} was scaled to ${sts.spec?.replicas} while fenced (by a GitOps controller, an autoscaler or a person?)`;
      if ((sts.status?.replicas ?? 0) !== 0) return `${where} has ${sts.status?.replicas} pod(s) again while fenced`;
      if (fencedGeneration !== undefined && sts.metadata?.generation !== fencedGeneration)
        return `${where}'s spec changed while fenced (generation ${fencedGeneration} -> ${sts.metadata?.generation}): a pod may have run`;
      const lease = parseFenceLease(sts.metadata?.annotations?.[FENCE_LEASE_ANNOTATION]);
      if (ctx.holder && lease?.backup !== ctx.holder.backup) return `${where}'s fence lease is ${lease ? `held by backup ${lease.backup}` : 'gone'}`;
      return undefined;
    },
    async unfence(ctx) {
      const sts = await read(ctx);
      const annotations = sts.metadata?.annotations ?? {};
      const recorded = annotations[FENCED_REPLICAS_ANNOTATION];
      if (recorded === undefined) return;
      const other = heldByAnother(annotations, ctx, names(ctx));
      if (other) throw other;
      const whenScaled = annotations[FENCED_WHEN_SCALED_ANNOTATION];
      ctx.log?.(`unfencing: StatefulSet ${name} replicas 0 -> ${recorded}${whenScaled ? `; whenScaled Retain -> ${whenScaled}` : ''}`);
      await ctx.clients.apps.patchNamespacedStatefulSet(
        {
          name,
          namespace: ctx.namespace,
          body: {
            metadata: { annotations: { [FENCED_REPLICAS_ANNOTATION]: null, [FENCE_LEASE_ANNOTATION]: null, [FENCED_WHEN_SCALED_ANNOTATION]: null } },
            spec: { replicas: Number(recorded), ...(whenScaled ? { persistentVolumeClaimRetentionPolicy: { whenScaled } } : {}) },
          },
        },
        mergePatch,
      );
      restoreTo = Number(recorded);
      if (opts.waitForReadyOnUnfence) await this.waitRestored!(ctx);
    },
    async waitRestored(ctx) {
      const replicas = restoreTo ?? 1;
      if (replicas === 0) return;
      await watchUntil<V1StatefulSet>(ctx.clients, {
        path: path(ctx),
        name,
        what: `to have ${replicas} ready replica(s) again`,
        predicate: (s) => (s?.status?.readyReplicas ?? 0) >= replicas,
        deadline: ctx.deadline,
      });
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
  const readAnnotations = async (ctx: FenceContext): Promise<Record<string, string>> => {
    const obj = (await ctx.clients.custom.getNamespacedCustomObject({ ...CNPG_CLUSTERS, namespace: ctx.namespace, name: cluster })) as {
      metadata?: { annotations?: Record<string, string> };
    };
    return obj.metadata?.annotations ?? {};
  };
  const write = async (ctx: FenceContext, annotations: Record<string, string | null>): Promise<void> => {
    await ctx.clients.custom.patchNamespacedCustomObject(
      { ...CNPG_CLUSTERS, namespace: ctx.namespace, name: cluster, body: { metadata: { annotations } } },
      mergePatch,
    );
  };
  const readPod = (ctx: FenceContext) => ctx.clients.core.readNamespacedPod({ name: instance, namespace: ctx.namespace });
  const isReady = (pod: V1Pod | undefined) => pod?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  const names = (ctx: FenceContext): FencedObjectNames => ({
    text: `Cluster ${ctx.namespace}/${cluster}`,
    ref: `cnpg/${cluster}`,
    lift: `remove ${instance} from the ${CNPG_FENCED_INSTANCES_ANNOTATION} annotation of Cluster ${ctx.namespace}/${cluster} and its ${FENCE_LEASE_ANNOTATION}, or the SDK's liftFence`,
  });
  const podsPath = (ctx: FenceContext) => `/api/v1/namespaces/${encodeURIComponent(ctx.namespace)}/pods`;
  return {
    description: `CloudNativePG instance ${instance} of Cluster ${cluster} fenced (${CNPG_FENCED_INSTANCES_ANNOTATION})`,
    object: `cnpg/${cluster}`,
    async preflight(ctx) {
      const other = heldByAnother(await readAnnotations(ctx), ctx, names(ctx));
      if (other) throw other;
    },
    async fence(ctx) {
      const annotations = await readAnnotations(ctx);
      const other = heldByAnother(annotations, ctx, names(ctx));
      if (other) throw other;
      const next = cnpgFencedInstances(annotations[CNPG_FENCED_INSTANCES_ANNOTATION], instance, true);
      ctx.log?.(`fencing: ${CNPG_FENCED_INSTANCES_ANNOTATION}=${next} on Cluster ${cluster}`);
      await write(ctx, { [CNPG_FENCED_INSTANCES_ANNOTATION]: next ?? null, [FENCE_LEASE_ANNOTATION]: newLease(ctx, instance) });
      await watchUntil<V1Pod>(ctx.clients, {
        path: podsPath(ctx),
        name: instance,
        what: 'to stop PostgreSQL (not Ready) after fencing',
        predicate: (pod) => !isReady(pod),
        deadline: ctx.deadline,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    },
    async check(ctx) {
      const annotations = await readAnnotations(ctx);
      const list = cnpgFencedInstances(annotations[CNPG_FENCED_INSTANCES_ANNOTATION], instance, false);
      const still = annotations[CNPG_FENCED_INSTANCES_ANNOTATION] !== undefined && list !== annotations[CNPG_FENCED_INSTANCES_ANNOTATION];
      if (!still)
        return `instance ${instance} is no longer in ${CNPG_FENCED_INSTANCES_ANNOTATION} of Cluster ${ctx.namespace}/${cluster} (someone lifted the fence)`;
      if (isReady(await readPod(ctx).catch(() => undefined))) return `instance ${instance} is Ready again while fenced`;
      return undefined;
    },
    async unfence(ctx) {
      const annotations = await readAnnotations(ctx);
      const current = annotations[CNPG_FENCED_INSTANCES_ANNOTATION];
      if (current === undefined) return;
      const other = heldByAnother(annotations, ctx, names(ctx));
      if (other) throw other;
      const next = cnpgFencedInstances(current, instance, false);
      if (next === current) return;
      ctx.log?.(`unfencing: ${CNPG_FENCED_INSTANCES_ANNOTATION}=${next ?? '(removed)'} on Cluster ${cluster}`);
      await write(ctx, { [CNPG_FENCED_INSTANCES_ANNOTATION]: next ?? null, [FENCE_LEASE_ANNOTATION]: null });
    },
    async waitRestored(ctx) {
      await watchUntil<V1Pod>(ctx.clients, {
        path: podsPath(ctx),
        name: instance,
        what: 'to be Ready again after the fence',
        predicate: (pod) => isReady(pod),
        deadline: ctx.deadline,
      });
    },
  };
}

/**
 * What {@link liftFence} lifts: a StatefulSet's fence, or a CloudNativePG instance's (default: the
 * instance the Cluster's fence lease names).
 *
 * @example
 * ```ts
 * const a: LiftFenceOptions = { namespace: 'db', statefulSet: 'pg' };
 * const b: LiftFenceOptions = { namespace: 'db', cnpgCluster: 'pg', instance: 'pg-2', force: true };
 * ```
 */
export type LiftFenceOptions = {
  namespace: string;
  /** How long to wait for the database to serve again. Default 5 minutes. */
  deadlineMs?: number;
  /** Lift it even while another backup's lease is live (that backup's process is known to be gone). */
  force?: boolean;
} & ({ statefulSet: string } | { cnpgCluster: string; instance?: string });

/**
 * What {@link liftFence} did.
 *
 * @example
 * ```ts
 * const r: LiftFenceResult = { lifted: true, object: 'statefulset/pg', readyMs: 3120 };
 * ```
 */
export interface LiftFenceResult {
  /** False when nothing was fenced. */
  lifted: boolean;
  /** `statefulset/NAME` or `cnpg/CLUSTER`. */
  object: string;
  /** The lease that was on it (who had fenced it). */
  lease?: FenceLease;
  /** From the call until the database served again. */
  readyMs?: number;
}

/**
 * Lifts a fence that a killed or failed run left (the `dbaas.io/fenced-replicas` record of a
 * StatefulSet, or a CloudNativePG instance in `cnpg.io/fencedInstances`), unless a live backup holds
 * its lease (`force` lifts it anyway), and waits until the database serves again. Returns what it
 * did; `lifted: false` when nothing was fenced.
 *
 * @throws DbaasError `KUBE_CONFLICT` (a live lease of another backup, without `force`),
 *   `TARGET_NOT_FOUND` (no such StatefulSet or Cluster; for a Cluster without `instance`, no lease
 *   naming one), `KUBE_TIMEOUT` (not Ready again in time: the fence is lifted all the same).
 * @example
 * ```ts
 * const r = await liftFence(clients, { namespace: 'db', statefulSet: 'pg' });
 * console.log(r.lifted ? `lifted after ${r.readyMs} ms` : 'nothing was fenced');
 * ```
 */
export async function liftFence(clients: KubeClients, opts: LiftFenceOptions): Promise<LiftFenceResult> {
  const started = Date.now();
  const deadline = started + (opts.deadlineMs ?? 5 * 60_000);
  let strategy: FencingStrategy;
  let lease: FenceLease | undefined;
  let fenced: boolean;
  const missing =
    (what: string) =>
    (error: unknown): never => {
      if (isDbaasError(error, 'KUBE_NOT_FOUND')) {
        throw new DbaasError('TARGET_NOT_FOUND', `${what} does not exist`, {
          fix: `Check the name (kubectl get ${'statefulSet' in opts ? 'statefulsets' : 'clusters.postgresql.cnpg.io'} -n ${opts.namespace}).`,
          option: 'statefulSet' in opts ? 'statefulSet' : 'cnpgCluster',
          cause: error,
        });
      }
      throw error;
    };
  if ('statefulSet' in opts) {
    const sts = await clients.apps
      .readNamespacedStatefulSet({ name: opts.statefulSet, namespace: opts.namespace })
      .catch(missing(`StatefulSet ${opts.namespace}/${opts.statefulSet}`));
    lease = parseFenceLease(sts.metadata?.annotations?.[FENCE_LEASE_ANNOTATION]);
    fenced = sts.metadata?.annotations?.[FENCED_REPLICAS_ANNOTATION] !== undefined;
    strategy = statefulSetFencing(opts.statefulSet);
  } else {
    const obj = (await clients.custom
      .getNamespacedCustomObject({ ...CNPG_CLUSTERS, namespace: opts.namespace, name: opts.cnpgCluster })
      .catch(missing(`Cluster ${opts.namespace}/${opts.cnpgCluster}`))) as { metadata?: { annotations?: Record<string, string> } };
    const annotations = obj.metadata?.annotations ?? {};
    lease = parseFenceLease(annotations[FENCE_LEASE_ANNOTATION]);
    const instance = opts.instance ?? lease?.instance;
    if (!instance) {
      throw new DbaasError(
        'TARGET_NOT_FOUND',
        `Cluster ${opts.namespace}/${opts.cnpgCluster} has no fence lease naming an instance (${CNPG_FENCED_INSTANCES_ANNOTATION}: ${annotations[CNPG_FENCED_INSTANCES_ANNOTATION] ?? 'none'})`,
        {
          fix: 'Name the instance to lift the fence of.',
          option: 'instance',
        },
      );
    }
    fenced = cnpgFencedInstances(annotations[CNPG_FENCED_INSTANCES_ANNOTATION], instance, false) !== annotations[CNPG_FENCED_INSTANCES_ANNOTATION];
    strategy = cnpgFencing(opts.cnpgCluster, instance);
  }
  const object = strategy.object!;
  if (!fenced) return { lifted: false, object, ...(lease ? { lease } : {}) };
  // Lifting as the lease's own holder is what `force` means: the live-lease refusal then does not apply.
  const ctx: FenceContext = {
    clients,
    namespace: opts.namespace,
    deadline,
    ...(opts.force && lease ? { holder: { backup: lease.backup, process: lease.process } } : {}),
  };
  await strategy.unfence(ctx);
  await strategy.waitRestored?.(ctx);
  return { lifted: true, object, ...(lease ? { lease } : {}), readyMs: Date.now() - started };
}
