// The distributed forms of kubectl-dbaas, each run on a real PostgreSQL 17 data directory:
// - the npm packages (`npm pack` of the CLI and of the SDK, each installed alone into an empty
//   directory: the CLI has the SDK inlined),
// - the one-file bundle (dist/kubectl-dbaas.cjs, no node_modules),
// - the linux/amd64 single executable (Node SEA) in its release archive, with its Krew manifest.
// Needs the packages built (`npm test` builds them first) and the npm registry (npm install of
// the packages' dependencies, npx postject).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { buildRelease } from '../scripts/release/build.js';
import { findEmulator } from '../scripts/release/emulator.js';
import { validateKrewManifest } from '../scripts/release/krew.js';
import { archiveName } from '../scripts/release/targets.js';
import { skipWhen } from '../../testing/src/skip-reason.js';

const exec = promisify(execFile);

interface PostgresServer {
  readonly dataDirectory: string;
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  stop(options?: { mode?: 'smart' | 'fast' | 'immediate' }): Promise<void>;
  destroy(): Promise<void>;
}
interface PostgresFixtures {
  availablePostgresMajors(): number[];
  cleanupPostgresAfterAll(afterAll: (fn: () => Promise<void>, timeout?: number) => void): void;
  copyDataDirectory(source: string, destination: string): Promise<unknown>;
  makeTemporaryDirectory(prefix?: string): Promise<string>;
  startPostgres(options: { major: number }): Promise<PostgresServer>;
}
const fixturesModule = '../../testing/src/postgres/index.js';
const { availablePostgresMajors, cleanupPostgresAfterAll, copyDataDirectory, makeTemporaryDirectory, startPostgres } = (await import(
  /* @vite-ignore */ fixturesModule
)) as PostgresFixtures;
cleanupPostgresAfterAll(afterAll);

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO_DIR = path.resolve(PACKAGE_DIR, '../..');
const MAJOR = 17;
/** Node 24 (the repository's) first on PATH, whatever `node` the machine has. */
const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH']}`, NO_COLOR: '1' };

interface InspectJson {
  source: string;
  verdict: string;
  restorable: boolean;
  postgresMajorVersion: number;
}

/** `npm pack` of one workspace package into `destination`: its file name and files. */
async function pack(workspace: string, destination: string): Promise<{ filename: string; files: Array<{ path: string }> }> {
  const { stdout } = await exec('npm', ['pack', '-w', workspace, '--json', '--pack-destination', destination], { cwd: REPO_DIR, env });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return packed!;
}

async function walSegmentCount(dataDirectory: string): Promise<number> {
  return (await readdir(path.join(dataDirectory, 'pg_wal'))).filter((name) => /^[0-9A-F]{24}$/.test(name)).length;
}

/**
 * Preloaded with `node --import` (it runs in the worker threads too): reports on stderr where each
 * thread resolves @node-rs/crc32 and its platform addon from, which files worker threads start
 * from, and each job posted to a worker.
 */
const OBSERVE_THREADS = `
import module from 'node:module';
import workerThreads from 'node:worker_threads';
const report = (line) => process.stderr.write('[observe] ' + line + '\\n');
module.registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    if (specifier.startsWith('@node-rs/crc32')) report('thread ' + workerThreads.threadId + ' resolved ' + specifier + ' -> ' + resolved.url);
    return resolved;
  },
});
if (workerThreads.isMainThread) {
  workerThreads.Worker = class extends workerThreads.Worker {
    constructor(file, options) {
      super(file, options);
      report('worker ' + file);
      this.on('error', (error) => report('worker error ' + error.message));
    }
    postMessage(message, transfer) {
      report('job posted');
      return super.postMessage(message, transfer);
    }
  };
  module.syncBuiltinESMExports();
}
`;

// The linux/arm64 executable is made with a startup snapshot by the arm64 Node under QEMU's user-mode
// emulation and run the same way. .ci/run installs QEMU; elsewhere that test is skipped, its name
// saying why (the packages to install).
const arm64Emulator = await findEmulator({ os: 'linux', arch: 'arm64' });

