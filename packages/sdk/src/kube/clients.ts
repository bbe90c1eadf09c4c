// The one place that creates @kubernetes/client-node clients: kubeconfig loading as kubectl does it
// (--kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster; --context; namespace from the context),
// typed API accessors whose failures are DbaasErrors, and typed snapshot.storage.k8s.io/v1 access.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, StorageV1Api, setHeaderOptions } from '@kubernetes/client-node';
import { DbaasError } from '../errors.js';
import { toKubeError, type KubeOperation } from './errors.js';
import {
  SNAPSHOT_GROUP,
  SNAPSHOT_VERSION,
  GROUP_SNAPSHOT_GROUP,
  GROUP_SNAPSHOT_VERSION,
  type SnapshotObjectList,
  type VolumeGroupSnapshot,
  type VolumeGroupSnapshotClass,
  type VolumeGroupSnapshotContent,
  type VolumeSnapshot,
  type VolumeSnapshotClass,
  type VolumeSnapshotContent,
} from './snapshot-types.js';
import { reuseConnections } from './connection-reuse.js';
import { applyOverrides, configFromFlags, type KubeConfigOverrides } from './overrides.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * How to find the cluster, as kubectl's global flags say it.
 *
 * @example
 * ```ts
 * const opts: KubeClientsOptions = { kubeconfig: argv.kubeconfig, context: argv.context, namespace: argv.namespace };
 * ```
 */
export interface KubeClientsOptions {
  /** `--kubeconfig`: one file. Default: `$KUBECONFIG` (merged list), `~/.kube/config`, in-cluster. */
  kubeconfig?: string | undefined;
  /** `--context`: a context of the kubeconfig. Default: its current-context. */
  context?: string | undefined;
  /** `-n`: default namespace. Default: the context's namespace, else `default`. */
  namespace?: string | undefined;
  /** An already loaded KubeConfig (then `kubeconfig` is ignored). */
  kubeConfig?: KubeConfig | undefined;
  /**
   * kubectl's connection flags (`--server`, `--user`, `--token`, `--request-timeout`, ...), applied
   * to the chosen context as kubectl applies them. With `server` and no kubeconfig at all, the
   * flags alone make the configuration.
   */
  overrides?: KubeConfigOverrides | undefined;
}

const VERB_BY_PREFIX: [RegExp, string][] = [
  [/^deleteCollection/, 'deletecollection'],
  [/^list/, 'list'],
  [/^read/, 'get'],
  [/^create/, 'create'],
  [/^replace/, 'update'],
  [/^patch/, 'patch'],
  [/^delete/, 'delete'],
  [/^connect(Get|Post)/, 'create'],
];

/** `listNamespacedPersistentVolumeClaim` -> `persistentvolumeclaims`; `readNamespacedStatefulSetScale` -> `statefulsets/scale`. */
function resourceOfMethod(method: string): string | undefined {
  let rest = method.replace(/^(deleteCollection|list|read|create|replace|patch|delete|connect(Get|Post|Put|Delete|Head|Options|Patch))/, '');
  rest = rest.replace(/^Namespaced/, '').replace(/ForAllNamespaces$/, '');
  if (!rest) return undefined;
  let sub: string | undefined;
  const subMatch = /^(.*?)(Status|Scale|Exec|Attach|Portforward|Proxy|Log|Eviction|Binding|Ephemeralcontainers|Resize|Token)$/.exec(rest);
  if (subMatch?.[1]) {
    rest = subMatch[1];
    sub = subMatch[2]!.toLowerCase();
  }
  let plural = rest.toLowerCase();
  if (!plural.endsWith('s') || plural.endsWith('ss')) {
    if (plural.endsWith('ss')) plural += 'es';
    else if (/[^aeiou]y$/.test(plural)) plural = `${plural.slice(0, -1)}ies`;
    else plural += 's';
  }
  return sub ? `${plural}/${sub}` : plural;
}

/**
 * Wraps a generated client-node API object so that every rejected call becomes a DbaasError
 * (see {@link toKubeError}) that names the verb, resource, namespace and server.
 */
