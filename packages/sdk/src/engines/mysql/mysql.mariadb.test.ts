// The MySQL/MariaDB engine hooks and verify against a real MariaDB (Debian's mariadb-server, run
// by the testing fixtures as an unprivileged user): describe(), the online lock session (commits
// blocked while it is held, binlog position and GTID recorded, released by stop/abort), verify on
// clean, crashed and damaged copies, and which copies of a server under write load are consistent.
import { spawnSync } from 'node:child_process';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  cleanupMariadbAfterAll,
  makeTemporaryDirectory,
  mariadbBinaries,
  mariadbUnavailable,
  postgresRunAs,
  startMariadb,
  type MariadbServer,
  copyTrial,
  MysqlWriteLoad,
  seedMysql,
  type CopyMode,
  type CopyTrial,
} from '@kubectl-dbaas/testing';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDbaasError } from '../../errors.js';
import { writeSnapshotMetadata } from '../../manifests/metadata.js';
import { mysqlEngine } from './engine.js';
import { verifyMysqlRestore } from './verify.js';
import { skipWhen } from '@kubectl-dbaas/testing';

const why = mariadbUnavailable();
if (why) console.warn(`[dbaas-testing] SKIPPING MariaDB tests (not passed): ${why}`);
cleanupMariadbAfterAll(afterAll);

// A small redo log makes InnoDB checkpoint often, which is what tears file-by-file copies.
const SETTINGS = { innodb_buffer_pool_size: '256M', innodb_log_file_size: '8M', innodb_io_capacity: 2000 };
let server: MariadbServer;
const report: string[] = [];

beforeAll(async () => {
  if (why) return;
  server = await startMariadb({ settings: SETTINGS });
  await seedMysql(server, 100_000);
});
afterAll(() => {
  if (report.length) console.log(`[mysql.pg] measurements:\n  ${report.join('\n  ')}`);
});

function runAs(): { uid: number; gid: number; name: string } | undefined {
  const r = postgresRunAs();
  return r.switched ? { uid: r.uid, gid: r.gid, name: r.name } : undefined;
}

/** An INSERT on its own connection; resolves with the time it was acknowledged. */
async function insertAt(id: number): Promise<{ done: Promise<number>; conn: mysql.Connection }> {
  const conn = await mysql.createConnection({ ...server.connectionConfig, database: 'app' });
  conn.on('error', () => undefined);
  const done = conn.query('INSERT INTO t (id, w, pad) VALUES (?, 9, ?)', [id, 'x']).then(() => Date.now());
  return { done, conn };
}

