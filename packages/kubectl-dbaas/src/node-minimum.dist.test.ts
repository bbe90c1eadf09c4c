// The npm build (dist/cli.js, `#!/usr/bin/env node`) on the Node.js a user has: on one older than
// NODE_MINIMUM it refuses at start-up with the versions and the fix; on exactly NODE_MINIMUM, taken
// from the npm registry (the `node` package), its cluster commands work (a refused port gives the
// project's connection error, not a TypeError from the bundled HTTP client).
// In the dist tier beside release.dist.test.ts, as it runs the built CLI and installs from the
// npm registry; it starts no server. Needs the packages built (`npm test` builds them first).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_MINIMUM } from './node-version.js';

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(PACKAGE_DIR, 'dist', 'cli.js');
const MACHINE_NODE = '/usr/bin/node';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(node: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      node,
      [CLI, ...args],
      { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], NO_COLOR: '1', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function nodeVersion(node: string): Promise<string | undefined> {
  return new Promise((resolve) => execFile(node, ['--version'], (error, stdout) => resolve(error ? undefined : stdout.trim().replace(/^v/, ''))));
}

/** A local port nothing listens on (bound, then closed): connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let work: string;
let kubeconfig: string;
let port: number;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx turbo run build); this test runs the built plugin`);
  work = await mkdtemp(path.join(os.tmpdir(), 'dbaas-node-minimum-'));
  port = await closedPort();
  kubeconfig = path.join(work, 'kubeconfig');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{ name: refused, cluster: { server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true } }]`,
      'users: [{ name: nobody, user: { token: not-a-secret } }]',
      'contexts: [{ name: refused, context: { cluster: refused, user: nobody, namespace: default } }]',
      'current-context: refused',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the Node.js minimum of the npm build', () => {
  it("on an older Node (the machine's /usr/bin/node): exit 1 with the running and required versions and the fix", async (context) => {
    const version = existsSync(MACHINE_NODE) ? await nodeVersion(MACHINE_NODE) : undefined;
    if (version === undefined) context.skip(`${MACHINE_NODE} is absent: no older Node.js to run the CLI with`);
    const [major = 0, minor = 0] = version!.split('.').map(Number);
    if (major > 22 || (major === 22 && minor >= 19)) context.skip(`${MACHINE_NODE} is Node.js ${version}, not older than ${NODE_MINIMUM}`);
    for (const args of [['backup', 'list'], ['version']]) {
      const result = await run(MACHINE_NODE, args, { KUBECONFIG: kubeconfig });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `error: kubectl-dbaas needs Node.js >= ${NODE_MINIMUM}; it was started by Node.js ${version} (${MACHINE_NODE})\n` +
          `fix: Install Node.js ${NODE_MINIMUM} or later (https://nodejs.org/en/download) and put it first on PATH, ` +
          'or use the single executable, which brings its own Node.js (kubectl krew install dbaas, or a release archive: docs/install.md).\n',
      );
    }
  });

  it(`on Node.js ${NODE_MINIMUM} exactly (the npm registry's node package): a cluster command reaches the API server`, async (context) => {
    // Installed once per version into the user's cache, as the test cluster's binaries are.
    const prefix = path.join(process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache'), 'kubectl-dbaas', `node-${NODE_MINIMUM}`);
    const node = path.join(prefix, 'node_modules', 'node', 'bin', 'node');
    if ((await nodeVersion(node)) !== NODE_MINIMUM) {
      await mkdir(prefix, { recursive: true });
      // The node package's install script puts the platform binary in place (allowed explicitly, as
      // in the root package.json).
      await writeFile(
        path.join(prefix, 'package.json'),
        JSON.stringify({ private: true, dependencies: { node: NODE_MINIMUM }, allowScripts: { node: true } }, null, 2),
      );
      const installed = await new Promise<string | undefined>((resolve) =>
        execFile('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: prefix, timeout: 600_000 }, (error, _stdout, stderr) =>
          resolve(error ? stderr.trim().split('\n').slice(-3).join(' / ') : undefined),
        ),
      );
      if (installed !== undefined && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network/i.test(installed))
        context.skip(`npm install node@${NODE_MINIMUM} could not reach the registry: ${installed}`);
      expect(installed).toBeUndefined();
    }
    expect(await nodeVersion(node)).toBe(NODE_MINIMUM);

    const version = await run(node, ['version', '-o', 'json']);
    expect(version.code, version.stderr).toBe(0);
    expect(JSON.parse(version.stdout)).toMatchObject({ node: `v${NODE_MINIMUM}` });

    const list = await run(node, ['backup', 'list'], { KUBECONFIG: kubeconfig });
    expect(list.stderr).not.toMatch(/TypeError|Cannot read properties/);
    expect(list.stderr).toMatch(
      new RegExp(`^error: cannot connect to the Kubernetes API server https://127\\.0\\.0\\.1:${port}: connection refused.*\\nfix: `),
    );
    expect(list.code).toBe(1);
  });
});
