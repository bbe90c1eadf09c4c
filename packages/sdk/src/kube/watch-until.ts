// List-then-watch until a condition holds: resumes from the last seen resourceVersion after a
// disconnect (API server restart, idle timeout, network), relists on 410 Gone, ends on the
// predicate, the deadline (KUBE_TIMEOUT naming what was last seen) or an AbortSignal.
import { HttpMethod, IsomorphicFetchHttpLibrary, RequestContext, Watch } from '@kubernetes/client-node';
import { DbaasError, type DbaasErrorCode } from '../errors.js';
import type { KubeClients } from './clients.js';
import { parseStatus, toKubeError, type KubeOperation } from './errors.js';

/**
 * The minimum a watched object has.
 *
 * @example
 * ```ts
 * const o: KubeObjectLike = { metadata: { name: 'x', namespace: 'db', resourceVersion: '42' } };
 * ```
 */
export interface KubeObjectLike {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/**
 * What the predicate of {@link watchUntil} is called with, besides the object.
 * `LISTED`: from the (re)list; `ABSENT`: the list had no matching object (object undefined);
 * `ADDED`/`MODIFIED`/`DELETED`: watch events (DELETED carries the object's last state).
 *
 * @example
 * ```ts
 * const gone = (_o: unknown, e: WatchUntilEvent<unknown>) => isGone(e);
 * ```
 */
export interface WatchUntilEvent<T> {
  type: 'LISTED' | 'ABSENT' | 'ADDED' | 'MODIFIED' | 'DELETED';
  /** Every matching object currently known, keyed `namespace/name`. */
  objects: ReadonlyMap<string, T>;
}

/**
 * Whether the watched object is gone: deleted while watched, or not there when (re)listed.
 *
 * @example
 * ```ts
 * await watchUntil(clients, { path, name: 'nightly', predicate: (_o, e) => isGone(e), deadline, what: 'to be deleted' });
 * ```
 */
export function isGone(event: Pick<WatchUntilEvent<unknown>, 'type'>): boolean {
  return event.type === 'DELETED' || event.type === 'ABSENT';
}

/**
 * Options of {@link watchUntil}.
 *
 * @example
 * ```ts
 * const opts: WatchUntilOptions<VolumeSnapshot> = {
 *   path: clients.volumeSnapshots.path({ namespace: 'db' }),
 *   name: 'nightly',
 *   predicate: (vs) => !!vs?.status?.boundVolumeSnapshotContentName && !!vs.status.creationTime,
 *   deadline: Date.now() + 5 * 60_000,
 *   what: 'to be cut',
 * };
 * ```
 */
export interface WatchUntilOptions<T extends KubeObjectLike> {
  /** Collection path, e.g. `/api/v1/namespaces/db/configmaps` or `clients.volumeSnapshots.path(...)`. */
  path: string;
  /** Watch one object (a `metadata.name` field selector). */
  name?: string;
  labelSelector?: string;
  /** True ends the wait. Called for the listed state and every event; `object` is undefined for ABSENT. */
  predicate: (object: T | undefined, event: WatchUntilEvent<T>) => boolean;
  /** Epoch milliseconds or a Date. */
  deadline: number | Date;
  signal?: AbortSignal;
  /** Words for messages: "waiting for <object> <what>", e.g. `'to be cut'`. */
  what?: string;
  /** Short description of the last seen state for the timeout message. Default: resourceVersion and status. */
  describe?: (object: T | undefined) => string;
  /** Every event as it arrives (progress reporting). */
  onEvent?: (object: T | undefined, event: WatchUntilEvent<T>) => void;
}

/**
 * How {@link watchUntil} ended, and how much work it took.
 *
 * @example
 * ```ts
 * const { object, stats } = await watchUntil(clients, opts);
 * console.log(object?.status, stats.reconnects);
 * ```
 */
export interface WatchUntilResult<T> {
  /** The object the predicate accepted (undefined when it accepted an absence). */
  object: T | undefined;
  type: WatchUntilEvent<T>['type'];
  /** Last resourceVersion seen. */
  resourceVersion: string | undefined;
  stats: WatchUntilStats;
}

/**
 * Counters of one {@link watchUntil} call.
 *
 * @example
 * ```ts
 * if (result.stats.relists > 0) console.log('the watch expired (410) and was relisted');
 * ```
 */
export interface WatchUntilStats {
  /** List requests (1 + relists). */
  lists: number;
  /** Watch requests started. */
  watches: number;
  /** Watches resumed from the last resourceVersion after a failed or dropped connection. */
  reconnects: number;
  /** Relists after 410 Gone (resourceVersion too old). */
  relists: number;
  /** Last transient error seen (while reconnecting). */
  lastError?: string;
}

const FATAL: ReadonlySet<DbaasErrorCode> = new Set(['KUBE_FORBIDDEN', 'KUBE_UNAUTHORIZED', 'KUBE_NOT_FOUND', 'KUBE_INVALID', 'KUBE_CONFIG_INVALID']);
const PATH = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/?]+)\/?$/;

