// `kubectl dbaas restore BACKUP --cnpg-cluster NEW`: RestoreClient.restoreToCnpgCluster of the SDK
// with the CLI's flags, progress and output. Loaded lazily when the command runs.
import { readFile } from 'node:fs/promises';
import { DbaasError, executeCnpgRestore, type CnpgRestoreOptions, type CnpgRestorePlan, type CnpgRestoreResult, type RestoreClient } from '@kubectl-dbaas/sdk';
import { explainingMissingNamespaces, restoreClientFor } from '../../cli-shared.js';
import { formatSeconds } from '../../duration.js';
import type { KubeArgs } from '../../global-options.js';
import { renderFields } from '../../output.js';
import type { ProgressReporter } from '../../progress.js';
import { prepOptions } from './run.js';

/**
 * Arguments of `restore --cnpg-cluster`, parsed.
 *
 * @example
 * ```ts
 * const args: CnpgRestoreCommandArgs = { backup: 'nightly', cnpgCluster: 'pg2', timeoutMs: 1_200_000 };
 * ```
 */
export interface CnpgRestoreCommandArgs extends KubeArgs {
  backup: string;
  /** `--cnpg-cluster` (`cluster` is kubectl's kubeconfig cluster). */
  cnpgCluster: string;
  /** `--cnpg-spec`: a file holding a Cluster manifest (its spec is used) or a bare spec. */
  specFile?: string | undefined;
  instances?: number | undefined;
  prepImage?: string | undefined;
  prepUid?: number | undefined;
  prepFsGroup?: number | undefined;
  timeoutMs: number;
}

/**
 * The spec in a `--cnpg-spec` file: a Cluster manifest's `spec`, or the file itself when it is a bare spec.
 *
 * @throws DbaasError `INVALID_ARGUMENT` (unreadable, not YAML, not one object)
 * @example
 * ```ts
 * const spec = await readCnpgSpec('cluster.yaml');
 * ```
 */
export async function readCnpgSpec(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new DbaasError('INVALID_ARGUMENT', `--cnpg-spec ${file}: ${(error as Error).message}`, {
      option: 'spec',
      fix: 'Name a readable file holding a Cluster manifest.',
    });
  }
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new DbaasError('INVALID_ARGUMENT', `--cnpg-spec ${file} is not YAML: ${(error as Error).message}`, { option: 'spec' });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new DbaasError('INVALID_ARGUMENT', `--cnpg-spec ${file} holds no object`, {
      option: 'spec',
      fix: 'Give one Cluster manifest (kind: Cluster) or its spec.',
    });
  }
  const object = doc as { kind?: unknown; spec?: unknown };
  if (object.kind !== undefined && object.kind !== 'Cluster') {
    throw new DbaasError('INVALID_ARGUMENT', `--cnpg-spec ${file} holds a ${String(object.kind)}, not a Cluster`, { option: 'spec' });
  }
  const spec = object.kind === 'Cluster' ? object.spec : doc;
  if (typeof spec !== 'object' || spec === null) throw new DbaasError('INVALID_ARGUMENT', `--cnpg-spec ${file}: the Cluster has no spec`, { option: 'spec' });
  return spec as Record<string, unknown>;
}

async function cnpgRestoreOptions(args: CnpgRestoreCommandArgs, namespace: string): Promise<CnpgRestoreOptions> {
  const prep = prepOptions(args);
  return {
    backup: args.backup,
    namespace,
    cluster: args.cnpgCluster,
    ...(args.specFile !== undefined ? { spec: await readCnpgSpec(args.specFile) } : {}),
    ...(args.instances !== undefined ? { instances: args.instances } : {}),
    ...(Object.keys(prep).length ? { prep } : {}),
    deadlineMs: args.timeoutMs,
  };
}

/**
 * The plan of a restore into a new Cluster (the dry run).
 *
 * @example
 * ```ts
 * const plan = await runCnpgRestorePlan(args);
 * ```
 */
export async function runCnpgRestorePlan(args: CnpgRestoreCommandArgs, client: RestoreClient = restoreClientFor(args)): Promise<CnpgRestorePlan> {
  const options = await cnpgRestoreOptions(args, client.clients.namespace);
  return await explainingMissingNamespaces(client, [{ namespace: options.namespace, option: 'namespace' }], () => client.planRestoreToCnpgCluster(options));
}

