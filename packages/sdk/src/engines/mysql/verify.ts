// `verify` for MySQL/MariaDB: start a scratch server on a restored copy (a restored PVC's
// directory, an extracted snapshot), see that it recovers, run CHECK TABLE ... EXTENDED on every
// table over mysql2, and read the server's error log for InnoDB corruption messages.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { DbaasError } from '../../errors.js';
import { openMysqlSession, type MysqlConnectionConfig, type MysqlSession } from './sql.js';

/**
 * One table's CHECK TABLE result.
 *
 * @example
 * ```ts
 * const t: MysqlTableCheck = { table: 'app.t', engine: 'InnoDB', ok: true, messages: ['status: OK'] };
 * ```
 */
export interface MysqlTableCheck {
  table: string;
  engine: string;
  ok: boolean;
  /** `Msg_type: Msg_text` of every row CHECK TABLE returned. */
  messages: string[];
}

/**
 * What {@link checkMysqlTables} and {@link verifyMysqlRestore} found.
 *
 * @example
 * ```ts
 * if (!report.ok) console.error(report.problems.join('\n'));
 * ```
 */
export interface MysqlVerifyReport {
  /** Every table checked OK and the log has no InnoDB corruption message. */
  ok: boolean;
  version: string;
  tables: MysqlTableCheck[];
  /** Error-log lines that indicate corruption or a torn copy (empty when no log was given). */
  logErrors: string[];
  /** The server ran crash recovery on this start (the copy was not of a cleanly shut down server). */
  crashRecovery: boolean;
  /** One line per problem (failed tables, log errors). */
  problems: string[];
}

// InnoDB / server messages that mean the data is not what was committed (MariaDB 10.x and MySQL 8).
const LOG_ERROR =
  /\[ERROR\]|is in the future|Database page corruption|corrupt|checksum mismatch|Torn page|Page \[page id:.*\] log sequence number .* is in the future|Missing MLOG_CHECKPOINT|Log scan aborted|Assertion failure|Plugin 'InnoDB' registration as a STORAGE ENGINE failed/i;
// Harmless [ERROR] lines of a scratch server (no network, privilege tables skipped, ...).
const LOG_BENIGN =
  /Can't open and lock privilege tables|Could not open mysql\.plugin table|Can't open the mysql\.func table|Failed to open the table mysql\.servers/i;
const CRASH_RECOVERY = /Starting crash recovery|crash recovery|Starting final batch to recover|to recover: \d+ pages/i;

/**
 * The lines of a MySQL/MariaDB error log that indicate corruption or a torn copy, and whether
 * the log shows crash recovery. Pure.
 *
 * @example
 * ```ts
 * scanMysqlErrorLog('... [ERROR] InnoDB: Page [page id: space=5, page number=3] log sequence number 99 is in the future ...').errors.length; // 1
 * ```
 */
export function scanMysqlErrorLog(log: string): { errors: string[]; crashRecovery: boolean } {
  const lines = log.split('\n');
  return {
    errors: lines.filter((l) => LOG_ERROR.test(l) && !LOG_BENIGN.test(l)).map((l) => l.trim()),
    crashRecovery: lines.some((l) => CRASH_RECOVERY.test(l)),
  };
}

function quoteIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/**
 * Runs `CHECK TABLE ... EXTENDED` on every base table (all schemas but information_schema,
 * performance_schema and sys) of a running server and, given its error log text, scans it.
 *
 * @throws DbaasError `MYSQL_CONNECTION_FAILED`, `MYSQL_QUERY_FAILED`
 * @example
 * ```ts
 * const report = await checkMysqlTables({ connection: { host: '127.0.0.1', port: 3306, user: 'root' } });
 * console.log(report.ok, report.tables.length);
 * ```
 */
