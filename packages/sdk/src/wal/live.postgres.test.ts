import { chown, copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import pg from 'pg';
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

import { type DbaasError, isDbaasError } from '../errors.js';
import { WalInspector } from './inspector.js';
import { connectLive, type LiveInspector } from './live.js';
import { formatLsn, parseLsn, walFileName, walFileNameForEnd, walFileNameForSegment, walSegmentNumber } from './lsn.js';

cleanupPostgresAfterAll(afterAll);

const SEGMENT = 16 * 1024 * 1024;

async function one<R extends Record<string, unknown>>(server: PostgresServer, sql: string, params: unknown[] = []): Promise<R> {
  const [row] = await server.query<R>(sql, params);
  if (!row) throw new Error(`no row from ${sql}`);
  return row;
}

async function slotExists(server: PostgresServer, name: string): Promise<boolean> {
  return (await one<{ e: boolean }>(server, 'select exists (select 1 from pg_replication_slots where slot_name = $1) as e', [name])).e;
}

async function backendExists(server: PostgresServer, pid: number): Promise<boolean> {
  return (await one<{ e: boolean }>(server, 'select exists (select 1 from pg_stat_activity where pid = $1) as e', [pid])).e;
}

async function backupSessions(server: PostgresServer): Promise<number> {
  return (await one<{ n: number }>(server, "select count(*)::int as n from pg_stat_activity where application_name = 'kubectl-dbaas online backup'")).n;
}

describe.each(availablePostgresMajors())('live inspection, PostgreSQL %i', (major) => {
  let server: PostgresServer;
  let live: LiveInspector;

  beforeAll(async () => {
    server = await startPostgres({ major });
    live = await connectLive(server.connectionConfig);
  });
  afterAll(async () => {
    await live?.close();
    await server?.destroy();
  });

  it('reads the version, WAL positions and settings as the server reports them', async () => {
    const version = await one<{ num: string; text: string }>(
      server,
      "select current_setting('server_version_num') as num, current_setting('server_version') as text",
    );
    expect(live.serverVersion).toEqual({ num: Number(version.num), major, minor: Number(version.num) % 10000, text: version.text });

    await server.query('create table if not exists filler (id int, pad text)');
    await server.query("insert into filler select g, repeat('x', 100) from generate_series(1, 1000) g");
    const before = parseLsn((await one<{ l: string }>(server, 'select pg_current_wal_flush_lsn()::text as l')).l);
    const wal = await live.walPositions();
    const after = await one<{ w: string; i: string }>(server, 'select pg_current_wal_lsn()::text as w, pg_current_wal_insert_lsn()::text as i');
    expect(wal.inRecovery).toBe(false);
    expect(wal.timeline).toBe(1);
    expect(wal.receiveLsn).toBeNull();
    expect(wal.replayLsn).toBeNull();
    const current = wal.currentLsn as bigint;
    const insert = wal.insertLsn as bigint;
    const flush = wal.flushLsn as bigint;
    expect(flush >= before).toBe(true);
    expect(flush <= current && current <= insert).toBe(true);
    expect(current <= parseLsn(after.w) && insert <= parseLsn(after.i)).toBe(true);
    // pg_walfile_name uses the end-pointer rule; our helper must agree with the server
    const serverFile = await one<{ f: string }>(server, 'select pg_walfile_name($1::pg_lsn) as f', [formatLsn(current)]);
    expect(wal.currentWalFile).toBe(serverFile.f);
    expect(wal.currentWalFile).toBe(walFileNameForEnd(current, 1));
    expect((await live.currentLsn()) >= current).toBe(true);
    expect(await live.timeline()).toBe(1);
    expect(await live.isInRecovery()).toBe(false);
    expect(await live.tablespaces()).toEqual([]);

    expect(await live.walSegmentSize()).toBe(SEGMENT);
    expect(await live.dataChecksums()).toBe(true);
  });

  it('parses pg_control_checkpoint, pg_control_system, pg_control_recovery and pg_stat_archiver', async () => {
    const checkpoint = await live.controlCheckpoint();
    const raw = await one<Record<string, unknown>>(server, 'select *, checkpoint_lsn::text as c, redo_lsn::text as r from pg_control_checkpoint()');
    expect(formatLsn(checkpoint.checkpointLsn)).toBe(raw.c);
    expect(formatLsn(checkpoint.redoLsn)).toBe(raw.r);
    expect(checkpoint.redoWalFile).toBe(raw.redo_wal_file);
    expect(checkpoint.redoWalFile).toBe(walFileName(checkpoint.redoLsn, checkpoint.timeline)); // start-pointer rule
    expect(checkpoint.timeline).toBe(raw.timeline_id);
    expect(checkpoint.previousTimeline).toBe(raw.prev_timeline_id);
    expect(checkpoint.fullPageWrites).toBe(raw.full_page_writes);
    expect(checkpoint.nextXid).toBe(raw.next_xid);
    expect(checkpoint.nextXid).toMatch(/^\d+:\d+$/);
    expect(checkpoint.nextOid).toBe(Number(raw.next_oid));
    expect(checkpoint.oldestXid).toBe(String(raw.oldest_xid));
    expect(checkpoint.oldestXidDatabaseOid).toBe(Number(raw.oldest_xid_dbid));
    expect(checkpoint.checkpointTime.getTime()).toBe((raw.checkpoint_time as Date).getTime());

    const system = await live.controlSystem();
    const rawSystem = await one<{ v: number; cat: number; id: string; t: Date }>(
      server,
      'select pg_control_version as v, catalog_version_no as cat, system_identifier::text as id, pg_control_last_modified as t from pg_control_system()',
    );
    expect(system.controlVersion).toBe(rawSystem.v);
    expect(system.catalogVersion).toBe(rawSystem.cat);
    expect(system.systemIdentifier).toBe(BigInt(rawSystem.id));
    expect(system.systemIdentifier > 2n ** 53n).toBe(true); // would have lost precision as a number

    expect(await live.controlRecovery()).toEqual({
      minRecoveryEndLsn: 0n,
      minRecoveryEndTimeline: 0,
      backupStartLsn: 0n,
      backupEndLsn: 0n,
      endOfBackupRecordRequired: false,
    });
    const archiver = await live.archiverStats();
    expect(archiver).toMatchObject({ archivedCount: 0, failedCount: 0, lastArchivedWal: null, lastFailedWal: null });
    expect(archiver.statsReset === null || archiver.statsReset instanceof Date).toBe(true);
  });

  it('WalInspector.status reads what the LiveInspector reads, in a session of its own that it ends', async () => {
    const sessions = async () =>
      (await one<{ n: number }>(server, "select count(*)::int as n from pg_stat_activity where application_name = 'kubectl-dbaas'")).n;
    const before = await sessions();
    expect(before).toBeGreaterThanOrEqual(1); // the LiveInspector's own session is seen: the count below means something
    const checkpointBefore = await live.controlCheckpoint();
    const status = await new WalInspector().status(server.connectionConfig);
    const checkpointAfter = await live.controlCheckpoint();
    expect(status.server).toEqual(live.serverVersion);
    expect(status.walSegmentSize).toBe(SEGMENT);
    expect(status.dataChecksums).toBe(true);
    expect(status.positions).toMatchObject({ inRecovery: false, timeline: 1, receiveLsn: null, replayLsn: null });
    expect(status.positions.currentWalFile).toBe(walFileNameForEnd(status.positions.currentLsn as bigint, 1));
    expect(status.lastCheckpoint.checkpointLsn >= checkpointBefore.checkpointLsn && status.lastCheckpoint.checkpointLsn <= checkpointAfter.checkpointLsn).toBe(
      true,
    );
    expect(status.archiver).toMatchObject({ archivedCount: 0, failedCount: 0 });
    // Its session is gone once status() returns (a backend may take a moment to exit after the client closes).
    const deadline = Date.now() + 5_000;
    while ((await sessions()) > before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await sessions()).toBe(before);
  });

  it('lists the tablespaces outside the data directory, with where they are', async () => {
    const location = path.join(server.runtimeDirectory, 'tablespace-a');
    await mkdir(location, { mode: 0o700 });
    if (server.runAs.switched) await chown(location, server.runAs.uid, server.runAs.gid);
    await server.query(`create tablespace extra location '${location}'`);
    try {
      expect(await live.tablespaces()).toEqual([{ name: 'extra', location }]);
    } finally {
      await server.query('drop tablespace extra');
    }
    expect(await live.tablespaces()).toEqual([]);
    if (major >= 15) {
      // An in-place tablespace (pg_tblspc/<oid>, a developer option) is inside the data directory.
      const client = new pg.Client(server.connectionConfig);
      await client.connect();
      try {
        await client.query('set allow_in_place_tablespaces = on');
        await client.query("create tablespace in_place location ''");
        expect((await client.query<{ l: string }>("select pg_tablespace_location(oid) as l from pg_tablespace where spcname = 'in_place'")).rows[0]!.l).toMatch(
          /^pg_tblspc\/\d+$/,
        );
        expect(await live.tablespaces()).toEqual([]);
        await client.query('drop tablespace in_place');
      } finally {
        await client.end();
      }
    }
  });

  it('checkpoints and switches WAL segments', async () => {
    const before = await live.controlCheckpoint();
    await server.query("insert into filler select g, 'y' from generate_series(1, 100) g");
    const after = await live.checkpoint();
    expect(after.checkpointLsn > before.checkpointLsn).toBe(true);
    expect(after.redoLsn > before.redoLsn).toBe(true);

    const segmentBefore = walSegmentNumber((await live.walPositions()).insertLsn as bigint);
    // pg_switch_wal returns the end of the switch record itself (not the end of the segment it
    // reserves), so the returned LSN is still inside the segment that was just closed
    const end = await live.switchWal();
    expect(walSegmentNumber(end - 1n)).toBe(segmentBefore);
    const serverEndFile = await one<{ f: string }>(server, 'select pg_walfile_name($1::pg_lsn) as f', [formatLsn(end)]);
    expect(walFileNameForEnd(end, 1)).toBe(serverEndFile.f);
    expect(serverEndFile.f).toBe(walFileNameForSegment(1, segmentBefore));
    // new WAL goes to the next segment
    await server.query("insert into filler values (0, 'next segment')");
    const next = await live.walPositions();
    expect(walSegmentNumber(next.insertLsn as bigint)).toBe(segmentBefore + 1n);
    expect(walFileName(next.insertLsn as bigint, 1)).toBe(walFileNameForSegment(1, segmentBefore + 1n));
  });

  it('holds an online backup with a temporary slot; the copy restores only with the WAL up to the stop LSN', async () => {
    await server.query('create table ledger (id int primary key, phase text)');
    await server.query("insert into ledger select g, 'before' from generate_series(1, 500) g");
    const backup = await live.startOnlineBackup({ label: `test backup ${major}`, fast: true });
    const { started } = backup;
    expect(backup.state).toBe('running');
    expect(started.serverVersion.major).toBe(major);
    expect(started.timeline).toBe(1);
    expect(started.fromStandby).toBe(false);
    expect(started.startWalFile).toBe(walFileName(started.startLsn, 1));
    expect(started.slotName).toMatch(/^dbaas_backup_[0-9a-f]{12}$/);

    // the slot exists during the backup, is temporary, held by the backup's backend, and reserves WAL from before the start
    const slot = await one<{ temporary: boolean; active_pid: number; restart_lsn: string; slot_type: string }>(
      server,
      'select temporary, active_pid, restart_lsn::text as restart_lsn, slot_type from pg_replication_slots where slot_name = $1',
      [started.slotName],
    );
    expect(slot).toMatchObject({ temporary: true, active_pid: started.backendPid, slot_type: 'physical' });
    expect(parseLsn(slot.restart_lsn) <= started.startLsn).toBe(true);
    expect(started.slotRestartLsn).toBe(parseLsn(slot.restart_lsn));
    expect(await backendExists(server, started.backendPid)).toBe(true);

    // file-level copy while the server runs (WAL left out: it comes from the "-wal" copy), then more writes
    const dir = await makeTemporaryDirectory('dbaas-live-backup-');
    const full = path.join(dir, 'full');
    await server.query("insert into ledger select g, 'during' from generate_series(501, 1000) g");
    await copyDataDirectory(server.dataDirectory, full, { exclude: ['postmaster.pid', 'postmaster.opts', 'pg_wal/'] });
    await live.switchWal(); // the stop lands in a later segment than the start
    await server.query("insert into ledger select g, 'after copy' from generate_series(1001, 1500) g");

    const stopped = await backup.stop({ keepSlot: true });
    expect(backup.state).toBe('stopped');
    expect(backup.slotHeld).toBe(true);
    expect(await slotExists(server, started.slotName as string)).toBe(true);
    expect(stopped.stopLsn > stopped.startLsn).toBe(true);
    expect(stopped.stopTimeline).toBe(1);
    const serverStopFile = await one<{ f: string }>(server, 'select pg_walfile_name($1::pg_lsn) as f', [formatLsn(stopped.stopLsn)]);
    expect(stopped.stopWalFile).toBe(serverStopFile.f);
    expect(walSegmentNumber(stopped.stopLsn - 1n) > walSegmentNumber(stopped.startLsn)).toBe(true);
    const startLine = /^START WAL LOCATION: (\S+) \(file ([0-9A-F]{24})\)$/m.exec(stopped.labelFile);
    expect(startLine?.[1]).toBe(formatLsn(started.startLsn));
    expect(startLine?.[2]).toBe(started.startWalFile);
    expect(stopped.labelFile).toMatch(/^START TIMELINE: 1$/m);
    expect(stopped.labelFile).toContain(`LABEL: test backup ${major}\n`);
    expect(stopped.labelFile).toMatch(/^BACKUP FROM: primary$/m);
    expect(stopped.tablespaceMap).toBe('');

    // copy the WAL from the start to the stop segment while the slot still holds it
    const partial = path.join(dir, 'partial');
    await copyDataDirectory(full, partial);
    const first = walSegmentNumber(stopped.startLsn);
    const last = walSegmentNumber(stopped.stopLsn - 1n);
    for (let segment = first; segment <= last; segment++) {
      const name = walFileNameForSegment(1, segment);
      await copyFile(path.join(server.dataDirectory, 'pg_wal', name), path.join(full, 'pg_wal', name));
      if (segment === first) await copyFile(path.join(server.dataDirectory, 'pg_wal', name), path.join(partial, 'pg_wal', name));
    }
    await backup.release();
    expect(backup.slotHeld).toBe(false);
    expect(await slotExists(server, started.slotName as string)).toBe(false);
    await expect.poll(() => backendExists(server, started.backendPid)).toBe(false);

    for (const copy of [full, partial]) await writeFile(path.join(copy, 'backup_label'), stopped.labelFile);

    // only the WAL of the start segment: PostgreSQL refuses to start
    const refused = await startPostgresOnDirectory(partial, major).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PostgresStartError);
    expect((refused as PostgresStartError).log).toMatch(/WAL ends before end of online backup/);

    // all WAL to the stop segment: it starts, consistent, with every row committed before the stop
    const restored = await startPostgresOnDirectory(full, major);
    expect(restored.readLog()).toMatch(/consistent recovery state reached/);
    const phases = await restored.query<{ phase: string; n: number }>('select phase, count(*)::int as n from ledger group by phase order by phase');
    expect(phases).toEqual([
      { phase: 'after copy', n: 500 },
      { phase: 'before', n: 500 },
      { phase: 'during', n: 500 },
    ]);
    const restoredLive = await connectLive(restored.connectionConfig);
    expect((await restoredLive.controlSystem()).systemIdentifier).toBe((await live.controlSystem()).systemIdentifier);
    await restoredLive.close();
    await restored.destroy();
  });

  it('reads receive and replay positions on a streaming standby, and backs up from it', async () => {
    const dir = await makeTemporaryDirectory('dbaas-live-standby-');
    const standbyDir = path.join(dir, 'standby');
    const { backup: stopped } = await live.withOnlineBackup({ label: 'standby seed' }, async () => {
      await copyDataDirectory(server.dataDirectory, standbyDir, { exclude: ['postmaster.pid', 'postmaster.opts', 'pg_wal/'] });
    });
    await writeFile(path.join(standbyDir, 'backup_label'), stopped.labelFile);
    await writeFile(path.join(standbyDir, 'standby.signal'), '');
    // WAL comes by streaming from the primary
    const standby = await startPostgresOnDirectory(standbyDir, major, {
      settings: { primary_conninfo: `host=127.0.0.1 port=${server.port} user=postgres application_name=standby`, hot_standby: 'on' },
    });
    const standbyLive = await connectLive(standby.connectionConfig);
    try {
      await server.query("insert into filler select g, 'replicated' from generate_series(1, 10) g");
      const target = await live.currentLsn();
      await expect.poll(async () => ((await standbyLive.walPositions()).replayLsn ?? 0n) >= target, { timeout: 30_000 }).toBe(true);
      const wal = await standbyLive.walPositions();
      expect(wal.inRecovery).toBe(true);
      expect(wal.currentLsn).toBeNull();
      expect(wal.insertLsn).toBeNull();
      expect(wal.currentWalFile).toBeNull();
      expect(wal.timeline).toBe(1);
      const raw = await one<{ r: string; p: string }>(standby, 'select pg_last_wal_receive_lsn()::text as r, pg_last_wal_replay_lsn()::text as p');
      expect((wal.receiveLsn as bigint) <= parseLsn(raw.r)).toBe(true);
      expect((wal.replayLsn as bigint) <= parseLsn(raw.p)).toBe(true);
      expect((wal.receiveLsn as bigint) >= target).toBe(true);
      expect(await standbyLive.isInRecovery()).toBe(true);
      await expect(standbyLive.currentLsn()).rejects.toMatchObject({ code: 'PG_QUERY_FAILED' });

      // an online backup taken on the standby
      const fromStandby = await standbyLive.startOnlineBackup({ label: 'from standby' });
      expect(fromStandby.started.fromStandby).toBe(true);
      const done = await fromStandby.stop();
      expect(done.labelFile).toMatch(/^BACKUP FROM: standby$/m);
      expect(done.stopLsn >= done.startLsn).toBe(true);
      expect(done.stopWalFile).toBe(walFileNameForEnd(done.stopLsn, done.stopTimeline));
      expect(await slotExists(standby, done.slotName as string)).toBe(false);
    } finally {
      await standbyLive.close();
      await standby.destroy();
    }
  });

  it('ends the backup and drops the slot when the AbortSignal fires', async () => {
    const controller = new AbortController();
    const backup = await live.startOnlineBackup({ label: 'to be aborted', signal: controller.signal });
    const { slotName, backendPid } = backup.started;
    expect(await slotExists(server, slotName as string)).toBe(true);
    controller.abort(new Error('user pressed ^C'));
    await backup.abort(); // waits for the abort the signal started
    expect(backup.state).toBe('aborted');
    expect(await slotExists(server, slotName as string)).toBe(false);
    expect(await backendExists(server, backendPid)).toBe(false);
    const stopError = await backup.stop().catch((error: unknown) => error);
    expect(isDbaasError(stopError, 'BACKUP_ABORTED')).toBe(true);
    expect((stopError as DbaasError).message).toMatch(/user pressed \^C/);

    // a new backup, with a slot of the same name, can start and stop at once
    const again = await live.startOnlineBackup({ label: 'after abort', replicationSlot: slotName as string });
    expect((await again.stop()).labelFile).toContain('LABEL: after abort');
    expect(await backupSessions(server)).toBe(0);
  });

  it('aborts while pg_backup_start waits for a spread checkpoint', async () => {
    // many dirty buffers + a spread checkpoint: pg_backup_start(fast=false) takes minutes
    await server.query('create table if not exists dirt (id int, pad text)');
    await server.query("insert into dirt select g, repeat('d', 500) from generate_series(1, 30000) g");
    const controller = new AbortController();
    const pending = live.startOnlineBackup({ label: 'slow start', fast: false, signal: controller.signal });
    await expect.poll(() => backupSessions(server)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort('too slow');
    const error = await pending.catch((e: unknown) => e);
    expect(isDbaasError(error, 'BACKUP_ABORTED')).toBe(true);
    expect(await backupSessions(server)).toBe(0);
    expect((await server.query("select 1 from pg_replication_slots where slot_name like 'dbaas_backup_%'")).length).toBe(0);
    // the next (fast) backup is not held up
    const next = await live.startOnlineBackup({ label: 'fast after slow' });
    await next.stop();
  });

  it('ends the backup when an error is thrown inside the session', async () => {
    let slotName = '';
    let backendPid = 0;
    const failing = async () => {
      await using backup = await live.startOnlineBackup({ label: 'failing work' });
      slotName = backup.started.slotName as string;
      backendPid = backup.started.backendPid;
      expect(await slotExists(server, slotName)).toBe(true);
      throw new Error('snapshot failed');
    };
    await expect(failing()).rejects.toThrow('snapshot failed');
    expect(await slotExists(server, slotName)).toBe(false);
    expect(await backendExists(server, backendPid)).toBe(false);

    const work = new Error('work failed');
    await expect(
      live.withOnlineBackup({ label: 'with' }, async () => {
        throw work;
      }),
    ).rejects.toBe(work);
    expect(await backupSessions(server)).toBe(0);
    expect((await server.query("select 1 from pg_replication_slots where slot_name like 'dbaas_backup_%'")).length).toBe(0);
  });

  it('rejects bad input and an already aborted signal without touching the server', async () => {
    await expect(live.startOnlineBackup({ label: 'two\nlines' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(live.startOnlineBackup({ label: 'x', replicationSlot: 'Bad-Name' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(live.startOnlineBackup({ label: 'x', signal: AbortSignal.abort('no') })).rejects.toMatchObject({ code: 'BACKUP_ABORTED' });
    expect(await backupSessions(server)).toBe(0);
  });
});

describe('live inspection of other initdb choices', () => {
  it('reads 1 MiB segments and checksums off', async () => {
    const major = availablePostgresMajors()[0] as number;
    const server = await startPostgres({ major, walSegmentSizeMb: 1, dataChecksums: false });
    const live = await connectLive(server.connectionConfig);
    try {
      expect(await live.walSegmentSize()).toBe(1024 * 1024);
      expect(await live.dataChecksums()).toBe(false);
      const backup = await live.startOnlineBackup({ label: 'small segments' });
      expect(backup.started.walSegmentSize).toBe(1024 * 1024);
      expect(backup.started.startWalFile).toBe(walFileName(backup.started.startLsn, 1, 1024 * 1024));
      const done = await backup.stop();
      const file = await one<{ f: string }>(server, 'select pg_walfile_name($1::pg_lsn) as f', [formatLsn(done.stopLsn)]);
      expect(done.stopWalFile).toBe(file.f);
    } finally {
      await live.close();
      await server.destroy();
    }
  });

  it('keeps the backup session through server-side idle timeouts', async () => {
    const major = availablePostgresMajors().at(-1) as number;
    const server = await startPostgres({ major, settings: { idle_session_timeout: '300ms', idle_in_transaction_session_timeout: '300ms' } });
    const live = await connectLive(server.connectionConfig);
    try {
      const backup = await live.startOnlineBackup({ label: 'idle' });
      await new Promise((resolve) => setTimeout(resolve, 1200)); // the snapshot is being cut
      const done = await backup.stop();
      expect(done.labelFile).toContain('LABEL: idle');
    } finally {
      await live.close().catch(() => undefined);
      await server.destroy();
    }
  });

  it('says why it cannot connect', async () => {
    const error = await connectLive({ host: '127.0.0.1', port: 1, user: 'postgres', connectionTimeoutMillis: 2000 }).catch((e: unknown) => e);
    expect(isDbaasError(error, 'PG_CONNECTION_FAILED')).toBe(true);
    expect((error as DbaasError).message).toMatch(/127\.0\.0\.1:1/);
  });
});
