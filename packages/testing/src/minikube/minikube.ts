import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand } from '../local-cluster/binaries.js';

/** Addons a minikube profile needs for kubectl-dbaas: snapshot CRDs/controller and the hostpath CSI driver. */
export const MINIKUBE_ADDONS = ['volumesnapshots', 'csi-hostpath-driver'] as const;

/** Whether minikube can be used here, and if not, why. */
export type MinikubeAvailability = { available: true } | { available: false; reason: string };

/** Options of {@link MinikubeCluster.start}. */
export interface MinikubeOptions {
  /** Profile to start (or reuse). Default `dbaas-testing`. */
  profile?: string;
  /** Use this existing kubeconfig context instead of starting a profile (no docker/minikube needed). */
  context?: string;
  /** minikube `--driver`. Default `docker`. */
  driver?: string;
  /** Delete the profile on stop() when this call created it. Default true. */
  deleteOnStop?: boolean;
  /** Progress lines. Default `console.error`. */
  log?: (line: string) => void;
}

async function exitsZero(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await runCommand(cmd, args, { timeoutMs });
    return { ok: r.code === 0 && !r.timedOut, out: (r.stdout + r.stderr).trim() };
  } catch (err) {
    return { ok: false, out: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'ENOENT' : (err as Error).message };
  }
}

/**
 * Checks for `minikube` on PATH and a reachable Docker daemon (the `docker` driver).
 *
 * @example
 * const a = await minikubeAvailability();
 * if (!a.available) console.warn(`skipped: ${a.reason}`);
 */
export async function minikubeAvailability(driver = 'docker'): Promise<MinikubeAvailability> {
  const mk = await exitsZero('minikube', ['version', '--short']);
  if (!mk.ok) return { available: false, reason: mk.out === 'ENOENT' ? 'minikube is not installed (not on PATH)' : `minikube version failed: ${mk.out}` };
  if (driver === 'docker') {
    const d = await exitsZero('docker', ['info', '--format', '{{.ServerVersion}}']);
    if (!d.ok) {
      return {
        available: false,
        reason: d.out === 'ENOENT' ? 'docker is not installed (not on PATH)' : `no Docker daemon reachable (docker info: ${d.out.split('\n').slice(-1)[0]})`,
      };
    }
  }
  return { available: true };
}

/**
 * A minikube cluster with the `volumesnapshots` and `csi-hostpath-driver` addons (storage class
 * `csi-hostpath-sc`, snapshot class `csi-hostpath-snapclass`), or an existing context. Where
 * minikube or Docker is missing, {@link MinikubeCluster.start} returns `{ skipped: reason }`.
 *
 * @example
 * const mk = await MinikubeCluster.start();
 * if ('skipped' in mk) console.warn(`skipped: ${mk.skipped}`);
 * else { console.log(mk.kubeconfigPath); await mk.stop(); }
 */
export class MinikubeCluster {
  readonly kubeconfigPath: string;
  readonly context: string;
  private readonly dir: string;
  private readonly profileToDelete: string | undefined;

  private constructor(dir: string, kubeconfigPath: string, context: string, profileToDelete: string | undefined) {
    this.dir = dir;
    this.kubeconfigPath = kubeconfigPath;
    this.context = context;
    this.profileToDelete = profileToDelete;
  }

  /** Starts (or reuses) the profile, or adopts `context`; `{ skipped }` when that cannot be done here. */
  static async start(opts: MinikubeOptions = {}): Promise<MinikubeCluster | { skipped: string }> {
    const log = opts.log ?? ((l: string) => console.error(l));
    const dir = await mkdtemp(path.join(tmpdir(), 'dbaas-minikube-'));
    const kubeconfigPath = path.join(dir, 'kubeconfig');
    try {
      if (opts.context) {
        const r = await runCommand('kubectl', ['config', 'view', '--raw', '--minify', '--flatten', `--context=${opts.context}`], {
          timeoutMs: 30_000,
        }).catch((err: Error) => ({ code: 1, stdout: '', stderr: err.message, timedOut: false, signal: null }));
        if (r.code !== 0) {
          await rm(dir, { recursive: true, force: true });
          return { skipped: `context ${opts.context} not usable: ${r.stderr.trim()}` };
        }
        await writeFile(kubeconfigPath, r.stdout, { mode: 0o600 });
        return new MinikubeCluster(dir, kubeconfigPath, opts.context, undefined);
      }
      const driver = opts.driver ?? 'docker';
      const avail = await minikubeAvailability(driver);
      if (!avail.available) {
        await rm(dir, { recursive: true, force: true });
        return { skipped: avail.reason };
      }
      const profile = opts.profile ?? 'dbaas-testing';
      const existing = await exitsZero('minikube', ['status', '-p', profile, '--format', '{{.APIServer}}']);
      log(`[dbaas-testing] minikube ${existing.ok ? 'reusing' : 'starting'} profile ${profile}`);
      if (!existing.ok) {
        const r = await runCommand('minikube', ['start', '-p', profile, `--driver=${driver}`, `--addons=${MINIKUBE_ADDONS.join(',')}`], {
          timeoutMs: 20 * 60_000,
          onOutput: (c) => log(c.trimEnd()),
        });
        if (r.code !== 0) throw new Error(`minikube start -p ${profile} failed:\n${(r.stdout + r.stderr).trim().split('\n').slice(-20).join('\n')}`);
      }
      for (const addon of MINIKUBE_ADDONS) {
        const r = await runCommand('minikube', ['addons', 'enable', addon, '-p', profile], { timeoutMs: 10 * 60_000 });
        if (r.code !== 0) throw new Error(`minikube addons enable ${addon} failed: ${(r.stdout + r.stderr).trim()}`);
      }
      const env = { ...process.env, KUBECONFIG: kubeconfigPath };
      const uc = await runCommand('minikube', ['update-context', '-p', profile], { env, timeoutMs: 60_000 });
      if (uc.code !== 0) throw new Error(`minikube update-context failed: ${uc.stderr.trim()}`);
      return new MinikubeCluster(dir, kubeconfigPath, profile, existing.ok || opts.deleteOnStop === false ? undefined : profile);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Deletes the profile if this object created it, and the temporary kubeconfig. */
  async stop(): Promise<void> {
    if (this.profileToDelete) await runCommand('minikube', ['delete', '-p', this.profileToDelete], { timeoutMs: 5 * 60_000 });
    await rm(this.dir, { recursive: true, force: true });
  }
}
