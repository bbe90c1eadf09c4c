// `kubectl dbaas verify`: RestoreClient.verify of the SDK with the CLI's flags, progress and
// output. Loaded lazily when the command runs.
import {
  podVerifyRuntime,
  type RestoreClient,
  type VerifyCheck,
  type VerifyOptions,
  type VerifyProgress,
  type VerifyResult,
  type VerifyRuntime,
} from '@kubectl-dbaas/sdk';
import { explainingMissingNamespaces, restoreClientFor } from '../../cli-shared.js';
import { formatSeconds } from '../../duration.js';
import type { KubeArgs } from '../../global-options.js';
import { renderFields } from '../../output.js';
import type { ProgressReporter } from '../../progress.js';
import { restoreReport, rtoLine, type RestoreReport } from '../../restore-report.js';

/**
 * Arguments of `verify`, parsed.
 *
 * @example
 * ```ts
 * const args: VerifyCommandArgs = { target: { backup: 'nightly' }, checks: [], amcheck: 'auto', liveEvenIfUnsafe: false, runtime: 'pod', timeoutMs: 1_200_000 };
 * ```
 */
export interface VerifyCommandArgs extends KubeArgs {
  target: { backup: string } | { pvc: string };
  fromNamespace?: string | undefined;
  checks: VerifyCheck[];
  amcheck: 'auto' | 'install' | 'skip';
  liveEvenIfUnsafe: boolean;
  runtime: 'pod';
  /** Image template of the scratch pods: `{major}` is replaced. */
  image?: string | undefined;
  runAsUser?: number | undefined;
  /** Node labels the scratch pods must run on. */
  nodeSelector?: Record<string, string> | undefined;
  storageClass?: string | undefined;
  /** With a PVC: check a clone of it (default true). */
  clone?: boolean | undefined;
  /** WaitForFirstConsumer classes: the node the scratch restore or the clone binds for. */
  consumerNode?: string | undefined;
  /** Image of the scratch restore's restore-prep Job (an online backup). */
  prepImage?: string | undefined;
  dataSubPath?: string | undefined;
  timeoutMs: number;
}

/**
 * What `verify -o json|yaml` prints: the SDK's VerifyResult, with the scratch restore as `restore` prints it.
 *
 * @example
 * ```ts
 * const report: VerifyReport = JSON.parse(stdout);
 * if (!report.ok) console.error(report.failures.join('\n'));
 * ```
 */
export type VerifyReport = { kind: 'Verify' } & Omit<VerifyResult, 'restore'> & { restore?: RestoreReport; runtime: string };

/**
 * The runtime for `--runtime pod` (the only one): pods in the cluster, over exec and port-forward.
 *
 * @example
 * ```ts
 * const runtime = verifyRuntimeFor({ image: 'ghcr.io/cloudnative-pg/postgresql:{major}', runAsUser: 26 });
 * ```
 */
export function verifyRuntimeFor(args: Pick<VerifyCommandArgs, 'image' | 'runAsUser' | 'nodeSelector'>): VerifyRuntime {
  const template = args.image;
  return podVerifyRuntime({
    ...(template !== undefined ? { image: (major: number) => template.replaceAll('{major}', String(major)) } : {}),
    ...(args.runAsUser !== undefined ? { runAsUser: args.runAsUser } : {}),
    ...(args.nodeSelector !== undefined ? { nodeSelector: args.nodeSelector } : {}),
  });
}

/**
 * Runs a verification with progress on `progress`, aborted by `signal` (the scratch server is
 * stopped, a scratch restore deleted). A copy found broken is a report with `ok: false`.
 *
 * @throws DbaasError for what stops verification itself: `KUBE_NOT_FOUND` (no such backup or PVC;
 *   a missing namespace is named), `KUBE_FORBIDDEN`, restore errors of the scratch restore, `KUBE_ABORTED`.
 * @example
 * ```ts
 * const report = await runVerifyCommand(args, { progress: createProgress(), signal });
 * process.exitCode = report.ok ? 0 : 1;
 * ```
 */
