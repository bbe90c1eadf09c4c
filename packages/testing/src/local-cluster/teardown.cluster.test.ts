import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LocalCluster, reapStaleClusters } from './cluster.js';
import { btrfsUnavailable } from './btrfs.js';
import { skipWhen } from '../skip-reason.js';
import { machineState } from './node/machine-state.js';
import { packageDir } from './paths.js';
import { pidRunning } from './process.js';

interface Held {
  pids: number[];
  ports: number[];
  stateDir: string;
  /** Set by the child fixture in its 'btrfs' variant. */
  btrfsUnavailable?: string;
  loopDevices?: string[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
const childScript = path.join(here, 'fixtures', 'teardown-child.ts');

/** Whether nothing listens on `port` on any address (with a node the API server binds the bridge's). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

/** Processes whose command line mentions `needle` (e.g. a state directory). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle) && pidRunning(Number(entry))) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Loop devices backed by a file under the state directory (the btrfs driver's filesystem image). */
function loopDevicesUnder(stateDir: string): string[] {
  return machineState().clusterLoopDevices.filter((d) => d.includes(`${stateDir}/`));
}

/** Asserts that nothing of a cluster is left: processes, ports, sockets, loop devices, state directory. */
async function expectNothingLeft(held: Held): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const alive = held.pids.filter(pidRunning);
    const busy: number[] = [];
    for (const p of held.ports) if (!(await portFree(p))) busy.push(p);
    const mentioning = processesMentioning(held.stateDir);
    const dirLeft = existsSync(held.stateDir);
    const loops = loopDevicesUnder(held.stateDir);
    if ((alive.length === 0 && busy.length === 0 && mentioning.length === 0 && !dirLeft && loops.length === 0) || Date.now() > deadline) {
      expect(alive, 'component pids still running').toEqual([]);
      expect(loops, 'loop devices of the btrfs image still attached').toEqual([]);
      expect(mentioning, 'processes still referring to the state dir').toEqual([]);
      expect(busy, 'ports still bound').toEqual([]);
      expect(dirLeft, `state dir ${held.stateDir} still exists (sockets, logs, data)`).toBe(false);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Runs the child fixture; resolves with what it held and how it ended. */
function runChild(
  mode: 'throw' | 'reject' | 'wait',
  signal?: NodeJS.Signals,
  variant: 'control-plane' | 'btrfs' = 'control-plane',
): Promise<{ held: Held; code: number | null; sig: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    // tsx (a devDependency) runs the TypeScript fixture; `--import tsx` resolves from cwd.
    const child = spawn(process.execPath, ['--import', 'tsx', childScript, mode, variant], {
      cwd: packageDir(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let held: Held | undefined;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n')[0];
      if (!held && stdout.includes('\n') && line) {
        held = JSON.parse(line) as Held;
        if (signal) child.kill(signal);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, sig) => {
      if (!held) reject(new Error(`child exited (${code ?? sig}) before reporting its cluster:\n${stderr}`));
      else resolve({ held, code, sig, stderr });
    });
  });
}

describe('teardown leaves nothing behind', () => {
  it('stop() of a full cluster: no process, port, socket or state directory left', async () => {
    // Without a node: the tier's shared cluster holds the machine's one node; the node's teardown
    // on every path is node-lifecycle.lifecycle.test.ts.
    const cluster = await LocalCluster.start({ build: false, withoutNode: true, log: () => undefined });
    const held: Held = { pids: Object.values(cluster.pids()), ports: cluster.ports(), stateDir: cluster.stateDir };
    expect(held.pids.length).toBeGreaterThanOrEqual(4);
    expect(existsSync(path.join(held.stateDir, 'kubeconfig'))).toBe(true);
    const status = cluster.status();
    expect(status.find((s) => s.name === 'kube-apiserver')?.state).toBe('running');
    if (cluster.hostpathUnavailable) {
      const hp = status.find((s) => s.name === 'hostpathplugin');
      expect(hp?.state).toBe('unavailable');
      expect(hp?.detail).toBe(`CSI hostpath plugin unavailable: ${cluster.hostpathUnavailable}`);
      expect(status.find((s) => s.name === 'csi-provisioner')?.state).toBe('not started');
    } else {
      expect(existsSync(path.join(held.stateDir, 'csi', 'csi.sock'))).toBe(true);
    }
    if (cluster.btrfsUnavailable) {
      expect(status.find((s) => s.name === 'btrfs-csi')?.detail).toBe(`btrfs CSI driver unavailable: ${cluster.btrfsUnavailable}`);
    } else {
      // The btrfs driver's filesystem is really there, so "no loop device left" below means something.
      expect(status.find((s) => s.name === 'btrfs-csi')?.state).toBe('running');
      expect(loopDevicesUnder(held.stateDir)).toHaveLength(1);
    }
    await cluster.stop();
    await expectNothingLeft(held);
  });

  it('a script that throws after starting a cluster still cleans up', async () => {
    const { held, code, stderr } = await runChild('throw');
    expect(code).not.toBe(0);
    expect(stderr).toContain('deliberate failure after the cluster started');
    expect(held.pids.length).toBe(2);
    await expectNothingLeft(held);
  });

  it('an unhandled rejection after starting a cluster still cleans up', async () => {
    const { held, code } = await runChild('reject');
    expect(code).not.toBe(0);
    await expectNothingLeft(held);
  });

  it('SIGTERM to the owning process tears the cluster down in order', async () => {
    const { held, code, sig } = await runChild('wait', 'SIGTERM');
    expect(code === 143 || sig === 'SIGTERM').toBe(true);
    await expectNothingLeft(held);
  });

  it('SIGKILL of the owner leaves orphans that the next start reaps (reapStaleClusters)', async () => {
    const { held, sig } = await runChild('wait', 'SIGKILL');
    expect(sig).toBe('SIGKILL');
    // Nothing could run in the killed process: its components are still there...
    expect(held.pids.some(pidRunning)).toBe(true);
    expect(existsSync(held.stateDir)).toBe(true);
    // ...until the next LocalCluster.start() (or this call) finds the dead owner.
    const reaped = await reapStaleClusters();
    expect(reaped).toContain(held.stateDir);
    await expectNothingLeft(held);
  });

  it('SIGINT (Ctrl-C) to the owning process tears the cluster down', async () => {
    const { held, code, sig } = await runChild('wait', 'SIGINT');
    expect(code === 130 || sig === 'SIGINT').toBe(true);
    await expectNothingLeft(held);
  });
});

const noBtrfs = btrfsUnavailable();
if (noBtrfs) console.warn(`[dbaas-testing] SKIPPING the btrfs teardown tests (not passed): ${noBtrfs}`);

describe('teardown of the btrfs driver unmounts its filesystem and detaches its loop device', skipWhen(noBtrfs), () => {
  it.each([
    ['an uncaught error (the exit handler)', 'throw', undefined],
    ['SIGTERM', 'wait', 'SIGTERM'],
    ['SIGKILL of the owner, then reapStaleClusters', 'wait', 'SIGKILL'],
  ] as const)('%s', async (_how, mode, signal) => {
    const { held, sig } = await runChild(mode, signal, 'btrfs');
    // The filesystem was really there, so "nothing left" below means something.
    expect(held.btrfsUnavailable).toBeUndefined();
    expect(held.loopDevices).toHaveLength(1);
    if (signal === 'SIGKILL') {
      expect(sig).toBe('SIGKILL');
      expect(loopDevicesUnder(held.stateDir)).toEqual(held.loopDevices);
      expect(await reapStaleClusters()).toContain(held.stateDir);
    }
    await expectNothingLeft(held);
  });
});