function mapErrors<T extends object>(api: T, group: string | undefined, base: () => Partial<KubeOperation>): T {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        const describe = (): Partial<KubeOperation> => {
          const param = (args[0] ?? {}) as { namespace?: string; name?: string; plural?: string; group?: string };
          const verb = VERB_BY_PREFIX.find(([re]) => re.test(prop))?.[1] ?? prop;
          return {
            ...base(),
            verb,
            resource: param.plural ?? resourceOfMethod(prop) ?? prop,
            group: param.group ?? group ?? '',
            ...(param.namespace ? { namespace: param.namespace } : {}),
            ...(param.name ? { name: param.name } : {}),
          };
        };
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (error) {
          throw toKubeError(error, describe());
        }
        if (result instanceof Promise) {
          return result.catch((error: unknown) => {
            throw toKubeError(error, describe());
          });
        }
        return result;
      };
    },
  });
}

/**
 * Options of a list call on a snapshot resource.
 *
 * @example
 * ```ts
 * await clients.volumeSnapshots.list({ labelSelector: 'app.kubernetes.io/managed-by=kubectl-dbaas', limit: 500 });
 * ```
 */
export interface SnapshotListOptions {
  /** Namespace (namespaced resources only). Default: the clients' namespace. */
  namespace?: string;
  /** List across all namespaces (`-A`). */
  allNamespaces?: boolean;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

/**
 * Typed access to one snapshot.storage.k8s.io/v1 resource (VolumeSnapshot, VolumeSnapshotContent
 * or VolumeSnapshotClass) through client-node's CustomObjectsApi; every failure is a DbaasError.
 *
 * @example
 * ```ts
 * const vs = await clients.volumeSnapshots.get('nightly', 'db');
 * console.log(vs.status?.boundVolumeSnapshotContentName);
 * ```
 */
export class SnapshotResource<T extends { metadata: { name?: string; namespace?: string } }> {
  /** @internal */
  constructor(
    private readonly clients: KubeClients,
    readonly plural: string,
    readonly namespaced: boolean,
    readonly group: string = SNAPSHOT_GROUP,
    readonly version: string = SNAPSHOT_VERSION,
  ) {}

  private ns(namespace: string | undefined): string | undefined {
    return this.namespaced ? (namespace ?? this.clients.namespace) : undefined;
  }

  /**
   * The REST path of the collection or of one object, for {@link watchUntil}.
   *
   * @example
   * ```ts
   * clients.volumeSnapshots.path({ namespace: 'db' }); // '/apis/snapshot.storage.k8s.io/v1/namespaces/db/volumesnapshots'
   * ```
   */
  path(opts: { namespace?: string; allNamespaces?: boolean; name?: string } = {}): string {
    const ns = opts.allNamespaces ? undefined : this.ns(opts.namespace);
    return `/apis/${this.group}/${this.version}${ns ? `/namespaces/${encodeURIComponent(ns)}` : ''}/${this.plural}${opts.name ? `/${encodeURIComponent(opts.name)}` : ''}`;
  }

  /** Reads one object. @throws DbaasError `KUBE_NOT_FOUND`, `KUBE_FORBIDDEN`, ... */
  async get(name: string, namespace?: string): Promise<T> {
    const ns = this.ns(namespace);
    const { group, version, plural } = this;
    return (
      ns
        ? await this.clients.custom.getNamespacedCustomObject({ group, version, plural, namespace: ns, name })
        : await this.clients.custom.getClusterCustomObject({ group, version, plural, name })
    ) as T;
  }

  /** Lists one page. */
  async list(opts: SnapshotListOptions = {}): Promise<SnapshotObjectList<T>> {
    const { group, version, plural } = this;
    const query = {
      ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
      ...(opts.fieldSelector ? { fieldSelector: opts.fieldSelector } : {}),
      ...(opts.limit ? { limit: opts.limit } : {}),
      ...(opts.continue ? { _continue: opts.continue } : {}),
    };
    const ns = opts.allNamespaces ? undefined : this.ns(opts.namespace);
    return (
      ns
        ? await this.clients.custom.listNamespacedCustomObject({ group, version, plural, namespace: ns, ...query })
        : await this.clients.custom.listClusterCustomObject({ group, version, plural, ...query })
    ) as SnapshotObjectList<T>;
  }