/**
 * The operation a collection path stands for (for error messages and RBAC hints).
 *
 * @example
 * ```ts
 * operationOfPath('/apis/snapshot.storage.k8s.io/v1/namespaces/db/volumesnapshots', 'watch');
 * // { verb: 'watch', resource: 'volumesnapshots', group: 'snapshot.storage.k8s.io', namespace: 'db' }
 * ```
 */
export function operationOfPath(path: string, verb: string): KubeOperation {
  const m = PATH.exec(path);
  if (!m) {
    throw new DbaasError(
      'INVALID_ARGUMENT',
      `"${path}" is not a collection path (/api/v1[/namespaces/<ns>]/<resource> or /apis/<group>/<version>[/namespaces/<ns>]/<resource>)`,
    );
  }
  return { verb, resource: decodeURIComponent(m[3]!), group: m[1] ?? '', ...(m[2] ? { namespace: decodeURIComponent(m[2]) } : {}) };
}

function keyOf(o: KubeObjectLike): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function defaultDescribe(o: KubeObjectLike | undefined): string {
  if (!o) return 'the object did not exist';
  const { status, spec, data } = o as { status?: unknown; spec?: unknown; data?: unknown };
  const text =
    status !== undefined
      ? `status ${JSON.stringify(status)}`
      : data !== undefined
        ? `data ${JSON.stringify(data)}`
        : spec !== undefined
          ? `no status, spec ${JSON.stringify(spec)}`
          : 'no status';
  return `resourceVersion ${o.metadata?.resourceVersion ?? '?'}, ${text.length > 600 ? `${text.slice(0, 600)}...` : text}`;
}

interface ListPage<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

