// A PostgreSQL connection whose credentials live in a Kubernetes Secret (CloudNativePG's
// `<cluster>-app` / `<cluster>-superuser`, a `kubernetes.io/basic-auth` Secret, or any Secret with
// named keys). Only the Secret is read here; where to connect (host/port) comes from the Secret or
// from the caller, e.g. a Service DNS name from inside the cluster or a port-forward the caller runs.
import type { V1Secret } from '@kubernetes/client-node';
import type pg from 'pg';

import { DbaasError, isDbaasError } from '../../errors.js';
import type { KubeClients } from '../../kube/clients.js';
import type { MysqlConnectionConfig } from '../mysql/sql.js';
import type { PostgresConnectionConfig } from './sql.js';

/**
 * Which Secret holds the credentials, and under which keys. Default keys are CloudNativePG's (and
 * `kubernetes.io/basic-auth`'s for user and password): `username`, `password`, `dbname`, `host`, `port`.
 *
 * @example
 * ```ts
 * const ref: PostgresSecretRef = { name: 'pg-superuser', keys: { user: 'user' } };
 * ```
 */
export interface PostgresSecretRef {
  name: string;
  /** Default: the backup's namespace. */
  namespace?: string;
  keys?: { user?: string; password?: string; database?: string; host?: string; port?: string };
}

/**
 * A connection taking user, password and database (and, unless given here, host and port) from a
 * Secret.
 *
 * @example
 * ```ts
 * const database: PostgresSecretConnection = { secretRef: { name: 'pg-app' }, host: 'pg-rw.db.svc', port: 5432 };
 * ```
 */
export interface PostgresSecretConnection {
  secretRef: PostgresSecretRef;
  /** Overrides the Secret's host key (e.g. `127.0.0.1` for a port-forward, or a Service name). */
  host?: string;
  /** Overrides the Secret's port key. Default 5432 (3306 for MySQL/MariaDB). */
  port?: number;
  /** Overrides the Secret's database key. Default: the Secret's, else PostgreSQL's (the user name). */
  database?: string;
  /** Further `pg` client options (TLS, timeouts, application name). */
  options?: Omit<pg.ClientConfig, 'user' | 'password' | 'database' | 'host' | 'port' | 'connectionString'>;
}

/**
 * A connection given directly (URL or `pg` options) or through a Secret.
 *
 * @example
 * ```ts
 * const a: DatabaseConnection = 'postgresql://postgres@127.0.0.1:5432/postgres';
 * const b: DatabaseConnection = { secretRef: { name: 'pg-superuser' }, host: '127.0.0.1', port: 15432 };
 * ```
 */
export type DatabaseConnection = PostgresConnectionConfig | PostgresSecretConnection;

/**
 * Whether a connection refers to a Secret.
 *
 * @example
 * ```ts
 * if (isSecretConnection(options.database)) console.log(options.database.secretRef.name);
 * ```
 */
export function isSecretConnection(connection: DatabaseConnection | undefined): connection is PostgresSecretConnection {
  return (
    typeof connection === 'object' && connection !== null && 'secretRef' in connection && typeof (connection as PostgresSecretConnection).secretRef === 'object'
  );
}

/**
 * Turns a {@link DatabaseConnection} into `pg` client options, reading the Secret when it names
 * one (`get` on `secrets` in its namespace). Error messages name the Secret and its keys, never a
 * value.
 *
 * @throws DbaasError `KUBE_NOT_FOUND` (no such Secret), `KUBE_FORBIDDEN` (not allowed to read it;
 *   the fix has the Role rule), `INVALID_ARGUMENT` (a key missing or empty, no host, a bad port).
 * @example
 * ```ts
 * const config = await resolveDatabaseConnection(clients, { secretRef: { name: 'pg-app' }, host: '127.0.0.1', port: 15432 }, 'db');
 * const engine = await postgresEngine(config);
 * ```
 */
export async function resolveDatabaseConnection(
  clients: KubeClients,
  connection: DatabaseConnection,
  defaultNamespace: string,
): Promise<PostgresConnectionConfig> {
  if (!isSecretConnection(connection)) return connection;
  const { options, ...fields } = await readSecretConnection(clients, connection, defaultNamespace, 5432);
  return { ...(options ?? {}), ...fields };
}

/**
 * A MySQL/MariaDB connection given directly (a `mysql://` URL or `mysql2` options) or through a
 * Secret (the same keys as for PostgreSQL: `username`, `password`, `database`, `host`, `port`;
 * the port defaults to 3306).
 *
 * @example
 * ```ts
 * const a: MysqlDatabaseConnection = 'mysql://root@127.0.0.1:3306';
 * const b: MysqlDatabaseConnection = { secretRef: { name: 'shop-db' }, host: '127.0.0.1', port: 13306 };
 * ```
 */
export type MysqlDatabaseConnection = MysqlConnectionConfig | Omit<PostgresSecretConnection, 'options'>;

/**
 * Turns a {@link MysqlDatabaseConnection} into `mysql2` options, reading the Secret when it names
 * one; as {@link resolveDatabaseConnection}, with 3306 as the default port.
 *
 * @throws DbaasError `KUBE_NOT_FOUND`, `KUBE_FORBIDDEN`, `INVALID_ARGUMENT` (as resolveDatabaseConnection).
 * @example
 * ```ts
 * const engine = await mysqlEngine(await resolveMysqlConnection(clients, { secretRef: { name: 'shop-db' }, host: '127.0.0.1' }, 'db'));
 * ```
 */
