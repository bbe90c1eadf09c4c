// The SQL session of a backup: decided with the plan (which pod, which credentials, whether a mode
// needs one at all), opened by the run. By default it goes through the API server to the very pod
// whose volume is snapshotted (a port-forward, as `kubectl port-forward` does), so a laptop with a
// kubeconfig reaches a database in a pod on any cluster; a connection the caller gives (host, URL,
// Secret with a host) is used as given. Either way, before the cut, the session must show it is on
// that pod's server (engines/session-identity.ts).
import type { V1Pod } from '@kubernetes/client-node';
import type { EngineHooks } from '../engines/engine.js';
import { mysqlEngine } from '../engines/mysql/engine.js';
import { podDatabaseCredentials } from '../engines/pod-credentials.js';
import { postgresEngine } from '../engines/postgres/engine.js';
import {
  resolveDatabaseConnection,
  resolveMysqlConnection,
  readSecretCredentials,
  type DatabaseConnection,
  type MysqlDatabaseConnection,
  type PostgresSecretRef,
} from '../engines/postgres/secret.js';
import { sessionMismatch } from '../engines/session-identity.js';
import { DbaasError, isDbaasError, toDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import { forwardNote, forwardPodPort, type PodPortForward } from '../kube/port-forward.js';
import type { ConsistencyMode } from '../manifests/metadata.js';
import { podsMountingPvc } from './discovery.js';

/**
 * Reach the database through the API server: a port-forward to the pod whose volume is backed up
 * (for a PVC target, the running pod that mounts it). Needs `create` on `pods/portforward`.
 *
 * @example
 * ```ts
 * const database: PodDatabaseConnection = { throughPod: {} };
 * const withSecret: PodDatabaseConnection = { throughPod: { port: 5432 }, secretRef: { name: 'pg-superuser' } };
 * ```
 */
export interface PodDatabaseConnection {
  throughPod: {
    /** The database's port in the pod. Default 5432 (PostgreSQL), 3306 (MySQL/MariaDB). */
    port?: number;
  };
  /** User and password (keys `username`, `password`) from this Secret; default: the pod's own environment (`POSTGRES_PASSWORD`, `MARIADB_ROOT_PASSWORD`, ...). */
  secretRef?: PostgresSecretRef;
  /** The database to connect to. Default: the Secret's or the pod's, else the engine's default. */
  database?: string;
}

/**
 * Whether a backup's `database` option asks for a session through the pod.
 *
 * @example
 * ```ts
 * isPodConnection({ throughPod: {} }); // true
 * isPodConnection('postgresql://postgres@127.0.0.1/postgres'); // false
 * ```
 */
export function isPodConnection(connection: unknown): connection is PodDatabaseConnection {
  return (
    typeof connection === 'object' && connection !== null && 'throughPod' in connection && typeof (connection as PodDatabaseConnection).throughPod === 'object'
  );
}

/**
 * The SQL session a backup plan decided on, as a dry run prints it (no credential values).
 *
 * @example
 * ```ts
 * const s: BackupSessionPlan = { via: 'pod', pod: 'pg-0', port: 5432, credentials: 'the pod\'s environment' };
 * ```
 */
export type BackupSessionPlan = { via: 'pod'; pod: string; port: number; credentials: string } | { via: 'connection'; pod?: string };

/** What a plan decided about the session, and what the run needs to open it. */
export interface SessionDecision {
  plan: BackupSessionPlan | undefined;
  /** The pod whose server the session must be on (the target pod, or the one mounting the PVC). */
  pod: V1Pod | undefined;
  /** A pod session's credentials from its Secret, read once by the plan (never printed: not in `plan`). */
  secretCredentials?: { user: string; password?: string; database?: string };
}

type Engine = 'postgres' | 'mysql' | 'mariadb';

/**
 * The database a PostgreSQL session opens when none is named: pg_backup_start and CHECKPOINT act on
 * the whole server, and `postgres` is in every cluster (libpq's default, the user's name, need not be:
 * a role named in a Secret seldom has a database of its own).
 */
const POSTGRES_MAINTENANCE_DATABASE = 'postgres';

const needsSession = (mode: ConsistencyMode): boolean => mode === 'checkpoint' || mode === 'online';

/**
 * Decides the session: none when the mode needs none and the caller gave no connection (a pod
 * connection is only the default way to reach the database, not a wish to connect); through the
 * pod when asked; the caller's connection otherwise. Refuses a pod session to a pod that is not
 * running, before anything is created.
 */
export async function decideSession(
  clients: KubeClients,
  input: {
    namespace: string;
    pvc: string;
    targetPod: V1Pod | undefined;
    mode: ConsistencyMode;
    engine: Engine;
    database: BackupDatabase | undefined;
    ownEngine: boolean;
  },
): Promise<SessionDecision> {
  const { namespace, pvc, mode, engine, database } = input;
  if (input.ownEngine) return { plan: undefined, pod: input.targetPod };
  if (database === undefined || (isPodConnection(database) && !needsSession(mode))) return { plan: undefined, pod: undefined };
  let pod = input.targetPod;
  if (!pod) {
    const mounting = await podsMountingPvc(clients, namespace, pvc);
    if (mounting.length > 1 && isPodConnection(database)) {
      throw new DbaasError(
        'TARGET_UNSUPPORTED',
        `PVC ${namespace}/${pvc} is mounted by ${mounting.length} pods (${mounting.map((p) => p.metadata?.name).join(', ')}): which one runs the database?`,
        {
          fix: 'Back up the database pod (the pod as the target) instead of the PVC.',
          option: 'target',
        },
      );
    }
    pod = mounting.length === 1 ? mounting[0] : undefined;
  }
  if (!isPodConnection(database)) return { plan: { via: 'connection', ...(pod?.metadata?.name ? { pod: pod.metadata.name } : {}) }, pod };
  if (!pod) {
    throw new DbaasError('TARGET_NOT_FOUND', `mode ${mode} needs a SQL session, and no pod mounts PVC ${namespace}/${pvc}: the database is not running there`, {
      fix: 'Start the database on the volume, or connect to wherever it runs (a host and port), or choose mode fenced (no SQL session).',
      option: 'database',
      details: { pvc, namespace },
    });
  }
  const name = pod.metadata!.name!;
  const ready = pod.status?.phase === 'Running' && (pod.status.containerStatuses ?? []).every((c) => c.ready);
  if (!ready) {
    throw new DbaasError(
      'TARGET_UNSUPPORTED',
      `pod ${namespace}/${name} is not running and ready (phase ${pod.status?.phase ?? 'unknown'}): mode ${mode} needs its database to answer a SQL session`,
      {
        fix: `Wait until it is Ready (kubectl get pod ${name} -n ${namespace}), or choose mode fenced.`,
        option: 'database',
        details: { pod: name, phase: pod.status?.phase },
      },
    );
  }
  const port = database.throughPod.port ?? (engine === 'postgres' ? 5432 : 3306);
  // A CloudNativePG instance's pods carry no credentials: its superuser Secret, when none was named.
  const cnpgCluster = database.secretRef || engine !== 'postgres' ? undefined : pod.metadata?.labels?.['cnpg.io/cluster'];
  const secretRef = database.secretRef ?? (cnpgCluster ? { name: `${cnpgCluster}-superuser` } : undefined);
  const credentials = secretRef ? `Secret ${secretRef.namespace ?? namespace}/${secretRef.name}` : "the pod's environment";
  // A missing Secret or key is the plan's refusal (the dry run shows it), not the run's first surprise.
  if (!secretRef) return { plan: { via: 'pod', pod: name, port, credentials }, pod };
  const secretCredentials = await readSecretCredentials(clients, secretRef, namespace, database.database).catch((error: unknown) => {
    throw cnpgCluster && isDbaasError(error, 'KUBE_NOT_FOUND') ? noCnpgSuperuser(namespace, name, cnpgCluster, mode, error) : error;
  });
  return { plan: { via: 'pod', pod: name, port, credentials }, pod, secretCredentials };
}

/**
 * A backup's `database` option: a connection given by the caller (URL, client options, Secret) or
 * through the pod.
 *
 * @example
 * ```ts
 * const a: BackupDatabase = { throughPod: {} };
 * const b: BackupDatabase = { host: '10.0.0.5', port: 5432, user: 'postgres' };
 * ```
 */
export type BackupDatabase = DatabaseConnection | MysqlDatabaseConnection | PodDatabaseConnection;

/**
 * Reads a given connection's Secret while the plan is made (a bad one fails before any write);
 * undefined for a pod connection, which needs the plan's pod first.
 */
export function prefetchConnection(
  clients: KubeClients,
  database: BackupDatabase | undefined,
  engine: Engine,
  namespace: string,
): Promise<ResolvedConnection> | undefined {
  if (database === undefined || isPodConnection(database)) return undefined;
  const resolving: Promise<ResolvedConnection> =
    engine === 'postgres'
      ? resolveDatabaseConnection(clients, database as DatabaseConnection, namespace).then((config) => ({ postgres: config }))
      : resolveMysqlConnection(clients, database as MysqlDatabaseConnection, namespace).then((config) => ({ mysql: config }));
  resolving.catch(() => undefined); // awaited after the plan
  return resolving;
}

type ResolvedConnection = { mysql: Awaited<ReturnType<typeof resolveMysqlConnection>> } | { postgres: Awaited<ReturnType<typeof resolveDatabaseConnection>> };

/**
 * An open session: the engine hooks, and how to end it (the engine's connection, then the
 * port-forward behind it).
 */
export interface OpenSession {
  engine: EngineHooks;
  via: 'pod' | 'connection';
  close(): Promise<void>;
}

/** Opens the decided session and proves it is on the decided pod's server; closes what it opened on failure. */
export async function openSession(
  clients: KubeClients,
  input: {
    namespace: string;
    decision: SessionDecision;
    database: BackupDatabase | undefined;
    engine: Engine;
    prefetched: Promise<ResolvedConnection> | undefined;
    /** Where the set's other volumes are mounted: tablespaces inside them are part of the backup. */
    setMounts?: readonly string[];
  },
): Promise<OpenSession | undefined> {
  const { decision, namespace, engine } = input;
  if (!decision.plan) return undefined;
  let forward: PodPortForward | undefined;
  let hooks: EngineHooks | undefined;
  try {
    let resolved: ResolvedConnection;
    if (decision.plan.via === 'pod') {
      const database = input.database as PodDatabaseConnection;
      forward = await forwardPodPort(clients.kubeConfig, { namespace, pod: decision.plan.pod, port: decision.plan.port });
      const at = { host: forward.host, port: forward.port };
      const fromSecret = decision.secretCredentials;
      if (fromSecret) {
        resolved =
          engine === 'postgres'
            ? { postgres: { database: POSTGRES_MAINTENANCE_DATABASE, ...fromSecret, ...at, application_name: 'kubectl-dbaas' } }
            : { mysql: { ...fromSecret, ...at } };
      } else {
        const found = await podDatabaseCredentials(clients, decision.pod!, engine);
        const fields = { ...at, user: found.user, ...(found.password !== undefined ? { password: found.password } : {}) };
        const databaseName = database.database ?? found.database ?? (engine === 'postgres' ? POSTGRES_MAINTENANCE_DATABASE : undefined);
        resolved =
          engine === 'postgres'
            ? { postgres: { ...fields, ...(databaseName ? { database: databaseName } : {}), application_name: 'kubectl-dbaas' } }
            : { mysql: { ...fields, ...(databaseName ? { database: databaseName } : {}) } };
      }
    } else {
      resolved = await input.prefetched!;
    }
    try {
      hooks = 'mysql' in resolved ? await mysqlEngine(resolved.mysql) : await postgresEngine(resolved.postgres);
    } catch (error) {
      const failure = toDbaasError(error);
      const note = forwardNote(forward);
      throw note
        ? new DbaasError(failure.code, `${failure.message}${note}`, { ...(failure.fix ? { fix: failure.fix } : {}), cause: failure, option: 'database' })
        : failure;
    }
    const server = hooks.serverIdentity ? await hooks.serverIdentity() : undefined;
    if (decision.pod && server) {
      const why = sessionMismatch(server, decision.pod, decision.plan.via === 'pod' ? 'pod' : 'host');
      if (why) {
        throw new DbaasError('TARGET_UNSUPPORTED', `the SQL session is not on the database whose volume is backed up: ${why}`, {
          fix: 'Leave the host out, so that the session goes through the API server to the pod itself, or connect to that very instance.',
          option: 'database',
          details: { pod: decision.pod.metadata?.name },
        });
      }
    }
    const inSet = (location: string) => (input.setMounts ?? []).some((m) => location === m || location.startsWith(`${m}/`));
    const outside = (server?.tablespaces ?? []).filter((t) => !inSet(t.location));
    if (outside.length) {
      // Their files live where pg_tblspc's links point, outside the volumes the snapshots copy.
      const list = outside.map((t) => `${t.name} at ${t.location}`).join(', ');
      throw new DbaasError(
        'TARGET_UNSUPPORTED',
        `the database has tablespaces outside its data directory (${list}) on no volume of the pod that the backup knows to be part of the database: a snapshot of the data volume alone would restore a data directory whose tablespace links point nowhere`,
        {
          fix: `Put each tablespace on a PVC of its own mounted in the database container and label that PVC dbaas.io/holds=tablespace (kubectl label pvc NAME dbaas.io/holds=tablespace), then take a fenced backup: the instance's volumes are snapshotted as one set. Or move those tables back to pg_default (ALTER TABLE ... SET TABLESPACE pg_default). docs/consistency.md says what each mode does with such an instance.`,
          option: 'target',
          details: { tablespaces: outside },
        },
      );
    }
    const engineHooks = hooks;
    const opened = forward;
    return {
      engine: engineHooks,
      via: decision.plan.via,
      close: async () => {
        try {
          await engineHooks.close();
        } finally {
          await opened?.close();
        }
      },
    };
  } catch (error) {
    await hooks?.close().catch(() => undefined);
    await forward?.close();
    throw error;
  }
}

/**
 * The refusal when a session to a CloudNativePG instance has no Secret to use: the Cluster has no
 * `<cluster>-superuser` (superuser access is off, CNPG's default), its pods carry no credentials,
 * and the `<cluster>-app` user may run neither CHECKPOINT nor pg_backup_start. Names both ways that
 * work (docs/cnpg.md).
 */
function noCnpgSuperuser(namespace: string, pod: string, cluster: string, mode: ConsistencyMode, cause: unknown): DbaasError {
  const name = `${cluster}-superuser`;
  return new DbaasError(
    'TARGET_UNSUPPORTED',
    `mode ${mode} needs a SQL session to CloudNativePG instance ${namespace}/${pod}, and Cluster ${cluster} has no ${name} Secret (superuser access is off, CloudNativePG's default); its pods carry no credentials, and the ${cluster}-app user may not run ${mode === 'online' ? 'pg_backup_start' : 'CHECKPOINT'}`,
    {
      fix: `Name a Secret of a role that may (--db-secret NAME): a managed role with REPLICATION, pg_checkpoint and EXECUTE on pg_backup_start/pg_backup_stop (docs/cnpg.md shows it); or set spec.enableSuperuserAccess: true on Cluster ${cluster}; or use mode fenced (no SQL session).`,
      option: 'database',
      details: { cluster, secret: name },
      cause,
    },
  );
}
