import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory of this module's file, in ESM (`import.meta.url`) and in CJS (`__dirname`) builds. */
function hereDir(): string {
  if (typeof __dirname === 'string') return __dirname;
  return path.dirname(fileURLToPath(import.meta.url));
}

let cachedPackageDir: string | undefined;

/**
 * The root directory of the `@kubectl-dbaas/testing` package (the one holding `go/versions.json`),
 * found by walking up from this file; works from `src/` (tests, tsx) and from `dist/`.
 *
 * @example
 * const versionsFile = path.join(packageDir(), 'go', 'versions.json');
 */
export function packageDir(): string {
  if (cachedPackageDir) return cachedPackageDir;
  const override = process.env.DBAAS_TESTING_PACKAGE_DIR;
  if (override) {
    cachedPackageDir = override;
    return override;
  }
  let dir = hereDir();
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name;
        if (name === '@kubectl-dbaas/testing') {
          cachedPackageDir = dir;
          return dir;
        }
      } catch {
        // not our package.json; keep walking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find the @kubectl-dbaas/testing package directory above ${hereDir()}`);
    }
    dir = parent;
  }
}

/**
 * The cache root for built binaries and run records: `$DBAAS_TESTING_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/kubectl-dbaas`, else `~/.cache/kubectl-dbaas`. Always outside the repository.
 *
 * @example
 * const binRoot = path.join(cacheRoot(), 'bin');
 */
export function cacheRoot(): string {
  if (process.env.DBAAS_TESTING_CACHE_DIR) return process.env.DBAAS_TESTING_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg && xdg.length > 0 ? xdg : path.join(homedir(), '.cache'), 'kubectl-dbaas');
}
