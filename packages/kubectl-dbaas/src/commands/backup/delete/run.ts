import { DbaasError, toDbaasError, type DeleteBackupSetResult, type SnapshotClient } from '@kubectl-dbaas/sdk';
import type { KubeArgs } from '../../../global-options.js';
import { explainingMissingNamespaces, snapshotClientFor } from '../../../cli-shared.js';

/**
 * Arguments of `backup delete`.
 *
 * @example
 * ```ts
 * const args: BackupDeleteArgs = { names: ['nightly'], wait: true, timeoutMs: 120_000 };
 * ```
 */
export interface BackupDeleteArgs extends KubeArgs {
  names: string[];
  /** Wait until the snapshots are gone (their finalizers removed). */
  wait: boolean;
  timeoutMs: number;
}

/**
 * What `backup delete -o json|yaml` prints: the backups deleted.
 *
 * @example
 * ```ts
 * const doc: BackupDeleteDocument = JSON.parse(stdout);
 * doc.items[0]?.deleted; // ['nightly', 'nightly-wal']
 * ```
 */
export interface BackupDeleteDocument {
  kind: 'BackupDeleteResult';
  items: DeleteBackupSetResult[];
}

/**
 * Deletes each named backup (its data and `-wal` snapshots together; never a snapshot kubectl-dbaas
 * did not make), in order. A failure does not stop the others (as `kubectl delete a b`): the
 * backups deleted are written by `onDeleted` as they go, and the failures are thrown together at
 * the end.
 *
 * @throws DbaasError the one failure (with its fix), or `KUBE_API_ERROR`-coded summary of several.
 * @example
 * ```ts
 * await runBackupDelete({ names: ['a', 'b'], wait: true, timeoutMs: 60_000 });
 * ```
 */
export async function runBackupDelete(
  args: BackupDeleteArgs,
  options: { client?: SnapshotClient; signal?: AbortSignal; onDeleted?: (result: DeleteBackupSetResult) => void } = {},
): Promise<BackupDeleteDocument> {
  const client = options.client ?? snapshotClientFor(args);
  const namespace = client.clients.namespace;
  const items: DeleteBackupSetResult[] = [];
  const failures: { name: string; error: DbaasError }[] = [];
  for (const name of args.names) {
    try {
      const result = await explainingMissingNamespaces(client, [{ namespace }], () =>
        client.delete({ namespace, name, wait: args.wait, timeoutMs: args.timeoutMs, ...(options.signal ? { signal: options.signal } : {}) }),
      );
      items.push(result);
      options.onDeleted?.(result);
    } catch (error) {
      const e = toDbaasError(error);
      if (e.details?.['missingNamespace'] !== undefined) throw e; // the namespace is missing: every other name fails the same way
      failures.push({ name, error: e });
    }
  }
  if (failures.length === 1) throw failures[0]!.error;
  if (failures.length > 1) {
    throw new DbaasError(
      failures[0]!.error.code,
      `${failures.length} of ${args.names.length} backups were not deleted:\n${failures.map((f) => `  ${f.name}: ${f.error.message}`).join('\n')}`,
      {
        ...(failures[0]!.error.fix ? { fix: failures[0]!.error.fix } : {}),
        ...(failures[0]!.error.option ? { option: failures[0]!.error.option } : {}),
        details: { failures: failures.map((f) => ({ name: f.name, code: f.error.code, message: f.error.message })) },
      },
    );
  }
  return { kind: 'BackupDeleteResult', items };
}

/**
 * The text line for one deleted backup, as kubectl prints deletions.
 *
 * @example
 * ```ts
 * renderDeleted({ namespace: 'db', name: 'nightly', deleted: ['nightly', 'nightly-wal'], gone: true });
 * // 'backup "nightly" deleted (volumesnapshots nightly, nightly-wal)'
 * ```
 */
export function renderDeleted(r: DeleteBackupSetResult): string {
  return `backup "${r.name}" deleted (volumesnapshot${r.deleted.length === 1 ? '' : 's'} ${r.deleted.join(', ')}${r.gone ? '' : '; deletion requested, not waited for'})`;
}
