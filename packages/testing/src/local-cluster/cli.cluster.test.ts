import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { packageDir } from './paths.js';
import { pidRunning } from './process.js';
import { runDir } from './supervisor.js';

const run = promisify(execFile);
const name = `clitest-${process.pid}`;
const cli = path.join(packageDir(), 'src', 'cli.ts');

/** `dbaas-testing <args>` through tsx (argument arrays, no shell). */
function dbaasTesting(...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', cli, ...args, '--name', name], {
    cwd: packageDir(),
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  });
}

afterAll(async () => {
  await dbaasTesting('down').catch(() => undefined);
});

describe('dbaas-testing up | status | down', () => {
  it('starts a cluster in the background, reports per component, and stops it without leftovers', async () => {
    // Without a node: the tier's shared cluster holds the machine's one node (the node's own
    // lifecycle is the lifecycle tier's).
    const up = await dbaasTesting('up', '--without-node');
    const m = /^export KUBECONFIG=(\S+)$/m.exec(up.stdout);
    expect(m, up.stdout + up.stderr).not.toBeNull();
    const kubeconfig = m![1]!;
    expect(existsSync(kubeconfig)).toBe(true);
    // The admin token is never printed.
    expect(up.stdout + up.stderr).not.toMatch(/token/i);

    const snaps = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', 'volumesnapshots', '-A']);
    expect(snaps.stdout + snaps.stderr).toMatch(/No resources found|NAMESPACE/);

    const status = await dbaasTesting('status');
    const lines = status.stdout.split('\n');
    for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'snapshot-controller']) {
      expect(
        lines.find((l) => l.startsWith(`${c} `)),
        status.stdout,
      ).toMatch(/\brunning\b/);
    }
    expect(status.stdout).toMatch(/readyz ok/);
    const hp = lines.find((l) => l.startsWith('hostpathplugin '))!;
    if (/unavailable/.test(hp)) {
      expect(hp).toMatch(/ {2,}CSI hostpath plugin unavailable: \S/);
      expect(lines.find((l) => l.startsWith('csi-provisioner '))).toMatch(/not started/);
      expect(lines.find((l) => l.startsWith('csi-snapshotter '))).toMatch(/not started/);
    } else {
      expect(hp).toMatch(/\brunning\b/);
    }
    const pids = [...status.stdout.matchAll(/pid (\d+)/g)].map((x) => Number(x[1]));
    expect(pids.length).toBeGreaterThanOrEqual(5); // supervisor + 4 components at least

    const down = await dbaasTesting('down');
    expect(down.stdout).toContain(`cluster "${name}" stopped`);
    expect(pids.filter(pidRunning)).toEqual([]);
    expect(existsSync(path.dirname(kubeconfig))).toBe(false);
    const after = await dbaasTesting('status').catch((err: { stdout: string; code: number }) => err);
    expect((after as { stdout: string }).stdout).toContain('not running');
    expect(existsSync(path.join(runDir(), `${name}.log`))).toBe(false);
    expect(existsSync(path.join(runDir(), `${name}.json`))).toBe(false);
  });
});