  /** Lists every page (`limit` per request, default 500) and returns all items. */
  async listAll(opts: Omit<SnapshotListOptions, 'continue'> = {}): Promise<T[]> {
    const items: T[] = [];
    let cont: string | undefined;
    do {
      const page = await this.list({ ...opts, limit: opts.limit ?? 500, ...(cont ? { continue: cont } : {}) });
      items.push(...page.items);
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return items;
  }

  /** Creates an object (namespace from `body.metadata.namespace`, else the clients' namespace). */
  async create(body: T, opts: { dryRun?: boolean } = {}): Promise<T> {
    const { group, version, plural } = this;
    const ns = this.ns(body.metadata.namespace);
    const dry = opts.dryRun ? { dryRun: 'All' } : {};
    return (
      ns
        ? await this.clients.custom.createNamespacedCustomObject({ group, version, plural, namespace: ns, body, ...dry })
        : await this.clients.custom.createClusterCustomObject({ group, version, plural, body, ...dry })
    ) as T;
  }

  /** JSON merge patch (RFC 7386) of one object. */
  async patch(name: string, patch: Record<string, unknown>, namespace?: string): Promise<T> {
    const { group, version, plural } = this;
    const ns = this.ns(namespace);
    const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    return (
      ns
        ? await this.clients.custom.patchNamespacedCustomObject({ group, version, plural, namespace: ns, name, body: patch }, options)
        : await this.clients.custom.patchClusterCustomObject({ group, version, plural, name, body: patch }, options)
    ) as T;
  }

  /** Deletes one object; `KUBE_NOT_FOUND` when it does not exist. */
  async delete(name: string, namespace?: string): Promise<void> {
    const { group, version, plural } = this;
    const ns = this.ns(namespace);
    if (ns) await this.clients.custom.deleteNamespacedCustomObject({ group, version, plural, namespace: ns, name });
    else await this.clients.custom.deleteClusterCustomObject({ group, version, plural, name });
  }
}

/**
 * The SDK's Kubernetes clients for one kubeconfig context: CoreV1, StorageV1, AppsV1, BatchV1 and
 * CustomObjects of `@kubernetes/client-node`, plus typed VolumeSnapshot, VolumeSnapshotContent and
 * VolumeSnapshotClass access. Every API failure is a {@link DbaasError} (`KUBE_FORBIDDEN` with the
 * RBAC rule to add, `KUBE_NOT_FOUND`, `KUBE_CONFLICT`, `KUBE_UNREACHABLE` naming the server, ...).
 *
 * @example
 * ```ts
 * const clients = KubeClients.load({ kubeconfig: argv.kubeconfig, context: argv.context, namespace: argv.namespace });
 * const pvc = await clients.core.readNamespacedPersistentVolumeClaim({ name: 'data-pg-0', namespace: clients.namespace });
 * const snapshots = await clients.volumeSnapshots.list({ labelSelector: 'dbaas.io/backup-set=nightly' });
 * ```
 */
export class KubeClients {
  readonly kubeConfig: KubeConfig;
  /** The namespace to use when none is given: `-n`, else the context's, else `default`. */
  readonly namespace: string;
  /** Name of the kubeconfig context in use. */
  readonly context: string;
  /** `https://host:port` of the API server. */
  readonly server: string;
  readonly core: CoreV1Api;
  readonly storage: StorageV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly custom: CustomObjectsApi;
  readonly volumeSnapshots: SnapshotResource<VolumeSnapshot>;
  readonly volumeSnapshotContents: SnapshotResource<VolumeSnapshotContent>;
  readonly volumeSnapshotClasses: SnapshotResource<VolumeSnapshotClass>;
  readonly volumeGroupSnapshots: SnapshotResource<VolumeGroupSnapshot>;
  readonly volumeGroupSnapshotClasses: SnapshotResource<VolumeGroupSnapshotClass>;
  readonly volumeGroupSnapshotContents: SnapshotResource<VolumeGroupSnapshotContent>;

