// e2e (docs/architecture.md, "Test tiers": cluster): verify's scratch pods as they meet a real
// cluster, through the built plugin. A pod no node can take (--node-selector with a label no node
// has) fails in seconds with the scheduler's text and a fix, exit 1, instead of waiting out
// --timeout; a malformed --node-selector is a usage error (exit 2) before anything is created; a
// key Kubernetes refuses is the SDK's usage error, named by its flag.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeClients } from '@kubectl-dbaas/sdk';
import { clusterFromEnv, createBoundPvc, hostpathSkipReason, skipWhen, STORAGE_CLASS } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectUsageError, KubectlWithPlugin, showRun as show } from './kubectl-plugin.js';
import { deleteNamespaceAndWait } from './postgres-statefulset.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.resolve(here, '../../dist/cli.js');
const info = clusterFromEnv(inject('dbaasCluster'));
const why = hostpathSkipReason(info, "verify's pods on a bound PVC");
const ns = `cli-vpods-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
let plugin: KubectlWithPlugin | undefined;

beforeAll(async () => {
  if (why) return;
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npm run build); these tests run the built plugin`);
  plugin = await KubectlWithPlugin.create(BUNDLE, info.kubeconfig);
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  await createBoundPvc(clients, info, {
    metadata: { name: 'data', namespace: ns },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '16Mi' } } },
  });
}, 180_000);

afterAll(async () => {
  if (!why) await deleteNamespaceAndWait(clients, ns);
  await plugin?.dispose();
}, 240_000);

describe('verify --pvc: a scratch pod that cannot start', () => {
  it("no node has the selected label: exit 1 in seconds with the scheduler's text and the fix, not at --timeout; no pod left", skipWhen(why), async () => {
    const started = Date.now();
    const r = await plugin!.dbaas(['verify', '--pvc', 'data', '-n', ns, '--node-selector', 'dbaas.io/no-such-node=true', '--timeout', '5m'], {
      timeoutMs: 120_000,
    });
    const ms = Date.now() - started;
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        // The inspect pod of the clone verify checks in the PVC's place.
        `verification pod ${ns}/verify-data-[0-9a-f]{6}-inspect cannot start: its pod verify-data-[0-9a-f]{6}-inspect: FailedScheduling: 0/1 nodes are available: 1 node\\(s\\) didn't match Pod's node affinity/selector`,
      ),
    );
    expect(r.stderr).toMatch(/Give the scheduler a node that fits/);
    expect(ms, `reported after ${ms} ms: the scheduling grace (5 s), not the 5 min timeout`).toBeLessThan(45_000);
    expect((await clients.core.listNamespacedPod({ namespace: ns })).items.filter((p) => !p.metadata?.deletionTimestamp)).toEqual([]);
    // The clone is deleted on that path too.
    const claims = (await clients.core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items.filter((p) => !p.metadata?.deletionTimestamp);
    expect(claims.map((p) => p.metadata!.name)).toEqual(['data']);
    console.log(`[verify-pods.cluster] unschedulable scratch pod reported by the CLI after ${ms} ms`);
  });

  it('a --node-selector that is not KEY=VALUE, or whose key Kubernetes refuses: usage errors (exit 2) naming the flag', skipWhen(why), async () => {
    const malformed = ['verify', '--pvc', 'data', '-n', ns, '--node-selector', 'no-equals-sign'];
    expectUsageError(await plugin!.dbaas(malformed), malformed, /--node-selector: "no-equals-sign" is not KEY=VALUE/);
    const badKey = ['verify', '--pvc', 'data', '-n', ns, '--node-selector', 'bad key!=x'];
    const r = await plugin!.dbaas(badKey);
    expectUsageError(r, badKey, /nodeSelector: /);
    expect(r.stderr).toMatch(/flag: --node-selector/);
    expect((await clients.core.listNamespacedPod({ namespace: ns })).items).toEqual([]);
  });
});
