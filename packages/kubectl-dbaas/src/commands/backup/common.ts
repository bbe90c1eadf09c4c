// What the `backup` commands share at run time (loaded lazily with their run.ts, never at start-up):
// the SnapshotClient for kubectl's global flags, the missing-namespace check, and snapshot metadata
// in the form the outputs print (LSNs as X/Y, 64-bit numbers as decimal strings, times as ISO 8601).
import { DbaasError, formatLsn, isDbaasError, SnapshotClient, type SnapshotMetadata } from '@kubectl-dbaas/sdk';
import { kubeClientsOptions, type KubeArgs } from '../../global-options.js';

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
 * When `namespace` does not exist, an error that says so (a list in a missing namespace is empty
 * and a get is "not found": both hide the typo). Undefined when it exists or cannot be read
 * (no permission to get namespaces: then the original answer stands).
 *
 * @example
 * ```ts
 * const missing = await missingNamespace(client, 'prod');
 * if (missing) throw missing;
 * ```
 */
export async function missingNamespace(client: SnapshotClient, namespace: string): Promise<DbaasError | undefined> {
  try {
    await client.clients.core.readNamespace({ name: namespace });
    return undefined;
  } catch (error) {
    if (!isDbaasError(error, 'KUBE_NOT_FOUND')) return undefined;
    return new DbaasError('KUBE_NOT_FOUND', `namespace "${namespace}" not found (context "${client.clients.context}")`, {
      fix: 'Check the name with kubectl get namespaces, or pass -n NAMESPACE (the default is the context\'s namespace).',
      cause: error,
      details: { missingNamespace: namespace },
    });
  }
}

/**
 * Runs `work`; when it fails with `KUBE_NOT_FOUND` because the namespace itself is missing, throws
 * that instead.
 *
 * @example
 * ```ts
 * const details = await explainingMissingNamespace(client, ns, () => client.describe({ namespace: ns, name }));
 * ```
 */
export async function explainingMissingNamespace<T>(client: SnapshotClient, namespace: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) throw (await missingNamespace(client, namespace)) ?? error;
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
