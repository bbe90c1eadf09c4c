// What the commands share at run time (loaded lazily with their run.ts, never at start-up: it
// loads the SDK): the SDK's clients for kubectl's global flags, the missing-namespace check, and
// snapshot metadata in the form the outputs print (LSNs as X/Y, 64-bit numbers as decimal strings,
// times as ISO 8601).
import { formatLsn, isDbaasError, RestoreClient, SnapshotClient, type SnapshotMetadata } from '@kubectl-dbaas/sdk';
import { kubeClientsOptions, type KubeArgs } from './global-options.js';

/**
 * A SnapshotClient for kubectl's flags: `--kubeconfig`, `--context`, `-n` (default: the context's
 * namespace) and the connection overrides (`--server`, `--user`, `--token`, ...).
 *
 * @example
 * ```ts
 * const client = snapshotClientFor(args);
 * await client.list({ namespace: client.clients.namespace });
 * ```
 */
export function snapshotClientFor(args: KubeArgs): SnapshotClient {
  return new SnapshotClient(kubeClientsOptions(args));
}

/**
 * A RestoreClient for kubectl's flags, as {@link snapshotClientFor}.
 *
 * @example
 * ```ts
 * const client = restoreClientFor(args);
 * client.clients.namespace; // the target namespace
 * ```
 */
export function restoreClientFor(args: KubeArgs): RestoreClient {
  return new RestoreClient(kubeClientsOptions(args));
}

/**
 * A namespace a command works in, with the SDK option that named it (`'namespace'`: `-n`;
 * `'backupNamespace'`: `--from-namespace`).
 *
 * @example
 * ```ts
 * const where: NamespaceOf[] = [{ namespace: 'prod', option: 'backupNamespace' }, { namespace: 'staging' }];
 * ```
 */
export interface NamespaceOf {
  namespace: string;
  option?: string;
}

/**
 * Runs `work`; when it fails with an error of kind `not-found` (a backup, PVC, pod, ... missing)
 * because one of `namespaces` does not exist, throws the error naming that namespace instead (a
 * missing backup in a mistyped namespace hides the typo). A namespace listed twice is checked
 * once, under its first option.
 *
 * @example
 * ```ts
 * const details = await explainingMissingNamespaces(client, [{ namespace: ns }], () => client.describe({ namespace: ns, name }));
 * ```
 */
export async function explainingMissingNamespaces<T>(
  client: SnapshotClient | RestoreClient,
  namespaces: readonly NamespaceOf[],
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isDbaasError(error) && error.kind === 'not-found') {
      const snapshots = client instanceof SnapshotClient ? client : new SnapshotClient(client.clients);
      const seen = new Set<string>();
      for (const { namespace, option } of namespaces) {
        if (seen.has(namespace)) continue;
        seen.add(namespace);
        const missing = await snapshots.missingNamespace(namespace, option);
        if (missing) throw missing;
      }
    }
    throw error;
  }
}

/** {@link SnapshotMetadata} as printed by `-o json|yaml`: LSNs as `X/Y`, times as ISO 8601. */
export type MetadataView = Record<string, string | number | boolean | Record<string, string>>;

/**
 * Snapshot metadata for output: LSNs as PostgreSQL prints them (`0/3000028`), the system identifier
 * as a decimal string, times as ISO 8601; absent fields left out.
 *
 * @example
 * ```ts
 * metadataView(summary.metadata).stopLsn; // '0/5000100'
 * ```
 */
export function metadataView(meta: SnapshotMetadata): MetadataView {
  const out: MetadataView = {};
  for (const [key, value] of Object.entries(meta)) {
    if (value === undefined) continue;
    if (key.endsWith('Lsn') && typeof value === 'bigint') out[key] = formatLsn(value);
    else if (typeof value === 'bigint') out[key] = value.toString();
    else if (value instanceof Date) out[key] = value.toISOString();
    else if (typeof value === 'object') out[key] = { ...(value as Record<string, string>) };
    else out[key] = value as string | number | boolean;
  }
  return out;
}
