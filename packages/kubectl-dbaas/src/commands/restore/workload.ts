// `kubectl dbaas restore BACKUP --for-statefulset NAME` and `--in-place statefulset/NAME`: the SDK's
// planRestoreForStatefulSet / restoreInPlace with the CLI's flags, progress and output. Loaded
// lazily when the command runs.
import {
  executeRestore,
  planRestoreForStatefulSet,
  planRestoreInPlace,
  SnapshotClient,
  type InPlaceRestorePlan,
  type InPlaceRestoreProgress,
  type InPlaceRestoreResult,
  type RestoreClient,
  type RestoreOptions,
} from '@kubectl-dbaas/sdk';
import { explainingMissingNamespaces, restoreClientFor } from '../../cli-shared.js';
import { formatSeconds } from '../../duration.js';
import { renderFields } from '../../output.js';
import type { ProgressReporter } from '../../progress.js';
import { restoreReport, type RestoreReport } from '../../restore-report.js';
import {
  namespacesOf,
  restoreOptions,
  restoreProgressFollower,
  summaryLine,
  type RestoreCommandArgs,
  type RestoreManifest,
  type RestorePlanView,
} from './run.js';

/**
 * Where a workload restore goes: a new StatefulSet's PVC, or in place under an existing one.
 *
 * @example
 * ```ts
 * const a: WorkloadTarget = { kind: 'for-statefulset', statefulSet: 'pg-new', template: 'data', ordinal: 0 };
 * const b: WorkloadTarget = { kind: 'in-place', statefulSet: 'pg', yes: true };
 * ```
 */
export type WorkloadTarget =
  | { kind: 'for-statefulset'; statefulSet: string; template?: string | undefined; ordinal?: number | undefined }
  | { kind: 'in-place'; statefulSet: string; template?: string | undefined; yes: boolean };

/**
 * Arguments of a workload restore, parsed: those of `restore` without `--to`, and the target.
 *
 * @example
 * ```ts
 * const args: WorkloadRestoreArgs = { backup: 'nightly', timeoutMs: 900_000, target: { kind: 'in-place', statefulSet: 'pg', yes: true } };
 * ```
 */
export interface WorkloadRestoreArgs extends Omit<RestoreCommandArgs, 'to'> {
  target: WorkloadTarget;
}

function commonOptions(args: WorkloadRestoreArgs, namespace: string): Omit<RestoreOptions, 'pvcName' | 'onProgress'> {
  // restoreOptions maps every shared flag; the PVC name is the workload's, set by the SDK.
  const { pvcName: _unused, onProgress: _none, ...rest } = restoreOptions({ ...args, to: 'unused' }, namespace);
  return rest;
}

/**
 * `--for-statefulset`: the restore into `<template>-<statefulset>-<ordinal>`, with progress; the
 * same report as a restore `--to` that PVC.
 *
 * @example
 * ```ts
 * const report = await runForStatefulSetCommand(args, { progress: createProgress(), signal });
 * ```
 */
