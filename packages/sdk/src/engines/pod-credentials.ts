// The database credentials a pod was started with, read from its spec: the environment variables of
// the official PostgreSQL/MariaDB/MySQL images and Bitnami's, given as values or from Secrets and
// ConfigMaps (`valueFrom`, `envFrom`). Used when the SQL session goes through the API server to
// the pod itself and no Secret was named. Values are returned to the caller, never put in messages.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { DbaasError, isDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import { decodeSecretData } from './postgres/secret.js';
import { databaseContainer, familyOf, type EngineFamily } from './pod-layout.js';

/**
 * Credentials found in a pod's spec, and where they came from (variable names only).
 *
 * @example
 * ```ts
 * const c: PodCredentials = { user: 'postgres', password: 's3cret', source: 'POSTGRES_PASSWORD of container postgres' };
 * ```
 */
export interface PodCredentials {
  user: string;
  password?: string;
  database?: string;
  /** Which variables of which container, for plans and messages (never the values). */
  source: string;
}

/** The variables each engine's images read, most privileged account first. */
interface CredentialRule {
  /** The variable holding the password, and the user it belongs to (a fixed name or another variable). */
  password: string;
  user: { fixed: string } | { variable: string; default: string };
  database?: string;
}

const RULES: Record<'postgres' | 'mysql', CredentialRule[]> = {
  postgres: [
    // Bitnami: the postgres superuser's own password.
    { password: 'POSTGRESQL_POSTGRES_PASSWORD', user: { fixed: 'postgres' } },
    // The official image: POSTGRES_USER is the superuser it creates.
    { password: 'POSTGRES_PASSWORD', user: { variable: 'POSTGRES_USER', default: 'postgres' }, database: 'POSTGRES_DB' },
    { password: 'POSTGRESQL_PASSWORD', user: { variable: 'POSTGRESQL_USERNAME', default: 'postgres' }, database: 'POSTGRESQL_DATABASE' },
  ],
  mysql: [
    { password: 'MARIADB_ROOT_PASSWORD', user: { fixed: 'root' } },
    { password: 'MYSQL_ROOT_PASSWORD', user: { fixed: 'root' } },
    { password: 'MARIADB_PASSWORD', user: { variable: 'MARIADB_USER', default: 'root' }, database: 'MARIADB_DATABASE' },
    { password: 'MYSQL_PASSWORD', user: { variable: 'MYSQL_USER', default: 'root' }, database: 'MYSQL_DATABASE' },
  ],
};

/** Variables saying the image allows an empty root password (MariaDB/MySQL) or trusts every connection (PostgreSQL). */
const PASSWORDLESS: Record<'postgres' | 'mysql', string[]> = {
  postgres: ['POSTGRES_HOST_AUTH_METHOD'],
  mysql: ['MARIADB_ALLOW_EMPTY_ROOT_PASSWORD', 'MYSQL_ALLOW_EMPTY_PASSWORD'],
};

/** Reads one key of a Secret or ConfigMap; undefined when it is absent and optional. */
async function readReference(
  clients: KubeClients,
  namespace: string,
  kind: 'Secret' | 'ConfigMap',
  name: string,
  key: string | undefined,
): Promise<Record<string, string>> {
  try {
    if (kind === 'Secret') {
      const data = decodeSecretData(await clients.core.readNamespacedSecret({ name, namespace }));
      return key === undefined ? data : Object.fromEntries(Object.entries(data).filter(([k]) => k === key));
    }
    const map = await clients.core.readNamespacedConfigMap({ name, namespace });
    return Object.fromEntries(Object.entries(map.data ?? {}).filter(([k]) => key === undefined || k === key));
  } catch (error) {
    if (isDbaasError(error, 'KUBE_NOT_FOUND')) return {};
    throw error;
  }
}

