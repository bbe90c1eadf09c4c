// Start-up time of `kubectl dbaas` against kubectl's own, measured in the same run.
//
//   npx tsx bench/cli-startup/run.ts [--runs 30] [--sea PATH] [--before PATH/TO/old/dist/cli.js] [--json FILE]
//
// Each variant is a command line; all run round-robin (one run of each, then the next round), so
// a busy machine slows them alike. Reported: median and p90 wall time per variant, and the ratio
// of the median to `kubectl version --client`'s. Target (issue 6): kubectl dbaas <= 2x kubectl.
//
// `kubectl dbaas ...` goes through the real kubectl: a temporary directory first on PATH holds
// `kubectl-dbaas` (a symlink to the build) and `node` (the repository's Node 24, which the
// build's `#!/usr/bin/env node` finds). With --sea (default: packages/kubectl-dbaas/release/
// linux-amd64/kubectl-dbaas when built) the single executable is measured the same way.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

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
const basePath = process.env['PATH'] ?? '';
const envWith = (dir: string, extra: Record<string, string> = {}) => ({ ...process.env, PATH: `${dir}${path.delimiter}${basePath}`, NODE_COMPILE_CACHE: cacheDir, ...extra });

interface Variant {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
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
];
if (sea) {
  variants.push(
    { name: 'kubectl dbaas version (SEA)', command: kubectl, args: ['dbaas', 'version'], env: envWith(seaDir) },
    { name: 'kubectl dbaas --help (SEA)', command: kubectl, args: ['dbaas', '--help'], env: envWith(seaDir) },
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
  if (result.status !== 0) throw new Error(`${variant.name} failed (${result.status}): ${result.stderr.toString()}`);
  return ms;
}

try {
  for (const variant of variants) for (let i = 0; i < 2; i++) once(variant); // warm-up (fills the compile cache)
  const times = variants.map(() => [] as number[]);
  for (let round = 0; round < runs; round++) variants.forEach((variant, i) => times[i]!.push(once(variant)));

  const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const rows = variants.map((variant, i) => {
    const sorted = [...times[i]!].sort((a, b) => a - b);
    return { name: variant.name, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), runs: times[i]! };
  });
  const baseline = rows[0]!.median;
  process.stdout.write(`kubectl: ${kubectl}; node ${process.version}; ${runs} runs each, round-robin; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  process.stdout.write(`${'variant'.padEnd(46)} ${'median'.padStart(9)} ${'p90'.padStart(9)} ${'ratio'.padStart(7)}\n`);
  for (const row of rows) {
    process.stdout.write(`${row.name.padEnd(46)} ${`${row.median.toFixed(1)} ms`.padStart(9)} ${`${row.p90.toFixed(1)} ms`.padStart(9)} ${(row.median / baseline).toFixed(2).padStart(7)}\n`);
  }
  const target = rows.filter((row) => row.name.startsWith('kubectl dbaas'));
  const worst = Math.max(...target.map((row) => row.median / baseline));
  process.stdout.write(`target: kubectl dbaas <= 2.00x kubectl; worst ${worst.toFixed(2)}x: ${worst <= 2 ? 'met' : 'NOT met'}\n`);
  const result = { bench: 'cli-startup', node: process.version, runs, loadavg: loadavg(), baselineMs: baseline, rows: rows.map((r) => ({ ...r, ratio: r.median / baseline })) };
  if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify({ ...result, rows: result.rows.map(({ runs: _runs, ...rest }) => rest) })}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
