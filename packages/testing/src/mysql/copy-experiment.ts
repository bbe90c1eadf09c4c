// Experiment harness of the MySQL/MariaDB engine tests (packages/sdk/src/engines/mysql/*.test.ts): a MariaDB under a concurrent write load,
// a copy of its data directory taken the way the hostpath CSI driver takes it (`tar czf` of the
// live directory) in one of several modes, then a server started on the copy and checked: every
// row acknowledged before the cut present, no row acknowledged after the lock was released,
// CHECK TABLE ... EXTENDED on every table, InnoDB errors in the log.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { checkMysqlTables, mysqlEngine, type MysqlVerifyReport } from '@kubectl-dbaas/sdk';
import mysql from 'mysql2/promise';
import { makeTemporaryDirectory } from '../postgres/copy.js';
import { MariadbStartError, startMariadbOnDirectory, type MariadbServer } from './server.js';

/** How the copy is taken. */
export type CopyMode = 'live' | 'ftwrl' | 'backup-stage' | 'frozen' | 'fenced';

export interface CopyTrial {
  mode: CopyMode;
  tarExit: number;
  tarStderr: string;
  copyMs: number;
  ackedBeforeCut: number;
  missing: number;
  /** Lock modes: rows in the copy acknowledged only after the lock was released (commits the lock should have kept out). Always 0 for live/fenced copies. */
  fromTheFuture: number;
  verify: MysqlVerifyReport | { started: false; error: string };
  verdict: 'clean' | 'corrupt' | 'did-not-start' | 'tar-failed';
  commitsPerSecond: number;
}

/**
 * Writers: inserts into t (one row per transaction) and updates of u (history for purge). A
 * statement that gets no answer in {@link STATEMENT_TIMEOUT_MS} drops its connection and the writer
 * reconnects, so a stalled connection costs one writer that long, not the rest of the run.
 */
export class MysqlWriteLoad {
  static #next = 1_000_000_000;
  /** Longer than anything a backup legitimately holds commits for (BACKUP STAGE BLOCK_COMMIT, a fence's stop). */
  static readonly STATEMENT_TIMEOUT_MS = 60_000;
  acked: [number, number][] = [];
  errors = 0;
  /** The last failure of any writer and when it happened, for a test's message. */
  lastError: { message: string; at: number } | undefined;
  #stop = false;
  #loops: Promise<void>[] = [];
  constructor(
    private readonly server: { readonly connectionConfig: mysql.ConnectionOptions },
    private readonly writers = 4,
  ) {}
  start(): this {
    for (let w = 0; w < this.writers; w++) this.#loops.push(this.#run(w + 1));
    return this;
  }
  async #run(w: number): Promise<void> {
    let c: mysql.Connection | undefined;
    const timeout = MysqlWriteLoad.STATEMENT_TIMEOUT_MS;
    while (!this.#stop) {
      try {
        if (!c) {
          c = await mysql.createConnection({ ...this.server.connectionConfig, database: 'app', connectTimeout: 20_000 });
          c.on('error', () => undefined);
        }
        const id = MysqlWriteLoad.#next++;
        await c.query({ sql: 'BEGIN', timeout });
        await c.query({ sql: 'INSERT INTO t (id, w, pad) VALUES (?, ?, REPEAT(MD5(?), 4))', timeout }, [id, w, String(id)]);
        await c.query({ sql: 'UPDATE u SET n = n + 1, pad = REPEAT(MD5(?), 4) WHERE id = ?', timeout }, [String(id), (id * 7919) % 20_000]);
        await c.query({ sql: 'COMMIT', timeout });
        this.acked.push([id, Date.now()]);
      } catch (error) {
        this.errors += 1;
        this.lastError = { message: (error as Error).message, at: Date.now() };
        // destroy, not end: end() waits for the server's answer, which a stalled connection never sends.
        c?.destroy();
        c = undefined;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await c?.end().catch(() => undefined);
  }
  /** Commits, errors and the last error, for an assertion's message. */
  describe(): string {
    const last = this.acked.at(-1);
    return (
      `${this.acked.length} commits acknowledged${last ? ` (the last ${Date.now() - last[1]} ms ago)` : ''}, ${this.errors} errors` +
      (this.lastError ? ` (the last ${Date.now() - this.lastError.at} ms ago: ${this.lastError.message})` : '')
    );
  }
  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#loops);
  }
  ackedBefore(t: number): number[] {
    return this.acked.filter(([, at]) => at < t).map(([id]) => id);
  }
  ackedAfter(t: number): Set<number> {
    return new Set(this.acked.filter(([, at]) => at > t).map(([id]) => id));
  }
  rate(from: number, to: number): number {
    return this.acked.filter(([, at]) => at >= from && at < to).length / Math.max(0.001, (to - from) / 1000);
  }
}