describe('kubectl-dbaas as users install it', () => {
  let work: string;
  let dataDirectory: string;
  let version: string;

  beforeAll(async () => {
    expect(availablePostgresMajors()).toContain(MAJOR);
    version = (JSON.parse(await readFile(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string }).version;
    work = await makeTemporaryDirectory('kubectl-dbaas-release-');
    const server = await startPostgres({ major: MAJOR });
    try {
      await server.query('create table t as select g as id from generate_series(1, 5000) g');
      // More than one WAL segment, so that wal inspect hands them to its worker threads.
      for (let i = 0; i < 2; i++) {
        await server.query('insert into t select g from generate_series(1, 1000) g');
        await server.query('select pg_switch_wal()');
      }
      await server.stop({ mode: 'fast' });
      dataDirectory = path.join(work, 'pgdata');
      await copyDataDirectory(server.dataDirectory, dataDirectory);
    } finally {
      await server.destroy();
    }
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('npm pack: the CLI package holds its executable, chunks and WAL worker, the SDK inlined; installed alone, it runs wal inspect with the native CRC and the WAL workers', async () => {
    const packs = path.join(work, 'packs');
    await mkdir(packs);
    const cli = await pack('kubectl-dbaas', packs);
    const cliFiles = cli.files.map((f) => f.path);
    expect(cliFiles).toEqual(
      expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/cli.js', 'dist/wal-worker.js', 'dist/THIRD-PARTY-NOTICES.txt']),
    );
    expect(cliFiles.filter((f) => f.endsWith('.cjs') || f.startsWith('dist/meta/') || f.endsWith('.third-party.json'))).toEqual([]); // release build inputs, not npm's
    expect(cliFiles.every((f) => f === 'LICENSE' || f === 'README.md' || f === 'package.json' || f.startsWith('dist/'))).toBe(true);

    const install = path.join(work, 'install');
    await mkdir(install);
    await writeFile(path.join(install, 'package.json'), '{ "name": "clean-install", "private": true }\n');
    await exec('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', path.join(packs, cli.filename)], { cwd: install, env, maxBuffer: 16 << 20 });
    // The SDK and its JavaScript dependencies are in the CLI's chunks: npm installs none of them;
    // the native CRC-32C addon, which the SDK's code requires from beside the chunks, it does.
    const manifest = JSON.parse(await readFile(path.join(install, 'node_modules', 'kubectl-dbaas', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.dependencies)).toContain('@node-rs/crc32');
    expect(Object.keys(manifest.dependencies).filter((d) => d.startsWith('@kubectl-dbaas/'))).toEqual([]);
    for (const absent of ['@kubectl-dbaas', '@kubernetes/client-node', 'pg', 'mysql2'])
      expect(existsSync(path.join(install, 'node_modules', absent))).toBe(false);

    const versionOut = await exec('npx', ['--no-install', 'kubectl-dbaas', 'version', '-o', 'json'], { cwd: install, env });
    expect(JSON.parse(versionOut.stdout)).toMatchObject({ version, node: process.version });
    const name = await exec('npx', ['--no-install', 'kubectl-dbaas', 'version', '-o', 'name'], { cwd: install, env });
    expect(name.stdout).toBe('kubectl-dbaas\n');

    // wal inspect with two WAL worker threads, observed by a preloaded module: where each thread
    // resolves @node-rs/crc32 from, and which file the workers start from.
    const observer = path.join(work, 'observe-threads.mjs');
    await writeFile(observer, OBSERVE_THREADS);
    const bin = path.join(install, 'node_modules', '.bin', 'kubectl-dbaas');
    const inspect = await exec(process.execPath, ['--import', observer, bin, 'wal', 'inspect', dataDirectory, '-o', 'json'], {
      cwd: install,
      env: { ...env, KUBECTL_DBAAS_WAL_WORKERS: '2' },
    });
    const report = JSON.parse(inspect.stdout) as InspectJson;
    expect(report).toMatchObject({ source: dataDirectory, verdict: 'clean-shutdown', restorable: true, postgresMajorVersion: MAJOR });
    const observed = inspect.stderr.split('\n').filter((l) => l.startsWith('[observe] '));
    const dist = path.join(install, 'node_modules', 'kubectl-dbaas', 'dist');
    expect(observed.filter((l) => l.startsWith('[observe] worker file:'))).toEqual(
      Array(2).fill(`[observe] worker ${pathToFileURL(path.join(dist, 'wal-worker.js')).href}`),
    );
    expect(observed).not.toContainEqual(expect.stringMatching(/^\[observe\] worker error/));
    const segments = await walSegmentCount(dataDirectory);
    expect(segments).toBeGreaterThan(1);
    expect(observed.filter((l) => l === '[observe] job posted').length).toBe(segments); // every segment went to a worker
    // The main thread and both workers load @node-rs/crc32 and its prebuilt addon from the install.
    const resolved = observed.flatMap((l) => {
      const m = /^\[observe\] thread (\d+) resolved (\S+) -> (\S+)$/.exec(l);
      return m ? [{ thread: m[1]!, specifier: m[2]!, url: m[3]! }] : [];
    });
    const installed = `${pathToFileURL(path.join(install, 'node_modules')).href}/`;
    const crcThreads = resolved.filter((r) => r.specifier === '@node-rs/crc32' && r.url === `${installed}@node-rs/crc32/index.js`).map((r) => r.thread);
    expect(new Set(crcThreads).size).toBe(3);
    const addonThreads = resolved
      .filter((r) => /^@node-rs\/crc32-[^/]+$/.test(r.specifier) && r.url.startsWith(installed) && r.url.endsWith('.node'))
      .map((r) => r.thread);
    expect(addonThreads.sort()).toEqual(crcThreads.sort());
    // The addon found there computes CRC-32C (the SDK checks the same before it uses it).
    const crc = await exec(
      process.execPath,
      [
        '-e',
        `console.log(require('node:module').createRequire(${JSON.stringify(path.join(dist, 'cli.js'))})('@node-rs/crc32').crc32c(Buffer.from('123456789')))`,
      ],
      { env },
    );
    expect(Number(crc.stdout)).toBe(0xe3069283);
    expect(inspect.stderr).not.toMatch(/inspecting|✓/); // not a terminal: no progress
  });

  it('npm pack: the SDK package holds its ESM and CommonJS builds with their WAL workers; installed alone, it loads the native CRC', async () => {
    const packs = path.join(work, 'packs-sdk');
    await mkdir(packs);
    const sdk = await pack('@kubectl-dbaas/sdk', packs);
    expect(sdk.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/wal-worker.js', 'dist/wal-worker.cjs']),
    );
    const install = path.join(work, 'install-sdk');
    await mkdir(install);
    await writeFile(path.join(install, 'package.json'), '{ "name": "clean-install", "private": true }\n');
    await exec('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', path.join(packs, sdk.filename)], { cwd: install, env, maxBuffer: 16 << 20 });
    const crc = await exec(process.execPath, ['-e', "import('@kubectl-dbaas/sdk').then((m) => console.log(m.crc32cImplementation()))"], { cwd: install, env });
    expect(crc.stdout.trim()).toBe('native');
  });

  it('the one-file bundle runs without node_modules', async () => {
    const alone = path.join(work, 'alone');
    await mkdir(alone);
    await cp(path.join(PACKAGE_DIR, 'dist', 'kubectl-dbaas.cjs'), path.join(alone, 'kubectl-dbaas.cjs'));
    const { stdout } = await exec(process.execPath, [path.join(alone, 'kubectl-dbaas.cjs'), 'wal', 'inspect', dataDirectory, '-o', 'json'], {
      cwd: alone,
      env,
    });
    expect(JSON.parse(stdout)).toMatchObject({ verdict: 'clean-shutdown', restorable: true });
  });

  it('the linux/amd64 single executable runs version and wal inspect; its archive and Krew manifest validate', async () => {
    const out = path.join(work, 'release');
    const manifest = path.join(out, 'dbaas.yaml');
    const result = await buildRelease({ targets: ['linux-amd64'], outDir: out, manifest, build: false, log: () => undefined });
    expect(result.failures).toEqual([]);
    const [archive] = result.archives;
    expect(path.basename(archive!.file)).toBe(archiveName(version, { os: 'linux', arch: 'amd64' }));

    // What users get: unpack the archive and run the executable (no Node on PATH needed).
    const unpacked = path.join(work, 'unpacked');
    await mkdir(unpacked);
    expect(archive).toMatchObject({ startup: 'snapshot', ran: 'native' });
    expect((await exec('tar', ['-tzf', archive!.file])).stdout.split('\n').filter(Boolean).sort()).toEqual([
      'LICENSE',
      'THIRD-PARTY-NOTICES.txt',
      'kubectl-dbaas',
    ]);
    await exec('tar', ['-xzf', archive!.file, '-C', unpacked]);
    const binary = path.join(unpacked, 'kubectl-dbaas');
    const bare = { PATH: '/usr/bin:/bin', HOME: work };
    // Its notices: the Node.js inside (its LICENSE names V8, OpenSSL, ICU, libuv) and the packages
    // the bundles inline, each with its license text (scripts/release/notices.test.ts checks the list).
    const notices = await readFile(path.join(unpacked, 'THIRD-PARTY-NOTICES.txt'), 'utf8');
    expect(notices).toContain(`Node.js ${process.versions.node} (the runtime inside the executable)`);
    for (const library of ['V8', 'OpenSSL', 'ICU', 'libuv']) expect(notices).toContain(`- ${library}`);
    for (const name of ['yargs', 'zod', 'yaml', 'pg', '@kubernetes/client-node', 'undici', 'mysql2'])
      expect(notices).toMatch(new RegExp(`^={80}\\n${name.replace('/', '\\/')} \\d[^\\n]*\\nLicense: `, 'm'));
    expect(notices.length).toBeGreaterThan(200_000);

    const versionOut = await exec(binary, ['version', '-o', 'json'], { env: bare });
    expect(JSON.parse(versionOut.stdout)).toMatchObject({ version, platform: 'linux/x64' });
    expect(versionOut.stderr).toBe(''); // no SEA experimental warning

    const inspect = await exec(binary, ['wal', 'inspect', dataDirectory, '-o', 'json'], { env: bare });
    expect(JSON.parse(inspect.stdout)).toMatchObject({ verdict: 'clean-shutdown', restorable: true, postgresMajorVersion: MAJOR });
    const named = await exec(binary, ['wal', 'inspect', dataDirectory, '-o', 'name'], { env: bare });
    expect(named.stdout).toBe(`${dataDirectory}\n`);

    // The SDK is compiled from the executable's asset when a command first needs it; V8's code
    // cache of it is written under $XDG_CACHE_HOME and accepted by the next run.
    const cacheHome = path.join(work, 'xdg-cache');
    const debug = { ...bare, DBAAS_DEBUG: '1', XDG_CACHE_HOME: cacheHome };
    expect((await exec(binary, ['wal', 'inspect', dataDirectory, '-o', 'name'], { env: debug })).stderr).toContain('code cache absent');
    const cacheFiles = await readdir(path.join(cacheHome, 'kubectl-dbaas', 'code-cache'));
    expect(cacheFiles).toEqual([`sdk-${version}-${process.version}-linux-x64.bin`]);
    expect((await stat(path.join(cacheHome, 'kubectl-dbaas', 'code-cache', cacheFiles[0]!))).mode & 0o777).toBe(0o600);
    expect((await exec(binary, ['wal', 'inspect', dataDirectory, '-o', 'name'], { env: debug })).stderr).toContain('code cache accepted');

    // A usage error exits 2 with a pointer to --help.
    const bad = await exec(binary, ['version', '--bogus'], { env: bare }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(bad?.code).toBe(2);
    expect(bad?.stderr).toMatch(/Unknown argument: bogus[\s\S]*--help/);

    // The manifest names this archive with its real sha256 and passes Krew's rules, install simulated on its files.
    const plugin: unknown = parse(await readFile(manifest, 'utf8'));
    const { createHash } = await import('node:crypto');
    const sha256 = createHash('sha256')
      .update(await readFile(archive!.file))
      .digest('hex');
    expect(plugin).toMatchObject({ spec: { version: `v${version}`, platforms: [{ sha256, uri: archive!.uri, bin: 'kubectl-dbaas' }] } });
    expect(
      validateKrewManifest(plugin, {
        fileName: 'dbaas.yaml',
        archiveFiles: new Map([[archive!.uri, ['LICENSE', 'THIRD-PARTY-NOTICES.txt', 'kubectl-dbaas']]]),
      }),
    ).toEqual({
      errors: [],
      warnings: [],
    });
  });

  it('the linux/arm64 single executable runs version and wal inspect under emulation', {
    ...skipWhen('reason' in arm64Emulator ? arm64Emulator.reason : undefined),
    timeout: 300_000,
  }, async () => {
    const emulator = (arm64Emulator as { command: string[] }).command;
    const out = path.join(work, 'release-arm64');
    const result = await buildRelease({ targets: ['linux-arm64'], outDir: out, manifest: path.join(out, 'dbaas.yaml'), build: false, log: () => undefined });
    expect(result.failures).toEqual([]);
    const [archive] = result.archives;
    expect(archive).toMatchObject({ os: 'linux', arch: 'arm64', startup: 'snapshot', ran: 'emulated' });
    const unpacked = path.join(work, 'unpacked-arm64');
    await mkdir(unpacked);
    await exec('tar', ['-xzf', archive!.file, '-C', unpacked]);
    const binary = path.join(unpacked, 'kubectl-dbaas');
    const elf = await readFile(binary);
    expect(elf.readUInt16LE(18)).toBe(0xb7); // e_machine EM_AARCH64: really the arm64 binary, emulated
    const run = (args: string[]) => exec(emulator[0]!, [...emulator.slice(1), binary, ...args], { env: { PATH: '/usr/bin:/bin', HOME: work } });

    expect(JSON.parse((await run(['version', '-o', 'json'])).stdout)).toMatchObject({ version, platform: 'linux/arm64' });
    const inspect = await run(['wal', 'inspect', dataDirectory, '-o', 'json']);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ verdict: 'clean-shutdown', restorable: true, postgresMajorVersion: MAJOR });
  });
});
