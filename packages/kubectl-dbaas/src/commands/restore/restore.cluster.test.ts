// e2e (docs/architecture.md, "Test tiers": cluster): the real `kubectl` on this machine runs `kubectl dbaas restore`
// and `kubectl dbaas verify` from PATH (a `kubectl-dbaas` shim that execs the built bundle,
// dist/cli.js, with this Node) against the shared local cluster.
//
// - Usage errors, an unknown backup, missing namespaces, an existing target PVC and the dry runs
//   run everywhere: the backup is a pre-provisioned VolumeSnapshotContent + VolumeSnapshot of a
//   driver no CSI sidecar serves (made ready by writing the content's status), with a StorageClass
//   of that driver (a restore plan only reads it).
// - Real restores and verifications run with PostgreSQL in a StatefulSet on the node, the
//   restore-prep Job and verify's pods (skipped, with the reason printed, without a node or the
//   CSI hostpath plugin).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DBAAS_LABELS, KubeClients, watchUntil, type VolumeSnapshot } from '@kubectl-dbaas/sdk';
import { clusterFromEnv, eventually, livePvcNames, LOCAL_NODE_NAME, provisionBackupSnapshot, STORAGE_CLASS_WFFC } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyRbacDocRoles, rbacDocRoles, serviceAccountKubeconfig } from '../../e2e/rbac-doc.js';
import { expectUsageError, KubectlWithPlugin, showRun, type KubectlRunOptions } from '../../e2e/kubectl-plugin.js';
import {
  ackedCheck,
  applyPostgresStatefulSet,
  connectThrough,
  createPostgresSecret,
  deleteNamespaceAndWait,
  E2E_MAJOR,
  POSTGRES_IMAGE_TEMPLATE,
  portForward,
  postgresImage,
  seed,
  waitStatefulSetReady,
  Writer,
  type PortForward,
} from '../../e2e/postgres-statefulset.js';
import { parse as parseYaml } from 'yaml';
import type { BackupCreateReport } from '../backup/create/run.js';
import type { VerifyReport } from '../verify/run.js';
import type { RestoreReport } from '../../restore-report.js';
import { skipWhen } from '@kubectl-dbaas/testing';

type Pvc = {
  metadata?: { name?: string; labels?: Record<string, string>; deletionTimestamp?: unknown };
  spec?: { dataSource?: { name?: string } };
  status?: { phase?: string };
};
type Manifest = { kind: string; metadata: { name: string; uid?: string } };

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.resolve(here, '../../../dist/cli.js');
const info = clusterFromEnv(inject('dbaasCluster'));
const stamp = Date.now().toString(36);
const ns = `cli-rs-${stamp}`;
const otherNs = `cli-rs-other-${stamp}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const UNSERVED_DRIVER = 'unserved-restore.csi.kubectl-dbaas.test';
const UNSERVED_CLASS = `unserved-restore-${stamp}`;
const contents: string[] = [];
const clusterObjects: string[] = [];
/** A kubeconfig of a service account bound to the restore/verify roles of docs/rbac.md (set by the RBAC test). */
let limited: string | undefined;
let shimDir: string;

let plugin: KubectlWithPlugin;
const kubectl = (args: string[], opts?: KubectlRunOptions) => plugin.run(args, opts);
const dbaas = (args: string[], opts?: KubectlRunOptions) => plugin.dbaas(args, opts);
const show = showRun;

/** VolumeSnapshots of a namespace and the contents bound to it, not being deleted. */
async function snapshotObjects(namespace: string): Promise<string[]> {
  const vs = (await clients.volumeSnapshots.listAll({ namespace })).filter((s) => !s.metadata.deletionTimestamp).map((s) => `vs/${s.metadata.name}`);
  const vsc = (await clients.volumeSnapshotContents.listAll())
    .filter((c) => c.spec.volumeSnapshotRef.namespace === namespace && !c.metadata.deletionTimestamp)
    .map((c) => `vsc/${c.metadata.name}`);
  return [...vs, ...vsc].sort();
}

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npx turbo run build); these tests run the built plugin`);
  plugin = await KubectlWithPlugin.create(BUNDLE, info.kubeconfig);
  shimDir = plugin.shimDir;
  for (const name of [ns, otherNs]) await clients.core.createNamespace({ body: { metadata: { name } } });
  // A fenced backup of a driver no sidecar serves, ready (the status a CSI sidecar would write).
  contents.push(await provisionBackupSnapshot(clients, { namespace: ns, set: 'alpha', role: 'data', mode: 'fenced', driver: UNSERVED_DRIVER }));
  await watchUntil<VolumeSnapshot>(clients, {
    path: clients.volumeSnapshots.path({ namespace: ns }),
    name: 'alpha',
    predicate: (vs) => vs?.status?.readyToUse === true,
    deadline: Date.now() + 60_000,
    what: 'to be ready',
  });
  await clients.storage.createStorageClass({ body: { metadata: { name: UNSERVED_CLASS }, provisioner: UNSERVED_DRIVER, volumeBindingMode: 'Immediate' } });
  // A PVC that exists already: a restore must refuse it and leave it alone.
  await clients.core.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: {
      metadata: { name: 'taken' },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: UNSERVED_CLASS, resources: { requests: { storage: '1Gi' } } },
    },
  });
}, 180_000);