/** Creates app.t and app.u with `seedRows` rows (a few hundred MB at 1M). */
export async function seedMysql(server: MariadbServer, seedRows: number): Promise<void> {
  await server.query('CREATE DATABASE IF NOT EXISTS app');
  const q = (sql: string) => server.query(sql, [], { database: 'app' });
  await q('CREATE TABLE t (id BIGINT PRIMARY KEY, w INT NOT NULL, pad VARCHAR(200) NOT NULL, KEY t_w (w, id)) ENGINE=InnoDB');
  await q('CREATE TABLE u (id INT PRIMARY KEY, n BIGINT NOT NULL, pad VARCHAR(200) NOT NULL, KEY u_n (n)) ENGINE=InnoDB');
  await q('INSERT INTO u SELECT seq, 0, REPEAT(MD5(seq), 4) FROM seq_0_to_19999');
  for (let from = 1; from <= seedRows; from += 100_000) {
    const to = Math.min(seedRows, from + 99_999);
    await q(`INSERT INTO t SELECT seq, 0, REPEAT(MD5(seq), 4) FROM seq_${from}_to_${to}`);
  }
}

// Asynchronous: the write load runs in this process, and a synchronous spawn would stall it for
// the whole copy (a first version did, and so copied a server that was not being written to).
async function tar(dir: string, file: string): Promise<{ exit: number; stderr: string; ms: number }> {
  const t = Date.now();
  return await new Promise((resolve, reject) => {
    const child = spawn('tar', ['czf', file, '-C', dir, '.'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ exit: code ?? -1, stderr: stderr.trim().split('\n').slice(0, 3).join(' | '), ms: Date.now() - t }));
  });
}

/**
 * One trial: copy `source`'s data directory in `mode` while `load` writes, then verify the copy.
 * The caller keeps the load running across trials.
 */
export async function copyTrial(
  source: MariadbServer,
  load: MysqlWriteLoad,
  mode: CopyMode,
  settings: Record<string, string | number | boolean> = {},
): Promise<CopyTrial> {
  const work = await makeTemporaryDirectory('mysql-copy-');
  const archive = path.join(work, 'snap.tgz');
  let cut: number;
  let released: number;
  let t: { exit: number; stderr: string; ms: number };
  const t0 = Date.now();
  if (mode === 'live') {
    cut = Date.now();
    t = await tar(source.dataDirectory, archive);
    released = Date.now();
  } else if (mode === 'fenced') {
    await source.stop();
    cut = Date.now();
    t = await tar(source.dataDirectory, archive);
    released = Date.now();
    await source.start();
  } else if (mode === 'frozen') {
    // An atomic snapshot: the server frozen (SIGSTOP) under the lock, so nothing changes while tar
    // reads; as a block-level snapshot sees the volume at one instant.
    const engine = await mysqlEngine(source.connectionConfig);
    const session = await engine.beginOnlineBackup!({ label: 'frozen' });
    cut = Date.now();
    process.kill(source.pid!, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 200));
    try {
      t = await tar(source.dataDirectory, archive);
    } finally {
      process.kill(source.pid!, 'SIGCONT');
    }
    await session.stop();
    released = Date.now();
    await session.release();
    await engine.close();
  } else {
    const engine = await mysqlEngine(source.connectionConfig);
    const conn = await mysql.createConnection(source.connectionConfig);
    try {
      if (mode === 'ftwrl') {
        await conn.query('FLUSH TABLES WITH READ LOCK');
      } else {
        await conn.query('BACKUP STAGE START');
        await conn.query('BACKUP STAGE BLOCK_COMMIT');
      }
      cut = Date.now();
      t = await tar(source.dataDirectory, archive);
      await conn.query(mode === 'ftwrl' ? 'UNLOCK TABLES' : 'BACKUP STAGE END');
      released = Date.now();
    } finally {
      await conn.end().catch(() => undefined);
      await engine.close();
    }
  }
  const commitsPerSecond = load.rate(t0 - 2000, t0);
  const acked = load.ackedBefore(cut);
  const base = { mode, tarExit: t.exit, tarStderr: t.stderr, copyMs: t.ms, ackedBeforeCut: acked.length, commitsPerSecond };
  if (t.exit !== 0 && t.exit !== 1) {
    await rm(work, { recursive: true, force: true });
    return { ...base, missing: 0, fromTheFuture: 0, verify: { started: false, error: `tar exit ${t.exit}` }, verdict: 'tar-failed' };
  }
  const dir = path.join(work, 'data');
  await mkdir(dir);
  spawnSync('tar', ['xzf', archive, '-C', dir]);
  await rm(archive);
  const after = load.ackedAfter(released);
  let server: MariadbServer | undefined;
  try {
    server = await startMariadbOnDirectory(dir, { settings });
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    const log =
      e instanceof MariadbStartError
        ? e.log
            .split('\n')
            .filter((l) => /ERROR|Assertion|Fatal/i.test(l))
            .slice(0, 3)
            .join(' | ')
        : String(e);
    return { ...base, missing: acked.length, fromTheFuture: 0, verify: { started: false, error: log }, verdict: 'did-not-start' };
  }
  try {
    const verify = await checkMysqlTables({ connection: server.connectionConfig, log: server.logOfLastStart() });
    const rows = await server.query<{ id: string }>('SELECT id FROM t WHERE id >= 1000000000', [], {
      database: 'app',
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    const present = new Set(rows.map((r) => Number(r.id)));
    const missing = acked.filter((id) => !present.has(id)).length;
    const fromTheFuture = mode === 'live' || mode === 'fenced' ? 0 : [...present].filter((id) => after.has(id)).length;
    const verdict = missing === 0 && fromTheFuture === 0 && verify.ok ? 'clean' : 'corrupt';
    return { ...base, missing, fromTheFuture, verify, verdict };
  } finally {
    await server.destroy();
    await rm(work, { recursive: true, force: true });
  }
}
