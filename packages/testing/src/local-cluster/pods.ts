// Databases as users run them, in pods of the local cluster's node: a PostgreSQL or MariaDB
// StatefulSet on the hostpath CSI driver (a Secret with the credentials, a headless Service,
// volumeClaimTemplates, an exec readiness probe, requests/limits), the locally built test images
// (`imagePullPolicy: Never`). The test process reaches them only through the API (port-forward to
// a local ephemeral port on 127.0.0.1), as a user on a laptop does: the host's route to the pod
// bridge is the test node's, not something a user of a remote cluster has.
import { randomBytes } from 'node:crypto';
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1StatefulSet,
  type V1Volume,
} from '@kubernetes/client-node';
import { forwardPodPort, type PodPortForward as SdkPodPortForward } from '@kubectl-dbaas/sdk';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { MARIADB_IMAGE, POSTGRES_IMAGE_UID, TEST_IMAGES, type PostgresImageMajor } from '../node/images.js';
import { WriteLoad } from '../postgres/write-load.js';
import { STORAGE_CLASS } from './cluster.js';

/** A local TCP port forwarded to a pod's port through the API (the SDK's, one stream per connection). */
export type PodPortForward = Pick<SdkPodPortForward, 'host' | 'port' | 'close'>;

/**
 * Listens on 127.0.0.1:<ephemeral> and forwards every connection to `pod`'s `remotePort` through
 * the port-forward API (`pods/portforward`), with the SDK's forwarder (the one the backup's SQL
 * session uses). The pod is looked up by name for each connection, so a StatefulSet pod that was
 * recreated is reached again.
 *
 * @example
 * const fwd = await forwardPort(kc, 'db', 'pg-0', 5432);
 * const client = new pg.Client({ host: fwd.host, port: fwd.port, user: 'postgres', password });
 * await fwd.close();
 */
export async function forwardPort(kubeConfig: KubeConfig, namespace: string, pod: string, remotePort: number): Promise<PodPortForward> {
  return await forwardPodPort(kubeConfig, { namespace, pod, port: remotePort });
}

/** Options shared by {@link deployPostgres} and {@link deployMariadb}. */
export interface DeployDatabaseOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** StatefulSet (and Service, Secret prefix) name, a DNS label. */
  name: string;
  /** Default `csi-hostpath-sc`. */
  storageClass?: string;
  /** Default `1Gi`. */
  storage?: string;
  /** Superuser password; default random. Stored only in the Secret, never logged. */
  password?: string;
  /** Time to wait for the pod to be Ready. Default 120 s. */
  timeoutMs?: number;
}

/** Options of {@link deployPostgres}. */
export interface DeployPostgresOptions extends DeployDatabaseOptions {
  /** PostgreSQL major; the image `localhost/kubectl-dbaas-test/postgres:<major>`. Default 17. */
  major?: PostgresImageMajor;
  /**
   * Only 1: a primary. (A second replica would be a second independent server, which is not what
   * users run; a streaming standby is not built yet.)
   */
  replicas?: 1;
  /** Server settings, passed as `-c name=value` arguments. */
  settings?: Record<string, string>;
  /**
   * Start on this existing PVC (a restored one) instead of a volumeClaimTemplate; `password` must
   * then be the copy's. `delete()` leaves that PVC in place.
   */
  existingClaim?: string;
  /**
   * pg_wal on a second PVC (volumeClaimTemplate `wal`: `wal-<name>-0`, mounted at
   * {@link POSTGRES_WAL_MOUNT}), as users run it with the official image's POSTGRES_INITDB_WALDIR or
   * CloudNativePG's walStorage: initdb puts the WAL in {@link POSTGRES_WAL_DIR} and
   * `$PGDATA/pg_wal` is a symlink to it, so a backup must take both volumes. Default false.
   */
  walVolume?: boolean;
  /** Size of the WAL PVC (with `walVolume`). Default `1Gi`. */
  walStorage?: string;
  /**
   * With `existingClaim`: start on this existing WAL PVC (the restored copy of the original's WAL
   * volume) instead of a volumeClaimTemplate; implies `walVolume`. `delete()` leaves it in place.
   */
  existingWalClaim?: string;
  /** Where the WAL PVC is mounted (with `walVolume`). Default {@link POSTGRES_WAL_MOUNT}. */
  walMountPath?: string;
  /**
   * A third PVC for tablespaces (volumeClaimTemplate `tbs`: `tbs-<name>-0`, labelled
   * `dbaas.io/holds=tablespace`, mounted at {@link POSTGRES_TABLESPACE_MOUNT}), with the empty
   * postgres-owned directory {@link POSTGRES_TABLESPACE_DIR} made by an init container for
   * `CREATE TABLESPACE ... LOCATION`. Default false.
   */
  tablespaceVolume?: boolean;
  /** With `existingClaim`: start on this existing tablespace PVC (a restored one); implies `tablespaceVolume`. `delete()` leaves it. */
  existingTablespaceClaim?: string;
}