describe('mysqlEngine on a real MariaDB', skipWhen(why), () => {
  it('describe(): flavor mariadb and the server version; no server_uuid (a MySQL variable)', async () => {
    const engine = await mysqlEngine(server.connectionConfig);
    try {
      const facts = await engine.describe();
      expect(facts.engine).toBe('mariadb');
      expect(engine.engine).toBe('mariadb');
      expect(mariadbBinaries().version.startsWith(facts.engineVersion!)).toBe(true);
      expect(facts.serverUuid).toBeUndefined();
    } finally {
      await engine.close();
    }
  });

  it('a bad connection is MYSQL_CONNECTION_FAILED naming where', async () => {
    const e = await mysqlEngine({ host: '127.0.0.1', port: 1, user: 'root' }).catch((x: unknown) => x);
    expect(isDbaasError(e, 'MYSQL_CONNECTION_FAILED')).toBe(true);
    expect((e as Error).message).toMatch(/127\.0\.0\.1:1/);
  });

  it('online session: BACKUP STAGE BLOCK_COMMIT holds commits back until stop(); binlog file/position and GTID recorded at the lock', async () => {
    const engine = await mysqlEngine(server.connectionConfig);
    const load = new MysqlWriteLoad(server, 2).start();
    try {
      await new Promise((r) => setTimeout(r, 500));
      const session = await engine.beginOnlineBackup!({ label: 'test' });
      const lockedAt = Date.now();
      expect((session as unknown as { lockMethod: string }).lockMethod).toBe('backup-stage');
      expect(session.separateWalSnapshot).toBe(false);
      const m = session.startMetadata;
      expect(m.binlogFile).toMatch(/^mariadb-bin\.\d{6}$/);
      expect(m.binlogPosition).toBeTypeOf('bigint');
      expect(m.gtidExecuted).toMatch(/^\d+-\d+-\d+/);
      // The metadata schema takes them.
      writeSnapshotMetadata({
        schemaVersion: '1',
        backupSet: 'x',
        role: 'data',
        sourcePvc: 'p',
        backupType: 'volumesnapshot',
        mode: 'online',
        engine: 'mariadb',
        engineVersion: '10.11.19',
        ...m,
        requestedAt: new Date(),
      });
      const before = load.acked.length;
      const blocked = await insertAt(2_000_000_001);
      await new Promise((r) => setTimeout(r, 1500));
      // Nothing committed while the lock is held, and the binlog did not move.
      expect(load.acked.length).toBe(before);
      const [status] = await server.query<{ File: string; Position: string | number }>('SHOW MASTER STATUS');
      expect([status!.File, BigInt(String(status!.Position))]).toEqual([m.binlogFile, m.binlogPosition]);
      expect(await session.stop()).toEqual({});
      const ackedAt = await blocked.done;
      expect(ackedAt - lockedAt).toBeGreaterThanOrEqual(1500);
      await blocked.conn.end();
      await session.release();
      await new Promise((r) => setTimeout(r, 300));
      expect(load.acked.length).toBeGreaterThan(before);
      report.push(
        `online lock: an INSERT waited ${ackedAt - lockedAt} ms behind BACKUP STAGE BLOCK_COMMIT; ${load.acked.length - before} commits after stop() in 300 ms`,
      );
    } finally {
      await load.stop();
      await engine.close();
    }
  });

  it('FLUSH TABLES WITH READ LOCK (the MySQL path, also on MariaDB): writes wait until stop(); positions recorded', async () => {
    const engine = await mysqlEngine(server.connectionConfig, { lockMethod: 'ftwrl' });
    try {
      const session = await engine.beginOnlineBackup!({ label: 'ftwrl' });
      expect((session as unknown as { lockMethod: string }).lockMethod).toBe('ftwrl');
      expect(session.startMetadata.binlogFile).toMatch(/^mariadb-bin\.\d{6}$/);
      const lockedAt = Date.now();
      const blocked = await insertAt(2_000_000_010);
      await new Promise((r) => setTimeout(r, 1000));
      const [status] = await server.query<{ File: string; Position: string | number }>('SHOW MASTER STATUS');
      expect(BigInt(String(status!.Position))).toBe(session.startMetadata.binlogPosition);
      await session.stop();
      expect((await blocked.done) - lockedAt).toBeGreaterThanOrEqual(1000);
      await blocked.conn.end();
      await session.release();
    } finally {
      await engine.close();
    }
  });

  it('a lock that cannot be had within lockWaitTimeoutSeconds fails fast (MYSQL_QUERY_FAILED) and leaves no waiting lock behind that would block writers', async () => {
    const holder = await mysql.createConnection({ ...server.connectionConfig, database: 'app' });
    holder.on('error', () => undefined);
    await holder.query('LOCK TABLES t WRITE');
    const engine = await mysqlEngine(server.connectionConfig, { lockMethod: 'ftwrl', lockWaitTimeoutSeconds: 1 });
    try {
      const t = Date.now();
      const e = await engine.beginOnlineBackup!({ label: 'timeout' }).catch((x: unknown) => x);
      expect(isDbaasError(e, 'MYSQL_QUERY_FAILED')).toBe(true);
      expect((e as Error).message).toMatch(/Lock wait timeout|ER_LOCK_WAIT_TIMEOUT/);
      expect(Date.now() - t).toBeLessThan(10_000);
      await holder.query('UNLOCK TABLES');
      // Writers are not held back by a leftover FTWRL.
      const t0 = Date.now();
      const w = await insertAt(2_000_000_011);
      // A leftover lock would hold the insert for lock_wait_timeout (a day by default): 15 s tells the two apart on a busy machine.
      expect((await w.done) - t0).toBeLessThan(15_000);
      await w.conn.end();
    } finally {
      await holder.end().catch(() => undefined);
      await engine.close();
    }
  });

  it("lockMethod 'backup-stage' asked for explicitly is used (older servers are refused by the onlineLockMethod rule, unit-tested)", async () => {
    const engine = await mysqlEngine(server.connectionConfig, { lockMethod: 'backup-stage' });
    try {
      const s = await engine.beginOnlineBackup!({ label: 'explicit' });
      expect((s as unknown as { lockMethod: string }).lockMethod).toBe('backup-stage');
      await s.abort();
    } finally {
      await engine.close();
    }
  });

  it('abort() drops the locking connection, which releases the lock at once; idempotent', async () => {
    const engine = await mysqlEngine(server.connectionConfig);
    try {
      const session = await engine.beginOnlineBackup!({ label: 'abort' });
      const blocked = await insertAt(2_000_000_002);
      await new Promise((r) => setTimeout(r, 500));
      const t = Date.now();
      await session.abort(new Error('test'));
      await session.abort();
      const ackedAt = await blocked.done;
      expect(ackedAt - t).toBeLessThan(15_000);
      await blocked.conn.end();
      const stages = await server.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'BACKUP STAGE%' OR STATE LIKE '%backup%'",
      );
      expect(Number(stages[0]!.n)).toBe(0);
    } finally {
      await engine.close();
    }
  });

  it('an aborted signal while the lock is held drops the connection (the lock goes with it)', async () => {
    const engine = await mysqlEngine(server.connectionConfig);
    const controller = new AbortController();
    try {
      const session = await engine.beginOnlineBackup!({ label: 'signal', signal: controller.signal });
      const blocked = await insertAt(2_000_000_003);
      controller.abort(new Error('^C'));
      const ackedAt = await blocked.done;
      expect(ackedAt).toBeGreaterThan(0);
      await blocked.conn.end();
      await session.abort();
    } finally {
      await engine.close();
    }
  });
});

