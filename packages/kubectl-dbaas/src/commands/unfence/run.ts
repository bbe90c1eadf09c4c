import { SnapshotClient, type LiftFenceResult } from '@kubectl-dbaas/sdk';
import type { FencedObject } from '../../fence-object.js';
import { kubeClientsOptions, type KubeArgs } from '../../global-options.js';

/**
 * Arguments of `unfence`.
 *
 * @example
 * ```ts
 * const args: UnfenceArgs = { object: { kind: 'statefulset', name: 'pg' }, force: false, timeoutMs: 300_000 };
 * ```
 */
export interface UnfenceArgs extends KubeArgs {
  object: FencedObject;
  instance?: string;
  force: boolean;
  timeoutMs: number;
}

/**
 * What `unfence -o json|yaml` prints.
 *
 * @example
 * ```ts
 * const r: UnfenceReport = { kind: 'Unfence', namespace: 'db', object: 'statefulset/pg', lifted: true, readyMs: 3120 };
 * ```
 */
export interface UnfenceReport extends LiftFenceResult {
  kind: 'Unfence';
  namespace: string;
}

/**
 * Lifts the fence (the SDK's `SnapshotClient.liftFence`).
 *
 * @example
 * ```ts
 * const report = await runUnfence({ object: { kind: 'statefulset', name: 'pg' }, namespace: 'db', force: false, timeoutMs: 300_000 });
 * ```
 */
export async function runUnfence(args: UnfenceArgs, client: SnapshotClient = new SnapshotClient(kubeClientsOptions(args))): Promise<UnfenceReport> {
  const namespace = client.clients.namespace;
  const target =
    args.object.kind === 'statefulset'
      ? { statefulSet: args.object.name }
      : { cnpgCluster: args.object.cluster, ...(args.instance ? { instance: args.instance } : {}) };
  const result = await client.liftFence({ namespace, ...target, force: args.force, deadlineMs: args.timeoutMs });
  return { kind: 'Unfence', namespace, ...result };
}

/**
 * The text output of `unfence`.
 *
 * @example
 * ```ts
 * renderUnfence({ kind: 'Unfence', namespace: 'db', object: 'statefulset/pg', lifted: false }); // 'statefulset/pg: not fenced, nothing to lift\n'
 * ```
 */
export function renderUnfence(r: UnfenceReport): string {
  if (!r.lifted) return `${r.object}: not fenced, nothing to lift\n`;
  const by = r.lease ? ` (fenced by backup ${r.lease.backup}, process ${r.lease.process}, at ${r.lease.acquiredAt})` : '';
  return `${r.object}: fence lifted${by}; serving again after ${((r.readyMs ?? 0) / 1000).toFixed(1)}s\n`;
}
