// e2e (docs/architecture.md, "Test tiers": cluster): the real `kubectl` on this machine runs `kubectl dbaas backup ...`
// from PATH (a `kubectl-dbaas` shim that execs the built bundle, dist/cli.js, with this Node)
// against the shared local cluster.
//
// - list / describe / delete / prune, bad flags, missing namespaces, forbidden (a service account
//   with no rules, then with the Roles of docs/rbac.md), and `create`'s refusals and dry runs run
//   everywhere: the backups are pre-provisioned VolumeSnapshotContent + VolumeSnapshot pairs of a
//   driver no CSI sidecar serves (made ready by writing the content's status), and the volumes of
//   `create` are static PVs whose driver only has to be named.
// - `create` end to end and Ctrl-C during a backup need the CSI hostpath plugin and a real
//   PostgreSQL on its volume: skipped, with the reason printed, when it is unavailable. They use
//   `--mode online` with the SQL connection flags: `fenced` needs a StatefulSet or CNPG operator
//   to stop the database, and this cluster has no kubelet or controllers for them (the SDK's fenced
//   tests use a local fencing strategy, which a command line cannot take).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DBAAS_LABELS, isDbaasError, KubeClients, watchUntil, type ConsistencyMode, type VolumeSnapshot } from '@kubectl-dbaas/sdk';

