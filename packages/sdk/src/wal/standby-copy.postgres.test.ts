// A cleanly stopped streaming standby ("shut down in recovery") is a restorable copy: PostgreSQL
// starts it as a standby and, promoted, as a primary, with every row. The inspector must say so:
// pg_control's minRecoveryPoint is a MAXALIGNed record end, the valid WAL's end as scanned is not.
import { readFile, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  availablePostgresMajors,
  cleanupPostgresAfterAll,
  copyDataDirectory,
  makeTemporaryDirectory,
  startPostgres,
  startPostgresOnDirectory,
  type PostgresServer,
} from '@kubectl-dbaas/testing';
import { inspectDataDirectory } from './data-directory.js';
import { readControlFile } from './control-file.js';
import { connectLive } from './live.js';

cleanupPostgresAfterAll(afterAll);

describe.each(availablePostgresMajors())('a cleanly stopped standby, PostgreSQL %i', (major) => {
  let primary: PostgresServer;
  let dir: string;

  beforeAll(async () => {
    primary = await startPostgres({ major });
    await primary.query('create table acked (id int primary key, note text)');
    dir = await makeTemporaryDirectory('dbaas-standby-copy-');
  });
  afterAll(async () => {
    await primary?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is judged clean-shutdown and safe, and really starts as standby and as primary with every row', async () => {
    const standbyDir = path.join(dir, 'standby');
    const live = await connectLive(primary.connectionConfig);
    try {
      const { backup } = await live.withOnlineBackup({ label: 'standby seed' }, async () => {
        await copyDataDirectory(primary.dataDirectory, standbyDir, { exclude: ['postmaster.pid', 'postmaster.opts', 'pg_wal/'] });
      });
      await writeFile(path.join(standbyDir, 'backup_label'), backup.labelFile);
    } finally {
      await live.close();
    }
    await writeFile(path.join(standbyDir, 'standby.signal'), '');
    const conninfo = `host=127.0.0.1 port=${primary.port} user=postgres application_name=standby`;
    const standby = await startPostgresOnDirectory(standbyDir, major, { settings: { primary_conninfo: conninfo, hot_standby: 'on' } });
    let rows = 0;
    try {
      // Rows of odd sizes, so records end at every alignment within the 8-byte MAXALIGN.
      for (let i = 1; i <= 200; i += 1) {
        await primary.query('insert into acked values ($1, $2)', [i, 'x'.repeat(i % 13)]);
        rows = i;
      }
      const lsn = (await primary.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn'))[0]?.lsn;
      await expect
        .poll(async () => (await standby.query<{ ok: boolean }>('select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok', [lsn]))[0]?.ok, { timeout: 30_000 })
        .toBe(true);
      await standby.stop({ mode: 'fast' });
    } catch (error) {
      await standby.destroy();
      throw error;
    }

    const control = readControlFile(await readFile(path.join(standbyDir, 'global', 'pg_control')));
    expect(control.state).toBe('shut down in recovery');
    expect(control.minRecoveryPoint > 0n).toBe(true);
    const inspection = await inspectDataDirectory(standbyDir);
    expect({ verdict: inspection.verdict, safe: inspection.safe }, inspection.reasons.join('\n')).toEqual({ verdict: 'clean-shutdown', safe: true });
    expect(inspection.found.standbySignal).toBe(true);

    // PostgreSQL agrees: as a standby (no primary to stream from), then promoted, with every row.
    await standby.start({ settings: { primary_conninfo: '', hot_standby: 'on' } });
    try {
      expect((await standby.query<{ r: boolean }>('select pg_is_in_recovery() as r'))[0]?.r).toBe(true);
      expect((await standby.query<{ n: number }>('select count(*)::int as n from acked'))[0]?.n).toBe(rows);
      await standby.stop({ mode: 'fast' });
      await unlink(path.join(standbyDir, 'standby.signal'));
      await standby.start();
      expect((await standby.query<{ r: boolean }>('select pg_is_in_recovery() as r'))[0]?.r).toBe(false);
      expect((await standby.query<{ n: number }>('select count(*)::int as n from acked'))[0]?.n).toBe(rows);
    } finally {
      await standby.destroy();
    }
  });
});