export async function resolveMysqlConnection(
  clients: KubeClients,
  connection: MysqlDatabaseConnection,
  defaultNamespace: string,
): Promise<MysqlConnectionConfig> {
  if (typeof connection === 'string' || !('secretRef' in connection) || typeof connection.secretRef !== 'object') return connection as MysqlConnectionConfig;
  const { options: _options, ...fields } = await readSecretConnection(clients, connection, defaultNamespace, 3306);
  return fields;
}

/**
 * The user, password and database a Secret holds (as {@link resolveDatabaseConnection} reads them),
 * for a session whose address is not the Secret's: one through a port-forward to the pod.
 *
 * @throws DbaasError as resolveDatabaseConnection, for the Secret and its keys.
 * @example
 * ```ts
 * const { user, password } = await readSecretCredentials(clients, { name: 'pg-superuser' }, 'db');
 * ```
 */
export async function readSecretCredentials(
  clients: KubeClients,
  secretRef: PostgresSecretRef,
  defaultNamespace: string,
  database?: string,
): Promise<{ user: string; password?: string; database?: string }> {
  // The address is the caller's (the forwarded port): a placeholder host keeps the Secret's host key optional.
  const {
    user,
    password,
    database: name,
  } = await readSecretConnection(clients, { secretRef, host: 'localhost', ...(database ? { database } : {}) }, defaultNamespace, 5432);
  return { user, ...(password !== undefined ? { password } : {}), ...(name !== undefined ? { database: name } : {}) };
}

/**
 * A Secret's values as text: `data` decoded from base64, `stringData` as it is (it wins, as the API
 * server would apply it).
 *
 * @example
 * ```ts
 * decodeSecretData({ data: { password: 'czNjcjN0' } }); // { password: 's3cr3t' }
 * ```
 */
export function decodeSecretData(secret: V1Secret): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = v;
  return data;
}

async function readSecretConnection(
  clients: KubeClients,
  connection: PostgresSecretConnection,
  defaultNamespace: string,
  defaultPort: number,
): Promise<{ host: string; port: number; user: string; password?: string; database?: string; options?: PostgresSecretConnection['options'] }> {
  const ref = connection.secretRef;
  const namespace = ref.namespace ?? defaultNamespace;
  const where = `Secret ${namespace}/${ref.name}`;
  let data: Record<string, string>;
  try {
    data = decodeSecretData(await clients.core.readNamespacedSecret({ name: ref.name, namespace }));
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) {
      throw new DbaasError('KUBE_NOT_FOUND', `${where} with the database credentials does not exist`, {
        fix: `Check the name (kubectl -n ${namespace} get secrets); a CloudNativePG cluster has <cluster>-app and, if enabled, <cluster>-superuser.`,
        option: 'database.secretRef',
        cause: error,
      });
    }
    throw error;
  }
  const present = Object.keys(data).sort();
  const keyError = (role: string, key: string): DbaasError =>
    new DbaasError('TARGET_UNSUPPORTED', `${where} has no ${role} under the key "${key}" (its keys: ${present.join(', ') || 'none'})`, {
      option: 'database.secretRef',
      fix: `Name the key that holds the ${role} (secretRef.keys.${role === 'database name' ? 'database' : role}), or add it to the Secret.`,
    });
  const read = (role: string, key: string, required: boolean): string | undefined => {
    const value = data[key];
    if (value === undefined || value === '') {
      if (required) throw keyError(role, key);
      return undefined;
    }
    return value;
  };
  const keys = ref.keys ?? {};
  const user = read('user', keys.user ?? 'username', true)!;
  // A password key that was named must be there; the default one may be absent (trust/cert auth).
  const password = read('password', keys.password ?? 'password', keys.password !== undefined);
  // CloudNativePG's superuser Secret says dbname "*" (any database, as in a .pgpass line): no database named.
  const named = read('database name', keys.database ?? 'dbname', keys.database !== undefined);
  const database = connection.database ?? (named === '*' ? undefined : named);
  const host = connection.host ?? read('host', keys.host ?? 'host', keys.host !== undefined);
  if (!host) {
    throw new DbaasError('TARGET_UNSUPPORTED', `no host to connect to: ${where} has no "${keys.host ?? 'host'}" key and none was given`, {
      option: 'database',
      fix: 'Give the host (and port): the Service name from inside the cluster, or 127.0.0.1 and the local port of a kubectl port-forward.',
    });
  }
  const portText = connection.port !== undefined ? String(connection.port) : read('port', keys.port ?? 'port', keys.port !== undefined);
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    // A port the caller gave is their input; one read from the Secret is the Secret's state.
    throw new DbaasError(
      connection.port !== undefined ? 'INVALID_ARGUMENT' : 'TARGET_UNSUPPORTED',
      `port ${connection.port !== undefined ? 'given' : `in ${where}`} is not a TCP port: "${portText}"`,
      {
        fix: connection.port !== undefined ? 'Give a TCP port (1-65535).' : `Correct the port key of ${where}, or give the port.`,
        option: 'database',
      },
    );
  }
  return {
    ...(connection.options ? { options: connection.options } : {}),
    host,
    port,
    user,
    ...(password !== undefined ? { password } : {}),
    ...(database !== undefined ? { database } : {}),
  };
}
