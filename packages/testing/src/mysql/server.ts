// Real MariaDB servers for tests (docs/architecture.md, "Test tiers": postgres): Debian's `mariadb-server`
// (`mariadb-install-db` + `mariadbd`) run as plain processes on a data directory, as the same
// unprivileged user as the PostgreSQL fixtures when the tests run as root. Every server is in the
// postgres fixtures' cleanup registry: stopped and its temporary directories removed at process
// exit, on SIGINT/SIGTERM, and by `stopAllPostgres()` / `cleanupMariadbAfterAll(afterAll)`.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import mysql from 'mysql2/promise';

import { killTree, processAlive, signalQuietly, waitGone, waitGoneSync } from '../postgres/processes.js';
import { registerForCleanup, removeTreeSync, stopAllPostgres } from '../postgres/registry.js';
import { freePort } from '../postgres/server.js';
import { accessProblem, postgresRunAs, type PostgresRunAs } from '../postgres/user.js';

/** Where Debian's `mariadb-server` puts the binaries (overridable with `DBAAS_TEST_MARIADB_BIN_DIR`). */
const DEFAULT_SBIN = '/usr/sbin';
const DEFAULT_BIN = '/usr/bin';
/** Environment variable naming a directory that holds `mariadbd` and `mariadb-install-db`. */
export const MARIADB_BIN_DIR_ENV = 'DBAAS_TEST_MARIADB_BIN_DIR';

/**
 * Paths and version of the MariaDB installation the fixtures use.
 *
 * @example
 * ```ts
 * const { mariadbd, version } = mariadbBinaries();
 * ```
 */
export interface MariadbBinaries {
  readonly mariadbd: string;
  readonly installDb: string;
  /** e.g. `10.11.19-MariaDB-0+deb12u1` (from `mariadbd --version`). */
  readonly version: string;
}

let cachedBinaries: MariadbBinaries | undefined;

/**
 * Why MariaDB cannot run here (binaries missing), or `undefined` when it can. Tests skip with
 * this reason printed; `.ci/run` installs Debian's `mariadb-server`.
 *
 * @example
 * ```ts
 * const why = mariadbUnavailable();
 * it('...', skipWhen(why), async () => { ... });
 * ```
 */
