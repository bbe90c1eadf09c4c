// `kubectl dbaas wal inspect` on copies of a real PostgreSQL 17 data directory: one cleanly shut
// down, one online backup without the WAL written after its files were copied.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  availablePostgresMajors,
  cleanupPostgresAfterAll,
  copyDataDirectory,
  makeTemporaryDirectory,
  PostgresStartError,
  startPostgres,
  startPostgresOnDirectory,
  type PostgresServer,
} from '@kubectl-dbaas/testing';

import { renderWalInspect, runWalInspect } from './run.js';

cleanupPostgresAfterAll(afterAll);

const MAJOR = 17;

describe(`wal inspect on PostgreSQL ${MAJOR} copies`, () => {
  let server: PostgresServer;
  let work: string;

  beforeAll(async () => {
    expect(availablePostgresMajors()).toContain(MAJOR);
    work = await makeTemporaryDirectory('wal-inspect-cli-');
    server = await startPostgres({ major: MAJOR });
    await server.query('create table t as select g as id from generate_series(1, 1000) g');
  });

  afterAll(async () => {
    await server?.destroy();
  });

  it('an online backup copy without the WAL to its end is not restorable', async () => {
    const copy = path.join(work, 'online');
    const session = await server.connect();
    let labelFile: string;
    try {
      await session.query('select pg_create_physical_replication_slot($1, true, true)', ['wal_inspect_cli_test']);
      await session.query("select pg_backup_start('cli-test', true)");
      await copyDataDirectory(server.dataDirectory, copy, { exclude: ['postmaster.pid'] });
      await server.query('insert into t select g from generate_series(1001, 2000) g');
      const stop = await session.query<{ labelfile: string }>('select labelfile from pg_backup_stop(false)');
      labelFile = stop.rows[0]!.labelfile;
    } finally {
      await session.end().catch(() => undefined);
    }
    await writeFile(path.join(copy, 'backup_label'), labelFile);

    const report = await runWalInspect({ source: copy, atomicSnapshot: false });
    expect(report.source).toBe(copy);
    expect(report.verdict, report.reasons.join('\n')).toBe('online-backup-incomplete');
    expect(report.restorable).toBe(false);
    expect(report.backupLabel?.label).toBe('cli-test');
    expect(report.reasons.join('\n')).toMatch(/WAL ends before end of online backup/);
    expect(renderWalInspect(report)).toMatch(/online-backup-incomplete/);

    // and PostgreSQL agrees
    const started = await startPostgresOnDirectory(copy, MAJOR).then(
      async (copyServer) => {
        await copyServer.destroy();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(started).toBeInstanceOf(PostgresStartError);
    expect((started as InstanceType<typeof PostgresStartError>).log).toMatch(/WAL ends before end of online backup/);
  });

  it('a copy of a cleanly shut down server is restorable', async () => {
    await server.stop({ mode: 'fast' });
    const copy = path.join(work, 'clean');
    await copyDataDirectory(server.dataDirectory, copy);
    const report = await runWalInspect({ source: copy, atomicSnapshot: false });
    expect(report.verdict, report.reasons.join('\n')).toBe('clean-shutdown');
    expect(report.restorable).toBe(true);
    expect(report.postgresMajorVersion).toBe(MAJOR);
    expect(report.controlFile?.state).toBe('shut down');
    expect(renderWalInspect(report)).toMatch(/restorable:\s+yes/);

    const copyServer = await startPostgresOnDirectory(copy, MAJOR);
    try {
      expect(await copyServer.query('select count(*)::int as n from t')).toEqual([{ n: 2000 }]);
    } finally {
      await copyServer.destroy();
    }
  });
});
