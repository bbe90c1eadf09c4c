// One `SnapshotClient.list({ allNamespaces: true })` in a fresh process, for bench/list-scale/run.ts:
// prints the list's own time and the process's RSS before it and at its peak as one JSON line.
import { KubeClients, SnapshotClient } from '../../packages/sdk/src/index.js';

const [kubeconfig, pageSize = '500'] = process.argv.slice(2);
const client = new SnapshotClient(KubeClients.load({ kubeconfig: kubeconfig! }));
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const result = await client.list({ allNamespaces: true, pageSize: Number(pageSize) });
const listMs = performance.now() - t0;
console.log(
  JSON.stringify({
    listMs,
    sets: result.items.length,
    snapshots: result.snapshotCount,
    pages: result.pages,
    errorSets: result.items.filter((s) => s.state === 'error').length,
    rssBeforeKiB: Math.round(rssBefore / 1024),
    maxRssKiB: process.resourceUsage().maxRSS,
  }),
);
