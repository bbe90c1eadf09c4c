// resolveDatabaseConnection on the real kube-apiserver of the shared local cluster and a real
// PostgreSQL that requires a password: credentials read from Secrets shaped as CloudNativePG writes
// them and as kubernetes.io/basic-auth, then a session opened with them; the errors name the Secret
// and its keys, never a value. (No port-forward here: this cluster has no kubelet.)
import { randomBytes } from 'node:crypto';
import { availablePostgresMajors, cleanupPostgresAfterAll, clusterFromEnv, dbaasRejection, startPostgres, type PostgresServer } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClients } from '../../kube/clients.js';
import { postgresEngine } from './engine.js';
import { isSecretConnection, resolveDatabaseConnection } from './secret.js';

cleanupPostgresAfterAll(afterAll);

const info = clusterFromEnv(inject('dbaasCluster'));
const ns = `secret-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const password = `pw-${randomBytes(9).toString('base64url')}`;
let server: PostgresServer;

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

beforeAll(async () => {
  server = await startPostgres({ major: availablePostgresMajors().at(-1)!, password, superuser: 'dbaas_admin' });
  await server.query('create database appdb');
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  // CloudNativePG's <cluster>-superuser layout: username, password, dbname, host, port, uri.
  await clients.core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name: 'pg-superuser' },
      type: 'kubernetes.io/basic-auth',
      data: {
        username: b64('dbaas_admin'),
        password: b64(password),
        dbname: b64('appdb'),
        host: b64(server.host),
        port: b64(String(server.port)),
        uri: b64(server.connectionString),
      },
    },
  });
  // Own key names, no host: the caller says where to connect.
  await clients.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'custom' }, stringData: { PGUSER: 'dbaas_admin', PGPASSWORD: password } },
  });
  await clients.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'no-user' }, stringData: { password } } });
});

afterAll(async () => {
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('resolveDatabaseConnection', () => {
  it('a CloudNativePG-style Secret gives user, password, database, host and port; a session opens with them', async () => {
    const connection = { secretRef: { name: 'pg-superuser' } };
    expect(isSecretConnection(connection)).toBe(true);
    const config = await resolveDatabaseConnection(clients, connection, ns);
    expect(config).toEqual({ host: server.host, port: server.port, user: 'dbaas_admin', password, database: 'appdb' });
    const engine = await postgresEngine(config);
    try {
      expect(await engine.describe()).toMatchObject({ engine: 'postgres', timeline: 1 });
    } finally {
      await engine.close();
    }
  });

  it('own key names and a host/port given by the caller (from another namespace via secretRef.namespace)', async () => {
    const config = await resolveDatabaseConnection(
      clients,
      {
        secretRef: { name: 'custom', namespace: ns, keys: { user: 'PGUSER', password: 'PGPASSWORD' } },
        host: server.host,
        port: server.port,
        database: 'postgres',
        options: { application_name: 'secret-test' },
      },
      'default',
    );
    expect(config).toEqual({ application_name: 'secret-test', host: server.host, port: server.port, user: 'dbaas_admin', password, database: 'postgres' });
    const engine = await postgresEngine(config);
    await engine.close();
  });

  it('a URL or pg options pass through unchanged', async () => {
    expect(isSecretConnection(server.connectionString)).toBe(false);
    expect(await resolveDatabaseConnection(clients, server.connectionString, ns)).toBe(server.connectionString);
    expect(await resolveDatabaseConnection(clients, server.connectionConfig, ns)).toEqual(server.connectionConfig);
  });

  it('errors name the Secret and its keys, never a value', async () => {
    const missing = await dbaasRejection(resolveDatabaseConnection(clients, { secretRef: { name: 'nope' } }, ns));
    expect(missing.code).toBe('KUBE_NOT_FOUND');
    expect(missing.message).toBe(`Secret ${ns}/nope with the database credentials does not exist`);

    const noUser = await dbaasRejection(resolveDatabaseConnection(clients, { secretRef: { name: 'no-user' }, host: '127.0.0.1' }, ns));
    expect(noUser.code).toBe('TARGET_UNSUPPORTED'); // the Secret exists; its contents do not do
    expect(noUser.option).toBe('database.secretRef');
    expect(noUser.message).toBe(`Secret ${ns}/no-user has no user under the key "username" (its keys: password)`);

    const wrongKey = await dbaasRejection(
      resolveDatabaseConnection(clients, { secretRef: { name: 'custom', keys: { user: 'PGUSER', password: 'pass' } }, host: '127.0.0.1' }, ns),
    );
    expect(wrongKey.message).toBe(`Secret ${ns}/custom has no password under the key "pass" (its keys: PGPASSWORD, PGUSER)`);

    const noHost = await dbaasRejection(
      resolveDatabaseConnection(clients, { secretRef: { name: 'custom', keys: { user: 'PGUSER', password: 'PGPASSWORD' } } }, ns),
    );
    expect(noHost.message).toMatch(/^no host to connect to: Secret .*\/custom has no "host" key and none was given/);
    expect(noHost.fix).toMatch(/port-forward/);

    const badPort = await dbaasRejection(resolveDatabaseConnection(clients, { secretRef: { name: 'pg-superuser' }, port: 70000 }, ns));
    expect(badPort.message).toBe('port given is not a TCP port: "70000"');

    for (const e of [missing, noUser, wrongKey, noHost, badPort]) {
      expect(`${e.message} ${e.fix ?? ''} ${JSON.stringify(e.details ?? {})}`).not.toContain(password);
    }
  });
});