export async function runVerifyCommand(
  args: VerifyCommandArgs,
  opts: { client?: RestoreClient; runtime?: VerifyRuntime; signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<VerifyReport> {
  const client = opts.client ?? restoreClientFor(args);
  const namespace = client.clients.namespace;
  const runtime = opts.runtime ?? verifyRuntimeFor(args);
  const progress = opts.progress;
  const scratch = 'backup' in args.target;
  progress?.phase(scratch ? 'scratch restore: checking the backup' : 'offline check (WAL inspector on the volume)');
  const options: VerifyOptions = {
    namespace,
    ...args.target,
    ...(args.fromNamespace !== undefined ? { backupNamespace: args.fromNamespace } : {}),
    runtime,
    ...(args.storageClass !== undefined || args.prepImage !== undefined || args.consumerNode !== undefined
      ? {
          restore: {
            ...(args.storageClass !== undefined ? { storageClass: args.storageClass } : {}),
            ...(args.prepImage !== undefined ? { prep: { image: args.prepImage } } : {}),
            ...(args.consumerNode !== undefined ? { consumerNode: args.consumerNode } : {}),
          },
        }
      : {}),
    ...(args.clone === false ? { clone: false } : {}),
    checks: args.checks,
    amcheck: args.amcheck,
    liveEvenIfUnsafe: args.liveEvenIfUnsafe,
    ...(args.dataSubPath !== undefined ? { dataSubPath: args.dataSubPath } : {}),
    deadlineMs: args.timeoutMs,
  };
  return await explainingMissingNamespaces(client, [{ namespace }, { namespace: args.fromNamespace ?? namespace, option: 'backupNamespace' }], async () => {
    const onProgress = progress ? verifyProgressFollower(progress) : undefined;
    const result = await client.verify({ ...options, ...(opts.signal ? { signal: opts.signal } : {}), ...(onProgress ? { onProgress } : {}) });
    const report = verifyReport(result, runtime.description);
    progress?.done(summaryLine(report));
    return report;
  });
}

/**
 * Maps the SDK's verify events (and those of its scratch restore) onto progress phases.
 *
 * @example
 * ```ts
 * await client.verify({ ...options, onProgress: verifyProgressFollower(createProgress()) });
 * ```
 */
export function verifyProgressFollower(progress: ProgressReporter): (event: VerifyProgress) => void {
  return (event) => {
    switch (event.phase) {
      case 'restore': {
        const restorePhase = event.restore?.phase;
        const message = event.restore?.message ?? event.message;
        if (restorePhase === 'pvc-created') progress.phase('scratch restore: waiting for the PVC to be Bound');
        else if (restorePhase === 'prep-started') progress.phase('scratch restore: restore-prep');
        else if (restorePhase === 'data-ready') progress.phase('offline check (WAL inspector on the volume)');
        else if (restorePhase === 'cleanup') {
          // The scratch restore's step that was running failed: say so before cleaning up.
          progress.fail(event.restore?.failure);
          progress.phase('scratch restore: cleaning up');
        } else if (restorePhase === 'resolved' || restorePhase === 'source-created') progress.phase('scratch restore: creating the PVC');
        progress.detail(message);
        break;
      }
      case 'offline-checked':
        progress.detail(event.message);
        break;
      case 'server-starting':
        progress.phase('starting PostgreSQL on the copy');
        progress.detail(event.message);
        break;
      case 'ready-for-connections':
        progress.phase('waiting for recovery to end');
        progress.detail(event.message);
        break;
      case 'recovery-done':
        progress.detail(event.message);
        progress.phase('amcheck and checks');
        break;
      case 'amcheck':
      case 'checks':
        progress.detail(event.message);
        break;
      case 'cleanup':
        progress.phase('deleting the scratch restore');
        progress.detail(event.message);
        break;
    }
  };
}

/**
 * The printed form of the SDK's VerifyResult.
 *
 * @example
 * ```ts
 * verifyReport(await client.verify(options), options.runtime.description).ok;
 * ```
 */
export function verifyReport(result: VerifyResult, runtime: string): VerifyReport {
  const { restore, ...rest } = result;
  return { kind: 'Verify', ...rest, ...(restore ? { restore: restoreReport(restore) } : {}), runtime };
}

/**
 * The summary line printed on stderr when verification is done.
 *
 * @example
 * ```ts
 * summaryLine(report); // 'verify db/pg-restored: passed'
 * ```
 */
export function summaryLine(r: VerifyReport): string {
  const what = r.scratch && r.backup ? `backup ${r.backup.namespace}/${r.backup.name}` : `PVC ${r.namespace}/${r.pvc}`;
  return `verify ${what}: ${r.ok ? 'passed' : `FAILED (${r.failures.length} failure${r.failures.length === 1 ? '' : 's'})`}`;
}

/**
 * The failures, one line each, under a heading (printed on stderr with `-o json|yaml`).
 *
 * @example
 * ```ts
 * failureLines(report); // ['error: the copy did not pass verification:', '  - check "rows": first column is false, not true']
 * ```
 */
export function failureLines(r: VerifyReport): string[] {
  return [
    `error: the copy did not pass verification (${r.failures.length} failure${r.failures.length === 1 ? '' : 's'}):`,
    ...r.failures.map((f) => `  - ${f}`),
  ];
}

/**
 * The text output of `verify`: the verdict, what was checked and found, the RTO breakdown, and every failure.
 *
 * @example
 * ```ts
 * console.log(renderVerify(report));
 * ```
 */
export function renderVerify(r: VerifyReport): string {
  const o = r.offline;
  const l = r.live;
  const at = (phase: string) => r.timings.phases.find((p) => p.phase === phase)?.atMs;
  const ready = at('ready-for-connections');
  const recovered = at('recovery-done');
  const rto = [
    r.restore ? `scratch restore ${rtoLine(r.restore.timings)}` : undefined,
    ready !== undefined ? `accepting connections at +${formatSeconds(ready)}` : undefined,
    recovered !== undefined ? `out of recovery at +${formatSeconds(recovered)}` : undefined,
  ].filter((x): x is string => x !== undefined);
  const amcheck = l
    ? l.amcheck.ran
      ? `bt_index_check on ${l.amcheck.indexes} btree index(es) in ${l.amcheck.databases} database(s): ${l.amcheck.failures.length ? `${l.amcheck.failures.length} failure(s)` : 'no corruption found'}${l.amcheck.why ? ` (${l.amcheck.why})` : ''}`
      : `not run: ${l.amcheck.why ?? 'unknown'}`
    : undefined;
  const fields = renderFields([
    ['result', r.ok ? 'PASSED' : `FAILED (${r.failures.length} failure${r.failures.length === 1 ? '' : 's'})`],
    [
      'PVC',
      `${r.namespace}/${r.pvc}${r.scratch ? ' (scratch restore, deleted afterwards)' : r.clone ? ` (checked through its clone ${r.clone}, deleted afterwards; the PVC is unchanged)` : ' (checked in place: recovery changed its files)'}`,
    ],
    [
      'backup',
      r.backup
        ? `${r.backup.namespace}/${r.backup.name}${r.backup.mode ? ` (${r.backup.mode})` : ''}`
        : 'unknown (the PVC carries no dbaas.io/restored-from label)',
    ],
    ['runtime', r.runtime],
    [
      'offline',
      o
        ? `${o.verdict} (${o.safe ? 'safe to start' : 'NOT safe to start'}); PostgreSQL ${o.postgresMajorVersion ?? '?'}, PGDATA ${o.dataSubPath ? `at ${o.dataSubPath}` : 'at the volume root'}${o.requiredWal.firstSegment ? `; WAL needed ${o.requiredWal.firstSegment}${o.requiredWal.lastSegment && o.requiredWal.lastSegment !== o.requiredWal.firstSegment ? `..${o.requiredWal.lastSegment}` : ''}` : ''}${o.missingSegments.length ? `; missing ${o.missingSegments.join(', ')}` : ''}${o.standby ? "; a standby's copy (standby.signal): brought up as a primary" : ''}`
        : 'not run (the scratch restore failed)',
    ],
    [
      'live',
      l
        ? `accepting connections after ${formatSeconds(l.readyMs)}${l.redoMs !== undefined ? ` (redo ${formatSeconds(l.redoMs)})` : ''}; ${l.inRecovery ? 'STILL IN RECOVERY' : 'out of recovery'} on timeline ${l.timeline}${l.expectedTimeline !== undefined ? ` (the backup's: ${l.expectedTimeline})` : ''}`
        : o && !o.safe && !r.findings.some((f) => f.check === 'server')
          ? 'not started: the offline check found the copy unsafe (--live-even-if-unsafe starts it anyway)'
          : undefined,
    ],
    ['amcheck', amcheck],
    ['checks', l?.checks.length ? l.checks.map((c) => `${c.name}: ${c.ok ? 'passed' : `FAILED (${c.message})`}`).join('; ') : undefined],
    ['RTO', rto.length ? rto.join(', ') : undefined],
    ['took', formatSeconds(r.timings.totalMs)],
  ]);
  return r.ok ? fields : `${fields}\nfailures:\n${r.failures.map((f) => `  - ${f}`).join('\n')}`;
}
