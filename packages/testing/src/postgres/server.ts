import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { appendFile, chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import pg from 'pg';

import { postgresBinaries, type PostgresBinaries } from './binaries.js';
import { descendantPids, killTree, processAlive, signalQuietly, waitGone, waitGoneSync } from './processes.js';
import { registerForCleanup, removeTreeSync } from './registry.js';
import { accessProblem, POSTGRES_USER_ENV, postgresRunAs, type PostgresRunAs } from './user.js';

/**
 * Shutdown modes of `pg_ctl stop -m`: `smart` waits for clients to disconnect (SIGTERM), `fast`
 * disconnects them (SIGINT), `immediate` quits without a shutdown checkpoint, so the next start
 * runs crash recovery (SIGQUIT).
 *
 * @example
 * ```ts
 * await server.stop({ mode: 'immediate' });
 * ```
 */
export type PostgresStopMode = 'smart' | 'fast' | 'immediate';

/** A value for a `postgresql.conf` parameter. */
export type PostgresSettingValue = string | number | boolean;

/**
 * Options of {@link startPostgres}.
 *
 * @example
 * ```ts
 * const options: StartPostgresOptions = { major: 17, settings: { max_wal_size: '64MB' } };
 * ```
 */
export interface StartPostgresOptions {
  /** PostgreSQL major version (14-18, see `availablePostgresMajors()`). Read from `PG_VERSION` when omitted and the directory exists. */
  major?: number;
  /**
   * Data directory to use. Omitted: a fresh one in a temporary directory, removed by `destroy()`.
   * Given: the caller's directory, never removed by `destroy()`; when this process is root it is
   * chowned to the user the server runs as, and its mode set to 0700.
   */
  dataDirectory?: string;
  /** Run `initdb` first. Default: when the data directory has no `PG_VERSION` file. */
  initdb?: boolean;
  /**
   * Parameters. With `initdb` they are appended to `postgresql.conf` (so file-level copies of the
   * directory keep them), after these defaults: `wal_level=replica`, `max_wal_senders=10`,
   * `max_replication_slots=10`, `fsync=on`, `shared_buffers=32MB`, `log_checkpoints=on`. Without
   * `initdb` they are passed on the command line at every start.
   */
  settings?: Record<string, PostgresSettingValue>;
  /** Password of the superuser; when set, TCP connections need it (scram-sha-256). Default: trust. */
  password?: string;
  /** Superuser name created by `initdb`. Default `postgres`. */
  superuser?: string;
  /** `initdb --data-checksums`. Default `true` on every major (PG 18's own default). */
  dataChecksums?: boolean;
  /** `initdb --wal-segsize` in MiB (power of two, 1-1024). Default 16. */
  walSegmentSizeMb?: number;
  /** TCP port. Default: a free one found by a `listen(0)` probe (retried on collision). */
  port?: number;
  /** How long to wait for the server to accept connections. Default 120 s. */
  timeoutMs?: number;
}

/**
 * Raised when a server process exits (or does not get ready) during `start()`. `log` holds what the
 * server wrote during this attempt, so tests can assert on messages such as
 * "WAL ends before end of online backup".
 *
 * @example
 * ```ts
 * try { await server.start(); } catch (e) {
 *   if (e instanceof PostgresStartError) expect(e.log).toMatch(/WAL ends before end of online backup/);
 * }
 * ```
 */
export class PostgresStartError extends Error {
  override readonly name = 'PostgresStartError';
  /** The server log written during the failed attempt. */
  readonly log: string;
  /** Exit code of the postmaster, `null` when it was ended by a signal or never ran. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;

  constructor(message: string, log: string, exitCode: number | null, signal: NodeJS.Signals | null) {
    super(message);
    this.log = log;
    this.exitCode = exitCode;
    this.signal = signal;
  }
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

const STOP_SIGNALS: Record<PostgresStopMode, NodeJS.Signals> = {
  smart: 'SIGTERM',
  fast: 'SIGINT',
  immediate: 'SIGQUIT',
};

const DEFAULT_SETTINGS: Record<string, PostgresSettingValue> = {
  wal_level: 'replica',
  max_wal_senders: 10,
  max_replication_slots: 10,
  fsync: 'on',
  shared_buffers: '32MB',
  log_checkpoints: 'on',
  log_line_prefix: '%m [%p] ',
};

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const BIND_FAILURE = /could not bind IPv4 address|Address already in use|could not create any TCP\/IP sockets/;

function settingText(value: PostgresSettingValue): string {
  return typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
}

function assertSettingNames(settings: Record<string, PostgresSettingValue>): void {
  for (const name of Object.keys(settings)) {
    if (!SETTING_NAME.test(name)) throw new Error(`"${name}" is not a PostgreSQL parameter name`);
  }
}

function childEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
}

function spawnIds(runAs: PostgresRunAs): { uid?: number; gid?: number } {
  return runAs.switched ? { uid: runAs.uid, gid: runAs.gid } : {};
}

/**
 * A free TCP port on 127.0.0.1, found by listening on port 0 and closing again.
 *
 * @example
 * ```ts
 * const port = await freePort();
 * ```
 */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function runTool(file: string, args: string[], runAs: PostgresRunAs, cwd: string): Promise<{ code: number | null; output: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], ...spawnIds(runAs) });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

