// bench/list-scale: SnapshotClient.list of 5,000 VolumeSnapshots (all namespaces, paginated)
// against `kubectl get volumesnapshots -A -o json`, on a fresh local cluster, in the same run.
// Both run as their own process under /usr/bin/time (wall time, peak RSS), alternately, N times.
//
//   npx tsx bench/list-scale/run.ts [--count 5000] [--runs 3] [--namespaces 5] [--concurrency 32] [--page-size 500]
//                                   [--settle-seconds 60] [--tsx] [--json FILE]
//
// The SDK side is bench/list-child.ts bundled with esbuild as the published package is (the SDK's
// code in one file, its dependencies loaded from node_modules), run by plain `node`; `--tsx` runs
// the TypeScript sources through tsx instead (slower start, more memory: the transpiler).
import { execFileSync, spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../../packages/testing/src/index.js';
import { KubeClients, buildVolumeSnapshot, type VolumeSnapshot } from '../../packages/sdk/src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const COUNT = Number(arg('count', '5000'));
const RUNS = Number(arg('runs', '3'));
const NAMESPACES = Number(arg('namespaces', '5'));
const CONCURRENCY = Number(arg('concurrency', '32'));
const PAGE_SIZE = arg('page-size', '500');
const JSON_OUT = arg('json', '');
const SETTLE_SECONDS = Number(arg('settle-seconds', '60'));
const USE_TSX = process.argv.includes('--tsx');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** Runs a command under GNU time; returns wall seconds, peak RSS (KiB) and stdout. */
function timed(cmd: string, args: string[]): { wall: number; maxRssKiB: number; stdout: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'list-scale-'));
  const out = path.join(dir, 'time');
  const r = spawnSync('/usr/bin/time', ['-o', out, '-f', '%e %M', cmd, ...args], { cwd: root, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const [wall, rss] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  rmSync(dir, { recursive: true, force: true });
  return { wall: wall!, maxRssKiB: rss!, stdout: r.stdout };
}

const cluster = await LocalCluster.start({ log: (l) => console.error(l) });
try {
  const clients = KubeClients.load({ kubeconfig: cluster.kubeconfigPath });
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `list-scale-${i}`);
  for (const ns of namespaces) await clients.core.createNamespace({ body: { metadata: { name: ns } } });

  // COUNT snapshots: COUNT/2 online sets (data + -wal), spread over the namespaces.
  const objects: VolumeSnapshot[] = [];
  const t0 = Date.now();
  for (let i = 0; objects.length < COUNT; i++) {
    for (const role of ['data', 'wal'] as const) {
      if (objects.length >= COUNT) break;
      objects.push(
        buildVolumeSnapshot({
          namespace: namespaces[i % NAMESPACES]!,
          pvc: `data-pg-${i % 3}`,
          snapshotClass: 'csi-hostpath-snapclass',
          metadata: {
            backupSet: `b${String(i).padStart(5, '0')}`,
            role,
            mode: 'online',
            engine: 'postgres',
            engineVersion: '17.6',
            requestedAt: new Date(t0 - i * 60_000),
          },
        }),
      );
    }
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < objects.length) await clients.volumeSnapshots.create(objects[next++]!);
    }),
  );
  const createSeconds = (Date.now() - t0) / 1000;
  console.log(`created ${COUNT} VolumeSnapshots in ${createSeconds.toFixed(1)} s (${CONCURRENCY} in flight, ${(COUNT / createSeconds).toFixed(0)}/s)`);

  // Let the snapshot-controller mark them (status.error: their PVCs do not exist), so that both
  // tools read the objects with their status, as they would be on a real cluster.
  const t1 = Date.now();
  let marked = 0;
  while (Date.now() - t1 < SETTLE_SECONDS * 1000) {
    const all = await clients.volumeSnapshots.listAll({ allNamespaces: true });
    marked = all.filter((o) => o.status?.error).length;
    if (marked >= COUNT) break;
    await new Promise((r) => setTimeout(r, 3000));
  }
  console.log(`snapshot-controller set status.error on ${marked}/${COUNT} in ${((Date.now() - t1) / 1000).toFixed(1)} s (waited at most ${SETTLE_SECONDS} s)`);

  // Under node_modules so that the bundle's external imports resolve as an installed package's do.
  mkdirSync(path.join(root, 'node_modules', '.cache'), { recursive: true });
  const childDir = mkdtempSync(path.join(root, 'node_modules', '.cache', 'list-scale-'));
  const childFile = path.join(childDir, 'list-child.mjs');
  await build({
    entryPoints: [path.join(here, 'list-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    outfile: childFile,
    logLevel: 'warning',
  });
  const childCommand = USE_TSX ? ['--import', 'tsx', path.join(here, 'list-child.ts')] : [childFile];

  const sdk: { wall: number; maxRssKiB: number; listMs: number; rssBeforeKiB: number }[] = [];
  const kubectl: { wall: number; maxRssKiB: number }[] = [];
  let sdkInfo: { sets?: number; snapshots?: number; pages?: number; errorSets?: number } = {};
  let kubectlItems = 0;
  const env = { ...process.env, KUBECONFIG: cluster.kubeconfigPath };
  Object.assign(process.env, env);
  for (let r = 0; r < RUNS; r++) {
    const s = timed(process.execPath, [...childCommand, cluster.kubeconfigPath, PAGE_SIZE]);
    const info = JSON.parse(s.stdout.trim().split('\n').at(-1)!) as { listMs: number; rssBeforeKiB: number };
    sdkInfo = info as typeof sdkInfo;
    sdk.push({ wall: s.wall, maxRssKiB: s.maxRssKiB, listMs: info.listMs, rssBeforeKiB: info.rssBeforeKiB });
    const k = timed('kubectl', ['--kubeconfig', cluster.kubeconfigPath, 'get', 'volumesnapshots', '-A', '-o', 'json', `--chunk-size=${PAGE_SIZE}`]);
    kubectlItems = (JSON.parse(k.stdout) as { items: unknown[] }).items.length;
    kubectl.push({ wall: k.wall, maxRssKiB: k.maxRssKiB });
    console.log(
      `run ${r + 1}: sdk list ${info.listMs.toFixed(0)} ms (process ${s.wall.toFixed(2)} s, peak ${mib(s.maxRssKiB)}); kubectl ${k.wall.toFixed(2)} s, peak ${mib(k.maxRssKiB)}`,
    );
  }
  const kubectlVersion = execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  const result = {
    bench: 'list-scale',
    count: COUNT,
    runs: RUNS,
    pageSize: Number(PAGE_SIZE),
    sdkRunner: USE_TSX ? 'tsx (sources)' : 'node (esbuild bundle, dependencies external)',
    controllerMarked: marked,
    createSeconds,
    sdk: {
      ...sdkInfo,
      medianListMs: median(sdk.map((x) => x.listMs)),
      medianProcessSeconds: median(sdk.map((x) => x.wall)),
      medianPeakRssKiB: median(sdk.map((x) => x.maxRssKiB)),
      medianRssBeforeListKiB: median(sdk.map((x) => x.rssBeforeKiB)),
      runs: sdk,
    },
    kubectl: {
      items: kubectlItems,
      medianSeconds: median(kubectl.map((x) => x.wall)),
      medianPeakRssKiB: median(kubectl.map((x) => x.maxRssKiB)),
      runs: kubectl,
      version: (JSON.parse(kubectlVersion) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion,
    },
    loadavg: loadavg(),
  };
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(`\n${COUNT} VolumeSnapshots (${result.sdk.sets} sets), ${RUNS} runs each, medians; sdk run by ${result.sdkRunner}`);
  console.log(
    `wall      sdk list() ${result.sdk.medianListMs.toFixed(0)} ms; sdk process ${result.sdk.medianProcessSeconds.toFixed(2)} s   kubectl ${result.kubectl.medianSeconds.toFixed(2)} s   ratio (process/process) ${ratio(result.sdk.medianProcessSeconds, result.kubectl.medianSeconds)}, (list()/kubectl) ${ratio(result.sdk.medianListMs / 1000, result.kubectl.medianSeconds)}`,
  );
  console.log(
    `peak RSS  sdk process ${mib(result.sdk.medianPeakRssKiB)} (${mib(result.sdk.medianRssBeforeListKiB)} before list())   kubectl ${mib(result.kubectl.medianPeakRssKiB)}   ratio ${ratio(result.sdk.medianPeakRssKiB, result.kubectl.medianPeakRssKiB)}`,
  );
  console.log(JSON.stringify(result));
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(result, null, 2));
  rmSync(childDir, { recursive: true, force: true });
} finally {
  await cluster.stop();
}