export async function runForStatefulSetCommand(
  args: WorkloadRestoreArgs & { target: { kind: 'for-statefulset' } },
  opts: { client?: RestoreClient; signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<RestoreReport & { statefulSet: string }> {
  const client = opts.client ?? restoreClientFor(args);
  const options = commonOptions(args, client.clients.namespace);
  opts.progress?.phase('checking the backup, the StatefulSet, the size and the StorageClass');
  return await explainingMissingNamespaces(client, namespacesOf(options), async () => {
    const startedAt = Date.now();
    const plan = await planRestoreForStatefulSet(client.clients, {
      ...options,
      statefulSet: args.target.statefulSet,
      ...(args.target.template !== undefined ? { template: args.target.template } : {}),
      ...(args.target.ordinal !== undefined ? { ordinal: args.target.ordinal } : {}),
    });
    const onProgress = opts.progress ? restoreProgressFollower(opts.progress) : undefined;
    const result = await executeRestore(client.clients, plan.restore, {
      startedAt,
      deadline: startedAt + args.timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(onProgress ? { onProgress } : {}),
    });
    const report = { ...restoreReport(result), statefulSet: plan.statefulSet };
    opts.progress?.done(`${summaryLine(report)}: StatefulSet ${plan.statefulSet}'s pod ${plan.ordinal} starts on it`);
    return report;
  });
}

/**
 * What `restore --in-place -o json|yaml` prints.
 *
 * @example
 * ```ts
 * const report: InPlaceRestoreReport = JSON.parse(stdout);
 * console.log(report.previousPvc, report.rollback);
 * ```
 */
export interface InPlaceRestoreReport {
  kind: 'InPlaceRestore';
  namespace: string;
  statefulSet: string;
  /** The PVC now made from the backup. */
  pvc: string;
  /** The PVC holding the data from before the restore. */
  previousPvc: string;
  /** The PV of the old data (Retain). */
  previousVolume: string;
  reclaimPolicyBefore: string;
  /** A backup of several volumes: each other PVC replaced the same way. */
  volumes?: { pvc: string; previousPvc: string; previousVolume: string; reclaimPolicyBefore: string }[];
  replicas: number;
  restore: RestoreReport;
  rollback: string[];
  timings: { downMs?: number; totalMs: number };
}

/**
 * The printed form of the SDK's InPlaceRestoreResult.
 *
 * @example
 * ```ts
 * inPlaceReport(result).previousPvc; // 'data-pg-0-previous'
 * ```
 */
export function inPlaceReport(r: InPlaceRestoreResult): InPlaceRestoreReport {
  return {
    kind: 'InPlaceRestore',
    namespace: r.namespace,
    statefulSet: r.statefulSet,
    pvc: r.pvcName,
    previousPvc: r.previousPvcName,
    previousVolume: r.volume,
    reclaimPolicyBefore: r.reclaimPolicyBefore,
    ...(r.volumes.length
      ? {
          volumes: r.volumes.map((v) => ({
            pvc: v.pvcName,
            previousPvc: v.previousPvcName,
            previousVolume: v.volume,
            reclaimPolicyBefore: v.reclaimPolicyBefore,
          })),
        }
      : {}),
    replicas: r.replicas,
    restore: restoreReport(r.restore),
    rollback: r.rollback,
    timings: { ...(r.timings.downMs !== undefined ? { downMs: r.timings.downMs } : {}), totalMs: r.timings.totalMs },
  };
}

/**
 * `--in-place statefulset/NAME --yes`: the in-place restore, with progress.
 *
 * @throws DbaasError from the SDK: `INVALID_ARGUMENT` (no `--yes`), `TARGET_NOT_FOUND`, `TARGET_UNSUPPORTED`, `RESTORE_TARGET_EXISTS`, `KUBE_CONFLICT`, `RESTORE_FAILED`.
 * @example
 * ```ts
 * const report = await runInPlaceCommand(args, { progress: createProgress(), signal });
 * ```
 */
export async function runInPlaceCommand(
  args: WorkloadRestoreArgs & { target: { kind: 'in-place' } },
  opts: { client?: RestoreClient; signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<InPlaceRestoreReport> {
  const client = opts.client ?? restoreClientFor(args);
  const options = commonOptions(args, client.clients.namespace);
  const progress = opts.progress;
  progress?.phase('checking the StatefulSet, its PVC and PV, and the backup');
  return await explainingMissingNamespaces(client, namespacesOf(options), async () => {
    const follower = progress ? restoreProgressFollower(progress) : undefined;
    const result = await client.restoreInPlace({
      ...options,
      statefulSet: args.target.statefulSet,
      ...(args.target.template !== undefined ? { template: args.target.template } : {}),
      confirm: args.target.yes,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(progress ? { onProgress: (e: InPlaceRestoreProgress) => inPlaceFollow(progress, e, follower!) } : {}),
    });
    const report = inPlaceReport(result);
    progress?.done(
      `restored backup ${report.restore.backup.namespace}/${report.restore.backup.name} in place under StatefulSet ${report.namespace}/${report.statefulSet}; the data from before is in PVC ${report.previousPvc}`,
    );
    return report;
  });
}

function inPlaceFollow(progress: ProgressReporter, e: InPlaceRestoreProgress, restore: ReturnType<typeof restoreProgressFollower>): void {
  switch (e.step) {
    case 'planned':
      progress.detail(e.message);
      progress.phase('setting the old PV to Retain');
      break;
    case 'reclaim-retained':
      progress.detail(e.message);
      progress.phase('scaling the StatefulSet to 0');
      break;
    case 'fenced':
      progress.detail(e.message);
      break;
    case 'previous-created':
      progress.detail(e.message);
      progress.phase('deleting the old PVC object (its PV keeps the data) and binding the PV to the -previous PVC');
      break;
    case 'old-pvc-deleted':
    case 'previous-bound':
      progress.detail(e.message);
      break;
    case 'restore':
      if (e.restore) restore(e.restore);
      break;
    case 'restored':
      progress.detail(e.message);
      progress.phase('scaling the StatefulSet back and waiting until Ready');
      break;
    case 'scaled-back':
    case 'ready':
      progress.detail(e.message);
      break;
    case 'cleanup':
      progress.fail(e.message);
      progress.phase('undoing what can be undone (the old data is never deleted)');
      break;
  }
}

/**
 * The text output of `restore --in-place`: what was replaced, where the old data is, how to roll back.
 *
 * @example
 * ```ts
 * console.log(renderInPlace(report));
 * ```
 */
export function renderInPlace(r: InPlaceRestoreReport): string {
  const b = r.restore.backup;
  return renderFields([
    ['StatefulSet', `${r.namespace}/${r.statefulSet} (${r.replicas} replica(s), Ready)`],
    ['PVC', `${r.pvc} (volume ${r.restore.volume ?? 'pending'}), from backup ${b.namespace}/${b.name}${b.mode ? ` (${b.mode})` : ''}`],
    [
      'previous data',
      [r, ...(r.volumes ?? [])].map((v) => `PVC ${v.previousPvc} on PV ${v.previousVolume} (reclaim policy Retain; was ${v.reclaimPolicyBefore})`).join('\n'),
    ],
    ['other PVCs', r.volumes?.length ? r.volumes.map((v) => v.pvc).join(', ') : undefined],
    ['down', r.timings.downMs !== undefined ? formatSeconds(r.timings.downMs) : undefined],
    ['total', formatSeconds(r.timings.totalMs)],
    ['roll back', r.rollback.map((s, i) => `${i + 1}. ${s}`).join('\n')],
    ['remaining', r.restore.remaining.length ? r.restore.remaining.join('; ') : undefined],
  ]);
}

/**
 * The dry run of `--for-statefulset`: the restore plan of the StatefulSet's PVC, as `--to` prints it.
 *
 * @example
 * ```ts
 * const view = await runForStatefulSetPlan({ ...args, dryRun: 'client' });
 * ```
 */
export async function runForStatefulSetPlan(
  args: WorkloadRestoreArgs & { target: { kind: 'for-statefulset' }; dryRun: 'client' | 'server' },
  opts: { client?: RestoreClient } = {},
): Promise<RestorePlanView & { statefulSet: string; statefulSetExists: boolean }> {
  const client = opts.client ?? restoreClientFor(args);
  const options = commonOptions(args, client.clients.namespace);
  return await explainingMissingNamespaces(client, namespacesOf(options), async () => {
    const plan = await planRestoreForStatefulSet(client.clients, {
      ...options,
      statefulSet: args.target.statefulSet,
      ...(args.target.template !== undefined ? { template: args.target.template } : {}),
      ...(args.target.ordinal !== undefined ? { ordinal: args.target.ordinal } : {}),
    });
    const manifests = args.dryRun === 'server' ? await new SnapshotClient(client.clients).serverDryRun(plan.restore.manifests) : plan.restore.manifests;
    return { dryRun: args.dryRun, plan: plan.restore, manifests, statefulSet: plan.statefulSet, statefulSetExists: plan.statefulSetExists };
  });
}

/**
 * The dry run of `--in-place`: every step and the objects it creates (the `-previous` PVC, then the
 * restore's). `server` sends the created objects with `dryRun=All`; the PVC of the same name exists
 * now, so it is printed as planned, not sent.
 *
 * @example
 * ```ts
 * const view = await runInPlacePlan({ ...args, dryRun: 'client' });
 * view.plan.steps;
 * ```
 */
export async function runInPlacePlan(
  args: WorkloadRestoreArgs & { target: { kind: 'in-place' }; dryRun: 'client' | 'server' },
  opts: { client?: RestoreClient } = {},
): Promise<{ dryRun: 'client' | 'server'; plan: InPlaceRestorePlan; manifests: RestoreManifest[] }> {
  const client = opts.client ?? restoreClientFor(args);
  const options = commonOptions(args, client.clients.namespace);
  return await explainingMissingNamespaces(client, namespacesOf(options), async () => {
    const plan = await planRestoreInPlace(client.clients, {
      ...options,
      statefulSet: args.target.statefulSet,
      ...(args.target.template !== undefined ? { template: args.target.template } : {}),
    });
    const previous = [plan.previousPvc, ...plan.volumes.map((v) => v.previousPvc)];
    const planned: RestoreManifest[] = [...previous, ...plan.restore.manifests];
    // The PVCs of the same names exist now: printed as planned, not sent.
    const replaced = new Set<RestoreManifest>([plan.restore.pvcs.data, ...(plan.restore.volumes ?? []).map((v) => v.pvc)]);
    const manifests =
      args.dryRun === 'server'
        ? [...(await new SnapshotClient(client.clients).serverDryRun([...previous, ...plan.restore.manifests.filter((m) => !replaced.has(m))])), ...replaced]
        : planned;
    return { dryRun: args.dryRun, plan, manifests };
  });
}

/**
 * What the in-place dry run found, as lines: the steps, then how to roll back afterwards.
 *
 * @example
 * ```ts
 * for (const line of inPlacePlanLines(view)) console.error(line);
 * ```
 */
export function inPlacePlanLines(view: { dryRun: 'client' | 'server'; plan: InPlaceRestorePlan }): string[] {
  const p = view.plan;
  return [
    `dry run (${view.dryRun}): restore backup ${p.restore.backupNamespace}/${p.restore.set} in place under StatefulSet ${p.namespace}/${p.statefulSet} (PVC ${p.pvcName}, PV ${p.volume}); nothing is changed`,
    `persistentVolumeClaimRetentionPolicy: whenScaled ${p.retentionPolicy.whenScaled}, whenDeleted ${p.retentionPolicy.whenDeleted}`,
    ...p.steps.map((s, i) => `${i + 1}. ${s}`),
    `afterwards, to go back to the data from before: ${p.rollback.join('; ')}`,
    'a real run needs --yes',
  ];
}