export function mariadbUnavailable(): string | undefined {
  try {
    mariadbBinaries();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Finds `mariadbd` and `mariadb-install-db` (`DBAAS_TEST_MARIADB_BIN_DIR`, else `/usr/sbin` and
 * `/usr/bin`) and reads the version.
 *
 * @throws Error naming what is missing and how to install it.
 * @example
 * ```ts
 * console.log(mariadbBinaries().version);
 * ```
 */
export function mariadbBinaries(): MariadbBinaries {
  if (cachedBinaries) return cachedBinaries;
  const dir = process.env[MARIADB_BIN_DIR_ENV];
  const mariadbd = path.join(dir ?? DEFAULT_SBIN, 'mariadbd');
  const installDb = path.join(dir ?? DEFAULT_BIN, 'mariadb-install-db');
  for (const file of [mariadbd, installDb]) {
    if (!existsSync(file)) throw new Error(`${file} not found: install Debian's mariadb-server (apt-get install mariadb-server) or set ${MARIADB_BIN_DIR_ENV}`);
  }
  const out = spawnSync(mariadbd, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const version = /Ver\s+(\S+)/.exec(out.stdout ?? '')?.[1];
  if (!version) throw new Error(`${mariadbd} --version did not print a version: ${out.stderr || out.stdout}`);
  cachedBinaries = { mariadbd, installDb, version };
  return cachedBinaries;
}

/**
 * A value for a `mariadbd` option (`--name=value`; booleans as ON/OFF).
 *
 * @example
 * ```ts
 * const v: MariadbSettingValue = '256M';
 * ```
 */
export type MariadbSettingValue = string | number | boolean;

/**
 * Options of {@link startMariadb}.
 *
 * @example
 * ```ts
 * const options: StartMariadbOptions = { settings: { innodb_buffer_pool_size: '256M' } };
 * ```
 */
export interface StartMariadbOptions {
  /**
   * Data directory. Omitted: a fresh one in a temporary directory, removed by `destroy()`. Given:
   * never removed; when this process is root it is chowned to the server's user, mode 0700.
   */
  dataDirectory?: string;
  /** Run `mariadb-install-db` first. Default: when the directory has no `mysql/` system schema. */
  initialize?: boolean;
  /**
   * Server options for every start (`--name=value`), after these defaults: binary log on
   * (`log_bin=mariadb-bin`, `server_id=1`), `innodb_buffer_pool_size=64M`,
   * `innodb_flush_log_at_trx_commit=1`, `sync_binlog=1`.
   */
  settings?: Record<string, MariadbSettingValue>;
  /** TCP port. Default: a free one (retried on collision). */
  port?: number;
  /** How long to wait for "ready for connections". Default 120 s. */
  timeoutMs?: number;
}

/**
 * Raised when `mariadbd` exits (or is not ready in time) during `start()`, with the error log of
 * that attempt so tests can assert on InnoDB's messages.
 *
 * @example
 * ```ts
 * try { await server.start(); } catch (e) { if (e instanceof MariadbStartError) console.log(e.log); }
 * ```
 */
export class MariadbStartError extends Error {
  override readonly name = 'MariadbStartError';
  readonly log: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  constructor(message: string, log: string, exitCode: number | null, signal: NodeJS.Signals | null) {
    super(message);
    this.log = log;
    this.exitCode = exitCode;
    this.signal = signal;
  }
}

const DEFAULT_SETTINGS: Record<string, MariadbSettingValue> = {
  log_bin: 'mariadb-bin',
  server_id: 1,
  innodb_buffer_pool_size: '64M',
  innodb_flush_log_at_trx_commit: 1,
  sync_binlog: 1,
};

const OPTION_NAME = /^[a-z][a-z0-9_-]*$/;
const BIND_FAILURE = /Can't start server: Bind on TCP\/IP port|Address already in use/;

function optionText(value: MariadbSettingValue): string {
  return typeof value === 'boolean' ? (value ? 'ON' : 'OFF') : String(value);
}

function childEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
}

function spawnIds(runAs: PostgresRunAs): { uid?: number; gid?: number } {
  return runAs.switched ? { uid: runAs.uid, gid: runAs.gid } : {};
}

async function chownTree(target: string, uid: number, gid: number): Promise<void> {
  const st = await lstat(target);
  if (st.uid !== uid || st.gid !== gid) await chown(target, uid, gid).catch(() => undefined);
  if (st.isDirectory()) for (const entry of await readdir(target)) await chownTree(path.join(target, entry), uid, gid);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/**
 * A real MariaDB server for tests on a data directory. Get one from {@link startMariadb},
 * {@link startMariadbOnDirectory} or `runMariadbOnVolume`.
 *
 * @example
 * ```ts
 * const server = await startMariadb();
 * await server.query('create database app');
 * await server.stop();   // clean shutdown (SIGTERM)
 * await server.start();
 * await server.kill();   // SIGKILL: the next start runs InnoDB crash recovery
 * await server.destroy();
 * ```
 */
export class MariadbServer {
  readonly host = '127.0.0.1';
  readonly binaries: MariadbBinaries;
  readonly dataDirectory: string;
  /** Temporary directory: socket, pid file, error log, tmpdir. */
  readonly runtimeDirectory: string;
  readonly socketPath: string;
  /** The error log (`--log-error`), appended across restarts. */
  readonly logFile: string;
  readonly runAs: PostgresRunAs;
  /** The settings passed at every start. */
  readonly settings: Readonly<Record<string, MariadbSettingValue>>;
  #port: number | undefined;
  #portPinned: boolean;
  #child: ReturnType<typeof spawn> | undefined;
  #pid: number | undefined;
  #exit: Promise<ExitInfo> | undefined;
  #exited = true;
  #destroyed = false;
  #ownsDataDirectory: boolean;
  #unregister: () => void;

  /** @internal use {@link startMariadb}. */
  constructor(init: {
    binaries: MariadbBinaries;
    runAs: PostgresRunAs;
    runtimeDirectory: string;
    dataDirectory: string;
    ownsDataDirectory: boolean;
    port: number | undefined;
    settings: Record<string, MariadbSettingValue>;
  }) {
    this.binaries = init.binaries;
    this.runAs = init.runAs;
    this.runtimeDirectory = init.runtimeDirectory;
    this.dataDirectory = init.dataDirectory;
    this.socketPath = path.join(init.runtimeDirectory, 'mariadb.sock');
    this.logFile = path.join(init.runtimeDirectory, 'mariadb.err');
    this.settings = init.settings;
    this.#port = init.port;
    this.#portPinned = init.port !== undefined;
    this.#ownsDataDirectory = init.ownsDataDirectory;
    this.#unregister = registerForCleanup({ disposeSync: () => this.#disposeSync(), dispose: () => this.destroy() });
  }

  /** The TCP port. */
  get port(): number {
    if (this.#port === undefined) throw new Error('the server has not been started');
    return this.#port;
  }

  /** PID of the running `mariadbd`, or `undefined` when stopped. */
  get pid(): number | undefined {
    return this.#exited ? undefined : this.#pid;
  }

  get running(): boolean {
    return !this.#exited;
  }

  /**
   * `mysql2` connection options (user `root`, no password, over TCP).
   *
   * @example
   * ```ts
   * const conn = await mysql.createConnection(server.connectionConfig);
   * ```
   */
  get connectionConfig(): { host: string; port: number; user: string } {
    return { host: this.host, port: this.port, user: 'root' };
  }

  /**
   * A new `mysql2/promise` connection; the caller ends it.
   *
   * @example
   * ```ts
   * const c = await server.connect({ database: 'app' });
   * try { await c.query('select 1'); } finally { await c.end(); }
   * ```
   */
  async connect(overrides: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
    const conn = await mysql.createConnection({ ...this.connectionConfig, ...overrides });
    conn.on('error', () => undefined); // a server stop must not crash the test process
    return conn;
  }

  /**
   * Runs one statement on a short-lived connection and returns its rows.
   *
   * @example
   * ```ts
   * const [row] = await server.query<{ v: string }>('select version() as v');
   * ```
   */
  async query<R = Record<string, unknown>>(sql: string, params: unknown[] = [], options: mysql.ConnectionOptions = {}): Promise<R[]> {
    const conn = await this.connect(options);
    try {
      const [rows] = await conn.query(sql, params);
      return (Array.isArray(rows) ? rows : []) as R[];
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  /**
   * The error log (all starts), or its last `lines` lines.
   *
   * @example
   * ```ts
   * console.log(server.readLog(20));
   * ```
   */
  readLog(lines?: number): string {
    let text = '';
    try {
      text = readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
    return lines === undefined
      ? text
      : text
          .split('\n')
          .slice(-lines - 1)
          .join('\n');
  }

  /**
   * Starts `mariadbd` and waits for "ready for connections".
   *
   * @throws MariadbStartError with the log of this attempt.
   * @example
   * ```ts
   * await server.start({ settings: { innodb_force_recovery: 1 } });
   * ```
   */
  async start(options: { settings?: Record<string, MariadbSettingValue>; timeoutMs?: number } = {}): Promise<void> {
    if (this.#destroyed) throw new Error('the server has been destroyed');
    if (!this.#exited) throw new Error(`the server is already running (pid ${this.#pid})`);
    const settings = { ...this.settings, ...options.settings };
    for (const name of Object.keys(settings)) if (!OPTION_NAME.test(name)) throw new Error(`"${name}" is not a mariadbd option name`);
    for (let attempt = 1; ; attempt++) {
      if (this.#port === undefined) this.#port = await freePort();
      try {
        await this.#startOnce(settings, options.timeoutMs ?? 120_000);
        return;
      } catch (error) {
        if (error instanceof MariadbStartError && BIND_FAILURE.test(error.log) && !this.#portPinned && attempt < 8) {
          this.#port = undefined;
          continue;
        }
        throw error;
      }
    }
  }

  async #startOnce(settings: Record<string, MariadbSettingValue>, timeoutMs: number): Promise<void> {
    const args = [
      '--no-defaults',
      `--datadir=${this.dataDirectory}`,
      `--socket=${this.socketPath}`,
      `--port=${this.port}`,
      `--bind-address=${this.host}`,
      `--pid-file=${path.join(this.runtimeDirectory, 'mariadbd.pid')}`,
      `--log-error=${this.logFile}`,
      `--tmpdir=${path.join(this.runtimeDirectory, 'tmp')}`,
      '--skip-name-resolve',
      ...Object.entries(settings).map(([name, value]) => `--${name.replaceAll('_', '-')}=${optionText(value)}`),
    ];
    let offset = 0;
    try {
      offset = statSync(this.logFile).size;
    } catch {
      offset = 0;
    }
    const out = openSync(path.join(this.runtimeDirectory, 'mariadbd.out'), 'a');
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(this.binaries.mariadbd, args, {
        cwd: this.runtimeDirectory,
        env: childEnv(),
        stdio: ['ignore', out, out],
        detached: true,
        ...spawnIds(this.runAs),
      });
    } finally {
      closeSync(out);
    }
    this.#exited = false;
    this.#child = child;
    this.#exit = new Promise<ExitInfo>((resolve) => {
      child.once('error', (error) => {
        this.#exited = true;
        resolve({ code: null, signal: null, error });
      });
      child.once('exit', (code, signal) => {
        this.#exited = true;
        resolve({ code, signal });
      });
    });
    child.unref();
    this.#pid = child.pid;
    const exit = this.#exit;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#exited) {
        const info = await exit;
        const log = this.#logSince(offset);
        throw new MariadbStartError(
          `mariadbd on ${this.dataDirectory} did not start (${info.error ? info.error.message : `exit code ${info.code}${info.signal ? `, signal ${info.signal}` : ''}`}):\n${log.trimEnd().split('\n').slice(-25).join('\n')}`,
          log,
          info.code,
          info.signal,
        );
      }
      if (/ready for connections/.test(this.#logSince(offset))) return;
      if (Date.now() > deadline) {
        if (child.pid !== undefined) killTree(child.pid);
        await this.#waitExit();
        const log = this.#logSince(offset);
        throw new MariadbStartError(
          `mariadbd on ${this.dataDirectory} was not ready after ${timeoutMs} ms (killed):\n${log.trimEnd().split('\n').slice(-25).join('\n')}`,
          log,
          null,
          'SIGKILL',
        );
      }
      await sleep(25);
    }
  }

  async #waitExit(timeoutMs?: number): Promise<boolean> {
    const child = this.#child;
    const exit = this.#exit;
    if (!child || !exit) return false;
    child.ref();
    let timer: NodeJS.Timeout | undefined;
    try {
      if (timeoutMs === undefined) {
        await exit;
        return false;
      }
      return await Promise.race([exit.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)))]);
    } finally {
      if (timer) clearTimeout(timer);
      child.unref();
    }
  }

  #logSince(offset: number): string {
    try {
      return readFileSync(this.logFile).subarray(offset).toString('utf8');
    } catch {
      return '';
    }
  }

  /** The error log written since the last start began (for assertions on recovery messages). */
  logOfLastStart(): string {
    const text = this.readLog();
    const i = text.lastIndexOf('[Note] Starting MariaDB');
    if (i < 0) return text;
    const lineStart = text.lastIndexOf('\n', i);
    return text.slice(lineStart + 1);
  }

  /**
   * Clean shutdown (SIGTERM: InnoDB flushes, the redo log is checkpointed, "Shutdown complete"),
   * waiting until the process is gone; SIGKILL after `timeoutMs` (default 120 s).
   *
   * @example
   * ```ts
   * await server.stop();
   * ```
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    const pid = this.pid;
    if (pid === undefined || !this.#exit) return;
    signalQuietly(pid, 'SIGTERM');
    if (await this.#waitExit(options.timeoutMs ?? 120_000)) {
      killTree(pid);
      await this.#waitExit();
    }
    await waitGone([pid], 10_000);
  }

  /**
   * Crashes the server (SIGKILL, as a power failure would); `start()` then runs crash recovery.
   *
   * @example
   * ```ts
   * await server.kill();
   * ```
   */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined || !this.#exit) return;
    killTree(pid);
    await this.#waitExit();
    await waitGone([pid], 10_000);
  }

  /**
   * Stops the server (SIGKILL after 60 s), removes its temporary directories (and the data
   * directory when the fixture created it), unregisters it. Idempotent.
   *
   * @example
   * ```ts
   * afterEach(() => server.destroy());
   * ```
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    try {
      await this.stop({ timeoutMs: 60_000 });
    } finally {
      this.#destroyed = true;
      this.#unregister();
      await rm(this.runtimeDirectory, { recursive: true, force: true, maxRetries: 3 });
      if (this.#ownsDataDirectory) await rm(this.dataDirectory, { recursive: true, force: true, maxRetries: 3 });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  #disposeSync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const pid = this.pid;
    if (pid !== undefined && processAlive(pid)) {
      signalQuietly(pid, 'SIGTERM');
      if (!waitGoneSync([pid], 10_000)) {
        killTree(pid);
        waitGoneSync([pid], 5_000);
      }
    }
    removeTreeSync(this.runtimeDirectory);
    if (this.#ownsDataDirectory) removeTreeSync(this.dataDirectory);
  }
}

/**
 * Whether a directory holds an initialized MariaDB/MySQL data directory (the `mysql` system schema).
 *
 * @example
 * ```ts
 * if (isMariadbDataDirectory(dir)) await startMariadbOnDirectory(dir);
 * ```
 */
export function isMariadbDataDirectory(dir: string): boolean {
  return (
    existsSync(path.join(dir, 'mysql')) &&
    (existsSync(path.join(dir, 'ibdata1')) || existsSync(path.join(dir, 'mysql', 'user.frm')) || existsSync(path.join(dir, 'mysql', 'global_priv.frm')))
  );
}

/**
 * Initializes (unless the directory already holds one) and starts a MariaDB server on 127.0.0.1
 * with a socket in its own temporary directory; root connects over TCP without a password. As
 * root, `mariadbd` runs as the PostgreSQL fixtures' unprivileged user (`postgresRunAs()`).
 *
 * @example
 * ```ts
 * const server = await startMariadb({ settings: { innodb_buffer_pool_size: '256M' } });
 * await server.query('create database app');
 * ```
 */
export async function startMariadb(options: StartMariadbOptions = {}): Promise<MariadbServer> {
  const binaries = mariadbBinaries();
  const runAs = postgresRunAs();
  const given = options.dataDirectory === undefined ? undefined : path.resolve(options.dataDirectory);
  const initialize = options.initialize ?? !(given && isMariadbDataDirectory(given));
  const runtimeDirectory = await mkdtemp(path.join(os.tmpdir(), 'dbaas-mariadb-'));
  let server: MariadbServer | undefined;
  try {
    await mkdir(path.join(runtimeDirectory, 'tmp'), { mode: 0o700 });
    await writeFile(path.join(runtimeDirectory, 'mariadb.err'), '', { mode: 0o600 });
    if (runAs.switched) await chownTree(runtimeDirectory, runAs.uid, runAs.gid);
    await chmod(runtimeDirectory, 0o700);
    const dataDirectory = given ?? path.join(runtimeDirectory, 'data');
    if (!existsSync(dataDirectory)) await mkdir(dataDirectory, { recursive: true, mode: 0o700 });
    else if (initialize && (await readdir(dataDirectory)).length > 0)
      throw new Error(`mariadb-install-db needs an empty directory, and ${dataDirectory} is not empty`);
    if (runAs.switched) await chownTree(dataDirectory, runAs.uid, runAs.gid);
    await chmod(dataDirectory, 0o700);
    const problem = accessProblem(dataDirectory, runAs, 'rwx');
    if (problem) throw new Error(`mariadbd runs as ${runAs.name} and cannot reach ${dataDirectory}: ${problem}`);
    server = new MariadbServer({
      binaries,
      runAs,
      runtimeDirectory,
      dataDirectory,
      ownsDataDirectory: given === undefined,
      port: options.port,
      settings: { ...DEFAULT_SETTINGS, ...options.settings },
    });
    if (initialize) await installDb(server);
    await server.start({ ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) });
    return server;
  } catch (error) {
    if (server) await server.destroy().catch(() => undefined);
    else await rm(runtimeDirectory, { recursive: true, force: true });
    throw error;
  }
}

