// Start-up time of `kubectl dbaas` against kubectl's own, measured in the same run.
//
//   npx tsx bench/cli-startup/run.ts [--runs 30] [--sea PATH] [--before PATH/TO/old/dist/cli.js] [--json FILE]
//
// Each variant is a command line; all run round-robin (one run of each, then the next round), so
// a busy machine slows them alike. Reported: median and p90 wall time per variant, and the ratio
// of the median to `kubectl version --client`'s. Target (issue 6): kubectl dbaas <= 2x kubectl.
//
// Floors, to read the ratios by: `kubectl nodefloor` is kubectl running an empty Node script as a
// plugin (what any Node plugin pays), `node + yargs alone` a one-command yargs program bundled the
// way dist/cli.js bundles yargs. And a first API call: `kubectl dbaas backup list` against
// `kubectl get volumesnapshots`, both pointed at a closed local port (connection refused at once),
// i.e. start-up plus loading what talks to the API server.
//
// `kubectl dbaas ...` goes through the real kubectl: a temporary directory first on PATH holds
// `kubectl-dbaas` (a symlink to the build) and `node` (the repository's Node 24, which the
// build's `#!/usr/bin/env node` finds). With --sea (default: packages/kubectl-dbaas/release/
// linux-amd64/kubectl-dbaas when built) the single executable is measured the same way.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'tsup';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    sea: { type: 'string' },
    before: { type: 'string' },
    json: { type: 'string' },
  },
});
const runs = Number(values.runs);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(repo, 'packages/kubectl-dbaas/dist/cli.js');
const oneFile = path.join(repo, 'packages/kubectl-dbaas/dist/kubectl-dbaas.cjs');
const defaultSea = path.join(repo, 'packages/kubectl-dbaas/release/linux-amd64/kubectl-dbaas');
const sea = values.sea ?? (existsSync(defaultSea) ? defaultSea : undefined);
const node = process.execPath;
if (!existsSync(cli)) throw new Error(`build first: ${cli} is missing (npm run build)`);

const kubectl = execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim();
const work = mkdtempSync(path.join(tmpdir(), 'cli-startup-'));
const pluginDir = path.join(work, 'npm');
const seaDir = path.join(work, 'sea');
const cacheDir = path.join(work, 'compile-cache');
for (const dir of [pluginDir, seaDir]) execFileSync('mkdir', ['-p', dir]);
symlinkSync(cli, path.join(pluginDir, 'kubectl-dbaas'));
symlinkSync(node, path.join(pluginDir, 'node'));
if (sea) symlinkSync(sea, path.join(seaDir, 'kubectl-dbaas'));
writeFileSync(path.join(pluginDir, 'kubectl-nodefloor'), '#!/usr/bin/env node\n');
chmodSync(path.join(pluginDir, 'kubectl-nodefloor'), 0o755);

// A one-command yargs program, bundled as dist/cli.js bundles yargs (ESM, string-width aliased).
writeFileSync(
  path.join(work, 'yargs-alone.ts'),
  "import yargs from 'yargs';\nawait yargs(process.argv.slice(2)).command({ command: 'version', describe: 'v', handler: () => { process.stdout.write('0\\n'); } }).strict().help().parseAsync();\n",
);
await build({
  config: false,
  silent: true,
  entry: { 'yargs-alone': path.join(work, 'yargs-alone.ts') },
  outDir: work,
  format: ['esm'],
  platform: 'node',
  target: 'node22',
  noExternal: [/.*/],
  esbuildOptions: (options) => {
    options.nodePaths = [path.join(repo, 'node_modules')];
    options.alias = { 'string-width': 'fast-string-width' };
  },
  banner: { js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);" },
});
const yargsAlone = path.join(work, 'yargs-alone.js');

