import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  availablePostgresMajors,
  cleanupPostgresAfterAll,
  copyDataDirectory,
  makeTemporaryDirectory,
  postgresBinaries,
  postgresRunAs,
  PostgresStartError,
  processAlive,
  startPostgres,
  startPostgresOnDirectory,
} from './index.js';

cleanupPostgresAfterAll(afterAll);

function processUid(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

describe('PostgreSQL binaries', () => {
  it('has every major from 14 to 18 installed', () => {
    expect(availablePostgresMajors()).toEqual([14, 15, 16, 17, 18]);
  });

  it('reports each version from `postgres -V`', () => {
    for (const major of availablePostgresMajors()) {
      const bins = postgresBinaries(major);
      expect(bins.version.startsWith(`${major}.`)).toBe(true);
      expect(existsSync(bins.initdb)).toBe(true);
      expect(existsSync(path.join(bins.lib, 'postgresql', 'amcheck.so'))).toBe(true);
    }
  });
});

describe.each(availablePostgresMajors())('PostgreSQL %i', (major) => {
  it('starts, answers, stops, restarts, survives kill -9', async () => {
    const server = await startPostgres({ major });
    try {
      expect(server.major).toBe(major);
      expect(server.host).toBe('127.0.0.1');
      const [row] = await server.query<{ version: string; num: string; dir: string }>(
        "select version(), current_setting('server_version_num') as num, current_setting('data_directory') as dir",
      );
      expect(row?.version).toMatch(new RegExp(`^PostgreSQL ${major}\\.`));
      expect(Math.floor(Number(row?.num) / 10000)).toBe(major);
      expect(row?.dir).toBe(server.dataDirectory);

      // the defaults we promise
      const settings = await server.query<{ name: string; setting: string }>(
        "select name, setting from pg_settings where name in ('wal_level', 'fsync', 'data_checksums', 'max_wal_senders', 'listen_addresses', 'unix_socket_directories') order by name",
      );
      expect(Object.fromEntries(settings.map((s) => [s.name, s.setting]))).toEqual({
        data_checksums: 'on',
        fsync: 'on',
        listen_addresses: '127.0.0.1',
        max_wal_senders: '10',
        unix_socket_directories: server.socketDirectory,
        wal_level: 'replica',
      });

      // runs unprivileged when we are root
      const pid = server.pid as number;
      expect(processUid(pid)).toBe(postgresRunAs().uid);
      if (process.getuid?.() === 0) expect(processUid(pid)).not.toBe(0);

      await server.query('create table t (id int primary key, note text)');
      await server.query("insert into t values (1, 'before stop')");
      const pidsBefore = server.processIds();
      expect(pidsBefore.length).toBeGreaterThan(3); // postmaster + checkpointer, walwriter, ...

      await server.stop({ mode: 'fast' });
      expect(server.running).toBe(false);
      expect(pidsBefore.some(processAlive)).toBe(false);
      expect(server.readLog()).toMatch(/database system is shut down/);

      const port = server.port;
      await server.start();
      expect(server.port).toBe(port);
      await server.query("insert into t values (2, 'after restart')");

      const pidsAlive = server.processIds();
      await server.kill();
      expect(pidsAlive.some(processAlive)).toBe(false);
      expect(server.running).toBe(false);

      await server.start();
      expect(server.readLog(40)).toMatch(/database system was interrupted|not properly shut down/);
      const rows = await server.query<{ id: number }>('select id from t order by id');
      expect(rows.map((r) => r.id)).toEqual([1, 2]);

      await server.stop({ mode: 'immediate' });
      await server.start();
      await server.stop({ mode: 'smart' });
    } finally {
      await server.destroy();
    }
    expect(existsSync(server.runtimeDirectory)).toBe(false);
    expect(existsSync(server.dataDirectory)).toBe(false);
  });
});

describe('data directory copies', () => {
  const major = availablePostgresMajors().at(-1) as number;

  it('copies a stopped server and starts the copy next to the original', async () => {
    const source = await startPostgres({ major, settings: { max_wal_size: '64MB' } });
    await source.query('create table t as select g as id from generate_series(1, 1000) g');
    await source.stop();
    const dir = await makeTemporaryDirectory();
    const target = path.join(dir, 'data');
    const copied = await copyDataDirectory(source.dataDirectory, target);
    expect(copied.files).toBeGreaterThan(100);
    expect(copied.vanished).toEqual([]);
    await source.start();

    const copy = await startPostgresOnDirectory(target);
    expect(copy.major).toBe(major);
    expect(copy.port).not.toBe(source.port);
    expect(await copy.query('select count(*)::int as n from t')).toEqual([{ n: 1000 }]);
    // settings written at initdb travel with the copy
    expect(await copy.query("select current_setting('max_wal_size') as v")).toEqual([{ v: '64MB' }]);
    await copy.destroy();
    expect(existsSync(target)).toBe(true); // the caller's directory is never removed
    await source.destroy();
  });

  it('reports a failed start with the log, and leaves nothing running', async () => {
    const source = await startPostgres({ major });
    await source.stop();
    const dir = await makeTemporaryDirectory();
    const target = path.join(dir, 'data');
    await copyDataDirectory(source.dataDirectory, target, { exclude: ['pg_wal/'] });
    expect(existsSync(path.join(target, 'pg_wal'))).toBe(true);
    const error = await startPostgresOnDirectory(target, major).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PostgresStartError);
    expect((error as PostgresStartError).log).toMatch(/could not locate a valid checkpoint record|invalid checkpoint record|could not open file/);
    expect((error as PostgresStartError).message).toMatch(/did not start/);
    await source.destroy();
  });

  it('explains when the server user cannot reach the directory', async () => {
    if (!postgresRunAs().switched) return; // only meaningful when root runs the tests
    const hidden = await mkdtemp(path.join(os.tmpdir(), 'dbaas-hidden-'));
    try {
      await chmod(hidden, 0o700);
      await mkdir(path.join(hidden, 'data'));
      const error = await startPostgres({ major, dataDirectory: path.join(hidden, 'data') }).catch((e: unknown) => e);
      expect(String(error)).toMatch(/cannot reach .*search \(x\) permission on .*dbaas-hidden-.*Fix:/s);
    } finally {
      await rm(hidden, { recursive: true, force: true });
    }
  });

  it('initdbs into an empty directory the caller owns and password-protects TCP', async () => {
    const dir = await makeTemporaryDirectory();
    const target = path.join(dir, 'volume');
    await mkdir(target);
    const server = await startPostgres({ major: 14, dataDirectory: target, password: 's3cret', walSegmentSizeMb: 1 });
    expect(await server.query("select current_setting('wal_segment_size') as v")).toEqual([{ v: '1MB' }]);
    const denied = await server.connect({ password: 'wrong' }).catch((e: unknown) => e);
    expect(String(denied)).toMatch(/password authentication failed/);
    await server.destroy();
    expect(existsSync(path.join(target, 'PG_VERSION'))).toBe(true);
  });
});
