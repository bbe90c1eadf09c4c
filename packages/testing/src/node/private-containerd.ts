// A containerd of its own for the image tests: root, state, socket and config under one mkdtemp
// directory, the CRI plugin off (no kubelet here, and the CRI plugin needs CAP_SYS_RESOURCE for its
// OOM score handling unless told otherwise), containers in their own network namespace (loopback
// only) and under a cgroup parent of their own that is removed at the end.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { runCommand } from '../local-cluster/binaries.js';
import { unmountAllUnder } from '../local-cluster/mounts.js';
import { processesMentioning } from '../local-cluster/process.js';

function cgroupHasProcesses(dir: string): boolean {
  try {
    const subdirs = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(dir, d.name));
    return [dir, ...subdirs].some((d) => {
      try {
        return readFileSync(path.join(d, 'cgroup.procs'), 'utf8').trim() !== '';
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Why a private containerd cannot run here, or undefined. */
export function containerdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return `not root (uid ${process.getuid?.()}): containerd and runc need root`;
  for (const bin of ['containerd', 'ctr', 'runc', 'containerd-shim-runc-v2', 'mmdebstrap', 'gcc']) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', bin], { stdio: 'ignore' }).status !== 0) {
      return `${bin} not found (apt-get install containerd mmdebstrap gcc)`;
    }
  }
  return undefined;
}

export interface CtrResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A running private containerd.
 *
 * @example
 * await using c = await PrivateContainerd.start();
 * await c.ctr(['images', 'ls']);
 */
export class PrivateContainerd {
  private constructor(
    readonly dir: string,
    readonly address: string,
    readonly namespace: string,
    /** Parent of every container's cgroup (`/<this>/<id>` on each hierarchy). */
    readonly cgroupParent: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {}

  static async start(opts: { namespace?: string } = {}): Promise<PrivateContainerd> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dbaas-containerd-'));
    const address = path.join(dir, 'containerd.sock');
    const config = path.join(dir, 'config.toml');
    await writeFile(
      config,
      [
        'version = 2',
        `root = ${JSON.stringify(path.join(dir, 'root'))}`,
        `state = ${JSON.stringify(path.join(dir, 'state'))}`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = ${JSON.stringify(address)}`,
        '[ttrpc]',
        `  address = ${JSON.stringify(`${address}.ttrpc`)}`,
        '[debug]',
        `  address = ${JSON.stringify(path.join(dir, 'debug.sock'))}`,
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    const logFile = path.join(dir, 'containerd.log');
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn('containerd', ['--config', config], { stdio: ['ignore', fd, fd], detached: false });
    } finally {
      closeSync(fd);
    }
    const c = new PrivateContainerd(dir, address, opts.namespace ?? 'dbaas-images-test', `dbaas-images-test-${path.basename(dir).slice(-6)}`, child, logFile);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) {
        c.removeDir();
        throw new Error(`containerd exited with ${child.exitCode} at start`);
      }
      if (existsSync(address) && (await c.ctr(['version'])).code === 0) break;
      if (Date.now() > deadline) {
        await c.stop();
        throw new Error('containerd did not answer within 30 s');
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return c;
  }

  /** Runs `ctr --address <sock> --namespace <ns> ...args`. */
  async ctr(args: string[], timeoutMs = 120_000): Promise<CtrResult> {
    const r = await runCommand('ctr', ['--address', this.address, '--namespace', this.namespace, ...args], { timeoutMs });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  /** Like {@link ctr} but throws on a non-zero exit. */
  async ctrOk(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.ctr(args, timeoutMs);
    if (r.code !== 0) throw new Error(`ctr ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  /** The cgroup path to give a container: `--cgroup <this>`. */
  cgroupFor(id: string): string {
    return `/${this.cgroupParent}/${id}`;
  }

  /**
   * `ctr run` options that keep a container's host state private: its cgroup under this
   * containerd's parent, and runc's state under this containerd's directory instead of the shared
   * `/run/containerd/runc/<namespace>` (another containerd on the machine may clean that up).
   */
  runOptions(id: string): string[] {
    return ['--cgroup', this.cgroupFor(id), '--runc-root', path.join(this.dir, 'runc')];
  }

  /** Kills and deletes every task and container, removes images, stops containerd, unmounts and removes the directory. */
  async stop(): Promise<void> {
    let ids: string[] = [];
    if (this.child.exitCode === null && existsSync(this.address)) {
      ids = (await this.ctr(['containers', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
      for (const id of ids) {
        await this.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
        for (let i = 0; i < 50; i++) {
          const r = await this.ctr(['tasks', 'delete', id]);
          if (r.code === 0 || /not found/.test(r.stderr)) break;
          await new Promise((res) => setTimeout(res, 200));
        }
        await this.ctr(['containers', 'delete', id]);
      }
      for (const ref of (await this.ctr(['images', 'ls', '-q'])).stdout.split('\n').filter(Boolean)) await this.ctr(['images', 'rm', '--sync', ref]);
    }
    if (this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      const gone = await Promise.race([
        new Promise<boolean>((r) => this.child.once('exit', () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), 15_000)),
      ]);
      if (!gone) this.child.kill('SIGKILL');
    }
    // A container runc lost track of (its state removed under it) outlives `tasks kill`: its
    // processes are still in its cgroup, and its shim's socket in /run/containerd/s.
    this.killCgroupProcesses();
    // Shims outlive containerd by design; ours name our socket on their command line.
    for (const pid of processesMentioning(this.address, ['containerd-shim-runc-v2', 'containerd-shim'])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const id of ids) {
      const socket = path.join(
        '/run/containerd/s',
        createHash('sha256')
          .update(path.join(this.address, this.namespace, id))
          .digest('hex'),
      );
      if (existsSync(socket)) rmSync(socket, { force: true });
    }
    this.removeDir();
  }

  /** SIGKILLs every process left in a cgroup under this containerd's parent (shims are outside it). */
  private killCgroupProcesses(): void {
    for (const dir of this.leftoverCgroups()) {
      let children: string[] = [];
      try {
        children = readdirSync(dir, { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => path.join(dir, d.name));
      } catch {
        continue;
      }
      for (const cg of [dir, ...children]) {
        let procs: number[] = [];
        try {
          procs = readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
        } catch {
          continue;
        }
        for (const pid of procs) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && this.leftoverCgroups().some((d) => cgroupHasProcesses(d))) spawnSync('sleep', ['0.1']);
  }

  private removeDir(): void {
    const stuck = unmountAllUnder(this.dir);
    this.removeCgroups();
    if (stuck.length) throw new Error(`mounts left under ${this.dir}: ${stuck.join(', ')}`);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Removes the (empty) cgroup parent directories runc left on each hierarchy. */
  private removeCgroups(): void {
    const roots = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'];
    let hierarchies: string[] = [];
    try {
      hierarchies = readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h));
    } catch {
      return;
    }
    for (const h of [...new Set([...roots, ...hierarchies])]) {
      const dir = path.join(h, this.cgroupParent);
      if (!existsSync(dir)) continue;
      try {
        for (const child of readdirSync(dir, { withFileTypes: true })) if (child.isDirectory()) rmdirSync(path.join(dir, child.name));
        rmdirSync(dir);
      } catch {
        // still in use: reported by the test's leftover check
      }
    }
  }

  /** Cgroup directories of this containerd's containers still present (for leftover checks). */
  leftoverCgroups(): string[] {
    let hierarchies: string[] = [];
    try {
      hierarchies = readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h));
    } catch {
      return [];
    }
    return [...new Set(['/sys/fs/cgroup', ...hierarchies])].map((h) => path.join(h, this.cgroupParent)).filter((d) => existsSync(d));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
