// The machine side of the btrfs CSI driver (packages/testing/go/btrfs-csi): what it needs, and
// undoing the loop-mounted filesystem image it runs on whatever way its user ended.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from './binaries.js';
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

/**
 * Loop devices whose backing file is at or below `dir`, read from /sys/block/loopN/loop/backing_file:
 * unlike `losetup -j`, this still finds a device whose file was removed meanwhile (the kernel
 * then shows the path with ` (deleted)`).
 */
export function loopDevicesBackedUnder(dir: string): string[] {
  let devices: string[] = [];
  try {
    devices = readdirSync('/sys/block').filter((d) => d.startsWith('loop'));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const dev of devices) {
    try {
      const backing = readFileSync(path.join('/sys/block', dev, 'loop', 'backing_file'), 'utf8').trim();
      if (backing.startsWith(`${dir}/`)) out.push(`/dev/${dev}`);
    } catch {
      // not attached
    }
  }
  return out.sort();
}

/**
 * Detaches the loop devices backed by files under `dir`; returns those that stayed. `mount -o
 * loop` marks its device autoclear, so an unmount normally took it already; this catches a device
 * whose mount never happened or whose unmount was deferred (`umount -l`: the device is then
 * released when the last user goes).
 */
export function detachLoopDevicesUnder(dir: string): string[] {
  const left: string[] = [];
  for (const dev of loopDevicesBackedUnder(dir)) {
    if (spawnSync('losetup', ['-d', dev], { stdio: 'ignore' }).status !== 0) left.push(dev);
  }
  return left;
}

/**
 * Unmounts everything at or below `dir` and detaches the loop devices of files under it; returns
 * what stayed (mount points and devices), empty when the machine is as before.
 */
export function undoLoopBtrfs(dir: string): string[] {
  return [...unmountAllUnder(dir), ...detachLoopDevicesUnder(dir)];
}

/** Where a cluster keeps its btrfs filesystem: the image file and its mount point, under `dir`. */
export function loopBtrfsLayout(dir: string): { image: string; mountPoint: string } {
  return { image: path.join(dir, 'fs.img'), mountPoint: path.join(dir, 'mnt') };
}

/**
 * Makes a btrfs filesystem in a sparse image file of `bytes` under `dir` (a new directory) and
 * loop-mounts it; on failure undoes what it did and throws with the tool's words. The caller
 * undoes it with {@link undoLoopBtrfs} on every path.
 */
export async function makeLoopBtrfs(dir: string, bytes: number): Promise<{ image: string; mountPoint: string }> {
  const layout = loopBtrfsLayout(dir);
  await mkdir(layout.mountPoint, { recursive: true, mode: 0o700 });
  // Sparse: the file takes only what the filesystem writes, whatever its size.
  const file = await open(layout.image, 'wx', 0o600);
  try {
    await file.truncate(bytes);
  } finally {
    await file.close();
  }
  const steps: [string, string[]][] = [
    ['mkfs.btrfs', ['-q', layout.image]],
    ['mount', ['-o', 'loop', layout.image, layout.mountPoint]],
  ];
  for (const [cmd, args] of steps) {
    const r = await runCommand(cmd, args, { timeoutMs: 120_000 });
    if (r.code !== 0) {
      undoLoopBtrfs(dir);
      throw new Error(`${cmd} ${args.join(' ')} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${(r.stderr || r.stdout).trim()}`);
    }
  }
  return layout;
}