/** The volume is mounted here; PGDATA is a subdirectory of it (`pgdata`), as the official image's docs advise. */
const PG_MOUNT = '/var/lib/postgresql/data';
const PG_SUBPATH = 'pgdata';
/** Where the WAL PVC (`walVolume`) is mounted in the PostgreSQL pod. */
export const POSTGRES_WAL_MOUNT = '/var/lib/postgresql/wal';
/**
 * The WAL directory on that volume, the pod's POSTGRES_INITDB_WALDIR, where `$PGDATA/pg_wal`
 * points: a subdirectory, as PGDATA is, since initdb wants a directory it creates or an empty one
 * and a volume's root may hold other entries (lost+found) or belong to root.
 */
export const POSTGRES_WAL_DIR = `${POSTGRES_WAL_MOUNT}/pg_wal`;
/** Where the tablespace PVC (`tablespaceVolume`) is mounted in the PostgreSQL pod. */
export const POSTGRES_TABLESPACE_MOUNT = '/var/lib/postgresql/tablespaces';
/** The postgres-owned directory on that volume for `CREATE TABLESPACE ... LOCATION` (a volume's root belongs to root). */
export const POSTGRES_TABLESPACE_DIR = `${POSTGRES_TABLESPACE_MOUNT}/ts`;

/** A pod that cannot become Ready (crash loop, image not on the node): waiting on is pointless. */
class PodFailed extends Error {}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, describe: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch((e: unknown) => {
      if (e instanceof PodFailed) throw new Error(`${what}: ${e.message}`);
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${await describe().catch((e: unknown) => String(e))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One line about a pod's state, for timeout messages (no secrets: only phase, conditions, container states). */
export async function describePod(core: CoreV1Api, namespace: string, name: string): Promise<string> {
  let pod: V1Pod;
  try {
    pod = await core.readNamespacedPod({ namespace, name });
  } catch {
    return `pod ${namespace}/${name} does not exist`;
  }
  const states = (pod.status?.containerStatuses ?? []).map((c) => `${c.name}: ${JSON.stringify(c.state)} restarts ${c.restartCount}`);
  const conditions = (pod.status?.conditions ?? []).map((c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ''}`);
  return `pod ${namespace}/${name} phase ${pod.status?.phase ?? '?'}, node ${pod.spec?.nodeName ?? 'none'}; ${conditions.join(', ')}; ${states.join('; ')}`;
}

/** Base of {@link PostgresPod} and {@link MariadbPod}: the StatefulSet and what belongs to it. */
abstract class DatabaseStatefulSet {
  readonly namespace: string;
  readonly name: string;
  /** The one pod: `<name>-0`. */
  readonly podName: string;
  /** Its PVC (volumeClaimTemplate `data`): `data-<name>-0`, or the existing claim it started on. */
  readonly pvcName: string;
  /** False when started on an existing PVC: delete() leaves it. */
  readonly ownsClaim: boolean;
  readonly secretName: string;
  readonly serviceName: string;
  readonly image: string;
  /** Milliseconds from creating the StatefulSet to its pod being Ready. */
  podReadyMs = 0;
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  #forward: Promise<PodPortForward> | undefined;

  protected constructor(opts: DeployDatabaseOptions & { existingClaim?: string | undefined }, image: string) {
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.podName = `${opts.name}-0`;
    this.pvcName = opts.existingClaim ?? `data-${opts.name}-0`;
    this.ownsClaim = opts.existingClaim === undefined;
    this.secretName = `${opts.name}-credentials`;
    this.serviceName = opts.name;
    this.image = image;
    this.kubeConfig = opts.kubeConfig;
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.apps = opts.kubeConfig.makeApiClient(AppsV1Api);
  }

  protected abstract readonly port: number;

  /** The local end of the port-forward to the pod's database port (opened once, reused). */
  forward(): Promise<PodPortForward> {
    this.#forward ??= forwardPort(this.kubeConfig, this.namespace, this.podName, this.port);
    return this.#forward;
  }

  /** Waits until the StatefulSet has `replicas` Ready pods (and, for 0, no pods at all). */
  async waitReady(replicas = 1, timeoutMs = 120_000): Promise<V1StatefulSet> {
    const fatal = async (): Promise<string | undefined> => {
      if (replicas === 0) return undefined;
      const pod = await this.core.readNamespacedPod({ namespace: this.namespace, name: this.podName }).catch(() => undefined);
      const waiting = pod?.status?.containerStatuses?.[0]?.state?.waiting;
      if (
        !waiting?.reason ||
        !/CrashLoopBackOff|ErrImageNeverPull|ErrImagePull|ImagePullBackOff|CreateContainerConfigError|InvalidImageName/.test(waiting.reason)
      )
        return undefined;
      const previous = await this.core.readNamespacedPodLog({ namespace: this.namespace, name: this.podName, tailLines: 15, previous: true }).catch(() => '');
      return `pod ${this.namespace}/${this.podName}: ${waiting.reason}: ${waiting.message ?? ''}\n${String(previous)}`;
    };
    return await waitFor(
      `StatefulSet ${this.namespace}/${this.name} with ${replicas} ready pod(s)`,
      timeoutMs,
      async () => {
        const problem = await fatal();
        if (problem) throw new PodFailed(problem);
        const s = await this.apps.readNamespacedStatefulSet({ namespace: this.namespace, name: this.name });
        const observed = (s.status?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0);
        const ok =
          replicas === 0 ? (s.status?.replicas ?? 0) === 0 : (s.status?.readyReplicas ?? 0) >= replicas && (s.status?.availableReplicas ?? 0) >= replicas;
        return observed && ok ? s : undefined;
      },
      () => describePod(this.core, this.namespace, this.podName),
    );
  }

  /** Scales the StatefulSet (as `kubectl scale`) and waits for it. */
  async scale(replicas: number, timeoutMs = 120_000): Promise<void> {
    await this.apps.patchNamespacedStatefulSetScale({ namespace: this.namespace, name: this.name, body: { spec: { replicas } } }, mergePatch);
    await this.waitReady(replicas, timeoutMs);
  }

  /** The pod's log (the container's last 200 lines), for failure messages. */
  async log(): Promise<string> {
    return String(
      await this.core.readNamespacedPodLog({ namespace: this.namespace, name: this.podName, tailLines: 200 }).catch((e: unknown) => `(no log: ${String(e)})`),
    );
  }

  /** Closes the port-forward (the StatefulSet stays). */
  async close(): Promise<void> {
    const f = this.#forward;
    this.#forward = undefined;
    if (f) await (await f).close();
  }

  /** The PVCs its volumeClaimTemplates made (not existing claims it started on): what delete() removes. */
  protected ownedClaims(): string[] {
    return this.ownsClaim ? [this.pvcName] : [];
  }

  /** Closes the port-forward and deletes the StatefulSet, its Service, Secret and (when it made them) PVCs, waiting until the pod and the PVCs are gone. */
  async delete(timeoutMs = 120_000): Promise<void> {
    await this.close();
    const ignore404 = (e: unknown): void => {
      if ((e as { code?: number }).code !== 404) throw e;
    };
    const { namespace } = this;
    await this.apps.deleteNamespacedStatefulSet({ namespace, name: this.name, propagationPolicy: 'Foreground' }).catch(ignore404);
    await this.core.deleteNamespacedService({ namespace, name: this.serviceName }).catch(ignore404);
    await this.core.deleteNamespacedSecret({ namespace, name: this.secretName }).catch(ignore404);
    await waitFor(
      `pod ${namespace}/${this.podName} to be gone`,
      timeoutMs,
      async () => ((await exists(() => this.core.readNamespacedPod({ namespace, name: this.podName }))) ? undefined : true),
      async () => '',
    );
    for (const name of this.ownedClaims()) {
      await this.core.deleteNamespacedPersistentVolumeClaim({ namespace, name }).catch(ignore404);
      await waitFor(
        `PVC ${namespace}/${name} to be gone`,
        timeoutMs,
        async () => ((await exists(() => this.core.readNamespacedPersistentVolumeClaim({ namespace, name }))) ? undefined : true),
        async () => '',
      );
    }
  }
}

async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return false;
    throw e;
  }
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function createStatefulSet(
  core: CoreV1Api,
  apps: AppsV1Api,
  namespace: string,
  secret: Record<string, string>,
  secretName: string,
  service: { name: string; port: number },
  sts: V1StatefulSet,
): Promise<void> {
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: secretName, labels: { app: sts.metadata!.name! } }, type: 'Opaque', stringData: secret },
  });
  await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name: service.name, labels: { app: sts.metadata!.name! } },
      spec: { clusterIP: 'None', selector: { app: sts.metadata!.name! }, ports: [{ name: 'db', port: service.port, targetPort: service.port }] },
    },
  });
  await apps.createNamespacedStatefulSet({ namespace, body: sts });
}

/**
 * A PostgreSQL StatefulSet's pod, reached through a port-forward. `connectionConfig` (after
 * {@link PostgresPod.connect}) is what `pg` and {@link WriteLoad} take.
 */
export class PostgresPod extends DatabaseStatefulSet {
  readonly major: number;
  /** PGDATA relative to the volume root. */
  readonly dataSubPath = PG_SUBPATH;
  /** The WAL PVC (`walVolume`): `wal-<name>-0` or `existingWalClaim`; undefined when pg_wal is in PGDATA. */
  readonly walPvcName: string | undefined;
  /** False when started on an existing WAL PVC (or without one): delete() leaves it. */
  readonly ownsWalClaim: boolean;
  /** The tablespace PVC (`tablespaceVolume`): `tbs-<name>-0` or `existingTablespaceClaim`. */
  readonly tablespacePvcName: string | undefined;
  readonly user = 'postgres';
  readonly database = 'postgres';
  /** uid PostgreSQL runs as in the image. */
  readonly runAsUser = POSTGRES_IMAGE_UID;
  protected readonly port = 5432;
  readonly #password: string;
  #config: pg.ClientConfig | undefined;

  constructor(opts: DeployPostgresOptions, password: string) {
    super(opts, TEST_IMAGES.postgres(opts.major ?? 17));
    this.major = opts.major ?? 17;
    this.walPvcName = opts.existingWalClaim ?? (opts.walVolume ? `wal-${opts.name}-0` : undefined);
    this.ownsWalClaim = this.walPvcName !== undefined && opts.existingWalClaim === undefined;
    this.tablespacePvcName = opts.existingTablespaceClaim ?? (opts.tablespaceVolume ? `tbs-${opts.name}-0` : undefined);
    this.#password = password;
  }

  protected override ownedClaims(): string[] {
    return [
      ...super.ownedClaims(),
      ...(this.ownsWalClaim ? [this.walPvcName!] : []),
      ...(this.tablespacePvcName !== undefined && this.tablespacePvcName === `tbs-${this.name}-0` ? [this.tablespacePvcName] : []),
    ];
  }

  /** `pg` options for the port-forward (opened by {@link connect}). */
  get connectionConfig(): pg.ClientConfig {
    if (!this.#config) throw new Error('PostgresPod.connect() first');
    return this.#config;
  }

  /** Opens the port-forward; returns the `pg` options to reach the server through it. */
  async connect(): Promise<pg.ClientConfig> {
    const fwd = await this.forward();
    this.#config = { host: fwd.host, port: fwd.port, user: this.user, password: this.#password, database: this.database };
    return this.#config;
  }

  /** A database connection for `runBackup` that reads the credentials from the Secret, through the port-forward. */
  async secretConnection(): Promise<{ secretRef: { name: string }; host: string; port: number }> {
    const fwd = await this.forward();
    return { secretRef: { name: this.secretName }, host: fwd.host, port: fwd.port };
  }

  /** Runs one statement on a new connection through the port-forward. */
  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    const client = new pg.Client(await this.connect());
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Writers recording each acknowledged id (see {@link WriteLoad}) on table `t (id bigint primary key, w int, pad text)`. */
  async writer(options: { writers?: number; ratePerSecond?: number } = {}): Promise<WriteLoad> {
    await this.connect();
    return new WriteLoad(this, options);
  }

  /** Of the given acknowledged ids, those not in `t`. */
  async missing(acked: number[]): Promise<{ rows: number; missing: number[] }> {
    const rows = await this.query<{ id: string }>('select id from t');
    const present = new Set(rows.map((r) => Number(r.id)));
    return { rows: rows.length, missing: acked.filter((id) => !present.has(id)) };
  }
}

/** One PVC-backed volume of a database StatefulSet, by its volume name (`data`, `wal`). */
interface ClaimVolume {
  name: string;
  labels?: Record<string, string>;
  existingClaim?: string | undefined;
  storageClass?: string | undefined;
  storage?: string | undefined;
}

/**
 * The PVC-backed volumes of a database StatefulSet: each an existing PVC (a restored one) in the
 * pod, else a volumeClaimTemplate of the class and size asked for (the PVC `<volume>-<name>-0`).
 * Empty lists are left out, so a StatefulSet without existing claims has no pod `volumes`.
 */
function claimVolumes(claims: ClaimVolume[]): {
  podVolumes: { volumes?: V1Volume[] };
  claimTemplates: { volumeClaimTemplates?: V1PersistentVolumeClaim[] };
} {
  const volumes: V1Volume[] = [];
  const templates: V1PersistentVolumeClaim[] = [];
  for (const c of claims) {
    if (c.existingClaim) volumes.push({ name: c.name, persistentVolumeClaim: { claimName: c.existingClaim } });
    else
      templates.push({
        metadata: { name: c.name, ...(c.labels ? { labels: c.labels } : {}) },
        spec: {
          accessModes: ['ReadWriteOnce'],
          storageClassName: c.storageClass ?? STORAGE_CLASS,
          resources: { requests: { storage: c.storage ?? '1Gi' } },
        },
      });
  }
  return {
    podVolumes: volumes.length > 0 ? { volumes } : {},
    claimTemplates: templates.length > 0 ? { volumeClaimTemplates: templates } : {},
  };
}

/** The StatefulSet {@link deployPostgres} creates (exported for tests that start a second one on a restored PVC). */
export function postgresStatefulSet(opts: {
  name: string;
  major: number;
  storageClass?: string | undefined;
  storage?: string | undefined;
  secretName: string;
  settings?: Record<string, string> | undefined;
  existingClaim?: string | undefined;
  walVolume?: boolean | undefined;
  walStorage?: string | undefined;
  existingWalClaim?: string | undefined;
  walMountPath?: string | undefined;
  tablespaceVolume?: boolean | undefined;
  existingTablespaceClaim?: string | undefined;
}): V1StatefulSet {
  if (opts.existingWalClaim && !opts.existingClaim)
    throw new Error('postgresStatefulSet: existingWalClaim needs existingClaim (the data volume it belongs with)');
  const wal = opts.walVolume === true || opts.existingWalClaim !== undefined;
  if (wal && opts.existingClaim && !opts.existingWalClaim) {
    // A restored data volume's pg_wal points at the WAL volume: an empty new one would not start.
    throw new Error('postgresStatefulSet: existingClaim with walVolume needs existingWalClaim (the restored WAL PVC)');
  }
  const tbs = opts.tablespaceVolume === true || opts.existingTablespaceClaim !== undefined;
  if (tbs && opts.existingClaim && !opts.existingTablespaceClaim)
    throw new Error('postgresStatefulSet: existingClaim with tablespaceVolume needs existingTablespaceClaim (the restored tablespace PVC)');
  const volumes = claimVolumes([
    { name: 'data', existingClaim: opts.existingClaim, storageClass: opts.storageClass, storage: opts.storage },
    ...(wal ? [{ name: 'wal', existingClaim: opts.existingWalClaim, storageClass: opts.storageClass, storage: opts.walStorage }] : []),
    ...(tbs
      ? [
          {
            name: 'tbs',
            labels: { 'dbaas.io/holds': 'tablespace' },
            existingClaim: opts.existingTablespaceClaim,
            storageClass: opts.storageClass,
            storage: '256Mi',
          },
        ]
      : []),
  ]);
  const args: string[] = ['postgres'];
  for (const [k, v] of Object.entries(opts.settings ?? {})) args.push('-c', `${k}=${v}`);
  const labels = { app: opts.name };
  return {
    metadata: { name: opts.name, labels },
    spec: {
      replicas: 1,
      serviceName: opts.name,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 30,
          automountServiceAccountToken: false,
          // A volume's root belongs to root: CREATE TABLESPACE wants a directory of the server's user.
          ...(tbs
            ? {
                initContainers: [
                  {
                    name: 'tablespace-dir',
                    image: TEST_IMAGES.postgres(opts.major as PostgresImageMajor),
                    imagePullPolicy: 'Never' as const,
                    command: ['install', '-d', '-o', String(POSTGRES_IMAGE_UID), '-g', String(POSTGRES_IMAGE_UID), '-m', '0700', POSTGRES_TABLESPACE_DIR],
                    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
                    volumeMounts: [{ name: 'tbs', mountPath: POSTGRES_TABLESPACE_MOUNT }],
                  },
                ],
              }
            : {}),
          containers: [
            {
              name: 'postgres',
              image: TEST_IMAGES.postgres(opts.major as PostgresImageMajor),
              imagePullPolicy: 'Never',
              args,
              env: [
                { name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: opts.secretName, key: 'password' } } },
                { name: 'PGDATA', value: `${PG_MOUNT}/${PG_SUBPATH}` },
                // Read by the entrypoint only when it initialises PGDATA; harmless on a restored one.
                ...(wal ? [{ name: 'POSTGRES_INITDB_WALDIR', value: `${opts.walMountPath ?? POSTGRES_WAL_MOUNT}/pg_wal` }] : []),
              ],
              ports: [{ name: 'postgres', containerPort: 5432 }],
              readinessProbe: {
                exec: { command: ['pg_isready', '-h', '127.0.0.1', '-p', '5432', '-U', 'postgres'] },
                periodSeconds: 1,
                failureThreshold: 2,
                timeoutSeconds: 5,
              },
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } },
              volumeMounts: [
                { name: 'data', mountPath: PG_MOUNT },
                ...(wal ? [{ name: 'wal', mountPath: opts.walMountPath ?? POSTGRES_WAL_MOUNT }] : []),
                ...(tbs ? [{ name: 'tbs', mountPath: POSTGRES_TABLESPACE_MOUNT }] : []),
              ],
            },
          ],
          ...volumes.podVolumes,
        },
      },
      ...volumes.claimTemplates,
    },
  };
}

/**
 * Deploys PostgreSQL as users do: a Secret `<name>-credentials` (`username`, `password`,
 * `database`), a headless Service, a StatefulSet of one pod with a PVC from `csi-hostpath-sc`
 * (PGDATA `pgdata` inside the volume; with `walVolume` pg_wal on a second PVC), an exec readiness
 * probe (`pg_isready`), requests/limits; waits until the pod is Ready and opens a port-forward.
 *
 * @example
 * await using db = await deployPostgres({ kubeConfig: kc, namespace: ns, name: 'pg', major: 17 });
 * await db.query('create table t (id bigint primary key, w int, pad text)');
 * const load = (await db.writer()).start();
 */
export async function deployPostgres(opts: DeployPostgresOptions): Promise<PostgresPod> {
  if ((opts.replicas ?? 1) !== 1) throw new Error('deployPostgres: only replicas 1 (a primary) is built; a streaming standby is not');
  const password = opts.password ?? randomBytes(18).toString('base64url');
  const db = new PostgresPod(opts, password);
  const started = Date.now();
  await createStatefulSet(
    db.core,
    db.apps,
    opts.namespace,
    { username: db.user, password, database: db.database },
    db.secretName,
    { name: db.serviceName, port: 5432 },
    postgresStatefulSet({
      name: opts.name,
      major: db.major,
      storageClass: opts.storageClass,
      storage: opts.storage,
      secretName: db.secretName,
      settings: opts.settings,
      existingClaim: opts.existingClaim,
      walVolume: opts.walVolume,
      walStorage: opts.walStorage,
      existingWalClaim: opts.existingWalClaim,
      walMountPath: opts.walMountPath,
      tablespaceVolume: opts.tablespaceVolume,
      existingTablespaceClaim: opts.existingTablespaceClaim,
    }),
  );
  try {
    await db.waitReady(1, opts.timeoutMs ?? 120_000);
  } catch (error) {
    await db.delete().catch(() => undefined); // what it made, never an existing claim
    throw error;
  }
  db.podReadyMs = Date.now() - started;
  await db.connect();
  return db;
}

/** A MariaDB StatefulSet's pod, reached through a port-forward. */
export class MariadbPod extends DatabaseStatefulSet {
  readonly user = 'root';
  protected readonly port = 3306;
  readonly #password: string;
  #config: mysql.ConnectionOptions | undefined;

  constructor(opts: DeployDatabaseOptions & { existingClaim?: string | undefined }, password: string) {
    super(opts, MARIADB_IMAGE);
    this.#password = password;
  }

  get connectionConfig(): mysql.ConnectionOptions {
    if (!this.#config) throw new Error('MariadbPod.connect() first');
    return this.#config;
  }

  async connect(): Promise<mysql.ConnectionOptions> {
    const fwd = await this.forward();
    this.#config = { host: fwd.host, port: fwd.port, user: this.user, password: this.#password };
    return this.#config;
  }

  async query<R = unknown>(sql: string, params: unknown[] = []): Promise<R> {
    const c = await mysql.createConnection(await this.connect());
    try {
      return (await c.query(sql, params))[0] as R;
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

/**
 * Deploys MariaDB as users do: a Secret `<name>-credentials` (`username` root, `password`), a
 * headless Service, a StatefulSet of one pod with a PVC from `csi-hostpath-sc` at /var/lib/mysql
 * (or `existingClaim`, a restored one: `password` must then be the copy's root password),
 * an exec readiness probe (`mariadb-admin ping`), requests/limits; waits until Ready.
 *
 * @example
 * const db = await deployMariadb({ kubeConfig: kc, namespace: ns, name: 'maria' });
 * await db.query('create database app');
 */
export async function deployMariadb(opts: DeployDatabaseOptions & { existingClaim?: string | undefined }): Promise<MariadbPod> {
  const password = opts.password ?? randomBytes(18).toString('base64url');
  const db = new MariadbPod(opts, password);
  const labels = { app: opts.name };
  const volumes = claimVolumes([{ name: 'data', existingClaim: opts.existingClaim, storageClass: opts.storageClass, storage: opts.storage }]);
  const started = Date.now();
  await createStatefulSet(
    db.core,
    db.apps,
    opts.namespace,
    { username: 'root', password },
    db.secretName,
    { name: db.serviceName, port: 3306 },
    {
      metadata: { name: opts.name, labels },
      spec: {
        replicas: 1,
        serviceName: opts.name,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            terminationGracePeriodSeconds: 60,
            automountServiceAccountToken: false,
            containers: [
              {
                name: 'mariadb',
                image: MARIADB_IMAGE,
                imagePullPolicy: 'Never',
                env: [{ name: 'MARIADB_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: db.secretName, key: 'password' } } }],
                ports: [{ name: 'mysql', containerPort: 3306 }],
                // The password reaches mariadb-admin through the environment, never an argument.
                readinessProbe: {
                  exec: { command: ['sh', '-c', 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb-admin --no-defaults -h 127.0.0.1 -uroot ping'] },
                  periodSeconds: 1,
                  failureThreshold: 2,
                  timeoutSeconds: 5,
                },
                resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
                volumeMounts: [{ name: 'data', mountPath: '/var/lib/mysql' }],
              },
            ],
            ...volumes.podVolumes,
          },
        },
        ...volumes.claimTemplates,
      },
    },
  );
  try {
    await db.waitReady(1, opts.timeoutMs ?? 180_000);
  } catch (error) {
    await db.delete().catch(() => undefined);
    throw error;
  }
  db.podReadyMs = Date.now() - started;
  await db.connect();
  return db;
}
