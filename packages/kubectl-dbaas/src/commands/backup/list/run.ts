import type { BackupSet, SnapshotClient, SnapshotRole, SnapshotState } from '@kubectl-dbaas/sdk';
import { formatAge } from '../../../duration.js';
import type { KubeArgs } from '../../../global-options.js';
import { renderTable } from '../../../output.js';
import { metadataView, snapshotClientFor, type MetadataView } from '../../../cli-shared.js';

/**
 * Arguments of `backup list`.
 *
 * @example
 * ```ts
 * const args: BackupListArgs = { allNamespaces: false, namespace: 'db', selector: 'team=payments' };
 * ```
 */
export interface BackupListArgs extends KubeArgs {
  /** `-A`: every namespace. */
  allNamespaces: boolean;
  /** `-l`: a label selector, ANDed with the managed-by selector. */
  selector?: string | undefined;
  /** `--source`: only backups of this PVC. */
  source?: string | undefined;
}

/**
 * One snapshot of a listed backup.
 *
 * @example
 * ```ts
 * const s: BackupListSnapshot = { name: 'nightly-wal', role: 'wal', state: 'ready', restoreSize: '1Gi' };
 * ```
 */
export interface BackupListSnapshot {
  name: string;
  role: SnapshotRole;
  state: SnapshotState;
  error?: string;
  restoreSize?: string;
  snapshotClass?: string;
  boundContentName?: string;
  /** The cut as kubectl-dbaas recorded it (`dbaas.io/cut-at`; docs/consistency.md), else `status.creationTime`. */
  cutAt?: string;
  /** `status.creationTime`: the CSI driver's own time for the snapshot (not the cut). */
  storageCreationTime?: string;
  deleting: boolean;
  metadata?: MetadataView;
  metadataError?: string;
}

/**
 * One backup set as `backup list -o json|yaml` prints it.
 *
 * @example
 * ```ts
 * for (const b of doc.items) console.log(b.name, b.state, b.data?.restoreSize);
 * ```
 */
export interface BackupListItem {
  namespace: string;
  name: string;
  mode?: string;
  state: SnapshotState;
  error?: string;
  sourcePvc?: string;
  /** When the backup was requested (else the snapshots' creationTimestamp): the sort key, newest first. */
  time: string;
  timeSource: BackupSet['timeSource'];
  managed: boolean;
  /** An `online` set without its `-wal` snapshot: not restorable. */
  missingWal: boolean;
  /** A set of several volumes: the volumes its data snapshot lists that have no snapshot (it cannot be restored). */
  missingVolumes?: string[];
  metadataError?: string;
  data?: BackupListSnapshot;
  wal?: BackupListSnapshot;
  /** A set of several volumes: the snapshots of the instance's other volumes (its pg_wal, tablespaces). */
  volumes?: BackupListSnapshot[];
}

/**
 * The document `backup list -o json|yaml` prints: every backup set, newest first.
 *
 * @example
 * ```ts
 * const doc: BackupListDocument = JSON.parse(stdout);
 * ```
 */
export interface BackupListDocument {
  kind: 'BackupList';
  /** The namespace listed, or `null` with `-A`. */
  namespace: string | null;
  items: BackupListItem[];
}

function snapshotView(s: BackupSet['data']): BackupListSnapshot | undefined {
  if (!s) return undefined;
  return {
    name: s.name,
    role: s.role,
    state: s.state,
    ...(s.error ? { error: s.error } : {}),
    ...(s.restoreSize ? { restoreSize: s.restoreSize } : {}),
    ...(s.snapshotClass ? { snapshotClass: s.snapshotClass } : {}),
    ...(s.boundContentName ? { boundContentName: s.boundContentName } : {}),
    ...(s.cutAt ? { cutAt: s.cutAt.toISOString() } : {}),
    ...(s.storageCreationTime ? { storageCreationTime: s.storageCreationTime.toISOString() } : {}),
    deleting: s.deleting,
    ...(s.metadata ? { metadata: metadataView(s.metadata) } : {}),
    ...(s.metadataError ? { metadataError: s.metadataError } : {}),
  };
}

/**
 * A backup set as listed.
 *
 * @example
 * ```ts
 * const items = (await client.list()).items.map(backupListItem);
 * ```
 */