// A kubeconfig whose server is a local port nobody listens on.
const closedPort = await new Promise<number>((resolve, reject) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const address = server.address();
    server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
  });
});
const unreachable = path.join(work, 'unreachable.kubeconfig');
writeFileSync(
  unreachable,
  [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{ name: closed, cluster: { server: "https://127.0.0.1:${closedPort}", insecure-skip-tls-verify: true } }]`,
    'users: [{ name: nobody, user: { token: none } }]',
    'contexts: [{ name: closed, context: { cluster: closed, user: nobody, namespace: default } }]',
    'current-context: closed',
    '',
  ].join('\n'),
);
const basePath = process.env['PATH'] ?? '';
const envWith = (dir: string, extra: Record<string, string> = {}) => ({
  ...process.env,
  PATH: `${dir}${path.delimiter}${basePath}`,
  NODE_COMPILE_CACHE: cacheDir,
  ...extra,
});

interface Variant {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The exit status a run must end with (default 0); the unreachable-server runs fail on purpose. */
  status?: number;
}
const variants: Variant[] = [
  { name: 'kubectl version --client', command: kubectl, args: ['version', '--client'], env: process.env },
  { name: 'kubectl dbaas version (npm)', command: kubectl, args: ['dbaas', 'version'], env: envWith(pluginDir) },
  { name: 'kubectl dbaas --help (npm)', command: kubectl, args: ['dbaas', '--help'], env: envWith(pluginDir) },
  { name: 'node dist/cli.js version', command: node, args: [cli, 'version'], env: envWith(pluginDir) },
  { name: 'node dist/cli.js --help', command: node, args: [cli, '--help'], env: envWith(pluginDir) },
  { name: 'node dist/cli.js version, no compile cache', command: node, args: [cli, 'version'], env: envWith(pluginDir, { NODE_DISABLE_COMPILE_CACHE: '1' }) },
  { name: 'node dist/kubectl-dbaas.cjs version', command: node, args: [oneFile, 'version'], env: envWith(pluginDir) },
  { name: 'node -e 0 (Node itself)', command: node, args: ['-e', '0'], env: process.env },
  { name: 'floor: kubectl nodefloor (empty Node plugin)', command: kubectl, args: ['nodefloor'], env: envWith(pluginDir) },
  { name: 'floor: node + yargs alone, version', command: node, args: [yargsAlone, 'version'], env: envWith(pluginDir) },
  { name: 'api: kubectl get volumesnapshots', command: kubectl, args: ['get', 'volumesnapshots', '--kubeconfig', unreachable], env: process.env, status: 1 },
  {
    name: 'api: kubectl dbaas backup list (npm)',
    command: kubectl,
    args: ['dbaas', 'backup', 'list', '--kubeconfig', unreachable],
    env: envWith(pluginDir),
    status: 1,
  },
];
if (sea) {
  variants.push(
    { name: 'kubectl dbaas version (SEA)', command: kubectl, args: ['dbaas', 'version'], env: envWith(seaDir) },
    { name: 'kubectl dbaas --help (SEA)', command: kubectl, args: ['dbaas', '--help'], env: envWith(seaDir) },
    {
      name: 'api: kubectl dbaas backup list (SEA)',
      command: kubectl,
      args: ['dbaas', 'backup', 'list', '--kubeconfig', unreachable],
      env: envWith(seaDir),
      status: 1,
    },
  );
}
if (values.before) {
  variants.push({ name: 'before: node <old>/cli.js version', command: node, args: [values.before, 'version'], env: envWith(pluginDir) });
  variants.push({ name: 'before: node <old>/cli.js --help', command: node, args: [values.before, '--help'], env: envWith(pluginDir) });
}

function once(variant: Variant): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(variant.command, variant.args, { env: variant.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== (variant.status ?? 0))
    throw new Error(`${variant.name} exited ${result.status}, expected ${variant.status ?? 0}: ${result.stderr.toString()}`);
  return ms;
}

try {
  for (const variant of variants) for (let i = 0; i < 2; i++) once(variant); // warm-up (fills the compile cache)
  const times = variants.map(() => [] as number[]);
  for (let round = 0; round < runs; round++) {
    for (const [i, variant] of variants.entries()) times[i]!.push(once(variant));
  }

  const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const rows = variants.map((variant, i) => {
    const sorted = [...times[i]!].sort((a, b) => a - b);
    return { name: variant.name, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), runs: times[i]! };
  });
  const baseline = rows[0]!.median;
  process.stdout.write(
    `kubectl: ${kubectl}; node ${process.version}; ${runs} runs each, round-robin; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  process.stdout.write(`${'variant'.padEnd(46)} ${'median'.padStart(9)} ${'p90'.padStart(9)} ${'ratio'.padStart(7)}\n`);
  for (const row of rows) {
    process.stdout.write(
      `${row.name.padEnd(46)} ${`${row.median.toFixed(1)} ms`.padStart(9)} ${`${row.p90.toFixed(1)} ms`.padStart(9)} ${(row.median / baseline).toFixed(2).padStart(7)}\n`,
    );
  }
  for (const kind of ['npm', 'SEA']) {
    const target = rows.filter((row) => row.name.startsWith('kubectl dbaas') && row.name.endsWith(`(${kind})`));
    if (target.length === 0) continue;
    const worst = Math.max(...target.map((row) => row.median / baseline));
    process.stdout.write(`target (${kind}): kubectl dbaas version/--help <= 2.00x kubectl; worst ${worst.toFixed(2)}x: ${worst <= 2 ? 'met' : 'NOT met'}\n`);
  }
  const api = rows.find((row) => row.name === 'api: kubectl get volumesnapshots')!;
  for (const row of rows.filter((r) => r.name.startsWith('api: kubectl dbaas'))) {
    process.stdout.write(`first API call: ${row.name.slice(5)} ${(row.median / api.median).toFixed(2)}x kubectl get\n`);
  }
  const result = {
    bench: 'cli-startup',
    node: process.version,
    runs,
    loadavg: loadavg(),
    baselineMs: baseline,
    rows: rows.map((r) => ({ ...r, ratio: r.median / baseline })),
  };
  if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify({ ...result, rows: result.rows.map(({ runs: _runs, ...rest }) => rest) })}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