/** The container's environment as the kubelet gives it: `envFrom` first, then `env` (which wins). */
async function containerEnvironment(clients: KubeClients, namespace: string, container: V1Container, wanted: Set<string>): Promise<Map<string, string>> {
  const env = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    const ref = source.secretRef
      ? { kind: 'Secret' as const, name: source.secretRef.name }
      : source.configMapRef
        ? { kind: 'ConfigMap' as const, name: source.configMapRef.name }
        : undefined;
    if (!ref?.name) continue;
    for (const [k, v] of Object.entries(await readReference(clients, namespace, ref.kind, ref.name, undefined)))
      if (wanted.has(prefix + k)) env.set(prefix + k, v);
  }
  for (const variable of container.env ?? []) {
    if (!wanted.has(variable.name)) continue;
    if (variable.value !== undefined) env.set(variable.name, variable.value);
    else if (variable.valueFrom?.secretKeyRef?.name) {
      const { name, key } = variable.valueFrom.secretKeyRef;
      const value = (await readReference(clients, namespace, 'Secret', name, key))[key];
      if (value !== undefined) env.set(variable.name, value);
    } else if (variable.valueFrom?.configMapKeyRef?.name) {
      const { name, key } = variable.valueFrom.configMapKeyRef;
      const value = (await readReference(clients, namespace, 'ConfigMap', name, key))[key];
      if (value !== undefined) env.set(variable.name, value);
    }
  }
  return env;
}

/**
 * The credentials of the database in `pod`, from its container's environment (values, Secrets and
 * ConfigMaps it references). Needs `get` on those Secrets/ConfigMaps.
 *
 * @throws DbaasError `TARGET_UNSUPPORTED` when the pod names no credentials this knows (or only a
 *   `*_FILE` variable: a file inside the container), with `option: 'database.secretRef'` (name a Secret).
 * @example
 * ```ts
 * const pod = await clients.core.readNamespacedPod({ name: 'pg-0', namespace: 'db' });
 * const { user, password, source } = await podDatabaseCredentials(clients, pod, 'postgres');
 * ```
 */
export async function podDatabaseCredentials(clients: KubeClients, pod: V1Pod, engine: EngineFamily): Promise<PodCredentials> {
  const family = familyOf(engine);
  const podName = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const container = databaseContainer(pod, engine);
  const noCredentials = (why: string) =>
    new DbaasError('TARGET_UNSUPPORTED', `cannot tell the ${family === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB'} credentials of pod ${podName}: ${why}`, {
      option: 'database.secretRef',
      fix: `Name a Secret with the user and password (keys username, password), or connect to the database directly with a user and the password in ${family === 'postgres' ? '$PGPASSWORD or ~/.pgpass' : '$MYSQL_PWD'}.`,
      details: { pod: podName, ...(container ? { container: container.name } : {}) },
    });
  if (!container) throw noCredentials("it has several containers and none shows the database's variables or port");
  const rules = RULES[family];
  const wanted = new Set([
    ...rules.flatMap((r) => [r.password, ...('variable' in r.user ? [r.user.variable] : []), ...(r.database ? [r.database] : [])]),
    ...PASSWORDLESS[family],
  ]);
  const env = await containerEnvironment(clients, pod.metadata?.namespace ?? '', container, wanted);
  for (const rule of rules) {
    const password = env.get(rule.password);
    if (password === undefined || password === '') continue;
    const user = 'fixed' in rule.user ? rule.user.fixed : env.get(rule.user.variable) || rule.user.default;
    const database = rule.database ? env.get(rule.database) || undefined : undefined;
    const userNote = 'variable' in rule.user && env.get(rule.user.variable) ? ` and ${rule.user.variable}` : '';
    return { user, password, ...(database ? { database } : {}), source: `${rule.password}${userNote} of container ${container.name}` };
  }
  const passwordless = PASSWORDLESS[family].find((v) => env.get(v) !== undefined && env.get(v) !== '' && (family === 'mysql' || env.get(v) === 'trust'));
  if (passwordless) {
    const user = family === 'postgres' ? env.get('POSTGRES_USER') || 'postgres' : 'root';
    return { user, source: `${passwordless} of container ${container.name} (no password)` };
  }
  const files = (container.env ?? []).map((e) => e.name).filter((n) => n.endsWith('_PASSWORD_FILE'));
  if (files.length) throw noCredentials(`its password is in a file inside the container (${files.join(', ')}), which is not read from outside`);
  throw noCredentials(`container ${container.name} sets none of ${rules.map((r) => r.password).join(', ')}`);
}
