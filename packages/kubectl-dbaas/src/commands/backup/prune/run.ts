import type { PruneDecision, PruneResult, SnapshotClient } from '@kubectl-dbaas/sdk';
import { formatAge } from '../../../duration.js';
import type { KubeArgs } from '../../../global-options.js';
import { renderTable } from '../../../output.js';
import { snapshotClientFor } from '../../../cli-shared.js';

/**
 * Arguments of `backup prune`: the SDK's PrunePolicy, what to prune, and whether to delete.
 *
 * @example
 * ```ts
 * const args: BackupPruneArgs = { allNamespaces: false, keepDaily: 7, keepWeekly: 4, yes: false, wait: false };
 * ```
 */
export interface BackupPruneArgs extends KubeArgs {
  /** `-A`: every namespace. */
  allNamespaces: boolean;
  keepLast?: number | undefined;
  maxAge?: string | undefined;
  keepDaily?: number | undefined;
  keepWeekly?: number | undefined;
  keepMonthly?: number | undefined;
  source?: string | undefined;
  /** Delete what the plan says (default: print the plan only). */
  yes: boolean;
  wait: boolean;
}

/**
 * One decision as `backup prune -o json|yaml` prints it.
 *
 * @example
 * ```ts
 * doc.decisions.filter((d) => d.action === 'delete').map((d) => d.name);
 * ```
 */
export interface PruneDecisionView {
  namespace: string;
  name: string;
  action: PruneDecision['action'];
  state: PruneDecision['state'];
  time: string;
  reasons: string[];
  snapshots: string[];
}

/**
 * What `backup prune -o json|yaml` prints: the plan, and what was deleted (nothing on a dry run).
 *
 * @example
 * ```ts
 * const doc: BackupPruneDocument = JSON.parse(stdout);
 * if (doc.dryRun) console.log(doc.decisions.filter((d) => d.action === 'delete').length, 'would go');
 * ```
 */
export interface BackupPruneDocument {
  kind: 'BackupPrunePlan';
  dryRun: boolean;
  now: string;
  policy: Record<string, string | number>;
  decisions: PruneDecisionView[];
  deleted: { namespace: string; name: string; snapshots: string[]; gone: boolean }[];
}

/**
 * Plans (and with `yes`, carries out) a prune of the backups by the retention policy. Dry run by
 * default: deleting backups is not undoable, so the plan is shown first and `--yes` deletes.
 *
 * @throws DbaasError `INVALID_ARGUMENT` (no rule given, bad max-age), `KUBE_NOT_FOUND` (missing namespace), ...
 * @example
 * ```ts
 * const plan = await runBackupPrune({ allNamespaces: false, keepLast: 3, yes: false, wait: false });
 * ```
 */
export async function runBackupPrune(args: BackupPruneArgs, client: SnapshotClient = snapshotClientFor(args)): Promise<BackupPruneDocument> {
  const namespace = client.clients.namespace;
  const result: PruneResult = await client.prune({
    ...(args.allNamespaces ? { allNamespaces: true } : { namespace }),
    ...(args.source ? { backupSource: args.source } : {}),
    ...(args.keepLast !== undefined ? { keepLast: args.keepLast } : {}),
    ...(args.maxAge !== undefined ? { maxAge: args.maxAge } : {}),
    ...(args.keepDaily !== undefined ? { keepDaily: args.keepDaily } : {}),
    ...(args.keepWeekly !== undefined ? { keepWeekly: args.keepWeekly } : {}),
    ...(args.keepMonthly !== undefined ? { keepMonthly: args.keepMonthly } : {}),
    dryRun: !args.yes,
    wait: args.wait,
  });
  if (result.decisions.length === 0 && !args.allNamespaces) {
    const missing = await client.missingNamespace(namespace);
    if (missing) throw missing;
  }
  return pruneDocument(result);
}

/**
 * The printed form of an SDK PruneResult.
 *
 * @example
 * ```ts
 * pruneDocument(await client.prune({ keepLast: 3 }));
 * ```
 */
export function pruneDocument(result: PruneResult): BackupPruneDocument {
  const policy: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(result.policy)) if (v !== undefined) policy[k] = v as string | number;
  return {
    kind: 'BackupPrunePlan',
    dryRun: result.dryRun,
    now: result.now.toISOString(),
    policy,
    decisions: result.decisions.map((d) => ({
      namespace: d.namespace,
      name: d.name,
      action: d.action,
      state: d.state,
      time: d.time.toISOString(),
      reasons: d.reasons,
      snapshots: d.snapshots,
    })),
    deleted: result.deleted.map((d) => ({ namespace: d.namespace, name: d.name, snapshots: d.deleted, gone: d.gone })),
  };
}

/**
 * The text of `backup prune`: a table of every backup with its fate and the reason, then a line
 * that says what happened (or, on a dry run, how to delete).
 *
 * @example
 * ```ts
 * console.log(renderPrune(doc, { allNamespaces: false }));
 * ```
 */
export function renderPrune(doc: BackupPruneDocument, opts: { allNamespaces?: boolean } = {}): string {
  const now = Date.parse(doc.now);
  const all = opts.allNamespaces ?? false;
  const toDelete = doc.decisions.filter((d) => d.action === 'delete');
  const headers = [...(all ? ['NAMESPACE'] : []), 'ACTION', 'NAME', 'STATE', 'AGE', 'REASON'];
  const rows = doc.decisions.map((d) => [
    ...(all ? [d.namespace] : []),
    d.action === 'delete' ? (doc.dryRun ? 'would-delete' : 'deleted') : 'keep',
    d.name,
    d.state,
    formatAge(now - Date.parse(d.time)),
    d.reasons.join('; '),
  ]);
  const table = doc.decisions.length ? `${renderTable(headers, rows)}\n` : 'No backups found.\n';
  const summary = doc.dryRun
    ? toDelete.length
      ? `Dry run: ${toDelete.length} of ${doc.decisions.length} backups would be deleted. Run again with --yes to delete them.`
      : `Nothing to delete: the policy keeps all ${doc.decisions.length} backups.`
    : `Deleted ${doc.deleted.length} of ${doc.decisions.length} backups (${doc.deleted.map((d) => d.name).join(', ') || 'none'}).`;
  return `${table}${summary}`;
}
