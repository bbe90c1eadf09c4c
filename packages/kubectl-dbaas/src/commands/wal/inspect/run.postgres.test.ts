// `kubectl dbaas wal inspect` on copies of a real PostgreSQL 17 data directory: one cleanly shut
// down, one online backup without the WAL written after its files were copied.
import { mkdir, writeFile } from 'node:fs/promises';
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
    let stopLsn: string;
    try {
      await session.query('select pg_create_physical_replication_slot($1, true, true)', ['wal_inspect_cli_test']);
      await session.query("select pg_backup_start('cli-test', true)");
      await copyDataDirectory(server.dataDirectory, copy, { exclude: ['postmaster.pid'] });
      await server.query('insert into t select g from generate_series(1001, 2000) g');
      const stop = await session.query<{ labelfile: string; lsn: string }>('select labelfile, lsn::text from pg_backup_stop(false)');
      labelFile = stop.rows[0]!.labelfile;
      stopLsn = stop.rows[0]!.lsn;
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
    expect(renderWalInspect(report)).toContain('hint: pass --backup-stop-lsn LSN');

    // With the stop LSN (--backup-stop-lsn), the missing segments are named.
    const named = await runWalInspect({ source: copy, atomicSnapshot: false, backupStopLsn: stopLsn! });
    expect(named.verdict).toBe('online-backup-incomplete');
    expect(named.missingSegments.length, named.reasons.join('\n')).toBeGreaterThan(0);
    expect(named.requiredWal.to).toBe(stopLsn!);
    expect(renderWalInspect(named)).toMatch(new RegExp(`missing segments:\\s+${named.missingSegments[0]}`));
    expect(renderWalInspect(named)).not.toContain('hint:');
    await expect(runWalInspect({ source: copy, atomicSnapshot: false, backupStopLsn: 'nope' })).rejects.toThrow(/^--backup-stop-lsn: /);

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
    const text = renderWalInspect(report);
    expect(text).toMatch(/restorable:\s+yes/);
    // The end of a healthy copy's WAL is not presented as an error, and the needed WAL has no "?".
    expect(text).toMatch(/WAL written up to:\s+\S+: the normal end of the WAL written so far \(/);
    expect(text).not.toMatch(/WAL ends:|\.\. \?/);
    expect(text).toMatch(/WAL needed:\s+\S+ \.\. /);

    const copyServer = await startPostgresOnDirectory(copy, MAJOR);
    try {
      expect(await copyServer.query('select count(*)::int as n from t')).toEqual([{ n: 2000 }]);
    } finally {
      await copyServer.destroy();
    }
  });
});

describe('wal inspect on what is not a data directory', () => {
  it('a directory without global/pg_control and pg_wal: a clear error and a fix naming the data directory inside, if any', async () => {
    const work = await makeTemporaryDirectory('wal-inspect-not-');
    const failure = (source: string) =>
      runWalInspect({ source, atomicSnapshot: false }).then(
        () => ({ code: 'none', message: 'inspected', fix: '' }),
        (e: unknown) => e as { code: string; message: string; fix: string },
      );
    const error = await failure(work);
    expect(error).toMatchObject({
      code: 'DATA_DIRECTORY_UNREADABLE',
      message: `${work} is not a PostgreSQL data directory: it has neither global/pg_control nor pg_wal`,
    });
    expect(error.fix).toMatch(/^Give the data directory itself/);
    await mkdir(path.join(work, 'pgdata', 'global'), { recursive: true });
    await writeFile(path.join(work, 'pgdata', 'global', 'pg_control'), Buffer.alloc(8192));
    const inside = await failure(work);
    expect(inside.fix).toBe(`Inspect the data directory inside it: ${path.join(work, 'pgdata')}.`);
    const missing = await failure(path.join(work, 'nope'));
    expect(missing.message).toBe(`${path.join(work, 'nope')} does not exist`);
    expect(missing.fix).toMatch(/^Give a PostgreSQL data directory/);
  });
});