export function backupListItem(set: BackupSet): BackupListItem {
  const data = snapshotView(set.data);
  const wal = snapshotView(set.wal);
  return {
    namespace: set.namespace,
    name: set.name,
    ...(set.mode ? { mode: set.mode } : {}),
    state: set.state,
    ...(set.error ? { error: set.error } : {}),
    ...(set.sourcePvc ? { sourcePvc: set.sourcePvc } : {}),
    time: set.time.toISOString(),
    timeSource: set.timeSource,
    managed: set.managed,
    missingWal: set.missingWal,
    ...(set.missingVolumes.length ? { missingVolumes: set.missingVolumes } : {}),
    ...(set.metadataError ? { metadataError: set.metadataError } : {}),
    ...(data ? { data } : {}),
    ...(wal ? { wal } : {}),
    ...(set.volumes.length ? { volumes: set.volumes.map((v) => snapshotView(v)!) } : {}),
  };
}

/**
 * Lists the backups of a namespace (or all, `-A`), newest first. An empty list in a namespace that
 * does not exist is an error that says so.
 *
 * @throws DbaasError `KUBE_NOT_FOUND` (missing namespace), `KUBE_FORBIDDEN` (the RBAC rule to add), ...
 * @example
 * ```ts
 * const doc = await runBackupList({ namespace: 'db', allNamespaces: false });
 * ```
 */
export async function runBackupList(args: BackupListArgs, client: SnapshotClient = snapshotClientFor(args)): Promise<BackupListDocument> {
  const namespace = client.clients.namespace;
  const { items } = await client.list({
    ...(args.allNamespaces ? { allNamespaces: true } : { namespace }),
    ...(args.selector ? { labelSelector: args.selector } : {}),
    ...(args.source ? { backupSource: args.source } : {}),
  });
  if (items.length === 0 && !args.allNamespaces) {
    const missing = await client.missingNamespace(namespace);
    if (missing) throw missing;
  }
  return { kind: 'BackupList', namespace: args.allNamespaces ? null : namespace, items: items.map(backupListItem) };
}

function stateColumn(item: BackupListItem): string {
  if (item.data?.deleting || item.wal?.deleting) return 'deleting';
  if (item.missingWal) return `${item.state},no-wal`;
  if (item.missingVolumes?.length) return `${item.state},no-volume`;
  if (item.metadataError) return `${item.state},bad-metadata`;
  return item.state;
}

function walColumn(item: BackupListItem): string {
  if (item.wal) return item.wal.restoreSize ?? item.wal.state;
  return item.missingWal ? 'missing' : '-';
}

/**
 * The text table of `backup list`, as kubectl prints: NAME, MODE, STATE, SOURCE, CUT AGE (since
 * the cut of the data snapshot, as `describe` shows it), SIZE (its restoreSize), WAL (the `-wal` snapshot's size for
 * online backups); NAMESPACE first with `-A`. Empty string for no items.
 *
 * @example
 * ```ts
 * console.log(renderBackupList(doc, { now: new Date() }));
 * ```
 */
export function renderBackupList(doc: BackupListDocument, opts: { now?: Date } = {}): string {
  if (doc.items.length === 0) return '';
  const now = (opts.now ?? new Date()).getTime();
  const all = doc.namespace === null;
  const headers = [...(all ? ['NAMESPACE'] : []), 'NAME', 'MODE', 'STATE', 'SOURCE', 'CUT AGE', 'SIZE', 'WAL'];
  const rows = doc.items.map((item) => [
    ...(all ? [item.namespace] : []),
    item.name,
    item.mode,
    stateColumn(item),
    item.sourcePvc,
    item.data?.cutAt ? formatAge(now - Date.parse(item.data.cutAt)) : '-',
    item.data?.restoreSize ?? '-',
    walColumn(item),
  ]);
  return renderTable(headers, rows);
}

/**
 * What `kubectl` prints on stderr for an empty list.
 *
 * @example
 * ```ts
 * emptyListMessage({ kind: 'BackupList', namespace: 'db', items: [] }); // 'No backups found in db namespace.'
 * ```
 */
export function emptyListMessage(doc: BackupListDocument): string {
  return doc.namespace === null ? 'No backups found.' : `No backups found in ${doc.namespace} namespace.`;
}
