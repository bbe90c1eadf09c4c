// The btrfs CSI driver (packages/testing/go/btrfs-csi) against the upstream CSI sanity suite
// (github.com/kubernetes-csi/csi-test/v5), and its Go unit tests: `go test` makes a btrfs
// filesystem in an image file, loop-mounts it, runs the driver in-process on a unix socket and the
// suite against it. In the node tier: it needs root, loop devices and btrfs, not a cluster.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { goEnv, runCommand } from './binaries.js';
import { btrfsDriverModuleDir, btrfsUnavailable, loopDevicesBackedUnder, undoLoopBtrfs } from './btrfs.js';
import { mountsUnder } from './mounts.js';
import { skipWhen } from '../skip-reason.js';

const why = btrfsUnavailable();
if (why) console.warn(`[dbaas-testing] SKIPPING the btrfs CSI driver's sanity suite (not passed): ${why}`);

// Every spec the suite runs against the driver's capabilities today; fewer means a capability
// went missing and its specs turned into skips, which must not pass unnoticed.
const MIN_SANITY_SPECS_PASSED = 48;

describe('btrfs CSI driver', skipWhen(why), () => {
  it('passes the CSI sanity suite and its unit tests, and leaves no mount or loop device behind', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'btrfs-csi-sanity-'));
    try {
      const res = await runCommand('go', ['test', '-count=1', '-v', '-timeout', '8m', './...', '-args', '-ginkgo.no-color'], {
        cwd: btrfsDriverModuleDir(),
        env: { ...goEnv(), BTRFS_CSI_SANITY_WORKDIR: dir },
        timeoutMs: 10 * 60_000,
      });
      const output = res.stdout + res.stderr;
      if (res.code !== 0) throw new Error(`go test failed (${res.timedOut ? 'timed out' : `exit ${res.code}`}):\n${output.slice(-20_000)}`);
      expect(output, 'a skipped Go test would count as passed').not.toMatch(/--- SKIP: TestSanity/);
      expect(output).toMatch(/--- PASS: TestSanity /);
      expect(output, 'a skipped Go test would count as passed').not.toMatch(/--- SKIP: TestSnapshotIsOneInstantAndReadOnlyPublishHolds/);
      expect(output).toMatch(/--- PASS: TestSnapshotIsOneInstantAndReadOnlyPublishHolds /);
      const summary = /(\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped/.exec(output);
      expect(summary, 'the sanity suite printed no summary').not.toBeNull();
      const [, passed, failed] = summary!.map(Number);
      console.log(`[dbaas-testing] btrfs CSI sanity: ${summary![0]}`);
      expect(failed).toBe(0);
      expect(passed).toBeGreaterThanOrEqual(MIN_SANITY_SPECS_PASSED);
      // The Go tests undo their own mounts and loop devices; the cleanup below only backs them up.
      expect(mountsUnder(dir)).toEqual([]);
      expect(loopDevicesBackedUnder(dir)).toEqual([]);
    } finally {
      const left = undoLoopBtrfs(dir);
      if (left.length === 0) await rm(dir, { recursive: true, force: true });
      expect(left, `left behind under ${dir}`).toEqual([]);
    }
  });
});