/**
 * The dry run's comment lines.
 *
 * @example
 * ```ts
 * cnpgRestorePlanLines(plan).forEach((l) => console.log(`# ${l}`));
 * ```
 */
export function cnpgRestorePlanLines(plan: CnpgRestorePlan): string[] {
  return [
    `restore backup ${plan.backup.name} (${plan.backup.mode ?? 'unknown mode'}) into a new CloudNativePG Cluster ${plan.namespace}/${plan.cluster}`,
    plan.source === 'prepared'
      ? `an online backup: restored into staging PVC(s) with its WAL and backup_label, snapshotted as ${Object.values(plan.snapshots).join(', ')} (deleted once the Cluster is healthy)`
      : `CloudNativePG bootstraps from the backup's own snapshots: ${Object.values(plan.snapshots).join(', ')}`,
    plan.sourceCluster ? `spec copied from Cluster ${plan.sourceCluster}` : 'spec as given',
    ...plan.notCopied.map((n) => `not copied: ${n}`),
  ];
}

/**
 * Runs the restore with progress on `progress`; Ctrl-C aborts it (what it created is deleted, or named).
 *
 * @example
 * ```ts
 * const r = await runCnpgRestoreCommand(args, { progress, signal });
 * ```
 */
export async function runCnpgRestoreCommand(
  args: CnpgRestoreCommandArgs,
  opts: { client?: RestoreClient; signal?: AbortSignal; progress?: ProgressReporter } = {},
): Promise<CnpgRestoreResult> {
  const client = opts.client ?? restoreClientFor(args);
  const progress = opts.progress;
  progress?.phase('checking the backup and the Cluster spec');
  const options = await cnpgRestoreOptions(args, client.clients.namespace);
  return await explainingMissingNamespaces(client, [{ namespace: options.namespace, option: 'namespace' }], async () => {
    const plan = await client.planRestoreToCnpgCluster(options);
    progress?.phase(plan.source === 'prepared' ? 'restoring the online backup with its WAL and backup_label into staging PVCs' : 'creating the Cluster');
    const result = await executeCnpgRestore(client.clients, plan, {
      ...options,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (event) => {
        if (!progress) return;
        progress.detail(event.message);
        if (event.phase === 'prepared') progress.phase('creating the Cluster');
        if (event.phase === 'cluster-created') progress.phase('CloudNativePG bootstraps the Cluster (recovery, then the replicas)');
        if (event.phase === 'healthy' && plan.stagedSnapshots.length) progress.phase('deleting the staging snapshots');
      },
    }).catch((error: unknown) => {
      progress?.fail((error as Error).message);
      throw error;
    });
    progress?.done(`Cluster ${result.cluster} is ${result.state} in ${formatSeconds(result.timings.totalMs)}`);
    return result;
  });
}

/**
 * The text summary.
 *
 * @example
 * ```ts
 * process.stdout.write(renderCnpgRestore(result));
 * ```
 */
export function renderCnpgRestore(r: CnpgRestoreResult): string {
  return renderFields([
    ['Cluster', `${r.namespace}/${r.cluster}`],
    ['State', r.state === 'healthy' ? `healthy (${r.readyInstances}/${r.instances} instances ready)` : 'created (not waited for)'],
    ['Primary', r.primary],
    ['Backup', `${r.backup.name} (${r.backup.mode ?? 'unknown mode'})`],
    [
      'Bootstrapped from',
      `${Object.values(r.snapshots).join(', ')} (${r.source === 'prepared' ? 'staging snapshots with backup_label and WAL' : "the backup's own snapshots"})`,
    ],
    ['Time', `${formatSeconds(r.timings.totalMs)}${r.timings.prepareMs !== undefined ? `, of which preparing ${formatSeconds(r.timings.prepareMs)}` : ''}`],
    ...r.notCopied.map((n): [string, string] => ['Not copied', n]),
    ...r.remaining.map((n): [string, string] => ['Remaining', n]),
  ]);
}