  private constructor(kc: KubeConfig, namespace: string) {
    this.kubeConfig = kc;
    this.namespace = namespace;
    this.context = kc.getCurrentContext();
    const cluster = kc.getCurrentCluster();
    if (!cluster) {
      throw new DbaasError('KUBE_CONFIG_INVALID', `kubeconfig context "${this.context}" has no cluster`, {
        fix: 'Check the context\'s "cluster" entry (kubectl config get-contexts).',
      });
    }
    this.server = cluster.server;
    reuseConnections(kc);
    const base = (): Partial<KubeOperation> => ({ server: this.server, context: this.context });
    this.core = mapErrors(kc.makeApiClient(CoreV1Api), '', base);
    this.storage = mapErrors(kc.makeApiClient(StorageV1Api), 'storage.k8s.io', base);
    this.apps = mapErrors(kc.makeApiClient(AppsV1Api), 'apps', base);
    this.batch = mapErrors(kc.makeApiClient(BatchV1Api), 'batch', base);
    this.custom = mapErrors(kc.makeApiClient(CustomObjectsApi), undefined, base);
    this.volumeSnapshots = new SnapshotResource<VolumeSnapshot>(this, 'volumesnapshots', true);
    this.volumeSnapshotContents = new SnapshotResource<VolumeSnapshotContent>(this, 'volumesnapshotcontents', false);
    this.volumeSnapshotClasses = new SnapshotResource<VolumeSnapshotClass>(this, 'volumesnapshotclasses', false);
    this.volumeGroupSnapshots = new SnapshotResource<VolumeGroupSnapshot>(this, 'volumegroupsnapshots', true, GROUP_SNAPSHOT_GROUP, GROUP_SNAPSHOT_VERSION);
    this.volumeGroupSnapshotContents = new SnapshotResource<VolumeGroupSnapshotContent>(
      this,
      'volumegroupsnapshotcontents',
      false,
      GROUP_SNAPSHOT_GROUP,
      GROUP_SNAPSHOT_VERSION,
    );
    this.volumeGroupSnapshotClasses = new SnapshotResource<VolumeGroupSnapshotClass>(
      this,
      'volumegroupsnapshotclasses',
      false,
      GROUP_SNAPSHOT_GROUP,
      GROUP_SNAPSHOT_VERSION,
    );
  }