type Pvc = { metadata?: { name?: string; namespace?: string }; status?: { phase?: string } };
import {
  availablePostgresMajors,
  clusterFromEnv,
  provisionBackupSnapshot,
  runPostgresOnVolume,
  STORAGE_CLASS,
  type PostgresServer,
} from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyRbacDocRoles, rbacDocRoles, serviceAccountKubeconfig } from '../../e2e/rbac-doc.js';
import { expectUsageError, KubectlWithPlugin, showRun, type KubectlRun, type KubectlRunOptions } from '../../e2e/kubectl-plugin.js';
import { parse as parseYaml } from 'yaml';
import type { BackupCreateReport } from './create/run.js';
import type { BackupDescription } from './describe/run.js';
import type { BackupListDocument } from './list/run.js';
import type { BackupPruneDocument } from './prune/run.js';
import { skipWhen } from '@kubectl-dbaas/testing';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.resolve(here, '../../../dist/cli.js');
const info = clusterFromEnv(inject('dbaasCluster'));
const hasHostpath = !info.hostpathUnavailable;
const ns = `cli-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const NO_CLASS_DRIVER = 'noclass.csi.kubectl-dbaas.test';
const HOUR = 3_600_000;
const contents: string[] = [];
const pvs: string[] = [];
const clusterObjects: string[] = [];
let shimDir: string;

let plugin: KubectlWithPlugin;
const kubectl = (args: string[], opts?: KubectlRunOptions) => plugin.run(args, opts);
const dbaas = (args: string[], opts?: KubectlRunOptions) => plugin.dbaas(args, opts);
const show = showRun;

async function snapshotExists(name: string): Promise<boolean> {
  return clients.volumeSnapshots.get(name, ns).then(
    () => true,
    (e: unknown) => {
      if (isDbaasError(e, 'KUBE_NOT_FOUND')) return false;
      throw e;
    },
  );
}

/** A ready pre-provisioned backup snapshot (the status a CSI sidecar would write, written by the test). */
async function provisioned(
  set: string,
  role: 'data' | 'wal',
  mode: ConsistencyMode,
  hoursAgo: number,
  extraLabels: Record<string, string> = {},
): Promise<void> {
  contents.push(await provisionBackupSnapshot(clients, { namespace: ns, set, role, mode, at: new Date(Date.now() - hoursAgo * HOUR), labels: extraLabels }));
}

/** A PVC bound to a static PV of `driver` (no CSI plugin needed: discovery only reads them). */
async function staticPvc(name: string, driver: string): Promise<void> {
  const pv = `${ns}-${name}`;
  await clients.core.createPersistentVolume({
    body: {
      metadata: { name: pv },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        csi: { driver, volumeHandle: pv },
        claimRef: { namespace: ns, name },
      },
    },
  });
  pvs.push(pv);
  await clients.core.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: {
      metadata: { name, namespace: ns },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pv, resources: { requests: { storage: '1Gi' } } },
    },
  });
  await watchUntil<Pvc>(clients, {
    path: `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
    name,
    predicate: (p) => p?.status?.phase === 'Bound',
    deadline: Date.now() + 60_000,
    what: 'to be Bound',
  });
}

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npx turbo run build); these tests run the built plugin`);
  plugin = await KubectlWithPlugin.create(BUNDLE, info.kubeconfig);
  shimDir = plugin.shimDir;
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  await provisioned('alpha', 'data', 'fenced', 30);
  await provisioned('beta', 'data', 'online', 2, { team: 'payments' });
  await provisioned('beta', 'wal', 'online', 2, { team: 'payments' });
  await provisioned('gamma', 'data', 'fenced', 1);
  await provisioned('old-1', 'data', 'fenced', 24 * 40);
  await provisioned('old-2', 'data', 'fenced', 24 * 41);
  await clients.volumeSnapshots.create({
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: { name: 'foreign', namespace: ns },
    spec: { source: { persistentVolumeClaimName: 'data-pg-0' } },
  });
  // Every pre-provisioned set is ready once the snapshot-controller has copied the content status.
  await watchUntil<VolumeSnapshot>(clients, {
    path: clients.volumeSnapshots.path({ namespace: ns }),
    labelSelector: `${DBAAS_LABELS.managedBy}=kubectl-dbaas`,
    predicate: (_o, e) => e.objects.size === 6 && [...e.objects.values()].every((o) => o.status?.readyToUse === true),
    deadline: Date.now() + 60_000,
    what: 'to be ready',
  });
  await staticPvc('data-pg-0', 'hostpath.csi.k8s.io');
  await staticPvc('no-class', NO_CLASS_DRIVER);
  await staticPvc('plain', 'hostpath.csi.k8s.io');
  // A StatefulSet whose volumeClaimTemplates made data-pg-0 (no controller runs it: only read).
  await clients.apps.createNamespacedStatefulSet({
    namespace: ns,
    body: {
      metadata: { name: 'pg', namespace: ns },
      spec: {
        serviceName: 'pg',
        replicas: 1,
        selector: { matchLabels: { app: 'pg' } },
        template: { metadata: { labels: { app: 'pg' } }, spec: { containers: [{ name: 'postgres', image: 'postgres:17' }] } },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    },
  });
}, 180_000);

afterAll(async () => {
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
  for (const c of contents) await clients.volumeSnapshotContents.delete(c).catch(() => undefined);
  for (const pv of pvs) await clients.core.deletePersistentVolume({ name: pv }).catch(() => undefined);
  for (const o of clusterObjects) await kubectl(['delete', o, '--ignore-not-found']).catch(() => undefined);
  await plugin?.dispose();
});

describe('kubectl dbaas backup list / describe (real kubectl, plugin on PATH)', () => {
  it('list -o json is one document: every backup, newest first, with state, size and the -wal snapshot', async () => {
    const r = await dbaas(['backup', 'list', '-n', ns, '-o', 'json']);
    expect(r.code, show(r)).toBe(0);
    const doc = JSON.parse(r.stdout) as BackupListDocument;
    expect(doc.kind).toBe('BackupList');
    expect(doc.namespace).toBe(ns);
    expect(doc.items.map((i) => i.name)).toEqual(['gamma', 'beta', 'alpha', 'old-1', 'old-2']); // 'foreign' is not ours
    const beta = doc.items[1]!;
    expect(beta).toMatchObject({ mode: 'online', state: 'ready', sourcePvc: 'data-pg-0', missingWal: false });
    expect(beta.data).toMatchObject({ name: 'beta', restoreSize: '1Gi' });
    expect(beta.wal).toMatchObject({ name: 'beta-wal', state: 'ready' });
    expect(beta.wal?.metadata).toMatchObject({ stopLsn: '0/3000100', lastWalFile: '000000010000000000000003' });
    expect(r.stderr).toBe('');
  });

  it('list prints kubectl columns; -o name, -l and -A', async () => {
    const text = await dbaas(['backup', 'list', '-n', ns]);
    expect(text.code, show(text)).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +MODE +STATE +SOURCE +CUT AGE +SIZE +WAL$/);
    expect(lines[2]).toMatch(/^beta +online +ready +data-pg-0 +1\d\dm +1Gi +1Gi$/);
    expect(lines[3]).toMatch(/^alpha +fenced +ready +data-pg-0 +30h +1Gi +-$/);
    const names = await dbaas(['backup', 'list', '-n', ns, '-o', 'name', '-l', 'team=payments']);
    expect(names.stdout).toBe('backup/beta\n');
    const all = await dbaas(['backup', 'list', '-A']);
    expect(all.stdout.split('\n')[0]).toMatch(/^NAMESPACE +NAME +MODE/);
    expect(all.stdout).toMatch(new RegExp(`^${ns} +gamma +fenced +ready`, 'm'));
  });

  it('describe shows the set, its snapshots and their contents; -o json; backup/NAME and NAME-wal find it', async () => {
    const r = await dbaas(['backup', 'describe', 'beta', '-n', ns]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^Name: +beta$/m);
    expect(r.stdout).toMatch(/^Restorable: +yes: with its -wal snapshot/m);
    expect(r.stdout).toMatch(/^Stop LSN: +0\/3000100$/m);
    expect(r.stdout).toMatch(/^ {4}Driver: +unserved\.csi\.kubectl-dbaas\.test$/m);
    expect(r.stdout).toMatch(/^ {4}Snapshot handle: +handle-beta-wal$/m);
    const j = await dbaas(['backup', 'describe', 'backup/beta-wal', '-n', ns, '-o', 'json']);
    expect(j.code, show(j)).toBe(0);
    const view = JSON.parse(j.stdout) as BackupDescription;
    expect(view.name).toBe('beta');
    expect(view.snapshots.map((s) => [s.name, s.role, s.content?.deletionPolicy])).toEqual([
      ['beta', 'data', 'Retain'],
      ['beta-wal', 'wal', 'Retain'],
    ]);
  });

  it('a missing backup and a missing namespace are errors that say which and what to do (exit 1)', async () => {
    const missing = await dbaas(['backup', 'describe', 'nope', '-n', ns]);
    expect(missing.code, show(missing)).toBe(1);
    expect(missing.stderr).toMatch(/^error: backup "nope" not found in namespace/m);
    expect(missing.stderr).toMatch(
      /^fix: List the backups of the namespace: kubectl get volumesnapshots -n \S+ -l app.kubernetes.io\/managed-by=kubectl-dbaas/m,
    );
    for (const args of [
      ['backup', 'list'],
      ['backup', 'describe', 'alpha'],
      ['backup', 'delete', 'alpha'],
      ['backup', 'create', '--pvc', 'data'],
    ]) {
      const r = await dbaas([...args, '-n', `${ns}-missing`]);
      expect(r.code, `${args.join(' ')}\n${show(r)}`).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: namespace "${ns}-missing" not found .*\nflag: --namespace\n`, 'm'));
      expect(r.stderr).toContain('fix: Check the name with kubectl get namespaces');
      expect(r.stdout).toBe('');
    }
  });

  it('bad flags and missing arguments exit 2 with a useful message and nothing on stdout', async () => {
    const cases: [string[], RegExp][] = [
      [['backup', 'list', '--bogus'], /error: Unknown argument: bogus/],
      [['backup', 'lst'], /error: Did you mean list\?/],
      [['backup', 'create', '-n', ns], /error: name what to back up: --pvc NAME/],
      [['backup', 'create', '--pvc', 'data-pg-0', '--mode', 'fast'], /Invalid values:[\s\S]*Argument: mode, Given: "fast"/],
      [['backup', 'create', '--pvc', 'data-pg-0', '--timeout', '10'], /--timeout: "10" is not a duration/],
      [['backup', 'prune', '-n', ns], /give at least one retention rule/],
    ];
    for (const [args, message] of cases) expectUsageError(await dbaas(args), args, message);
  });
});

