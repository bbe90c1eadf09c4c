import type { Stats } from 'node:fs';
import { chmod, copyFile, lchown, lstat, lutimes, mkdir, mkdtemp, readdir, readlink, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { registerForCleanup, removeTreeSync } from './registry.js';

/**
 * Options of {@link copyDataDirectory}.
 *
 * @example
 * ```ts
 * const options: CopyDataDirectoryOptions = { exclude: ['postmaster.pid', 'pg_wal/'] };
 * ```
 */
export interface CopyDataDirectoryOptions {
  /**
   * What to leave out, as paths relative to the source with `/` separators: `'postmaster.pid'`
   * (that entry), `'pg_wal/'` (the directory itself is created, its contents are skipped), or a
   * predicate on the relative path (`isDirectory` tells what the entry is).
   */
  exclude?: readonly string[] | ((relativePath: string, isDirectory: boolean) => boolean);
  /** Keep owner and group (default: when this process is root, as `cp -a` does). */
  preserveOwnership?: boolean;
  /**
   * Files that vanish while the copy runs (a live server removes and recycles files) are skipped
   * and listed instead of failing the copy, as a snapshot of a live directory would. Default `true`.
   */
  tolerateVanished?: boolean;
}

/**
 * What {@link copyDataDirectory} copied.
 *
 * @example
 * ```ts
 * const { files, bytes, vanished } = await copyDataDirectory(a, b);
 * ```
 */
export interface CopyDataDirectoryResult {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
  /** Relative paths that disappeared between listing and copying. */
  vanished: string[];
}

/**
 * Copies a directory tree file by file, like `cp -a src dst`: modes, owner and group (when root),
 * timestamps, symbolic links as links (so `pg_tblspc/` links stay links). `dst` is created and must
 * not exist or be empty. Entries are visited in name order. Copying a running server's directory
 * gives the same kind of torn copy that a non-atomic snapshot (the hostpath CSI driver's `tar`)
 * gives; copying a stopped one gives a clean copy.
 *
 * @example
 * ```ts
 * await server.stop();
 * await copyDataDirectory(server.dataDirectory, target, { exclude: ['postmaster.pid'] });
 * const copy = await startPostgresOnDirectory(target);
 * ```
 */
export async function copyDataDirectory(source: string, destination: string, options: CopyDataDirectoryOptions = {}): Promise<CopyDataDirectoryResult> {
  const src = path.resolve(source);
  const dst = path.resolve(destination);
  if (dst === src || dst.startsWith(src + path.sep)) throw new Error(`cannot copy ${src} into itself (${dst})`);
  const rootStat = await lstat(src);
  if (!rootStat.isDirectory()) throw new Error(`${src} is not a directory`);
  try {
    if ((await readdir(dst)).length > 0) throw new Error(`${dst} is not empty`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const isRoot = process.getuid?.() === 0;
  const preserveOwnership = options.preserveOwnership ?? isRoot;
  const tolerateVanished = options.tolerateVanished ?? true;
  const exclude = options.exclude;
  const excluded = async (relative: string): Promise<boolean> => {
    if (exclude === undefined) return false;
    if (typeof exclude === 'function') {
      const isDirectory = await lstat(path.join(src, relative)).then(
        (st) => st.isDirectory(),
        () => false,
      );
      return exclude(relative, isDirectory);
    }
    return exclude.some((pattern) => (pattern.endsWith('/') ? relative.startsWith(pattern) : relative === pattern));
  };
  const result: CopyDataDirectoryResult = { files: 0, directories: 0, symlinks: 0, bytes: 0, vanished: [] };

  const finish = async (to: string, st: Stats, isLink: boolean) => {
    if (!isLink) await chmod(to, st.mode & 0o7777);
    if (preserveOwnership) await lchown(to, st.uid, st.gid).catch(() => undefined);
    await lutimes(to, st.atime, st.mtime).catch(() => undefined);
  };

  const visit = async (relative: string): Promise<void> => {
    const from = relative === '' ? src : path.join(src, relative);
    const to = relative === '' ? dst : path.join(dst, relative);
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(from);
    } catch (error) {
      if (tolerateVanished && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        result.vanished.push(relative);
        return;
      }
      throw error;
    }
    if (st.isDirectory()) {
      await mkdir(to, { recursive: relative === '', mode: 0o700 });
      result.directories++;
      let entries: string[];
      try {
        entries = (await readdir(from)).sort();
      } catch (error) {
        if (tolerateVanished && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          result.vanished.push(relative);
          entries = [];
        } else throw error;
      }
      for (const name of entries) {
        const child = relative === '' ? name : `${relative}/${name}`;
        if (await excluded(child)) continue;
        await visit(child);
      }
      await finish(to, st, false);
    } else if (st.isSymbolicLink()) {
      await symlink(await readlink(from), to);
      await finish(to, st, true);
      result.symlinks++;
    } else if (st.isFile()) {
      try {
        await copyFile(from, to);
      } catch (error) {
        if (tolerateVanished && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          result.vanished.push(relative);
          await rm(to, { force: true });
          return;
        }
        throw error;
      }
      await finish(to, st, false);
      result.files++;
      result.bytes += st.size;
    }
    // sockets, FIFOs and devices are skipped, as tar and cp -a of a data directory would not need them
  };

  await visit('');
  return result;
}

/**
 * Creates a temporary directory (mode 0755, so the unprivileged PostgreSQL user can reach what is
 * put in it) that is removed at process exit or by `stopAllPostgres()`, whichever comes first.
 *
 * @example
 * ```ts
 * const dir = await makeTemporaryDirectory('restore-');
 * await copyDataDirectory(server.dataDirectory, path.join(dir, 'data'));
 * ```
 */
export async function makeTemporaryDirectory(prefix = 'dbaas-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await chmod(dir, 0o755);
  const unregister = registerForCleanup({
    disposeSync: () => removeTreeSync(dir),
    dispose: async () => {
      unregister();
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  });
  return dir;
}
