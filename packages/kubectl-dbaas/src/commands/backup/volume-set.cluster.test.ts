// e2e (docs/architecture.md, "Test tiers": cluster): the real `kubectl` runs `kubectl dbaas` from
// PATH against the shared local cluster, for a PostgreSQL StatefulSet whose pg_wal lives on a second
// PVC (POSTGRES_INITDB_WALDIR): `backup create --pod` takes both volumes as one fenced set, `backup
// list` and `describe` show it, `restore` says where each PVC must be mounted, `verify --backup`
// checks the whole set, and a crash backup of it is one VolumeGroupSnapshot that `backup delete`
// removes. Skipped, with the reason
// printed, without a node or the CSI hostpath plugin.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeClients } from '@kubectl-dbaas/sdk';
import { POSTGRES_WAL_MOUNT, clusterFromEnv, deployPostgres, hostpathSkipReason, livePvcNames, skipWhen, type PostgresPod } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { KubectlWithPlugin, showRun as show } from '../../e2e/kubectl-plugin.js';
import { deleteNamespaceAndWait, E2E_MAJOR, POSTGRES_IMAGE_TEMPLATE } from '../../e2e/postgres-statefulset.js';
import type { RestoreReport } from '../../restore-report.js';
import type { VerifyReport } from '../verify/run.js';
import type { BackupCreateReport } from './create/run.js';
import type { BackupListDocument } from './list/run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.resolve(here, '../../../dist/cli.js');
const info = clusterFromEnv(inject('dbaasCluster'));
const why = hostpathSkipReason(info, 'kubectl dbaas with a PostgreSQL of several volumes');
const ns = `cli-vset-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
let plugin: KubectlWithPlugin;
let source: PostgresPod | undefined;
const dbaas = (args: string[], timeoutMs = 280_000) => plugin.dbaas(args, { timeoutMs });

beforeAll(async () => {
  if (why) return;
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npx turbo run build); these tests run the built plugin`);
  plugin = await KubectlWithPlugin.create(BUNDLE, info.kubeconfig);
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  source = await deployPostgres({ kubeConfig: clients.kubeConfig, namespace: ns, name: 'pg', major: E2E_MAJOR, walVolume: true });
  await source.query('create table t (id bigint primary key, w int not null, pad text not null)');
  await source.query("insert into t select g, 0, 'x' from generate_series(1, 1000) g");
}, 180_000);

afterAll(async () => {
  await source?.close().catch(() => undefined);
  if (!why) await deleteNamespaceAndWait(clients, ns).catch((error: unknown) => console.warn(`[cleanup] namespace ${ns}: ${(error as Error).message}`));
  await plugin?.dispose();
});