  /**
   * Loads the kubeconfig as kubectl does: `kubeconfig` (one file), else `$KUBECONFIG` (a list of
   * files, merged), else `~/.kube/config`, else the in-cluster service account. Never falls back
   * silently to `http://localhost:8080`.
   *
   * @throws DbaasError `KUBE_CONFIG_INVALID` when no kubeconfig is found, it cannot be read, or the
   *   context does not exist (the message lists the contexts there are).
   * @example
   * ```ts
   * const clients = KubeClients.load({ context: 'kind-dev', namespace: 'db' });
   * ```
   */
  static load(opts: KubeClientsOptions = {}): KubeClients {
    let kc = opts.kubeConfig;
    let source = 'the given KubeConfig';
    if (!kc) {
      kc = new KubeConfig();
      const fromEnv = (process.env.KUBECONFIG ?? '').split(path.delimiter).filter((file) => file !== '');
      try {
        if (opts.kubeconfig) {
          source = opts.kubeconfig;
          if (!existsSync(opts.kubeconfig)) {
            throw new DbaasError('KUBE_CONFIG_INVALID', `kubeconfig ${opts.kubeconfig} does not exist`, {
              fix: 'Give an existing kubeconfig file.',
              option: 'kubeconfig',
            });
          }
          kc.loadFromFile(opts.kubeconfig);
        } else if (fromEnv.length > 0) {
          source = `$KUBECONFIG (${process.env.KUBECONFIG})`;
          // As kubectl: files of the list that do not exist are skipped; none existing is an error
          // (kubectl would fall back to localhost:8080 and fail later, less clearly).
          const existing = fromEnv.filter((file) => existsSync(file));
          if (existing.length === 0) {
            if (opts.overrides?.server) kc.loadFromOptions(configFromFlags(opts.overrides.server));
            else {
              throw new DbaasError('KUBE_CONFIG_INVALID', `kubeconfig ${fromEnv.join(path.delimiter)} (from $KUBECONFIG) does not exist`, {
                fix: 'Point KUBECONFIG at an existing file (several are separated by ":"), unset it to use ~/.kube/config, or give a kubeconfig file.',
                option: 'kubeconfig',
              });
            }
          } else {
            kc.loadFromFile(existing[0]!);
            for (const file of existing.slice(1)) {
              const more = new KubeConfig();
              more.loadFromFile(file);
              kc.mergeConfig(more);
            }
          }
        } else if (existsSync(path.join(homedir(), '.kube', 'config'))) {
          source = path.join(homedir(), '.kube', 'config');
          kc.loadFromDefault();
        } else if (existsSync(SERVICE_ACCOUNT_TOKEN)) {
          source = 'the in-cluster service account';
          kc.loadFromCluster();
        } else if (opts.overrides?.server) {
          source = 'the given server';
          kc.loadFromOptions(configFromFlags(opts.overrides.server));
        } else {
          throw new DbaasError('KUBE_CONFIG_INVALID', 'no kubeconfig found: none given, $KUBECONFIG unset, no ~/.kube/config, not running in a pod', {
            fix: "Give a kubeconfig file, set KUBECONFIG, or create ~/.kube/config (or give the API server's address and a token).",
            option: 'kubeconfig',
          });
        }
      } catch (error) {
        if (error instanceof DbaasError) throw error;
        throw new DbaasError('KUBE_CONFIG_INVALID', `cannot load kubeconfig from ${source}: ${(error as Error).message}`, { cause: error });
      }
    }
    if (opts.context) {
      if (!kc.getContextObject(opts.context)) {
        const known = kc.getContexts().map((c) => c.name);
        throw new DbaasError('KUBE_CONFIG_INVALID', `context "${opts.context}" not found in ${source}`, {
          fix: known.length ? `Use one of: ${known.join(', ')}.` : 'The kubeconfig has no contexts.',
          option: 'context',
        });
      }
      kc.setCurrentContext(opts.context);
    }
    if (!kc.getCurrentContext() || !kc.getContextObject(kc.getCurrentContext())) {
      throw new DbaasError('KUBE_CONFIG_INVALID', `${source} has no current context`, {
        fix: 'Name a context, or run kubectl config use-context <name>.',
        option: 'context',
      });
    }
    if (opts.overrides) applyOverrides(kc, opts.overrides, source);
    const namespace = opts.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
      throw new DbaasError(
        'INVALID_NAME',
        `namespace "${namespace}" is not a valid namespace name (RFC 1123 label: lower-case letters, digits and '-', at most 63 characters)`,
        {
          option: 'namespace',
        },
      );
    }
    return new KubeClients(kc, namespace);
  }

  /**
   * Clients for an already loaded KubeConfig (e.g. from the testing package).
   *
   * @example
   * ```ts
   * const clients = KubeClients.fromKubeConfig(cluster.kubeConfig(), { namespace: 'test' });
   * ```
   */
  static fromKubeConfig(kc: KubeConfig, opts: { namespace?: string; context?: string } = {}): KubeClients {
    return KubeClients.load({ kubeConfig: kc, ...opts });
  }

  /**
   * A {@link KubeOperation} with this client's server and context filled in (for {@link toKubeError}).
   *
   * @example
   * ```ts
   * throw toKubeError(error, clients.operation({ verb: 'watch', resource: 'volumesnapshots', group: 'snapshot.storage.k8s.io' }));
   * ```
   */
  operation(op: KubeOperation): KubeOperation {
    return { server: this.server, context: this.context, ...op };
  }
}