export async function checkMysqlTables(options: {
  connection: MysqlConnectionConfig | MysqlSession;
  log?: string;
  extended?: boolean;
}): Promise<MysqlVerifyReport> {
  const given = typeof options.connection === 'object' && 'query' in options.connection && 'connectionId' in options.connection;
  const session = given ? (options.connection as MysqlSession) : await openMysqlSession(options.connection as MysqlConnectionConfig);
  try {
    const [v] = await session.query<{ v: string }>('SELECT VERSION() AS v');
    const tables = await session.query<{ s: string; n: string; e: string | null }>(
      `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, ENGINE AS e FROM information_schema.TABLES
        WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'sys')
        ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    );
    const checks: MysqlTableCheck[] = [];
    for (const t of tables) {
      const name = `${t.s}.${t.n}`;
      const rows = await session.query<{ Msg_type: string; Msg_text: string }>(
        `CHECK TABLE ${quoteIdent(t.s)}.${quoteIdent(t.n)}${options.extended === false ? '' : ' EXTENDED'}`,
      );
      const messages = rows.map((r) => `${r.Msg_type}: ${r.Msg_text}`);
      // OK: a final "status: OK"; also fine: a note that the engine "doesn't support check" (e.g. CSV logs).
      const ok =
        rows.length > 0 &&
        rows.every((r) => r.Msg_type !== 'error') &&
        rows.some(
          (r) =>
            (r.Msg_type === 'status' && /^(OK|Table is already up to date)$/i.test(r.Msg_text)) ||
            (r.Msg_type === 'note' && /doesn't support check/i.test(r.Msg_text)),
        );
      checks.push({ table: name, engine: t.e ?? '', ok, messages });
    }
    const scan = scanMysqlErrorLog(options.log ?? '');
    const problems = [...checks.filter((c) => !c.ok).map((c) => `CHECK TABLE ${c.table}: ${c.messages.join('; ')}`), ...scan.errors.map((l) => `log: ${l}`)];
    return { ok: problems.length === 0, version: String(v?.v ?? ''), tables: checks, logErrors: scan.errors, crashRecovery: scan.crashRecovery, problems };
  } finally {
    if (!given) await session.close();
  }
}

/**
 * Options of {@link verifyMysqlRestore}.
 *
 * @example
 * ```ts
 * const o: VerifyMysqlRestoreOptions = { dataDirectory: '/restore/data', binary: '/usr/sbin/mariadbd', runAs: { uid: 999, gid: 999, name: 'mysql' } };
 * ```
 */
export interface VerifyMysqlRestoreOptions {
  /** The restored data directory. The scratch server writes to it (crash recovery, its logs). */
  dataDirectory: string;
  /** `mariadbd` or `mysqld`. Default: the first of `/usr/sbin/mariadbd`, `/usr/sbin/mysqld`. */
  binary?: string;
  /** The OS user to run the server as (needed when this process is root; the directory is chowned to it). Default: the current user (`--user=root` when root). */
  runAs?: { uid: number; gid: number; name: string };
  /** Extra server options (`--name=value`), e.g. `{ innodb_buffer_pool_size: '256M' }`. */
  settings?: Record<string, string | number | boolean>;
  /** How long recovery may take before the server counts as not starting. Default 300 s. */
  timeoutMs?: number;
  /** Runs on the scratch server before it is shut down (e.g. count rows), with a session that has every privilege. */
  inspect?: (session: MysqlSession) => Promise<void>;
}

/**
 * Verifies a restored MySQL/MariaDB copy: starts a scratch server on it (`--no-defaults`,
 * `--skip-grant-tables`, no TCP, a socket in a temporary directory), waits for it to recover and
 * accept connections, runs {@link checkMysqlTables}, shuts it down cleanly and scans its error
 * log. A copy on which the server does not start is reported (`ok: false`, `started: false`, the
 * log's errors), not thrown.
 *
 * @throws DbaasError `INVALID_ARGUMENT` (no data directory / binary), `MYSQL_QUERY_FAILED`.
 * @example
 * ```ts
 * const report = await verifyMysqlRestore({ dataDirectory: '/var/lib/restore', binary: '/usr/sbin/mariadbd', runAs: { uid: 105, gid: 108, name: 'mysql' } });
 * if (!report.ok) throw new Error(report.problems.join('\n'));
 * ```
 */
export async function verifyMysqlRestore(options: VerifyMysqlRestoreOptions): Promise<MysqlVerifyReport & { started: boolean; log: string }> {
  const dir = path.resolve(options.dataDirectory);
  if (!existsSync(path.join(dir, 'mysql'))) throw new DbaasError('INVALID_ARGUMENT', `${dir} is not a MySQL/MariaDB data directory (no mysql/ system schema)`);
  const binary = options.binary ?? ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((b) => existsSync(b));
  if (!binary || !existsSync(binary))
    throw new DbaasError('INVALID_ARGUMENT', `no MySQL/MariaDB server binary found (${options.binary ?? '/usr/sbin/mariadbd, /usr/sbin/mysqld'})`, {
      fix: 'Install mariadb-server / mysql-server of the same major as the backup, or pass binary.',
    });
  const runtime = await mkdtemp(path.join(os.tmpdir(), 'dbaas-verify-mysql-'));
  const logFile = path.join(runtime, 'error.log');
  const socket = path.join(runtime, 'mysqld.sock');
  const isRoot = process.getuid?.() === 0;
  try {
    await writeFile(logFile, '');
    if (options.runAs) {
      await chownTree(dir, options.runAs.uid, options.runAs.gid);
      await chown(runtime, options.runAs.uid, options.runAs.gid);
      await chown(logFile, options.runAs.uid, options.runAs.gid);
    }
    // With the binary log on, InnoDB and the binlog commit in two phases; a crash image can hold
    // prepared transactions that only the binlog decides. A scratch server without the same binlog
    // refuses to start ("Found 1 prepared transactions! ... --tc-heuristic-recover", seen on copies of
    // a MariaDB under load), so it runs with the copy's own binlog.
    const settings: Record<string, string | number | boolean> = { ...options.settings };
    const binlog = settings.log_bin === undefined && settings['log-bin'] === undefined ? await binlogBaseName(dir) : undefined;
    if (binlog) {
      settings.log_bin = binlog;
      if (settings.server_id === undefined && settings['server-id'] === undefined) settings.server_id = 1;
    }
    const args = [
      '--no-defaults',
      `--datadir=${dir}`,
      `--socket=${socket}`,
      '--skip-networking',
      '--skip-grant-tables',
      `--pid-file=${path.join(runtime, 'mysqld.pid')}`,
      `--log-error=${logFile}`,
      `--tmpdir=${runtime}`,
      ...(isRoot && !options.runAs ? ['--user=root'] : []),
      ...Object.entries(settings).map(([k, v]) => `--${k.replaceAll('_', '-')}=${typeof v === 'boolean' ? (v ? 'ON' : 'OFF') : v}`),
    ];
    const child = spawn(binary, args, {
      stdio: 'ignore',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', TZ: 'UTC' },
      ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
    });
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const exit = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exited = { code, signal };
        resolve();
      });
      child.once('error', () => {
        exited = { code: null, signal: null };
        resolve();
      });
    });
    const readLog = (): string => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    };
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    while (!exited && !/ready for connections/.test(readLog()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (exited || !/ready for connections/.test(readLog())) {
      if (!exited) {
        child.kill('SIGKILL');
        await exit;
      }
      const log = readLog();
      const scan = scanMysqlErrorLog(log);
      const why = exited
        ? `exited (code ${exited.code}${exited.signal ? `, signal ${exited.signal}` : ''})`
        : `was not ready within ${options.timeoutMs ?? 300_000} ms`;
      return {
        ok: false,
        started: false,
        version: '',
        tables: [],
        logErrors: scan.errors,
        crashRecovery: scan.crashRecovery,
        problems: [`the server ${why} on ${dir}`, ...scan.errors.map((l) => `log: ${l}`)],
        log,
      };
    }
    let report: MysqlVerifyReport;
    try {
      const session = await openMysqlSession({ socketPath: socket, user: 'root' });
      try {
        report = await checkMysqlTables({ connection: session });
        await options.inspect?.(session);
      } finally {
        await session.close();
      }
    } finally {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 120_000);
      await exit;
      clearTimeout(t);
    }
    const log = readLog();
    const scan = scanMysqlErrorLog(log);
    const problems = [...report.problems, ...scan.errors.map((l) => `log: ${l}`)];
    return { ...report, ok: problems.length === 0, logErrors: scan.errors, crashRecovery: scan.crashRecovery, problems, started: true, log };
  } finally {
    await rm(runtime, { recursive: true, force: true });
  }
}

async function chownTree(target: string, uid: number, gid: number): Promise<void> {
  const { lstat, readdir } = await import('node:fs/promises');
  const st = await lstat(target);
  if (st.uid !== uid || st.gid !== gid) await chown(target, uid, gid).catch(() => undefined);
  if (st.isDirectory()) for (const e of await readdir(target)) await chownTree(path.join(target, e), uid, gid);
}

/**
 * The binary log base name of a data directory (`mariadb-bin` for `mariadb-bin.index` listing
 * `./mariadb-bin.000001`...), or undefined when it has none.
 *
 * @example
 * ```ts
 * await binlogBaseName('/restore/data'); // 'mysql-bin'
 * ```
 */
export async function binlogBaseName(dataDirectory: string): Promise<string | undefined> {
  const { readdir, readFile } = await import('node:fs/promises');
  for (const entry of await readdir(dataDirectory)) {
    const m = /^(.+)\.index$/.exec(entry);
    if (!m) continue;
    const text = await readFile(path.join(dataDirectory, entry), 'utf8').catch(() => '');
    const base = m[1]!;
    if (text.split('\n').some((l) => path.basename(l.trim()).startsWith(`${base}.`) && /\.\d{6,}$/.test(l.trim()))) return base;
  }
  return undefined;
}
