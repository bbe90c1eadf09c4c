// The machine side of the btrfs CSI driver (packages/testing/go/btrfs-csi): what it needs, and
// undoing the loop-mounted filesystem image it runs on whatever way its user ended.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageDir } from './paths.js';
import { unmountAllUnder } from './mounts.js';

/** The btrfs driver's Go module (its own go.mod), built and tested from there. */
export function btrfsDriverModuleDir(): string {
  return path.join(packageDir(), 'go', 'btrfs-csi');
}

function onPath(bin: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', bin], { stdio: 'ignore' }).status === 0;
}

/**
 * Why this machine cannot hold a btrfs filesystem on a loop device, or `undefined` when it can:
 * root (loop devices and mounts), btrfs in the kernel, btrfs-progs.
 */
export function btrfsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return `not root (uid ${process.getuid?.()}): loop devices and mounts need root`;
  let filesystems = '';
  try {
    filesystems = readFileSync('/proc/filesystems', 'utf8');
  } catch (err) {
    return `cannot read /proc/filesystems: ${(err as Error).message}`;
  }
  if (!/\tbtrfs$/m.test(filesystems)) return 'the kernel has no btrfs (not in /proc/filesystems)';
  for (const bin of ['mkfs.btrfs', 'btrfs', 'losetup']) {
    if (!onPath(bin)) return `${bin} not found (apt-get install btrfs-progs)`;
  }
  return undefined;
}

/** Loop devices backed by `image` (`losetup -j`). */
export function loopDevicesOf(image: string): string[] {
  const r = spawnSync('losetup', ['-j', image], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((line) => line.split(':')[0]!)
    .filter((dev) => dev.startsWith('/dev/loop'));
}

/**
 * Unmounts everything at or below `dir` and detaches the loop devices of `image`; returns what
 * stayed (mount points and devices), empty when the machine is as before.
 */
export function undoLoopBtrfs(dir: string, image: string): string[] {
  const left = unmountAllUnder(dir);
  // `mount -o loop` marks its device autoclear, so the unmount normally took it; a device whose
  // mount never happened (or was lazily deferred) is detached here.
  for (const dev of loopDevicesOf(image)) {
    if (spawnSync('losetup', ['-d', dev], { stdio: 'ignore' }).status !== 0) left.push(dev);
  }
  return left;
}