/** One list request with the kubeconfig's credentials and TLS settings (the Watch's own mechanism). */
async function listPage<T>(clients: KubeClients, path: string, query: Record<string, string>, signal: AbortSignal): Promise<ListPage<T>> {
  const url = new URL(clients.server + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const ctx = new RequestContext(url.toString(), HttpMethod.GET);
  ctx.setHeaderParam('Accept', 'application/json');
  ctx.setSignal(signal);
  await clients.kubeConfig.applySecurityAuthentication(ctx);
  const response = await new IsomorphicFetchHttpLibrary().send(ctx).toPromise();
  const body = await response.body.text();
  if (response.httpStatusCode !== 200) throw Object.assign(new Error(`HTTP ${response.httpStatusCode}`), { code: response.httpStatusCode, body });
  return JSON.parse(body) as ListPage<T>;
}

/**
 * Waits until `predicate` holds for a watched object: lists first (the current state counts), then
 * watches from the list's resourceVersion. A dropped or failed watch (API server restart, network,
 * idle timeout) is resumed from the last seen resourceVersion with backoff; 410 Gone (that version is
 * no longer served) relists. Ends when the predicate is true, at the deadline with `KUBE_TIMEOUT`
 * naming what was last seen (and the last connection error, if any), or on abort with
 * `KUBE_ABORTED`. Permission and credential errors end it at once (`KUBE_FORBIDDEN` names the
 * verb `list` or `watch`).
 *
 * @example
 * ```ts
 * const { object } = await watchUntil<VolumeSnapshot>(clients, {
 *   path: clients.volumeSnapshots.path({ namespace: 'db' }),
 *   name: 'nightly',
 *   predicate: (vs) => !!vs?.status?.boundVolumeSnapshotContentName && !!vs?.status?.creationTime,
 *   deadline: Date.now() + 120_000,
 *   what: 'to be cut',
 *   signal,
 * });
 * ```
 */
export function watchUntil<T extends KubeObjectLike>(clients: KubeClients, opts: WatchUntilOptions<T>): Promise<WatchUntilResult<T>> {
  const deadline = opts.deadline instanceof Date ? opts.deadline.getTime() : opts.deadline;
  const listOp = clients.operation(operationOfPath(opts.path, 'list'));
  const watchOp: KubeOperation = { ...listOp, verb: 'watch' };
  const target = `${opts.name ? `${listOp.resource} "${opts.name}"` : `${listOp.resource}${opts.labelSelector ? ` matching "${opts.labelSelector}"` : ''}`}${listOp.namespace ? ` in namespace "${listOp.namespace}"` : ''}`;
  const what = opts.what ?? 'to reach the expected state';
  const describe = opts.describe ?? defaultDescribe;
  const selectors: Record<string, string> = {
    ...(opts.name ? { fieldSelector: `metadata.name=${opts.name}` } : {}),
    ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
  };
  const stats: WatchUntilStats = { lists: 0, watches: 0, reconnects: 0, relists: 0 };
  const objects = new Map<string, T>();
  let lastSeen: T | undefined;
  let seenAnything = false;
  let resourceVersion: string | undefined;
  let lastError: DbaasError | undefined;
  let failures = 0;

  return new Promise<WatchUntilResult<T>>((resolve, reject) => {
    let settled = false;
    let watchController: AbortController | undefined;
    const requests = new AbortController();
    let retryTimer: NodeJS.Timeout | undefined;

    const finish = (done: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadlineTimer);
      clearTimeout(retryTimer);
      watchController?.abort();
      requests.abort();
      opts.signal?.removeEventListener('abort', onAbort);
      done();
    };
    const onAbort = (): void =>
      finish(() =>
        reject(new DbaasError('KUBE_ABORTED', `stopped waiting for ${target} ${what}: aborted`, { cause: opts.signal?.reason, details: { stats } })),
      );
    const onDeadline = (): void =>
      finish(() => {
        const seen = seenAnything ? describe(lastSeen) : 'nothing (no list completed)';
        const disconnected = lastError && failures > 0 ? `; the watch was disconnected: ${lastError.message}` : '';
        reject(
          new DbaasError('KUBE_TIMEOUT', `timed out waiting for ${target} ${what}; last seen: ${seen}${disconnected}`, {
            details: { lastSeen, stats: { ...stats }, ...(lastError ? { lastError: lastError.message } : {}) },
            ...(lastError ? { cause: lastError } : {}),
          }),
        );
      });
    const deadlineTimer = setTimeout(onDeadline, Math.max(0, deadline - Date.now()));
    if (opts.signal?.aborted) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const check = (object: T | undefined, type: WatchUntilEvent<T>['type']): void => {
      if (settled) return;
      const event: WatchUntilEvent<T> = { type, objects };
      try {
        opts.onEvent?.(object, event);
        if (opts.predicate(object, event)) {
          finish(() => resolve({ object, type, resourceVersion, stats: { ...stats } }));
        }
      } catch (error) {
        finish(() => reject(error));
      }
    };

    const retry = (error: unknown, phase: 'list' | 'watch'): void => {
      if (settled) return;
      const mapped = toKubeError(error, phase === 'list' ? listOp : watchOp);
      if (FATAL.has(mapped.code)) {
        finish(() => reject(mapped));
        return;
      }
      lastError = mapped;
      stats.lastError = mapped.message;
      failures += 1;
      stats.reconnects += 1;
      const delay = Math.min(5000, 200 * 2 ** Math.min(failures - 1, 5), Math.max(0, deadline - Date.now()));
      retryTimer = setTimeout(() => (resourceVersion === undefined ? void list() : void watch()), delay);
    };

    const list = async (): Promise<void> => {
      stats.lists += 1;
      try {
        const items: T[] = [];
        let cont: string | undefined;
        let rv: string | undefined;
        do {
          const page = await listPage<T>(clients, opts.path, { ...selectors, limit: '500', ...(cont ? { continue: cont } : {}) }, requests.signal);
          items.push(...(page.items ?? []));
          rv = page.metadata?.resourceVersion;
          cont = page.metadata?.continue || undefined;
        } while (cont);
        if (settled) return;
        failures = 0;
        resourceVersion = rv;
        seenAnything = true;
        objects.clear();
        for (const item of items) objects.set(keyOf(item), item);
        if (items.length === 0) {
          lastSeen = undefined;
          check(undefined, 'ABSENT');
        }
        for (const item of items) {
          lastSeen = item;
          check(item, 'LISTED');
        }
        if (!settled) void watch();
      } catch (error) {
        retry(error, 'list');
      }
    };

    const watch = async (): Promise<void> => {
      if (settled) return;
      stats.watches += 1;
      let gone = false;
      let errorStatus: ReturnType<typeof parseStatus>;
      const remaining = Math.ceil((deadline - Date.now()) / 1000);
      const started = Date.now();
      try {
        const controller = await new Watch(clients.kubeConfig).watch(
          opts.path,
          {
            ...selectors,
            resourceVersion,
            allowWatchBookmarks: true,
            // The server ends the watch cleanly before client-node's 30 s inactivity timer fires.
            timeoutSeconds: Math.max(1, Math.min(25, remaining)),
          },
          (type: string, object: T) => {
            if (settled) return;
            if (type === 'ERROR') {
              const status = parseStatus(object);
              if (status?.code === 410) gone = true;
              else errorStatus = status;
              return;
            }
            const rv = object?.metadata?.resourceVersion;
            if (rv) resourceVersion = rv;
            failures = 0;
            if (type === 'BOOKMARK') return;
            if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
            if (type === 'DELETED') objects.delete(keyOf(object));
            else objects.set(keyOf(object), object);
            lastSeen = object;
            check(object, type);
          },
          (error: unknown) => {
            if (settled) return;
            if (gone || (error as { statusCode?: number } | null)?.statusCode === 410) {
              stats.relists += 1;
              resourceVersion = undefined;
              void list();
              return;
            }
            if (errorStatus) {
              retry(Object.assign(new Error(errorStatus.message ?? 'watch error'), { code: errorStatus.code ?? 500, body: errorStatus }), 'watch');
              return;
            }
            if (!error && Date.now() - started >= 1000) {
              void watch(); // clean end (timeoutSeconds): go on from the last resourceVersion
              return;
            }
            if (!error) {
              // Closed at once without an error: back off instead of spinning.
              retry(Object.assign(new Error(`the watch of ${target} was closed by ${clients.server} right after it started`), { code: 503 }), 'watch');
              return;
            }
            retry(error, 'watch');
          },
        );
        watchController = controller;
        if (settled) controller.abort();
      } catch (error) {
        retry(error, 'watch');
      }
    };

    void list();
  });
}
