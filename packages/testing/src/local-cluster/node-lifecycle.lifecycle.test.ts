import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, NODE_BRIDGE, reapStaleClusters } from './cluster.js';
import { runPodWithVolume } from './node/volume-pod.js';
import { clusterLeftovers, machineState, type MachineState } from './node/machine-state.js';
import { nodeUnavailableReason } from './node/host.js';
import { packageDir } from './paths.js';
import { skipWhen } from '../skip-reason.js';

// These tests own the machine's one node slot: `npm test` runs them on their own, before the tiers
// that share a cluster (scripts/run-tests.mjs).
const why = nodeUnavailableReason();
if (why) console.error(`node lifecycle tests skipped: ${why}`);

const here = path.dirname(fileURLToPath(import.meta.url));
const childScript = path.join(here, 'fixtures', 'node-child.ts');

/** Everything that appeared on the machine since `before` and is still there. */
function added(before: MachineState, after: MachineState): Record<string, unknown> {
  const diff = (a: string[], b: string[]) => b.filter((x) => !a.includes(x));
  const sysctls = Object.entries(before.sysctls).filter(([k, v]) => after.sysctls[k] !== v);
  return {
    sysctlsChanged: sysctls.map(([k, v]) => `${k}: ${v} -> ${after.sysctls[k]}`),
    links: diff(before.links, after.links),
    containerCgroups: diff(before.containerCgroups, after.containerCgroups),
    shimSockets: diff(before.shimSockets, after.shimSockets),
    containerLogLinks: diff(before.containerLogLinks, after.containerLogLinks),
    nodeRecord: after.nodeRecord && !before.nodeRecord,
    clusterLoopDevices: diff(before.clusterLoopDevices, after.clusterLoopDevices),
  };
}

const nothing = {
  sysctlsChanged: [],
  links: [],
  containerCgroups: [],
  shimSockets: [],
  containerLogLinks: [],
  nodeRecord: false,
  clusterLoopDevices: [],
};

/** Waits (briefly: teardown may still be finishing in a child) until nothing of the node is left. */
async function expectNothingLeft(before: MachineState, stateDir: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const left = { ...added(before, machineState()), ...clusterLeftovers(stateDir) };
    const clean = { ...nothing, processes: [], mounts: [], stateDir: false, record: false };
    if (JSON.stringify(left) === JSON.stringify(clean) || Date.now() > deadline) {
      expect(left).toEqual(clean);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function runChild(
  mode: 'throw' | 'wait',
  signal?: NodeJS.Signals,
): Promise<{ stateDir: string; code: number | null; sig: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', childScript, mode], { cwd: packageDir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let stateDir: string | undefined;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!stateDir && stdout.includes('\n')) {
        stateDir = (JSON.parse(stdout.split('\n')[0]!) as { stateDir: string }).stateDir;
        if (signal) child.kill(signal);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, sig) => {
      if (!stateDir) reject(new Error(`child exited (${code ?? sig}) before its node ran a pod:\n${stderr}`));
      else resolve({ stateDir, code, sig, stderr });
    });
  });
}

describe('a node leaves the machine as it found it', skipWhen(why), () => {
  // A node whose owner was killed (a run or session that ended with `dbaas-testing up` still
  // running) leaves its bridge and record behind until the next start reaps them. Reaping first
  // makes "before" the machine without any node; otherwise that start would remove the old bridge
  // and add its own under the same name, and the test could not see the bridge appear (CI, stop 18).
  beforeAll(async () => {
    await reapStaleClusters((line) => console.error(line));
  });

  it('stop() after pods with CSI volumes ran: no process, mount, device, cgroup, socket or changed sysctl left', async () => {
    const before = machineState();
    const cluster = await LocalCluster.start({ build: false, nodeImages: ['pause'], log: () => undefined });
    try {
      expect(cluster.nodeUnavailable).toBeUndefined();
      const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
      await runPodWithVolume(core, 'default', 'p');
      // While it runs, the node has really changed the machine: the bridge, a container cgroup, the
      // kubelet's sysctls. (Otherwise "nothing left" below would prove nothing.)
      const during = added(before, machineState());
      expect(during.links).toContain(NODE_BRIDGE);
      expect((during.containerCgroups as string[]).length).toBeGreaterThan(0);
      expect(clusterLeftovers(cluster.stateDir).mounts.length).toBeGreaterThan(0);
      // The btrfs driver's filesystem is on a loop device, where the machine can hold one.
      if (!cluster.btrfsUnavailable) expect(during.clusterLoopDevices).toHaveLength(1);
    } finally {
      await cluster.stop();
    }
    await expectNothingLeft(before, cluster.stateDir);
  });

  it('an uncaught error in the owner tears the node down', async () => {
    const before = machineState();
    const { stateDir, code, stderr } = await runChild('throw');
    expect(code).not.toBe(0);
    expect(stderr).toContain('deliberate failure after the node started');
    await expectNothingLeft(before, stateDir);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s to the owner tears the node down', async (signal) => {
    const before = machineState();
    const { stateDir, code, sig } = await runChild('wait', signal);
    expect(code === 128 + (signal === 'SIGINT' ? 2 : 15) || sig === signal).toBe(true);
    await expectNothingLeft(before, stateDir);
  });

  it('a SIGKILLed owner leaves the node running; the next start (reapStaleClusters) undoes all of it', async () => {
    const before = machineState();
    const { stateDir, sig } = await runChild('wait', 'SIGKILL');
    expect(sig).toBe('SIGKILL');
    const left = added(before, machineState());
    expect(left.nodeRecord).toBe(true);
    expect(left.links).toContain(NODE_BRIDGE);
    expect(clusterLeftovers(stateDir).processes.length).toBeGreaterThan(0);
    await reapStaleClusters(() => undefined);
    await expectNothingLeft(before, stateDir);
  });
});
