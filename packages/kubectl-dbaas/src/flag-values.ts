// Checks of flag values that need more than a type (object names, sizes, paths, checks, backup
// names), shared by the commands. Pure (no SDK), so bad flags are refused before anything is loaded.
import { UsageError } from './usage-error.js';

const QUANTITY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * `--size`: a Kubernetes quantity such as `20Gi` (never below the snapshot's restoreSize; the SDK checks that).
 *
 * @throws UsageError naming the accepted form.
 * @example
 * ```ts
 * parseSize('20Gi'); // '20Gi'
 * ```
 */
export function parseSize(text: string): string {
  if (!QUANTITY.test(text)) throw new UsageError(`--size: "${text}" is not a storage quantity; use e.g. 10Gi, 500Mi or 1T`);
  return text;
}

/**
 * A Kubernetes object name given to a flag (PVC, node, StorageClass).
 *
 * @throws UsageError when it is not a DNS subdomain.
 * @example
 * ```ts
 * objectName('pg-restored', '--to'); // 'pg-restored'
 * ```
 */
export function objectName(text: string, flag: string): string {
  if (text.length > 253 || !DNS_SUBDOMAIN.test(text)) throw new UsageError(`${flag}: "${text}" is not a valid name (lower-case letters, digits, '-' and '.')`);
  return text;
}

/**
 * `--data-subpath`: PGDATA relative to the volume root, without `.` or `..` segments.
 *
 * @throws UsageError for an absolute path or one with `.`/`..` segments.
 * @example
 * ```ts
 * parseSubPath('pgdata'); // 'pgdata'
 * ```
 */
export function parseSubPath(text: string): string {
  if (text === '') return text;
  if (!/^[\w.-]+(\/[\w.-]+)*$/.test(text) || text.split('/').some((s) => s === '.' || s === '..')) {
    throw new UsageError(`--data-subpath: "${text}" must be a relative path inside the volume, without "." or ".." (e.g. pgdata)`);
  }
  return text;
}

/**
 * The `--volume-mount VOLUME=PATH` flags of `restore`: where the pod that will use a restored set
 * of several volumes mounts each of them, when not where the source pod did.
 *
 * @throws UsageError when a value has no `=`, names a volume twice, or the path is not absolute.
 * @example
 * ```ts
 * parseVolumeMounts(['wal=/pgwal']); // { wal: '/pgwal' }
 * ```
 */
export function parseVolumeMounts(values: readonly string[]): Record<string, string> {
  const mounts: Record<string, string> = {};
  for (const value of values) {
    const i = value.indexOf('=');
    const volume = i > 0 ? value.slice(0, i) : '';
    const mountPath = i > 0 ? value.slice(i + 1) : '';
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(volume) || !/^\/[\w./-]*[\w.-]$/.test(mountPath)) {
      throw new UsageError(
        `--volume-mount: "${value}" must be VOLUME=PATH, the pod's volume name and an absolute mount path (e.g. wal=/var/lib/postgresql/wal)`,
      );
    }
    if (volume in mounts) throw new UsageError(`--volume-mount: volume ${volume} is named twice`);
    mounts[volume] = mountPath;
  }
  return mounts;
}

/**
 * One `--check NAME=SQL` of `verify`: passes when the first column of the first row is true.
 *
 * @throws UsageError when there is no `=`, or the name or the SQL is empty.
 * @example
 * ```ts
 * parseCheck('orders=select count(*) > 0 from orders'); // { name: 'orders', sql: 'select count(*) > 0 from orders' }
 * ```
 */
export function parseCheck(text: string): { name: string; sql: string } {
  const at = text.indexOf('=');
  const name = at > 0 ? text.slice(0, at).trim() : '';
  const sql = at > 0 ? text.slice(at + 1).trim() : '';
  if (!name || !sql) throw new UsageError(`--check: "${text}" is not NAME=SQL (e.g. --check 'orders=select count(*) > 0 from orders')`);
  return { name, sql };
}

/**
 * The `--node-selector KEY=VALUE` flags of a command (repeatable), as a pod's `nodeSelector`; the
 * SDK checks the keys and values as Kubernetes does.
 *
 * @throws UsageError when one has no `=` or an empty key, or a key is given twice.
 * @example
 * ```ts
 * parseNodeSelector(['topology.kubernetes.io/zone=eu-west-1a']); // { 'topology.kubernetes.io/zone': 'eu-west-1a' }
 * ```
 */
export function parseNodeSelector(texts: readonly string[]): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const text of texts) {
    const at = text.indexOf('=');
    const key = at > 0 ? text.slice(0, at) : '';
    if (!key) throw new UsageError(`--node-selector: "${text}" is not KEY=VALUE (e.g. --node-selector topology.kubernetes.io/zone=eu-west-1a)`);
    if (key in selector) throw new UsageError(`--node-selector: ${key} is given twice`);
    selector[key] = text.slice(at + 1);
  }
  return selector;
}

/**
 * A backup name as given on the command line: `NAME` or kubectl's `backup/NAME` (what `-o name`
 * prints), so `backup list -o name | xargs kubectl dbaas backup delete` works.
 *
 * @example
 * ```ts
 * backupNameArg('backup/nightly'); // 'nightly'
 * ```
 */
export function backupNameArg(arg: string): string {
  return arg.replace(/^backups?\//, '');
}
