import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';

/**
 * A free TCP port on 127.0.0.1, picked by binding port 0 and closing again.
 *
 * @example
 * const port = await freePort();
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('could not pick a free port'));
      });
    });
  });
}

/** True while `pid` exists and is not a zombie. */
export function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Pids of live processes (of this user) whose command line contains `needle` and whose executable
 * name is one of `names` (when given). Used to find components of a state directory that no
 * record lists (e.g. spawned a moment before the owner died).
 *
 * @example
 * processesMentioning('/tmp/dbaas-cluster-abc123', ['etcd', 'kube-apiserver']);
 */
export function processesMentioning(needle: string, names?: readonly string[]): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes(needle)) continue;
      if (uid !== undefined && statSync(`/proc/${entry}`).uid !== uid) continue;
      const argv0 = cmdline.split('\0')[0] ?? '';
      if (names && !names.includes(argv0.split('/').pop() ?? '')) continue;
      if (pidRunning(Number(entry))) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The last `lines` lines of a log file (empty when it cannot be read). */
export async function tailFile(file: string, lines = 30): Promise<string> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString('utf8').split('\n').slice(-lines).join('\n');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

/** A component process of the local cluster: its own log file, ordered SIGTERM-then-SIGKILL stop. */
export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly child: ChildProcess;
  readonly pid: number;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;

  private constructor(name: string, logFile: string, child: ChildProcess) {
    this.name = name;
    this.logFile = logFile;
    this.child = child;
    if (child.pid === undefined) throw new Error(`${name}: spawn gave no pid`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
    });
  }

  /**
   * Spawns `cmd` with an argument array (never a shell), stdout and stderr appended to `logFile`.
   *
   * @example
   * const etcd = await ManagedProcess.start('etcd', '/bin/etcd', ['--data-dir', dir], '/state/logs/etcd.log');
   */
  static async start(
    name: string,
    cmd: string,
    args: string[],
    logFile: string,
    opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ): Promise<ManagedProcess> {
    const fd = openSync(logFile, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, {
        stdio: ['ignore', fd, fd],
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        // Own process group: a Ctrl-C in the terminal goes to us, and we stop the components in order.
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(new Error(`${name}: cannot start ${cmd}: ${err.message}`)));
    });
    return new ManagedProcess(name, logFile, child);
  }

  /** Still running? */
  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** How it exited, once it has. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exitInfo;
  }

  /** A message for a failure of this component: where the log is and its tail. */
  async failure(what: string): Promise<Error> {
    const how = this.exitInfo ? ` (exited: ${this.exitInfo.signal ?? `code ${this.exitInfo.code}`})` : '';
    const tail = await tailFile(this.logFile, 40);
    return new Error(`${this.name}: ${what}${how}. Log: ${this.logFile}\n--- last lines ---\n${tail}`);
  }

  /** SIGTERM, wait up to `graceMs`, then SIGKILL, and wait until the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    try {
      this.child.kill('SIGTERM');
    } catch {
      // already gone
    }
    const timedOut = await Promise.race([this.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
    if (timedOut && this.running) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        // already gone
      }
      await this.exited;
    }
  }

  /** Synchronous last resort (process 'exit' handler): SIGKILL. */
  killNow(): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Polls `check` every `intervalMs` until it returns true, `proc` exits, or `timeoutMs` passes.
 * Errors name the component, its log file and show the log's tail.
 *
 * @example
 * await waitFor(etcd, 'serve client requests', () => tcpOpen(port), 30_000);
 */
export async function waitFor(
  proc: ManagedProcess | undefined,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    if (proc && !proc.running) throw await proc.failure(`exited before it was ready (${what})`);
    try {
      if (await check()) return;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const suffix = lastErr ? `; last error: ${(lastErr as Error).message}` : '';
      if (proc) throw await proc.failure(`not ready after ${Math.round(timeoutMs / 1000)} s (${what})${suffix}`);
      throw new Error(`not ready after ${Math.round(timeoutMs / 1000)} s: ${what}${suffix}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