describe('verifyMysqlRestore on a scratch server', skipWhen(why), () => {
  async function copyOf(mode: 'clean' | 'crash'): Promise<string> {
    const dir = path.join(await makeTemporaryDirectory('mysql-verify-'), 'data');
    // A crash image: the server frozen (SIGSTOP) while it writes, the files copied, the server resumed.
    const load = mode === 'crash' ? new MysqlWriteLoad(server, 2).start() : undefined;
    try {
      if (load) await new Promise((r) => setTimeout(r, 1000));
      if (mode === 'clean') await server.stop();
      else process.kill(server.pid!, 'SIGSTOP');
      try {
        const r = spawnSync('cp', ['-a', server.dataDirectory, dir]);
        expect(r.status).toBe(0);
      } finally {
        if (mode === 'clean') await server.start();
        else process.kill(server.pid!, 'SIGCONT');
      }
    } finally {
      await load?.stop();
    }
    return dir;
  }

  it('a cleanly stopped copy: starts without crash recovery, CHECK TABLE OK on every table', async () => {
    const dir = await copyOf('clean');
    let rows = 0;
    const r = await verifyMysqlRestore({
      dataDirectory: dir,
      ...(runAs() ? { runAs: runAs()! } : {}),
      inspect: async (s) => {
        rows = Number((await s.query<{ n: string }>('SELECT COUNT(*) AS n FROM app.t'))[0]!.n);
      },
    });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.started).toBe(true);
    expect(r.crashRecovery).toBe(false);
    expect(r.tables.map((t) => t.table)).toEqual(expect.arrayContaining(['app.t', 'app.u', 'mysql.global_priv']));
    expect(rows).toBeGreaterThanOrEqual(100_000);
    report.push(`verify clean copy: ${r.tables.length} tables checked`);
  });

  it('a crash image (frozen server): recovers (crash recovery in the log) and passes', async () => {
    const dir = await copyOf('crash');
    const r = await verifyMysqlRestore({ dataDirectory: dir, ...(runAs() ? { runAs: runAs()! } : {}) });
    expect(r.problems).toEqual([]);
    expect(r.crashRecovery).toBe(true);
  });

  it('a copy with damaged pages in app/t.ibd: reported not ok (the log or CHECK TABLE names it)', async () => {
    const dir = await copyOf('clean');
    const file = path.join(dir, 'app', 't.ibd');
    const size = (await stat(file)).size;
    const fh = await open(file, 'r+');
    // Garbage over 64 pages in the middle of the clustered index (16 KiB pages).
    await fh.write(Buffer.alloc(64 * 16384, 0x5a), 0, 64 * 16384, Math.floor(size / 2 / 16384) * 16384);
    await fh.close();
    const r = await verifyMysqlRestore({ dataDirectory: dir, ...(runAs() ? { runAs: runAs()! } : {}), timeoutMs: 120_000 });
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toMatch(/corrupt|checksum|app\.t|t\.ibd|did not|exited/i);
    report.push(`verify damaged copy: started ${r.started}; ${r.problems[0]?.slice(0, 160)}`);
  });

  it('refuses a directory that is no MySQL data directory', async () => {
    const dir = await makeTemporaryDirectory('mysql-verify-empty-');
    const e = await verifyMysqlRestore({ dataDirectory: dir }).catch((x: unknown) => x);
    expect(isDbaasError(e, 'INVALID_ARGUMENT')).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('which copies of a MariaDB under write load are consistent (tar czf, as the hostpath driver copies)', skipWhen(why), () => {
  const trials: CopyTrial[] = [];
  afterAll(() => {
    for (const t of trials) {
      report.push(
        `copy ${t.mode}: ${t.verdict}; tar exit ${t.tarExit}${t.tarStderr ? ` (${t.tarStderr.slice(0, 90)})` : ''}, ${t.copyMs} ms, ${Math.round(t.commitsPerSecond)} commits/s before, ` +
          `${t.ackedBeforeCut} acked before the cut, ${t.missing} missing, ${t.fromTheFuture} after the release present${'problems' in t.verify && t.verify.problems.length ? `; ${t.verify.problems[0]!.slice(0, 140)}` : 'error' in t.verify ? `; ${t.verify.error.slice(0, 140)}` : ''}`,
      );
    }
  });

  async function run(mode: CopyMode, n: number): Promise<CopyTrial[]> {
    const load = new MysqlWriteLoad(server, 4).start();
    const out: CopyTrial[] = [];
    try {
      await new Promise((r) => setTimeout(r, 2000));
      for (let i = 0; i < n; i++) {
        const t = await copyTrial(server, load, mode, SETTINGS);
        trials.push(t);
        out.push(t);
        await new Promise((r) => setTimeout(r, 1000));
      }
    } finally {
      await load.stop();
    }
    return out;
  }

  it('fenced (clean shutdown, then tar): every copy starts without recovery, has every acknowledged row, CHECK TABLE passes', async () => {
    for (const t of await run('fenced', 2)) {
      expect(t.commitsPerSecond).toBeGreaterThan(50);
      expect(t.ackedBeforeCut).toBeGreaterThan(100);
      expect([t.verdict, t.missing]).toEqual(['clean', 0]);
      expect('crashRecovery' in t.verify && t.verify.crashRecovery).toBe(false);
    }
  });

  it('atomic (the lock held and the server frozen while tar reads, as a block-level snapshot sees it): every copy recovers clean', async () => {
    for (const t of await run('frozen', 2)) {
      expect(t.commitsPerSecond).toBeGreaterThan(50);
      expect([t.verdict, t.missing, t.fromTheFuture]).toEqual(['clean', 0, 0]);
    }
  });

  // Lock + tar of the live directory: the outcome is what is measured (torn copies were seen:
  // docs/engines.md), so it is reported, not asserted; the SDK refuses this mode on non-atomic
  // drivers. DBAAS_MYSQL_MEASURE=<n> runs n trials of each.
  it(
    'measure: BACKUP STAGE BLOCK_COMMIT / FTWRL / no lock, each with tar of the live directory (DBAAS_MYSQL_MEASURE=<trials>)',
    skipWhen(Number(process.env.DBAAS_MYSQL_MEASURE ?? 0) > 0 ? undefined : 'a measurement, run on request: DBAAS_MYSQL_MEASURE=<trials>'),
    async () => {
      const n = Number(process.env.DBAAS_MYSQL_MEASURE);
      for (const mode of ['backup-stage', 'ftwrl', 'live'] as const) {
        const got = await run(mode, n);
        report.push(
          `measure ${mode}: ${got.filter((t) => t.verdict === 'clean').length}/${n} clean, ${got.filter((t) => t.verdict === 'corrupt').length} started corrupt, ${got.filter((t) => t.verdict === 'did-not-start').length} did not start`,
        );
      }
    },
  );
});