describe('kubectl dbaas with pg_wal on its own PVC (real kubectl, plugin on PATH)', () => {
  it(
    'backup create --pod: one fenced set of both volumes; list and describe show it; crash cuts the set with one VolumeGroupSnapshot, which delete removes',
    skipWhen(why),
    async () => {
      const plan = await dbaas([
        'backup',
        'create',
        '--pod',
        'pg-0',
        '--mode',
        'crash',
        '--force',
        '--name',
        'cli-crash',
        '-n',
        ns,
        '--dry-run=client',
        '-o',
        'yaml',
      ]);
      expect(plan.code, show(plan)).toBe(0);
      expect((parseYaml(plan.stdout) as { items: { kind: string; metadata: { name: string } }[] }).items.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
        'VolumeGroupSnapshot/cli-crash',
      ]);
      expect(plan.stderr).toMatch(/VolumeGroupSnapshot cli-crash \(class csi-hostpath-groupsnapclass\) cuts PVCs data-pg-0, wal-pg-0 at one instant/);
      const crash = await dbaas(['backup', 'create', '--pod', 'pg-0', '--mode', 'crash', '--force', '--name', 'cli-crash', '-n', ns, '-o', 'json']);
      expect(crash.code, show(crash)).toBe(0);
      expect((JSON.parse(crash.stdout) as BackupCreateReport).snapshots.map((s) => [s.name.startsWith('snapshot-'), s.role])).toEqual([
        [true, 'data'],
        [true, 'volume'],
      ]);
      const removed = await dbaas(['backup', 'delete', 'cli-crash', '-n', ns]);
      expect(removed.code, show(removed)).toBe(0);
      expect(await clients.volumeGroupSnapshots.list({ namespace: ns })).toMatchObject({ items: [] });

      const r = await dbaas(['backup', 'create', '--pod', 'pg-0', '--mode', 'fenced', '--name', 'cli-set', '-n', ns, '-o', 'json']);
      expect(r.code, show(r)).toBe(0);
      const report = JSON.parse(r.stdout) as BackupCreateReport;
      expect(report.snapshots.map((s) => [s.name, s.role])).toEqual([
        ['cli-set', 'data'],
        ['cli-set-vol-wal', 'volume'],
      ]);
      const list = await dbaas(['backup', 'list', '-n', ns, '-o', 'json']);
      expect(list.code, show(list)).toBe(0);
      const [item] = (JSON.parse(list.stdout) as BackupListDocument).items;
      expect(item?.volumes?.map((v) => v.name)).toEqual(['cli-set-vol-wal']);
      const described = await dbaas(['backup', 'describe', 'cli-set', '-n', ns]);
      expect(described.code, show(described)).toBe(0);
      expect(described.stdout).toContain('cli-set-vol-wal');
      expect(described.stdout).toMatch(/yes: a copy of a cleanly stopped database/);
    },
  );

  it('restore names each PVC and where to mount it; verify --backup checks the whole set and leaves nothing', skipWhen(why), async () => {
    const text = await dbaas(['restore', 'cli-set', '--to', 'copy', '-n', ns]);
    expect(text.code, show(text)).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^volumes: +PVC copy-wal \\(pg_wal\\) mounted at ${POSTGRES_WAL_MOUNT}: mount each where it says`, 'm'));
    const json = await dbaas(['restore', 'cli-set', '--to', 'again', '-n', ns, '-o', 'json']);
    expect(json.code, show(json)).toBe(0);
    expect((JSON.parse(json.stdout) as RestoreReport).volumes).toEqual([{ volume: 'wal', holds: 'wal', mountPath: POSTGRES_WAL_MOUNT, pvc: 'again-wal' }]);
    // For a pod that mounts the WAL volume elsewhere: a Job re-points the link (dry run: what would be created).
    const moved = await dbaas(['restore', 'cli-set', '--to', 'moved', '--volume-mount', 'wal=/pgwal', '-n', ns, '--dry-run=client', '-o', 'yaml']);
    expect(moved.code, show(moved)).toBe(0);
    const items = (parseYaml(moved.stdout) as { items: { kind: string; metadata: { name: string } }[] }).items;
    expect(items.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual(['PersistentVolumeClaim/moved', 'PersistentVolumeClaim/moved-wal', 'Job/moved-relink']);
    const badMount = await dbaas(['restore', 'cli-set', '--to', 'moved', '--volume-mount', 'wal', '-n', ns]);
    expect(badMount.code, show(badMount)).toBe(2);
    expect(badMount.stderr).toMatch(/--volume-mount: "wal" must be VOLUME=PATH/);

    const before = await livePvcNames(clients, ns);
    const v = await dbaas([
      'verify',
      '--backup',
      'cli-set',
      '--image',
      POSTGRES_IMAGE_TEMPLATE,
      '-n',
      ns,
      '--check',
      'rows=select count(*) = 1000 from t',
      '-o',
      'json',
    ]);
    expect(v.code, show(v)).toBe(0);
    const verified = JSON.parse(v.stdout) as VerifyReport;
    expect(verified).toMatchObject({ ok: true, failures: [], scratch: true });
    expect(verified.offline).toMatchObject({ verdict: 'clean-shutdown', safe: true });
    expect(await livePvcNames(clients, ns)).toEqual(before);
  });
});