describe('kubectl dbaas backup create: refusals and dry runs (no CSI plugin needed)', () => {
  it('crash on a driver whose snapshots are not atomic is refused, saying why and what to use', async () => {
    const r = await dbaas(['backup', 'create', '--pvc', 'data-pg-0', '--mode', 'crash', '-n', ns]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/error: mode "crash" is unsafe on hostpath\.csi\.k8s\.io: its snapshots are not atomic/);
    expect(r.stderr).toMatch(/silently corrupt/);
    expect(r.stderr).toMatch(/^fix: Use --mode fenced .* --force takes the risk anyway\.$/m);
    expect(await snapshotExists('data-pg-0')).toBe(false);
  });

  it('--db-secret: a missing Secret or key is an error before any write that names the keys, never a value; with --db-user it is a usage error', async () => {
    const missing = await dbaas([
      'backup',
      'create',
      '--pvc',
      'data-pg-0',
      '--mode',
      'online',
      '--name',
      'from-secret',
      '--db-secret',
      'no-such-secret',
      '--host',
      '127.0.0.1',
      '-n',
      ns,
    ]);
    expect(missing.code, show(missing)).toBe(1);
    expect(missing.stderr).toMatch(/no-such-secret/);
    expect(await snapshotExists('from-secret')).toBe(false);
    await clients.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'pg-app' }, stringData: { username: 'app', password: 's3cr3t-value' } },
    });
    // Without --host the session goes through the pod mounting the PVC, and it does not run here (Pending): refused by the plan.
    const noPod = await dbaas(['backup', 'create', '--pvc', 'data-pg-0', '--mode', 'online', '--name', 'from-secret', '--db-secret', 'pg-app', '-n', ns]);
    expect(noPod.code, show(noPod)).toBe(1);
    expect(noPod.stderr).toMatch(/pod .*\/pg-0 is not running and ready \(phase Pending\): mode online needs its database to answer a SQL session/);
    expect(noPod.stderr).toMatch(/^flag: --host$/m);
    expect(noPod.stderr).not.toContain('s3cr3t-value');
    expect(await snapshotExists('from-secret')).toBe(false);
    const both = await dbaas(['backup', 'create', '--pvc', 'data-pg-0', '--mode', 'online', '--db-secret', 'pg-app', '--db-user', 'x', '-n', ns]);
    expect(both.code, show(both)).toBe(2);
    expect(both.stderr).toMatch(/--db-secret gives the user and password/);
  });

  it('fenced (the default on hostpath) with nothing to fence: refused before any write, the fix names --fence / --pod / --mode online', async () => {
    const r = await dbaas(['backup', 'create', '--pvc', 'plain', '--name', 'plain-1', '-n', ns]);
    expect(r.code, show(r)).toBe(1); // found by reading the cluster: exit 2 is for usage errors only
    expect(r.stderr).toMatch(/error: mode fenced needs a way to stop the database using PVC .*\/plain, and none was found/);
    expect(r.stderr).toMatch(/^fix: .*--fence statefulset\/NAME or --fence cnpg\/CLUSTER.*--mode online/m);
    expect(await snapshotExists('plain-1')).toBe(false);
  });

  it('no VolumeSnapshotClass for the driver: the fix is the class to create', async () => {
    const r = await dbaas(['backup', 'create', '--pvc', 'no-class', '--dry-run=client', '-n', ns]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain(`error: no VolumeSnapshotClass for CSI driver ${NO_CLASS_DRIVER}`);
    expect(r.stderr).toMatch(/fix: Create one: kubectl apply -f - <<EOF\napiVersion: snapshot.storage.k8s.io\/v1\nkind: VolumeSnapshotClass/);
  });

  it('--dry-run=client prints the manifests (fenced by the StatefulSet that made the PVC) and creates nothing', async () => {
    const r = await dbaas(['backup', 'create', '--pvc', 'data-pg-0', '--name', 'planned', '--dry-run=client', '-n', ns]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^# dry run \(client: nothing sent to the API server\): backup .*\/planned$/m);
    expect(r.stdout).toMatch(/^# mode fenced \(the default for non-atomic snapshots\)$/m);
    expect(r.stdout).toMatch(/^# fencing: StatefulSet pg scaled to 0 and back$/m);
    const list = parseYaml(r.stdout) as { kind: string; items: VolumeSnapshot[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.metadata.name)).toEqual(['planned']);
    expect(list.items[0]!.spec).toEqual({ source: { persistentVolumeClaimName: 'data-pg-0' }, volumeSnapshotClassName: 'csi-hostpath-snapclass' });
    expect(list.items[0]!.metadata.labels).toMatchObject({
      'dbaas.io/backup-set': 'planned',
      'dbaas.io/role': 'data',
      'app.kubernetes.io/managed-by': 'kubectl-dbaas',
    });
    // As runBackup: the source workload is recorded for a pod target (--pod), not derived for a PVC.
    expect(list.items[0]!.metadata.annotations).toMatchObject({ 'dbaas.io/mode': 'fenced', 'dbaas.io/requested-at': expect.any(String) });
    expect(await snapshotExists('planned')).toBe(false);
  });

  it('--dry-run=server sends them with dryRun=All (-o json: one List document) and stores nothing; online plans data and -wal', async () => {
    const r = await dbaas([
      'backup',
      'create',
      '--pvc',
      'data-pg-0',
      '--name',
      'planned-online',
      '--mode',
      'online',
      // The connection given (not used by a dry run); through the pod the plan would need a running one.
      '--host',
      '127.0.0.1',
      '--dry-run=server',
      '-n',
      ns,
      '-o',
      'json',
    ]);
    expect(r.code, show(r)).toBe(0);
    const list = JSON.parse(r.stdout) as { kind: string; items: VolumeSnapshot[] };
    expect(list.items.map((i) => i.metadata.name)).toEqual(['planned-online', 'planned-online-wal']);
    expect(list.items[0]!.metadata.uid).toBeTruthy(); // the API server's answer
    expect(r.stderr).toMatch(/dry run \(server: validated by the API server, nothing stored\)/);
    expect(await snapshotExists('planned-online')).toBe(false);
    const names = await dbaas([
      'backup',
      'create',
      '--pvc',
      'data-pg-0',
      '--name',
      'x',
      '--mode',
      'crash',
      '--force',
      '--dry-run=client',
      '-n',
      ns,
      '-o',
      'name',
    ]);
    expect(names.stdout).toBe('volumesnapshot.snapshot.storage.k8s.io/x\n');
    // A foreign snapshot of that name: the server dry run fails as the real create would.
    const taken = await dbaas(['backup', 'create', '--pvc', 'data-pg-0', '--name', 'foreign', '--dry-run=server', '-n', ns]);
    expect(taken.code, show(taken)).toBe(1);
    expect(taken.stderr).toMatch(/already exists/);
  });

  it('--cnpg-cluster without CloudNativePG says so', async () => {
    const r = await dbaas(['backup', 'create', '--cnpg-cluster', 'pg', '--dry-run=client', '-n', ns]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/CloudNativePG Cluster .*\/pg not found \(or CloudNativePG is not installed/);
  });
});

describe('kubectl dbaas backup delete / prune', () => {
  it('delete removes a backup and waits until it is gone; a foreign snapshot and a missing one are refused (exit 1), the rest still deleted', async () => {
    const r = await dbaas(['backup', 'delete', 'alpha', '-n', ns]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('backup "alpha" deleted (volumesnapshot alpha)\n');
    expect(await snapshotExists('alpha')).toBe(false);
    const mixed = await dbaas(['backup', 'delete', 'foreign', 'backup/gamma', 'nope', '-n', ns, '-o', 'name']);
    expect(mixed.code, show(mixed)).toBe(1);
    expect(mixed.stdout).toBe('backup/gamma\n');
    expect(mixed.stderr).toMatch(
      /2 of 3 backups were not deleted:\n {2}foreign: VolumeSnapshot "foreign" .* is not managed by kubectl-dbaas .*\n {2}nope: backup "nope" not found/,
    );
    expect(await snapshotExists('foreign')).toBe(true);
    expect(await snapshotExists('gamma')).toBe(false);
  });

  it('prune is a dry run by default; --yes deletes exactly the plan', async () => {
    const dry = await dbaas(['backup', 'prune', '--keep-last', '1', '--max-age', '3d', '-n', ns, '-o', 'json']);
    expect(dry.code, show(dry)).toBe(0);
    const plan = JSON.parse(dry.stdout) as BackupPruneDocument;
    expect(plan.dryRun).toBe(true);
    expect(plan.decisions.filter((d) => d.action === 'delete').map((d) => d.name)).toEqual(['old-1', 'old-2']);
    expect(await snapshotExists('old-1')).toBe(true);
    const text = await dbaas(['backup', 'prune', '--keep-last', '1', '--max-age', '3d', '-n', ns]);
    expect(text.stdout).toMatch(/^would-delete +old-1 +ready +40d +/m);
    expect(text.stdout).toMatch(/Run again with --yes to delete them\.\n$/);
    const real = await dbaas(['backup', 'prune', '--keep-last', '1', '--max-age', '3d', '--yes', '--wait', '-n', ns, '-o', 'name']);
    expect(real.code, show(real)).toBe(0);
    expect(real.stdout).toBe('backup/old-1\nbackup/old-2\n');
    expect(await snapshotExists('old-1')).toBe(false);
    expect(await snapshotExists('old-2')).toBe(false);
    expect(await snapshotExists('beta')).toBe(true);
  });
});

describe('RBAC (docs/rbac.md)', () => {
  it('without permissions: forbidden, with the rule to add; with the Roles of docs/rbac.md: list, describe and a dry run work', async () => {
    const sa = 'backup-operator';
    const limited = await serviceAccountKubeconfig(clients, {
      namespace: ns,
      name: sa,
      baseKubeconfig: info.kubeconfig,
      file: path.join(shimDir, 'limited.kubeconfig'),
    });

    const denied = await dbaas(['backup', 'list', '-n', ns], { kubeconfig: limited });
    expect(denied.code, show(denied)).toBe(1);
    expect(denied.stderr).toMatch(/forbidden/i);
    expect(denied.stderr).toContain('resources: ["volumesnapshots"]');
    expect(denied.stderr).toContain('verbs: ["list"]');
    expect(denied.stderr).toContain(`--serviceaccount=${ns}:${sa}`);

    // The Roles and ClusterRoles of docs/rbac.md, for this namespace, bound to the service account.
    const objects = await rbacDocRoles((name) => name.startsWith('kubectl-dbaas-backup-')); // the restore/verify roles: restore.cluster.test.ts
    expect(objects.map((o) => o.metadata.name)).toEqual([
      'kubectl-dbaas-backup-read',
      'kubectl-dbaas-backup-read-cluster',
      'kubectl-dbaas-backup-delete',
      'kubectl-dbaas-backup-create',
      'kubectl-dbaas-backup-create-cluster',
    ]);
    await applyRbacDocRoles(kubectl, objects, {
      namespaces: [ns],
      serviceAccount: { name: sa, namespace: ns },
      clusterSuffix: ns,
      manifestFile: path.join(shimDir, 'rbac.json'),
      clusterObjects,
    });

    // RBAC changes take effect at once in the API server's authorizer (no cache to wait for).
    const list = await dbaas(['backup', 'list', '-n', ns, '-o', 'name'], { kubeconfig: limited });
    expect(list.code, show(list)).toBe(0);
    expect(list.stdout).toContain('backup/beta');
    const described = await dbaas(['backup', 'describe', 'beta', '-n', ns], { kubeconfig: limited });
    expect(described.code, show(described)).toBe(0);
    expect(described.stdout).toMatch(/^ {4}Snapshot handle: +handle-beta$/m);
    const planned = await dbaas(['backup', 'create', '--pvc', 'data-pg-0', '--name', 'rbac-plan', '--dry-run=server', '-n', ns], { kubeconfig: limited });
    expect(planned.code, show(planned)).toBe(0);
  });
});

describe('kubectl dbaas backup create end to end (CSI hostpath plugin and a real PostgreSQL)', () => {
  const why = `CSI hostpath plugin unavailable: ${info.hostpathUnavailable}`;
  if (!hasHostpath) console.warn(`[dbaas-testing] SKIPPING kubectl dbaas backup create e2e tests (not passed): ${why}`);
  let server: PostgresServer | undefined;

  beforeAll(async () => {
    if (!hasHostpath) return;
    await clients.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'pgdata', namespace: ns },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: STORAGE_CLASS, resources: { requests: { storage: '1Gi' } } },
      },
    });
    await watchUntil<Pvc>(clients, {
      path: `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
      name: 'pgdata',
      predicate: (p) => p?.status?.phase === 'Bound',
      deadline: Date.now() + 120_000,
      what: 'to be Bound',
    });
    server = await runPostgresOnVolume(info, { namespace: ns, name: 'pgdata' }, { major: availablePostgresMajors().at(-1)! });
    await server.query('create table t (id bigint primary key, pad text not null)');
    await server.query('insert into t select g, repeat(md5(g::text), 4) from generate_series(1, 20000) g');
    await server.query('checkpoint');
  }, 300_000);

  afterAll(async () => {
    await server?.stop().catch(() => undefined);
  });

  it(
    'online with the SQL connection flags: progress on stderr, one JSON document on stdout, then listed ready with its -wal snapshot',
    skipWhen(info.hostpathUnavailable),
    async () => {
      const r = await dbaas(
        [
          'backup',
          'create',
          '--pvc',
          'pgdata',
          '--mode',
          'online',
          '--dsn',
          server!.connectionString,
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
      expect(r.code, show(r)).toBe(0);
      const report = JSON.parse(r.stdout) as BackupCreateReport;
      expect(report).toMatchObject({
        kind: 'Backup',
        name: 'cli-online',
        mode: 'online',
        pvc: 'pgdata',
        driver: 'hostpath.csi.k8s.io',
        atomicSnapshots: false,
      });
      expect(report.snapshots.map((s) => s.name)).toEqual(['cli-online', 'cli-online-wal']);
      expect(report.metadata.startLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(report.walMetadata?.stopLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(r.stderr).toMatch(/^\[ *\d+\.\ds\] waiting for cli-online to be cut$/m);
      expect(r.stderr).toMatch(/^\[ *\d+\.\ds\] backup .*\/cli-online ready \(online; backup session held \d+\.\ds\)$/m);
      const slots = await server!.query<{ n: string }>('select count(*)::text as n from pg_replication_slots');
      expect(slots[0]!.n).toBe('0');
      const list = JSON.parse((await dbaas(['backup', 'list', '-n', ns, '-o', 'json'])).stdout) as BackupListDocument;
      expect(list.items.find((i) => i.name === 'cli-online')).toMatchObject({
        state: 'ready',
        mode: 'online',
        wal: { name: 'cli-online-wal', state: 'ready' },
      });
      const described = await dbaas(['backup', 'describe', 'cli-online', '-n', ns]);
      expect(described.stdout).toMatch(/^Restorable: +yes: with its -wal snapshot/m);
      const deleted = await dbaas(['backup', 'delete', 'cli-online', '-n', ns]);
      expect(deleted.code, show(deleted)).toBe(0);
      expect(deleted.stdout).toBe('backup "cli-online" deleted (volumesnapshots cli-online, cli-online-wal)\n');
    },
  );

  it(
    'Ctrl-C (SIGINT to kubectl) during an online backup: the backup session ends, the partial snapshot is deleted, exit 130',
    skipWhen(info.hostpathUnavailable),
    async () => {
      // Writers keep the hostpath driver's tar failing ("file changed as we read it"), so the backup is
      // still waiting for its cut when the signal comes.
      let writing = true;
      const writer = (async () => {
        const client = await server!.connect();
        for (let id = 1_000_000; writing; id++) await client.query('insert into t values ($1, repeat(md5($1::text), 4))', [id]).catch(() => undefined);
        await client.end();
      })();
      let sent = false;
      let r: KubectlRun;
      try {
        r = await dbaas(['backup', 'create', '--pvc', 'pgdata', '--mode', 'online', '--dsn', server!.connectionString, '--name', 'cli-ctrlc', '-n', ns], {
          timeoutMs: 200_000,
          onStderr: (text, child) => {
            if (!sent && /waiting for cli-ctrlc to be cut/.test(text)) {
              sent = true;
              child.kill('SIGINT');
            }
          },
        });
      } finally {
        writing = false;
        await writer;
      }
      expect(sent, show(r)).toBe(true);
      expect(r.code, show(r)).toBe(130);
      expect(r.stderr).toMatch(/SIGINT: stopping and cleaning up/);
      expect(r.stderr).toMatch(
        /error: backup .*\/cli-ctrlc \(online\) was aborted\. Deleted the snapshot\(s\) this run created: cli-ctrlc|Remaining: cli-ctrlc \(deletion requested/,
      );
      expect(r.stdout).toBe('');
      const slots = await server!.query<{ n: string }>('select count(*)::text as n from pg_replication_slots');
      expect(slots[0]!.n).toBe('0');
      const inBackup = await server!.query<{ n: string }>("select count(*)::text as n from pg_stat_activity where application_name = 'kubectl-dbaas'");
      expect(inBackup[0]!.n).toBe('0');
      // Deleted, or its deletion requested while the driver finished a CreateSnapshot retry: gone soon.
      await watchUntil<VolumeSnapshot>(clients, {
        path: clients.volumeSnapshots.path({ namespace: ns }),
        name: 'cli-ctrlc',
        predicate: (_vs, e) => e.type === 'ABSENT' || e.type === 'DELETED',
        deadline: Date.now() + 120_000,
        what: 'to be gone after Ctrl-C',
      });
    },
  );
});
