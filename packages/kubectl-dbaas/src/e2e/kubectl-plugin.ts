// The e2e tests' way to run the plugin as users do: the real `kubectl` finds `kubectl-dbaas` on
// PATH. A private temporary directory holds a shim that execs the built bundle with this Node.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';

/** What one kubectl run did. */
export interface KubectlRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link KubectlWithPlugin.run}. */
export interface KubectlRunOptions {
  /** Default: the one given at creation. */
  kubeconfig?: string;
  /** Called with all stderr so far on every chunk (e.g. to send a signal at a given phase). */
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void;
  /** SIGKILL after this long. Default 120 s. */
  timeoutMs?: number;
  /** Extra environment (e.g. a password in PGPASSWORD or MYSQL_PWD, never in the arguments). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The real kubectl with the plugin on PATH.
 *
 * @example
 * const plugin = await KubectlWithPlugin.create(bundle, kubeconfig);
 * const r = await plugin.dbaas(['backup', 'list', '-o', 'json']);
 * await plugin.dispose();
 */
export class KubectlWithPlugin {
  private constructor(
    /** The private directory first on PATH (also a place for a test's own files). */
    readonly shimDir: string,
    private readonly kubeconfig: string,
  ) {}

  static async create(bundle: string, kubeconfig: string): Promise<KubectlWithPlugin> {
    const shimDir = await mkdtemp(path.join(tmpdir(), 'kubectl-dbaas-shim-'));
    // process.execPath is the Node 24 the tests run on (the `node` devDependency).
    await writeFile(path.join(shimDir, 'kubectl-dbaas'), `#!/bin/sh\nexec '${process.execPath}' '${bundle}' "$@"\n`);
    await chmod(path.join(shimDir, 'kubectl-dbaas'), 0o755);
    return new KubectlWithPlugin(shimDir, kubeconfig);
  }

  run(args: string[], opts: KubectlRunOptions = {}): Promise<KubectlRun> {
    return new Promise((resolve, reject) => {
      const child = spawn('kubectl', args, {
        env: { ...process.env, ...opts.env, PATH: `${this.shimDir}${path.delimiter}${process.env.PATH}`, KUBECONFIG: opts.kubeconfig ?? this.kubeconfig },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        opts.onStderr?.(stderr, child);
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  /** `kubectl dbaas ...`. */
  dbaas(args: string[], opts?: KubectlRunOptions): Promise<KubectlRun> {
    return this.run(['dbaas', ...args], opts);
  }

  async dispose(): Promise<void> {
    await rm(this.shimDir, { recursive: true, force: true });
  }
}

/** A run for an assertion message: exit code, stdout, stderr. */
export function showRun(r: KubectlRun): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/**
 * Asserts what every usage mistake must give through kubectl: exit 2, the message on stderr with
 * the pointer to --help, nothing on stdout.
 */
export function expectUsageError(r: KubectlRun, args: readonly string[], message: RegExp): void {
  expect(r.code, `${args.join(' ')}\n${showRun(r)}`).toBe(2);
  expect(r.stderr).toMatch(message);
  // The pointer names the failing command's help (`kubectl dbaas backup create --help`).
  expect(r.stderr).toMatch(/Run 'kubectl dbaas( [a-z]+)* --help' for usage\./);
  expect(r.stdout).toBe('');
}
