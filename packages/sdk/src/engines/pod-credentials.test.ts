import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { KubeClients } from '../kube/clients.js';
import { podDatabaseCredentials } from './pod-credentials.js';

// Only literal `value`s here: nothing is read from the cluster (the Secret/ConfigMap paths run in
// e2e/session-through-pod.cluster.test.ts against a real API server).
const noCluster = {} as KubeClients;
const pod = (...containers: V1Container[]): V1Pod => ({ metadata: { name: 'db-0', namespace: 'db' }, spec: { containers } });
const env = (vars: Record<string, string>) => Object.entries(vars).map(([name, value]) => ({ name, value }));

describe('podDatabaseCredentials from literal values', () => {
  it('the official PostgreSQL image: POSTGRES_USER (default postgres), POSTGRES_PASSWORD, POSTGRES_DB', async () => {
    expect(await podDatabaseCredentials(noCluster, pod({ name: 'pg', env: env({ POSTGRES_PASSWORD: 'pw' }) }), 'postgres')).toEqual({
      user: 'postgres',
      password: 'pw',
      source: 'POSTGRES_PASSWORD of container pg',
    });
    expect(
      await podDatabaseCredentials(
        noCluster,
        pod({ name: 'pg', env: env({ POSTGRES_PASSWORD: 'pw', POSTGRES_USER: 'app', POSTGRES_DB: 'shop' }) }),
        'postgres',
      ),
    ).toEqual({
      user: 'app',
      password: 'pw',
      database: 'shop',
      source: 'POSTGRES_PASSWORD and POSTGRES_USER of container pg',
    });
  });

  it("Bitnami: the postgres superuser's own password wins over the application user's", async () => {
    const c = { name: 'postgresql', env: env({ POSTGRESQL_USERNAME: 'app', POSTGRESQL_PASSWORD: 'apppw', POSTGRESQL_POSTGRES_PASSWORD: 'superpw' }) };
    expect(await podDatabaseCredentials(noCluster, pod(c), 'postgres')).toMatchObject({ user: 'postgres', password: 'superpw' });
  });

  it('MariaDB/MySQL: root with MARIADB_ROOT_PASSWORD or MYSQL_ROOT_PASSWORD; an allowed empty root password', async () => {
    expect(await podDatabaseCredentials(noCluster, pod({ name: 'm', env: env({ MARIADB_ROOT_PASSWORD: 'r' }) }), 'mariadb')).toMatchObject({
      user: 'root',
      password: 'r',
    });
    expect(await podDatabaseCredentials(noCluster, pod({ name: 'm', env: env({ MYSQL_ROOT_PASSWORD: 'r' }) }), 'mysql')).toMatchObject({
      user: 'root',
      password: 'r',
    });
    expect(await podDatabaseCredentials(noCluster, pod({ name: 'm', env: env({ MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: '1' }) }), 'mariadb')).toEqual({
      user: 'root',
      source: 'MARIADB_ALLOW_EMPTY_ROOT_PASSWORD of container m (no password)',
    });
  });

  it("the database's container among sidecars: by its variables, else its port", async () => {
    const sidecar = { name: 'exporter', env: env({ DATA_SOURCE_PASS: 'x' }) };
    expect(await podDatabaseCredentials(noCluster, pod(sidecar, { name: 'pg', env: env({ POSTGRES_PASSWORD: 'pw' }) }), 'postgres')).toMatchObject({
      source: 'POSTGRES_PASSWORD of container pg',
    });
    const byPort = { name: 'pg', ports: [{ containerPort: 5432 }], env: env({ POSTGRES_HOST_AUTH_METHOD: 'trust' }) };
    expect(await podDatabaseCredentials(noCluster, pod(sidecar, byPort), 'postgres')).toEqual({
      user: 'postgres',
      source: 'POSTGRES_HOST_AUTH_METHOD of container pg (no password)',
    });
  });

  it('refuses, naming the way out, when the password is only in a file or nowhere; never a value in the message', async () => {
    await expect(
      podDatabaseCredentials(noCluster, pod({ name: 'pg', env: env({ POSTGRES_PASSWORD_FILE: '/run/secrets/pw' }) }), 'postgres'),
    ).rejects.toMatchObject({
      code: 'TARGET_UNSUPPORTED',
      option: 'database.secretRef',
      message:
        'cannot tell the PostgreSQL credentials of pod db/db-0: its password is in a file inside the container (POSTGRES_PASSWORD_FILE), which is not read from outside',
    });
    await expect(podDatabaseCredentials(noCluster, pod({ name: 'a' }, { name: 'b' }), 'mysql')).rejects.toMatchObject({
      code: 'TARGET_UNSUPPORTED',
      message: expect.stringContaining('none shows the database'),
    });
  });
});