async function installDb(server: MariadbServer): Promise<void> {
  const args = [
    '--no-defaults',
    `--datadir=${server.dataDirectory}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    '--skip-name-resolve',
    ...(server.runAs.switched ? [`--user=${server.runAs.name}`] : []),
  ];
  const result = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(server.binaries.installDb, args, {
      cwd: server.runtimeDirectory,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...spawnIds(server.runAs),
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
  if (result.code !== 0) throw new Error(`mariadb-install-db failed (exit ${result.code}):\n${result.output}`);
}

/**
 * Starts MariaDB on an existing data directory (a copy, a restored snapshot, a volume) without
 * initializing it; the directory is never removed by `destroy()`.
 *
 * @example
 * ```ts
 * const restored = await startMariadbOnDirectory(copyDir);
 * ```
 */
export async function startMariadbOnDirectory(
  dataDirectory: string,
  options: Omit<StartMariadbOptions, 'dataDirectory' | 'initialize'> = {},
): Promise<MariadbServer> {
  if (!isMariadbDataDirectory(dataDirectory)) throw new Error(`${dataDirectory} holds no MariaDB data directory (no mysql/ system schema and ibdata1)`);
  return await startMariadb({ ...options, dataDirectory, initialize: false });
}

/**
 * Registers the registry-wide cleanup (every MariaDB and PostgreSQL server and temporary directory
 * of this process) with a test framework's `afterAll`.
 *
 * @example
 * ```ts
 * cleanupMariadbAfterAll(afterAll);
 * ```
 */
export function cleanupMariadbAfterAll(afterAll: (fn: () => Promise<void>, timeout?: number) => void): void {
  afterAll(stopAllPostgres, 180_000);
}
