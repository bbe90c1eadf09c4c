import { describe, expect, it } from 'vitest';
import { detectEngine, imageRepositoryName } from './detect.js';

describe('detectEngine', () => {
  it('reads image references with registries, ports, tags and digests', () => {
    expect(imageRepositoryName('registry.example.com:5000/team/MariaDB:11.4@sha256:abc')).toBe('mariadb');
    expect(imageRepositoryName('mysql')).toBe('mysql');
    expect(imageRepositoryName('ghcr.io/cloudnative-pg/postgresql:17.2')).toBe('postgresql');
  });

  it.each([
    [['mariadb:11.4'], 'mariadb'],
    [['docker.io/bitnami/mariadb-galera:11.4.3'], 'mariadb'],
    [['quay.io/mariadb-foundation/mariadb-devel:11.8'], undefined],
    [['mysql:8.4.2'], 'mysql'],
    [['container-registry.oracle.com/mysql/community-mysql-server:8.4'], 'mysql'],
    [['percona/percona-server:8.0.36'], 'mysql'],
    [['percona/percona-xtradb-cluster:8.0'], 'mysql'],
    [['postgres:17-alpine'], 'postgres'],
    [['ghcr.io/cloudnative-pg/postgresql:16.4'], 'postgres'],
    [['mariadb:11.4', 'prom/mysqld-exporter:v0.15.1'], 'mariadb'],
    [['busybox:1.36'], undefined],
  ] as const)('images %j -> %s', (images, engine) => {
    expect(detectEngine({ images }).engine).toBe(engine);
  });

  it('an explicit dbaas.io/engine label wins over images; an invalid one is a conflict, not a guess', () => {
    expect(detectEngine({ images: ['mysql:8.4'], labels: { 'dbaas.io/engine': 'mariadb' } })).toMatchObject({
      engine: 'mariadb',
      source: 'label:dbaas.io/engine',
    });
    expect(detectEngine({ images: ['mysql:8.4'], labels: { 'dbaas.io/engine': 'oracle' } })).toMatchObject({ engine: undefined, source: 'conflict' });
  });

  it('images disagreeing is a conflict; weaker evidence is then not consulted', () => {
    const d = detectEngine({ images: ['mysql:8.4', 'postgres:17'], labels: { app: 'mariadb' }, pvcName: 'data-x-mariadb-0' });
    expect(d.engine).toBeUndefined();
    expect(d.source).toBe('conflict');
    expect(d.evidence).toMatch(/mysql:8\.4 -> mysql.*postgres:17 -> postgres/);
  });

  it('images beat labels, labels beat the PVC name', () => {
    expect(detectEngine({ images: ['mariadb:10.11'], labels: { 'app.kubernetes.io/name': 'mysql' } })).toMatchObject({ engine: 'mariadb', source: 'image' });
    expect(detectEngine({ images: ['my-company/db:1'], labels: { 'app.kubernetes.io/name': 'mysql' }, pvcName: 'data-shop-mariadb-0' })).toMatchObject({
      engine: 'mysql',
      source: 'label',
    });
  });

  it.each([
    ['data-my-postgres-postgresql-local-0', 'postgres'],
    ['data-shop-mysql-local-0', 'mysql'],
    ['data-shop-mariadb-local-0', 'mariadb'],
    ['data-release-mariadb-0', 'mariadb'],
    ['datadir-cluster1-pxc-0', 'mysql'], // Percona XtraDB Cluster operator
    ['data-pg-0', undefined],
    ['data-orders-0', undefined],
    ['data-mysql-to-postgres-0', undefined],
  ] as const)('PVC name %s -> %s (origin design naming data-<instance>-<type>-local-0)', (pvcName, engine) => {
    expect(detectEngine({ pvcName }).engine).toBe(engine);
  });

  it('says so when nothing names an engine', () => {
    expect(detectEngine({})).toEqual({ engine: undefined, source: 'none', evidence: 'no image, label or PVC name names an engine' });
  });
});

describe('detectEngine: environment variable names', () => {
  it('read after images and before labels; MARIADB_* decides MariaDB although its images accept MYSQL_* too', () => {
    expect(detectEngine({ images: ['registry.local/db:1'], envNames: ['MARIADB_ROOT_PASSWORD', 'MYSQL_DATABASE'] })).toMatchObject({
      engine: 'mariadb',
      source: 'env',
    });
    expect(detectEngine({ envNames: ['MYSQL_ROOT_PASSWORD'] })).toMatchObject({ engine: 'mysql', source: 'env' });
    expect(detectEngine({ envNames: ['PGDATA', 'POSTGRES_PASSWORD'] })).toMatchObject({ engine: 'postgres', source: 'env' });
    expect(detectEngine({ envNames: ['HOME', 'PATH'], labels: { app: 'mariadb' } })).toMatchObject({ engine: 'mariadb', source: 'label' });
  });

  it('an image outranks env; env that disagrees is a conflict, not a guess', () => {
    expect(detectEngine({ images: ['postgres:17'], envNames: ['MYSQL_ROOT_PASSWORD'] })).toMatchObject({ engine: 'postgres', source: 'image' });
    expect(detectEngine({ envNames: ['POSTGRES_PASSWORD', 'MYSQL_ROOT_PASSWORD'] })).toMatchObject({ engine: undefined, source: 'conflict' });
  });
});