afterAll(async () => {
  for (const name of [ns, otherNs])
    await deleteNamespaceAndWait(clients, name).catch((error: unknown) => console.warn(`[cleanup] namespace ${name}: ${(error as Error).message}`));
  for (const c of contents) await clients.volumeSnapshotContents.delete(c).catch(() => undefined);
  await clients.storage.deleteStorageClass({ name: UNSERVED_CLASS }).catch(() => undefined);
  for (const o of clusterObjects) await kubectl(['delete', o, '--ignore-not-found']).catch(() => undefined);
  await plugin?.dispose();
});

describe('kubectl dbaas restore / verify: refusals (real kubectl, plugin on PATH; no CSI plugin needed)', () => {
  it('bad flags exit 2 with a useful message and nothing on stdout; verify with both --backup and --pvc is one', async () => {
    const cases: [string[], RegExp][] = [
      [['restore', 'alpha', '-n', ns], /error: name the new PVC: --to PVC/],
      [['restore', 'alpha', '--to', 'r', '--size', 'big'], /--size: "big" is not a storage quantity/],
      [['restore', 'alpha', '--to', 'r', '--prep', 'local'], /error: Unknown argument: prep/],
      [['verify', '--backup', 'alpha', '--pvc', 'taken', '-n', ns], /error: --backup and --pvc do not go together/],
      [['verify', '--pvc', 'taken', '--check', 'no-equals-sign'], /--check: "no-equals-sign" is not NAME=SQL/],
      [['verify', '--pvc', 'taken', '--bogus'], /error: Unknown argument: bogus/],
    ];
    for (const [args, message] of cases) expectUsageError(await dbaas(args), args, message);
  });

  it('an unknown backup exits 1 with the backup list fix; verify --backup too', async () => {
    for (const args of [
      ['restore', 'nope', '--to', 'r', '-n', ns],
      ['verify', '--backup', 'nope', '-n', ns],
    ]) {
      const r = await dbaas(args);
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: backup "nope" not found in namespace "${ns}"`, 'm'));
      expect(r.stderr).toMatch(new RegExp(`^fix: List the backups of the namespace: kubectl get volumesnapshots -n ${ns} `, 'm'));
      expect(r.stdout).toBe('');
    }
  });

  it('a missing namespace (target or --from-namespace) is named', async () => {
    const cases = [
      [['restore', 'alpha', '--to', 'r', '-n', `${ns}-missing`], `${ns}-missing`, '--namespace'],
      [['restore', 'alpha', '--to', 'r', '-n', ns, '--from-namespace', `${ns}-gone`], `${ns}-gone`, '--from-namespace'],
      [['verify', '--backup', 'alpha', '-n', `${ns}-missing`], `${ns}-missing`, '--namespace'],
      [['verify', '--pvc', 'pg', '-n', `${ns}-missing`], `${ns}-missing`, '--namespace'],
    ] as const;
    for (const [args, missing, flag] of cases) {
      const r = await dbaas([...args]);
      expect(r.code, `${args.join(' ')}\n${show(r)}`).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: namespace "${missing}" not found .*\nflag: ${flag}\n`, 'm'));
      expect(r.stderr).toContain('fix: Check the name with kubectl get namespaces');
    }
  });

  it('an existing target PVC is refused and left untouched', async () => {
    const r = await dbaas(['restore', 'alpha', '--to', 'taken', '-n', ns, '--storage-class', UNSERVED_CLASS]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/error: PVC .*\/taken already exists: a restore never overwrites or adopts a volume/);
    const taken = (await clients.core.readNamespacedPersistentVolumeClaim({ name: 'taken', namespace: ns })) as Pvc;
    expect(taken.metadata?.labels?.[DBAAS_LABELS.restoredFrom]).toBeUndefined();
  });

  it('--dry-run=client -o yaml prints the PVC (parsed here) and creates nothing; server dry runs are validated, across namespaces with the temporary pair', async () => {
    const r = await dbaas(['restore', 'backup/alpha', '--to', 'planned', '-n', ns, '--dry-run=client', '-o', 'yaml']);
    expect(r.code, show(r)).toBe(0);
    const list = parseYaml(r.stdout) as { kind: string; items: (Manifest & Pvc)[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual(['PersistentVolumeClaim/planned']);
    expect(list.items[0]!.spec?.dataSource?.name).toBe('alpha');
    expect(list.items[0]!.metadata.labels).toMatchObject({ [DBAAS_LABELS.restoredFrom]: 'alpha', [DBAAS_LABELS.restoreType]: 'snapshot' });
    expect(r.stderr).toMatch(/^dry run \(client: nothing sent to the API server\): restore backup .*\/alpha -> PVC .*\/planned$/m);
    expect(r.stderr).toMatch(new RegExp(`^PVC size 1Gi, StorageClass ${UNSERVED_CLASS}$`, 'm'));

    const server = await dbaas(['restore', 'alpha', '--from-namespace', ns, '--to', 'copy', '-n', otherNs, '--dry-run=server', '-o', 'json']);
    expect(server.code, show(server)).toBe(0);
    const items = (JSON.parse(server.stdout) as { items: Manifest[] }).items;
    expect(items.map((m) => m.kind)).toEqual(['VolumeSnapshotContent', 'VolumeSnapshot', 'PersistentVolumeClaim']);
    expect(items.every((m) => m.metadata.uid)).toBe(true); // the API server's answers
    expect(server.stderr).toMatch(/^cross-namespace: a VolumeSnapshotContent \(Retain, the backup's snapshotHandle\)/m);
    const names = await dbaas(['restore', 'alpha', '--from-namespace', ns, '--to', 'copy', '-n', otherNs, '--dry-run=client', '-o', 'name']);
    expect(names.stdout).toBe(
      `volumesnapshotcontent.snapshot.storage.k8s.io/dbaas-${otherNs}-copy-dbaas-src\nvolumesnapshot.snapshot.storage.k8s.io/copy-dbaas-src\npersistentvolumeclaim/copy\n`,
    );
    const text = await dbaas(['restore', 'alpha', '--to', 'planned', '-n', ns, '--dry-run=client']);
    expect(text.stdout).toMatch(/^# dry run \(client/);
    expect(await livePvcNames(clients, ns)).toEqual(['taken']);
    expect(await livePvcNames(clients, otherNs)).toEqual([]);
    expect(await snapshotObjects(otherNs)).toEqual([]);
  });
});

describe('RBAC (docs/rbac.md): the restore and verify roles', () => {
  it('without permissions: forbidden, with the rule to add; with the roles: restore dry runs work, in the namespace and across namespaces', async () => {
    const sa = 'restore-operator';
    const kubeconfig = await serviceAccountKubeconfig(clients, {
      namespace: ns,
      name: sa,
      baseKubeconfig: info.kubeconfig,
      file: path.join(shimDir, 'restore-operator.kubeconfig'),
    });

    const denied = await dbaas(['restore', 'alpha', '--to', 'r', '-n', ns, '--dry-run=client'], { kubeconfig });
    expect(denied.code, show(denied)).toBe(1);
    expect(denied.stderr).toMatch(/forbidden/i);
    expect(denied.stderr).toContain('resources: ["volumesnapshots"]');

    // The restore and verify roles, bound in both namespaces; the backup-read role in the backup's
    // namespace (a cross-namespace restore reads the backup there).
    const objects = await rbacDocRoles((name) => /^kubectl-dbaas-(restore|verify|backup-read)(-cluster)?$/.test(name));
    expect(objects.map((o) => o.metadata.name)).toEqual([
      'kubectl-dbaas-backup-read',
      'kubectl-dbaas-backup-read-cluster',
      'kubectl-dbaas-restore',
      'kubectl-dbaas-restore-cluster',
      'kubectl-dbaas-verify',
    ]);
    await applyRbacDocRoles(kubectl, objects, {
      namespaces: [ns, otherNs],
      serviceAccount: { name: sa, namespace: ns },
      clusterSuffix: ns,
      manifestFile: path.join(shimDir, 'restore-rbac.json'),
      clusterObjects,
    });

    const same = await dbaas(['restore', 'alpha', '--to', 'rbac-plan', '-n', ns, '--dry-run=server', '-o', 'name'], { kubeconfig });
    expect(same.code, show(same)).toBe(0);
    expect(same.stdout).toBe('persistentvolumeclaim/rbac-plan\n');
    const across = await dbaas(['restore', 'alpha', '--from-namespace', ns, '--to', 'rbac-copy', '-n', otherNs, '--dry-run=server', '-o', 'name'], {
      kubeconfig,
    });
    expect(across.code, show(across)).toBe(0);
    expect(across.stdout.split('\n').filter(Boolean)).toHaveLength(3);
    limited = kubeconfig;
  });
});

describe('kubectl dbaas restore / verify end to end: PostgreSQL in a StatefulSet, the restore-prep Job, verify in pods', () => {
  // Where a user has the database: a StatefulSet on the node. `--mode online` needs SQL, and the CLI
  // has no built-in port-forward yet: the test runs `kubectl port-forward` and passes
  // --host 127.0.0.1 --port <local>, as docs/cli.md tells users to.
  const why = info.nodeUnavailable
    ? `the test cluster has no node: ${info.nodeUnavailable}`
    : info.hostpathUnavailable
      ? `CSI hostpath plugin unavailable: ${info.hostpathUnavailable}`
      : undefined;
  if (why) console.warn(`[dbaas-testing] SKIPPING kubectl dbaas restore/verify e2e tests (not passed): ${why}`);
  const PREP_IMAGE = postgresImage(E2E_MAJOR);
  let pf: PortForward | undefined;
  let acked: number[] = [];
  let backup: BackupCreateReport;

  beforeAll(async () => {
    if (why) return;
    await createPostgresSecret(clients, ns, 'pg-app');
    const pg = await applyPostgresStatefulSet(clients, { namespace: ns, name: 'pg', secret: 'pg-app' });
    await waitStatefulSetReady(clients, pg);
    pf = await portForward(info.kubeconfig, ns, pg.pod);
    const db = await connectThrough(clients, pg, pf);
    try {
      await seed(db);
      // Writes, then the online backup in the lull after them: on hostpath the driver's tar of a live
      // directory fails under writes (docs/consistency.md). Every acknowledged row must come back.
      const writer = new Writer(db).start();
      await writer.until(300);
      await writer.stop();
      expect(writer.failedAt).toBeUndefined();
      acked = writer.ids();
    } finally {
      await db.end();
    }
    const r = await dbaas(
      [
        'backup',
        'create',
        '--pvc',
        pg.pvc,
        '--mode',
        'online',
        '--db-secret',
        'pg-app',
        '--host',
        '127.0.0.1',
        '--port',
        String(pf.port),
        '--name',
        'cli-online',
        '--timeout',
        '4m',
        '-n',
        ns,
        '-o',
        'json',
      ],
      { timeoutMs: 280_000 },
    );
    if (r.code !== 0) throw new Error(`backup create: ${show(r)}`);
    backup = JSON.parse(r.stdout) as BackupCreateReport;
  }, 400_000);

  afterAll(async () => {
    await pf?.close();
  });

  it(
    'restore: the restore-prep Job (our image) completes the online backup; verify --pvc in pods passes with every acknowledged row',
    skipWhen(why),
    async () => {
      expect(backup.snapshots.map((s) => s.name)).toEqual(['cli-online', 'cli-online-wal']);
      const r = await dbaas(['restore', 'cli-online', '--to', 'restored', '--prep-image', PREP_IMAGE, '-n', ns], { timeoutMs: 280_000 });
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^PVC: +${ns}/restored \\(volume pvc-[0-9a-f-]+\\)$`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^backup: +.*/cli-online \\(online, PostgreSQL ${E2E_MAJOR}\\.\\d+\\)$`, 'm'));
      expect(r.stdout).toMatch(/^state: +ready: the PVC holds the backup, its WAL and backup_label/m);
      expect(r.stdout).toMatch(/^RTO: +\d+\.\ds in all: PVC created -> Bound \d+\.\ds, restore-prep \(WAL and backup_label\) \d+\.\ds$/m);
      expect(r.stdout).toMatch(/^phases: +resolved \+[\d.]+s, pvc-created \+[\d.]+s, bound \+[\d.]+s, prep-started \+[\d.]+s, data-ready \+[\d.]+s$/m);
      expect(r.stderr).toMatch(/^\[ *[\d.]+s\] restored backup .*\/cli-online into PVC .*\/restored \(ready\)$/m);
      const pvc = (await clients.core.readNamespacedPersistentVolumeClaim({ name: 'restored', namespace: ns })) as Pvc;
      expect(pvc.metadata?.labels).toMatchObject({ [DBAAS_LABELS.restoredFrom]: 'cli-online', [DBAAS_LABELS.restoreType]: 'snapshot' });
      await eventually(async () => !(await livePvcNames(clients, ns)).includes('restored-dbaas-wal'), 'the WAL scratch PVC gone');
      await eventually(async () => (await clients.batch.listNamespacedJob({ namespace: ns })).items.length === 0, 'the restore-prep Job gone');

      const v = await dbaas(
        ['verify', '--pvc', 'restored', '--image', POSTGRES_IMAGE_TEMPLATE, '-n', ns, '--check', ackedCheck(acked), '--amcheck', 'install', '-o', 'json'],
        { timeoutMs: 280_000 },
      );
      expect(v.code, show(v)).toBe(0);
      const report = JSON.parse(v.stdout) as VerifyReport;
      expect(report).toMatchObject({
        kind: 'Verify',
        ok: true,
        failures: [],
        scratch: false,
        pvc: 'restored',
        clone: expect.stringMatching(/^verify-restored-[0-9a-f]{6}$/),
        runtime: 'pods in the cluster (exec and port-forward)',
        backup: { name: 'cli-online', mode: 'online' },
      });
      expect(report.offline).toMatchObject({ verdict: 'online-backup-complete', safe: true });
      expect(report.live).toMatchObject({ inRecovery: false, checks: [{ name: 'acked', ok: true }] });
      expect(report.live!.amcheck.ran).toBe(true);
      expect(report.live!.timeline).toBe(report.live!.expectedTimeline);
    },
  );

  it(
    'restore --dry-run=client -o yaml of the online backup: data PVC, WAL scratch PVC and the restore-prep Job with --prep-image; nothing created',
    skipWhen(why),
    async () => {
      const r = await dbaas(['restore', 'cli-online', '--to', 'planned-online', '--prep-image', PREP_IMAGE, '-n', ns, '--dry-run=client', '-o', 'yaml']);
      expect(r.code, show(r)).toBe(0);
      const list = parseYaml(r.stdout) as { items: (Manifest & { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } })[] };
      expect(list.items.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
        'PersistentVolumeClaim/planned-online',
        'PersistentVolumeClaim/planned-online-dbaas-wal',
        'Job/planned-online-prep',
      ]);
      expect(list.items[2]!.spec?.template?.spec?.containers?.[0]?.image).toBe(PREP_IMAGE);
      expect(r.stderr).toMatch(new RegExp(`^restore-prep runs as the Job planned-online-prep \\(image ${PREP_IMAGE.replaceAll('.', '\\.')}\\)$`, 'm'));
      expect(await livePvcNames(clients, ns)).not.toContain('planned-online');
    },
  );

  it(
    'verify --backup: a scratch restore (restore-prep Job), an inspect pod and a scratch PostgreSQL pod, checked, then all removed (text output)',
    skipWhen(why),
    async () => {
      const r = await dbaas(
        ['verify', '--backup', 'cli-online', '--image', POSTGRES_IMAGE_TEMPLATE, '--prep-image', PREP_IMAGE, '-n', ns, '--check', ackedCheck(acked)],
        { timeoutMs: 280_000 },
      );
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toMatch(/^result: +PASSED$/m);
      expect(r.stdout).toMatch(/^PVC: +.*\/verify-cli-online-[0-9a-f]{6} \(scratch restore, deleted afterwards\)$/m);
      expect(r.stdout).toMatch(/^runtime: +pods in the cluster \(exec and port-forward\)$/m);
      expect(r.stdout).toMatch(/^offline: +online-backup-complete \(safe to start\)/m);
      expect(r.stdout).toMatch(/^amcheck: +bt_index_check on \d+ btree index\(es\) in \d+ database\(s\): no corruption found$/m);
      expect(r.stdout).toMatch(/^checks: +acked: passed$/m);
      expect(r.stdout).toMatch(/^RTO: +scratch restore [\d.]+s in all: .*restore-prep.*, accepting connections at \+[\d.]+s, out of recovery at \+[\d.]+s$/m);
      await eventually(async () => !(await livePvcNames(clients, ns)).some((n) => n.startsWith('verify-')), 'the scratch PVC gone');
      await eventually(
        async () => (await clients.core.listNamespacedPod({ namespace: ns })).items.every((p) => p.metadata!.name === 'pg-0'),
        'the scratch pods gone',
      );
    },
  );

  it('a verify that fails exits 1 and prints every failure', skipWhen(why), async () => {
    const r = await dbaas(
      [
        'verify',
        '--pvc',
        'restored',
        '--image',
        POSTGRES_IMAGE_TEMPLATE,
        '-n',
        ns,
        '--check',
        'never=select false',
        '--check',
        'broken=select * from no_such_table',
      ],
      { timeoutMs: 280_000 },
    );
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout).toMatch(/^result: +FAILED \(2 failures\)$/m);
    // The first verify checked a clone: the PVC still holds its backup_label, as restore left it.
    expect(r.stdout).toMatch(/^PVC: +.*\/restored \(checked through its clone verify-restored-[0-9a-f]{6}, deleted afterwards; the PVC is unchanged\)$/m);
    expect(r.stdout).toMatch(/^offline: +online-backup-complete/m);
    expect(r.stdout).toMatch(/^ {2}- check "never": first column is false, not true$/m);
    expect(r.stdout).toMatch(/^ {2}- check "broken": .*no_such_table/m);
  });

  it('verify --no-clone checks the PVC itself, and says so: recovery changed it (the next verify sees a recovered data directory)', skipWhen(why), async () => {
    const inPlace = await dbaas(['verify', '--pvc', 'restored', '--no-clone', '--image', POSTGRES_IMAGE_TEMPLATE, '-n', ns, '--check', ackedCheck(acked)], {
      timeoutMs: 280_000,
    });
    expect(inPlace.code, show(inPlace)).toBe(0);
    expect(inPlace.stdout).toMatch(/^PVC: +.*\/restored \(checked in place: recovery changed its files\)$/m);
    const after = await dbaas(['verify', '--pvc', 'restored', '--image', POSTGRES_IMAGE_TEMPLATE, '-n', ns, '--check', ackedCheck(acked), '-o', 'json'], {
      timeoutMs: 280_000,
    });
    expect(after.code, show(after)).toBe(0);
    const report = JSON.parse(after.stdout) as VerifyReport;
    expect(report.offline?.safe).toBe(true);
    expect(report.offline?.verdict).not.toBe('online-backup-complete');
    expect((await livePvcNames(clients, ns)).filter((n) => n.startsWith('verify-'))).toEqual([]);
  });

  it('verify --pvc of a volume a pod is using is refused before anything is created', skipWhen(why), async () => {
    const r = await dbaas(['verify', '--pvc', 'data-pg-0', '-n', ns]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/^error: PVC .*\/data-pg-0 is in use by pod pg-0: verify checks a restored volume nothing runs on/m);
    expect((await livePvcNames(clients, ns)).filter((n) => n.startsWith('verify-'))).toEqual([]);
  });

  it(
    'as the service account with the roles of docs/rbac.md: a cross-namespace restore (its restore-prep Job) and verify --pvc in pods; the temporary pair is gone',
    skipWhen(why),
    async () => {
      expect(limited, 'the RBAC test sets up the service account').toBeDefined();
      const r = await dbaas(
        ['restore', 'cli-online', '--from-namespace', ns, '--to', 'rbac-restored', '--prep-image', PREP_IMAGE, '-n', otherNs, '-o', 'json'],
        { kubeconfig: limited!, timeoutMs: 280_000 },
      );
      expect(r.code, show(r)).toBe(0);
      const report = JSON.parse(r.stdout) as RestoreReport;
      expect(report).toMatchObject({
        kind: 'Restore',
        namespace: otherNs,
        pvc: 'rbac-restored',
        state: 'ready',
        restoreType: 'cross-namespace',
        remaining: [],
      });
      expect(report.timings.prepMs).toBeGreaterThan(0);
      await eventually(async () => (await snapshotObjects(otherNs)).length === 0, 'the temporary VolumeSnapshot and content gone');
      try {
        const v = await dbaas(
          ['verify', '--pvc', 'rbac-restored', '--image', POSTGRES_IMAGE_TEMPLATE, '-n', otherNs, '--check', ackedCheck(acked), '-o', 'json'],
          { kubeconfig: limited!, timeoutMs: 280_000 },
        );
        expect(v.code, show(v)).toBe(0);
        expect(JSON.parse(v.stdout) as VerifyReport).toMatchObject({ ok: true, backup: { namespace: ns, name: 'cli-online' } });
      } finally {
        // The next test expects otherNs empty: a failure here must not fail it too.
        await clients.core.deleteNamespacedPersistentVolumeClaim({ name: 'rbac-restored', namespace: otherNs });
        await eventually(async () => (await livePvcNames(clients, otherNs)).length === 0, 'the restored PVC deleted');
      }
    },
  );

  it('Ctrl-C (SIGINT to kubectl) during a cross-namespace restore: exit 130, no PVC, no temporary VolumeSnapshot or content left', skipWhen(why), async () => {
    let sent = false;
    const r = await dbaas(['restore', 'cli-online', '--from-namespace', ns, '--to', 'interrupted', '--prep-image', PREP_IMAGE, '-n', otherNs], {
      timeoutMs: 200_000,
      onStderr: (text, child) => {
        if (!sent && /creating the temporary VolumeSnapshotContent and VolumeSnapshot/.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent, show(r)).toBe(true);
    expect(r.code, show(r)).toBe(130);
    expect(r.stderr).toMatch(/SIGINT: stopping and cleaning up \(deleting what the restore created\)/);
    expect(r.stderr).toMatch(/^error: the restore was aborted$/m);
    expect(r.stdout).toBe('');
    await eventually(async () => (await livePvcNames(clients, otherNs)).length === 0 && (await snapshotObjects(otherNs)).length === 0, 'everything gone');
    const list = await dbaas(['backup', 'list', '-n', ns, '-o', 'name']);
    expect(list.stdout).toContain('backup/cli-online');
  });

  it('WaitForFirstConsumer: without --consumer-node the PVC is left Pending and the summary says why; with it, bound at once', skipWhen(why), async () => {
    // A fenced backup of the StatefulSet (its pod stops and comes back), restored into the WFFC class.
    const b = await dbaas(['backup', 'create', '--pod', 'pg-0', '--mode', 'fenced', '--name', 'cli-fenced', '-n', ns, '-o', 'name'], { timeoutMs: 200_000 });
    expect(b.code, show(b)).toBe(0);
    const waiting = await dbaas(['restore', 'cli-fenced', '--to', 'wffc-wait', '--storage-class', STORAGE_CLASS_WFFC, '-n', ns], { timeoutMs: 120_000 });
    expect(waiting.code, show(waiting)).toBe(0);
    expect(waiting.stdout).toMatch(new RegExp(`^state: +waiting for first consumer: StorageClass ${STORAGE_CLASS_WFFC} binds on first use`, 'm'));
    const pending = (await clients.core.readNamespacedPersistentVolumeClaim({ name: 'wffc-wait', namespace: ns })) as Pvc;
    expect(pending.status?.phase).toBe('Pending');
    const bound = await dbaas(
      ['restore', 'cli-fenced', '--to', 'wffc-bound', '--storage-class', STORAGE_CLASS_WFFC, '--consumer-node', LOCAL_NODE_NAME, '-n', ns, '-o', 'json'],
      { timeoutMs: 120_000 },
    );
    expect(bound.code, show(bound)).toBe(0);
    const report = JSON.parse(bound.stdout) as RestoreReport;
    expect(report).toMatchObject({ state: 'ready', storageClass: STORAGE_CLASS_WFFC, backup: { name: 'cli-fenced', mode: 'fenced' } });
    expect(report.volume).toMatch(/^pvc-/);
  });
});