async function chownTree(target: string, uid: number, gid: number): Promise<void> {
  const st = await lstat(target);
  if (st.uid !== uid || st.gid !== gid) await chown(target, uid, gid).catch(() => undefined);
  if (st.isDirectory()) {
    for (const entry of await readdir(target)) await chownTree(path.join(target, entry), uid, gid);
  }
}

function reachProblemMessage(dir: string, runAs: PostgresRunAs, problem: string): string {
  return (
    `PostgreSQL runs as ${runAs.name} (this process is root) and cannot reach ${dir}: ${problem}. ` +
    `Fix: grant search permission on the parent directories (e.g. chmod o+x on them), use a directory under ${os.tmpdir()}, ` +
    `or set ${POSTGRES_USER_ENV} to a user who can reach it.`
  );
}

function readPidFile(dataDirectory: string): string[] | undefined {
  try {
    return readFileSync(path.join(dataDirectory, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
}

/** Removes the SysV shared memory segment named in postmaster.pid, when it belongs to `pid` (after a kill). */
function releaseSharedMemory(dataDirectory: string, pid: number): void {
  const lines = readPidFile(dataDirectory);
  if (!lines || Number(lines[0]) !== pid) return;
  const shmid = (lines[6] ?? '').trim().split(/\s+/)[1];
  if (!shmid || !/^\d+$/.test(shmid)) return;
  try {
    spawnSync('ipcrm', ['-m', shmid], { stdio: 'ignore', timeout: 5_000 });
  } catch {
    // ipcrm missing: the segment is tiny and PostgreSQL removes it on the next start of this directory
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ServerInit {
  major: number;
  binaries: PostgresBinaries;
  runAs: PostgresRunAs;
  runtimeDirectory: string;
  dataDirectory: string;
  ownsDataDirectory: boolean;
  superuser: string;
  password: string | undefined;
  port: number | undefined;
  commandLineSettings: Record<string, PostgresSettingValue>;
}

/**
 * A real PostgreSQL server for tests, running as a plain process on a data directory. Get one from
 * {@link startPostgres} or {@link startPostgresOnDirectory}. Every server is registered for cleanup:
 * it is stopped and its temporary directories removed at process exit, on SIGINT/SIGTERM, and by
 * `stopAllPostgres()` / `cleanupPostgresAfterAll(afterAll)`.
 *
 * @example
 * ```ts
 * const server = await startPostgres({ major: 16 });
 * const [row] = await server.query<{ v: string }>('select version() as v');
 * await server.stop({ mode: 'fast' });
 * await server.start();
 * await server.destroy();
 * ```
 */
export class PostgresServer {
  readonly major: number;
  /** Always `127.0.0.1`. */
  readonly host = '127.0.0.1';
  readonly binaries: PostgresBinaries;
  readonly dataDirectory: string;
  /** Temporary directory holding the socket directory, the log and (unless given) the data directory. */
  readonly runtimeDirectory: string;
  readonly socketDirectory: string;
  /** The server's stderr, appended across restarts. */
  readonly logFile: string;
  readonly superuser: string;
  readonly password: string | undefined;
  /** The OS user the server runs as. */
  readonly runAs: PostgresRunAs;

  #port: number | undefined;
  #portPinned: boolean;
  #child: ReturnType<typeof spawn> | undefined;
  #pid: number | undefined;
  #exit: Promise<ExitInfo> | undefined;
  #exited = true;
  #destroyed = false;
  #ownsDataDirectory: boolean;
  #commandLineSettings: Record<string, PostgresSettingValue>;
  #unregister: () => void;

  /** @internal use {@link startPostgres}. */
  constructor(init: ServerInit) {
    this.major = init.major;
    this.binaries = init.binaries;
    this.runAs = init.runAs;
    this.runtimeDirectory = init.runtimeDirectory;
    this.dataDirectory = init.dataDirectory;
    this.socketDirectory = path.join(init.runtimeDirectory, 'run');
    this.logFile = path.join(init.runtimeDirectory, 'postgres.log');
    this.superuser = init.superuser;
    this.password = init.password;
    this.#port = init.port;
    this.#portPinned = init.port !== undefined;
    this.#ownsDataDirectory = init.ownsDataDirectory;
    this.#commandLineSettings = init.commandLineSettings;
    this.#unregister = registerForCleanup({ disposeSync: () => this.#disposeSync(), dispose: () => this.destroy() });
  }

  /** The TCP port (fixed for the server's life unless a restart finds it taken). */
  get port(): number {
    if (this.#port === undefined) throw new Error('the server has not been started');
    return this.#port;
  }

  /** PID of the running postmaster, or `undefined` when stopped. */
  get pid(): number | undefined {
    return this.#exited ? undefined : this.#pid;
  }

  /** Whether the postmaster is running. */
  get running(): boolean {
    return !this.#exited;
  }

  /**
   * Connection settings for `pg` (`new pg.Client(server.connectionConfig)`), database `postgres`.
   *
   * @example
   * ```ts
   * const client = new pg.Client({ ...server.connectionConfig, application_name: 'test' });
   * ```
   */
  get connectionConfig(): pg.ClientConfig {
    return {
      host: this.host,
      port: this.port,
      user: this.superuser,
      database: 'postgres',
      ...(this.password === undefined ? {} : { password: this.password }),
    };
  }

  /**
   * A `postgresql://` URL for the server.
   *
   * @example
   * ```ts
   * spawn('psql', [server.connectionString, '-c', 'select 1']);
   * ```
   */
  get connectionString(): string {
    const auth =
      this.password === undefined ? encodeURIComponent(this.superuser) : `${encodeURIComponent(this.superuser)}:${encodeURIComponent(this.password)}`;
    return `postgresql://${auth}@${this.host}:${this.port}/postgres`;
  }

  /**
   * Opens a new connected `pg.Client`; the caller ends it.
   *
   * @example
   * ```ts
   * const client = await server.connect();
   * try { await client.query('select 1'); } finally { await client.end(); }
   * ```
   */
  async connect(overrides: pg.ClientConfig = {}): Promise<pg.Client> {
    const client = new pg.Client({ ...this.connectionConfig, ...overrides });
    client.on('error', () => undefined); // a server stop must not crash the test process
    await client.connect();
    return client;
  }

  /**
   * Runs one statement on a short-lived connection and returns its rows.
   *
   * @example
   * ```ts
   * const [{ lsn }] = await server.query<{ lsn: string }>('select pg_current_wal_lsn() as lsn');
   * ```
   */
  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    const client = await this.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * The server log (all starts), or the last `lines` lines of it.
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
    if (lines === undefined) return text;
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  }

  /**
   * PIDs of the postmaster and all its children (backends, checkpointer, walwriter, ...), empty
   * when stopped.
   *
   * @example
   * ```ts
   * const pids = server.processIds();
   * ```
   */
  processIds(): number[] {
    const pid = this.pid;
    return pid === undefined ? [] : [pid, ...descendantPids(pid)];
  }

  /**
   * Starts the postmaster on {@link dataDirectory} and waits until it accepts connections (or, for
   * a standby without hot standby, until it reports "standby"). Starting again after `stop()` or
   * `kill()` reuses the directory, the port (unless taken meanwhile) and the log.
   *
   * @param options.settings extra parameters for this start only (command line).
   * @throws PostgresStartError when the server exits or does not get ready in time, with its log.
   * @example
   * ```ts
   * await server.kill();
   * await server.start(); // crash recovery
   * ```
   */
  async start(options: { settings?: Record<string, PostgresSettingValue>; timeoutMs?: number | undefined } = {}): Promise<void> {
    if (this.#destroyed) throw new Error('the server has been destroyed');
    if (!this.#exited) throw new Error(`the server is already running (pid ${this.#pid})`);
    const settings = { ...this.#commandLineSettings, ...options.settings };
    assertSettingNames(settings);
    const timeoutMs = options.timeoutMs ?? 120_000;
    for (let attempt = 1; ; attempt++) {
      if (this.#port === undefined) this.#port = await freePort();
      try {
        await this.#startOnce(settings, timeoutMs);
        return;
      } catch (error) {
        if (error instanceof PostgresStartError && BIND_FAILURE.test(error.log) && !this.#portPinned && attempt < 8) {
          this.#port = undefined; // port taken between probe and bind: try another one
          continue;
        }
        throw error;
      }
    }
  }

  async #startOnce(settings: Record<string, PostgresSettingValue>, timeoutMs: number): Promise<void> {
    const port = this.port;
    const args = [
      '-D',
      this.dataDirectory,
      '-c',
      `port=${port}`,
      '-c',
      `listen_addresses=${this.host}`,
      '-c',
      `unix_socket_directories=${this.socketDirectory}`,
      // Dynamic shared memory as files in $PGDATA/pg_dynshmem, not /dev/shm/PostgreSQL.*: a server
      // the tests SIGKILL (crash tests, torn copies) never removes its segments, and /dev/shm
      // segments outlived the data directory (491 files, 232 MB after a few runs). These go with it.
      '-c',
      'dynamic_shared_memory_type=mmap',
    ];
    for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${settingText(value)}`);
    let offset = 0;
    try {
      offset = statSync(this.logFile).size;
    } catch {
      offset = 0;
    }
    const out = openSync(this.logFile, 'a');
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(this.binaries.postgres, args, {
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
        const tail = log.trimEnd().split('\n').slice(-25).join('\n');
        throw new PostgresStartError(
          `PostgreSQL ${this.major} on ${this.dataDirectory} did not start (${info.error ? info.error.message : `exit code ${info.code}${info.signal ? `, signal ${info.signal}` : ''}`}):\n${tail}`,
          log,
          info.code,
          info.signal,
        );
      }
      const lines = readPidFile(this.dataDirectory);
      const status = lines?.[7]?.trim();
      if (lines && Number(lines[0]) === child.pid && (status === 'ready' || status === 'standby')) return;
      if (Date.now() > deadline) {
        const pid = child.pid;
        if (pid !== undefined) killTree(pid);
        await this.#waitExit();
        const log = this.#logSince(offset);
        throw new PostgresStartError(
          `PostgreSQL ${this.major} on ${this.dataDirectory} was not ready after ${timeoutMs} ms (killed):\n${log.trimEnd().split('\n').slice(-25).join('\n')}`,
          log,
          null,
          'SIGKILL',
        );
      }
      await sleep(25);
    }
  }

  /**
   * Waits for the postmaster's exit event, holding a reference on the child meanwhile (it is unref'ed
   * otherwise, so a forgotten server does not keep the process alive). Returns `true` on timeout.
   */
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
      return await Promise.race([
        exit.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), timeoutMs);
        }),
      ]);
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

  /**
   * Stops the server like `pg_ctl stop -m <mode>` and waits until the postmaster and all its
   * children have exited. After `timeoutMs` (default 60 s) the processes are SIGKILLed.
   *
   * @example
   * ```ts
   * await server.stop({ mode: 'fast' });
   * ```
   */
  async stop(options: { mode?: PostgresStopMode; timeoutMs?: number } = {}): Promise<void> {
    const pid = this.pid;
    if (pid === undefined || !this.#exit) return;
    const pids = [pid, ...descendantPids(pid)];
    signalQuietly(pid, STOP_SIGNALS[options.mode ?? 'fast']);
    const timeoutMs = options.timeoutMs ?? 60_000;
    const timedOut = await this.#waitExit(timeoutMs);
    if (timedOut) {
      pids.push(...killTree(pid));
      await this.#waitExit();
      releaseSharedMemory(this.dataDirectory, pid);
    }
    await waitGone(pids, 10_000);
  }

  /**
   * Crashes the server: SIGSTOPs the postmaster (so it cannot fork), then SIGKILLs it and every child
   * at once, as a power failure would, and waits until they are all gone. The data directory is left
   * as the crash left it; `start()` runs crash recovery.
   *
   * @example
   * ```ts
   * await server.kill();
   * await server.start();
   * ```
   */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined || !this.#exit) return;
    const pids = killTree(pid);
    await this.#waitExit();
    await waitGone(pids, 10_000);
    releaseSharedMemory(this.dataDirectory, pid);
  }

  /**
   * Stops the server (fast; SIGKILL if that hangs), removes its temporary directories (and the data
   * directory when this package created it) and unregisters it. Idempotent.
   *
   * @example
   * ```ts
   * afterEach(() => server.destroy());
   * ```
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    try {
      await this.stop({ mode: 'fast', timeoutMs: 30_000 });
    } finally {
      this.#destroyed = true;
      this.#unregister();
      if (this.#pid !== undefined && !processAlive(this.#pid)) releaseSharedMemory(this.dataDirectory, this.#pid);
      await rm(this.runtimeDirectory, { recursive: true, force: true, maxRetries: 3 });
      if (this.#ownsDataDirectory) await rm(this.dataDirectory, { recursive: true, force: true, maxRetries: 3 });
    }
  }

  /** Same as {@link destroy}, for `await using server = await startPostgres(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  #disposeSync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const pid = this.pid;
    if (pid !== undefined && processAlive(pid)) {
      const pids = [pid, ...descendantPids(pid)];
      signalQuietly(pid, 'SIGQUIT'); // immediate shutdown: ends children, removes shared memory
      if (!waitGoneSync(pids, 5_000)) {
        pids.push(...killTree(pid));
        waitGoneSync(pids, 5_000);
      }
    }
    // after a kill, postmaster.pid still names our shared memory segment: remove it
    if (this.#pid !== undefined && !processAlive(this.#pid)) releaseSharedMemory(this.dataDirectory, this.#pid);
    removeTreeSync(this.runtimeDirectory);
    if (this.#ownsDataDirectory) removeTreeSync(this.dataDirectory);
  }
}

/**
 * Creates (unless given) a data directory with `initdb` and starts a PostgreSQL server on it,
 * listening on 127.0.0.1 and a socket in its own temporary directory. When this process is root the
 * server runs as an unprivileged user (see `postgresRunAs()`).
 *
 * @example
 * ```ts
 * const server = await startPostgres({ major: 15, settings: { checkpoint_timeout: '30s' } });
 * const rows = await server.query('select 1 as one');
 * await server.destroy();
 * ```
 */
export async function startPostgres(options: StartPostgresOptions): Promise<PostgresServer> {
  const runAs = postgresRunAs();
  const given = options.dataDirectory === undefined ? undefined : path.resolve(options.dataDirectory);
  let major = options.major;
  if (given && existsSync(path.join(given, 'PG_VERSION'))) {
    const onDisk = Number(readFileSync(path.join(given, 'PG_VERSION'), 'utf8').trim());
    if (major !== undefined && major !== onDisk) {
      throw new Error(`${given} holds a PostgreSQL ${onDisk} data directory, not ${major}`);
    }
    major = onDisk;
  }
  if (major === undefined) throw new Error('startPostgres: give `major` (the directory has no PG_VERSION file)');
  const binaries = postgresBinaries(major);
  const settings = options.settings ?? {};
  assertSettingNames(settings);
  const initdb = options.initdb ?? !(given && existsSync(path.join(given, 'PG_VERSION')));

  const runtimeDirectory = await mkdtemp(path.join(os.tmpdir(), `dbaas-pg${major}-`));
  let server: PostgresServer | undefined;
  try {
    await mkdir(path.join(runtimeDirectory, 'run'), { mode: 0o700 });
    await writeFile(path.join(runtimeDirectory, 'postgres.log'), '', { mode: 0o600 });
    if (runAs.switched) await chownTree(runtimeDirectory, runAs.uid, runAs.gid);
    await chmod(runtimeDirectory, 0o700);
    const runtimeProblem = accessProblem(runtimeDirectory, runAs, 'rwx');
    if (runtimeProblem) throw new Error(reachProblemMessage(runtimeDirectory, runAs, runtimeProblem));

    const dataDirectory = given ?? path.join(runtimeDirectory, 'data');
    if (given) await prepareGivenDirectory(given, runAs, initdb);
    server = new PostgresServer({
      major,
      binaries,
      runAs,
      runtimeDirectory,
      dataDirectory,
      ownsDataDirectory: given === undefined,
      superuser: options.superuser ?? 'postgres',
      password: options.password,
      port: options.port,
      commandLineSettings: initdb ? {} : settings,
    });
    if (initdb) {
      await runInitdb(server, options);
      await appendFile(
        path.join(dataDirectory, 'postgresql.conf'),
        '\n# added by @kubectl-dbaas/testing\n' +
          Object.entries({ ...DEFAULT_SETTINGS, ...settings })
            .map(([name, value]) => `${name} = '${settingText(value).replaceAll("'", "''")}'\n`)
            .join(''),
      );
    }
    await server.start({ timeoutMs: options.timeoutMs });
    return server;
  } catch (error) {
    if (server) await server.destroy().catch(() => undefined);
    else await rm(runtimeDirectory, { recursive: true, force: true });
    throw error;
  }
}

async function prepareGivenDirectory(dir: string, runAs: PostgresRunAs, initdb: boolean): Promise<void> {
  if (!existsSync(dir)) {
    if (!initdb) throw new Error(`${dir} does not exist`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } else if (initdb && (await readdir(dir)).length > 0) {
    throw new Error(`initdb needs an empty directory, and ${dir} is not empty`);
  }
  // Everything in it must belong to the server's user (a copy made by root, a hostpath volume, a
  // backup_label a test wrote as root...): PostgreSQL opens some files read-write and fsyncs them.
  if (runAs.switched) await chownTree(dir, runAs.uid, runAs.gid);
  await chmod(dir, 0o700);
  const problem = accessProblem(dir, runAs, 'rwx');
  if (problem) throw new Error(reachProblemMessage(dir, runAs, problem));
}

async function runInitdb(server: PostgresServer, options: StartPostgresOptions): Promise<void> {
  const args = ['-D', server.dataDirectory, '-U', server.superuser, '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'];
  const checksums = options.dataChecksums ?? true;
  if (checksums) args.push('--data-checksums');
  else if (server.major >= 18) args.push('--no-data-checksums');
  if (options.walSegmentSizeMb !== undefined) args.push(`--wal-segsize=${options.walSegmentSizeMb}`);
  let passwordFile: string | undefined;
  if (options.password !== undefined) {
    passwordFile = path.join(server.runtimeDirectory, 'initdb-password');
    await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
    if (server.runAs.switched) await chown(passwordFile, server.runAs.uid, server.runAs.gid);
    args.push(`--pwfile=${passwordFile}`, '--auth-local=trust', '--auth-host=scram-sha-256');
  } else {
    args.push('--auth=trust');
  }
  try {
    const result = await runTool(server.binaries.initdb, args, server.runAs, server.runtimeDirectory);
    if (result.code !== 0) throw new Error(`initdb for PostgreSQL ${server.major} failed (exit ${result.code}):\n${result.output}`);
  } finally {
    if (passwordFile) await rm(passwordFile, { force: true });
  }
  await readFile(path.join(server.dataDirectory, 'PG_VERSION'), 'utf8');
}

/**
 * Starts PostgreSQL on an existing data directory (a file-level copy, a restored snapshot, a
 * hostpath volume directory...) without running `initdb`. The major is read from `PG_VERSION` when
 * omitted. The directory stays where it is and is never removed by `destroy()`; when this process is
 * root it is chowned to the server's user. A failed start throws {@link PostgresStartError} (with the
 * log) and leaves nothing running.
 *
 * @example
 * ```ts
 * await copyDataDirectory(source.dataDirectory, copy);
 * const restored = await startPostgresOnDirectory(copy, 17);
 * ```
 */
export async function startPostgresOnDirectory(
  dataDirectory: string,
  major?: number,
  options: Omit<StartPostgresOptions, 'dataDirectory' | 'major'> = {},
): Promise<PostgresServer> {
  return await startPostgres({ initdb: false, ...options, dataDirectory, ...(major === undefined ? {} : { major }) });
}
