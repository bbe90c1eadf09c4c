// e2e (DESIGN.md section 5, tier 4): the real `kubectl` on this machine runs `kubectl dbaas restore`
// and `kubectl dbaas verify` from PATH (a `kubectl-dbaas` shim that execs the built bundle,
// dist/cli.js, with this Node) against the shared local cluster.
//
// - Usage errors, an unknown backup, missing namespaces, an existing target PVC and the dry runs
//   run everywhere: the backup is a pre-provisioned VolumeSnapshotContent + VolumeSnapshot of a
//   driver no CSI sidecar serves (made ready by writing the content's status), with a StorageClass
//   of that driver (a restore plan only reads it).
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DBAAS_LABELS, KubeClients, watchUntil, type VolumeSnapshot } from '@kubectl-dbaas/sdk';
import { clusterFromEnv, livePvcNames, provisionBackupSnapshot } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bindRbacDocRoles, rbacDocRoles, serviceAccountKubeconfig } from '../../e2e/rbac-doc.js';
import { expectUsageError, KubectlWithPlugin, showRun, type KubectlRunOptions } from '../../e2e/kubectl-plugin.js';
import { parse as parseYaml } from 'yaml';

type Pvc = { metadata?: { name?: string; labels?: Record<string, string>; deletionTimestamp?: unknown }; spec?: { dataSource?: { name?: string } }; status?: { phase?: string } };
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
let shimDir: string;

let plugin: KubectlWithPlugin;
const kubectl = (args: string[], opts?: KubectlRunOptions) => plugin.run(args, opts);
const dbaas = (args: string[], opts?: KubectlRunOptions) => plugin.dbaas(args, opts);
const show = showRun;

/** VolumeSnapshots of a namespace and the contents bound to it, not being deleted. */
async function snapshotObjects(namespace: string): Promise<string[]> {
  const vs = (await clients.volumeSnapshots.listAll({ namespace })).filter((s) => !s.metadata.deletionTimestamp).map((s) => `vs/${s.metadata.name}`);
  const vsc = (await clients.volumeSnapshotContents.listAll()).filter((c) => c.spec.volumeSnapshotRef.namespace === namespace && !c.metadata.deletionTimestamp).map((c) => `vsc/${c.metadata.name}`);
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
    body: { metadata: { name: 'taken' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: UNSERVED_CLASS, resources: { requests: { storage: '1Gi' } } } },
  });
}, 180_000);

afterAll(async () => {
  for (const name of [ns, otherNs]) await clients.core.deleteNamespace({ name }).catch(() => undefined);
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
      [['verify', '--backup', 'alpha', '--pvc', 'taken', '-n', ns], /error: give one of --backup and --pvc, not both/],
      [['verify', '--pvc', 'taken', '--check', 'no-equals-sign'], /--check: "no-equals-sign" is not NAME=SQL/],
      [['verify', '--pvc', 'taken', '--bogus'], /error: Unknown argument: bogus/],
    ];
    for (const [args, message] of cases) expectUsageError(await dbaas(args), args, message);
  });

  it('an unknown backup exits 1 with the backup list fix; verify --backup too', async () => {
    for (const args of [['restore', 'nope', '--to', 'r', '-n', ns], ['verify', '--backup', 'nope', '-n', ns]]) {
      const r = await dbaas(args);
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: backup "nope" not found in namespace "${ns}"`, 'm'));
      expect(r.stderr).toMatch(new RegExp(`^fix: List the backups with: kubectl dbaas backup list -n ${ns}`, 'm'));
      expect(r.stdout).toBe('');
    }
  });

  it('a missing namespace (target or --from-namespace) is named', async () => {
    const cases = [
      [['restore', 'alpha', '--to', 'r', '-n', `${ns}-missing`], `${ns}-missing`],
      [['restore', 'alpha', '--to', 'r', '-n', ns, '--from-namespace', `${ns}-gone`], `${ns}-gone`],
      [['verify', '--backup', 'alpha', '-n', `${ns}-missing`], `${ns}-missing`],
      [['verify', '--pvc', 'pg', '-n', `${ns}-missing`], `${ns}-missing`],
    ] as const;
    for (const [args, missing] of cases) {
      const r = await dbaas([...args]);
      expect(r.code, `${args.join(' ')}\n${show(r)}`).toBe(1);
      expect(r.stderr).toContain(`error: namespace "${missing}" not found`);
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
    expect(names.stdout).toBe(`volumesnapshotcontent.snapshot.storage.k8s.io/dbaas-${otherNs}-copy-dbaas-src\nvolumesnapshot.snapshot.storage.k8s.io/copy-dbaas-src\npersistentvolumeclaim/copy\n`);
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
    const kubeconfig = await serviceAccountKubeconfig(clients, { namespace: ns, name: sa, baseKubeconfig: info.kubeconfig, file: path.join(shimDir, 'restore-operator.kubeconfig') });

    const denied = await dbaas(['restore', 'alpha', '--to', 'r', '-n', ns, '--dry-run=client'], { kubeconfig });
    expect(denied.code, show(denied)).toBe(1);
    expect(denied.stderr).toMatch(/forbidden/i);
    expect(denied.stderr).toContain('resources: ["volumesnapshots"]');

    // The restore and verify roles, bound in both namespaces; the backup-read role in the backup's
    // namespace (a cross-namespace restore reads the backup there).
    const objects = await rbacDocRoles((name) => /^kubectl-dbaas-(restore|verify|backup-read)/.test(name));
    expect(objects.map((o) => o.metadata.name)).toEqual(['kubectl-dbaas-backup-read', 'kubectl-dbaas-backup-read-cluster', 'kubectl-dbaas-restore', 'kubectl-dbaas-restore-cluster', 'kubectl-dbaas-verify']);
    const { items, clusterObjects: made } = bindRbacDocRoles(objects, { namespaces: [ns, otherNs], serviceAccount: { name: sa, namespace: ns }, clusterSuffix: ns });
    clusterObjects.push(...made);
    const manifest = path.join(shimDir, 'restore-rbac.json');
    await writeFile(manifest, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    const applied = await kubectl(['apply', '-f', manifest]);
    expect(applied.code, show(applied)).toBe(0);

    const same = await dbaas(['restore', 'alpha', '--to', 'rbac-plan', '-n', ns, '--dry-run=server', '-o', 'name'], { kubeconfig });
    expect(same.code, show(same)).toBe(0);
    expect(same.stdout).toBe('persistentvolumeclaim/rbac-plan\n');
    const across = await dbaas(['restore', 'alpha', '--from-namespace', ns, '--to', 'rbac-copy', '-n', otherNs, '--dry-run=server', '-o', 'name'], { kubeconfig });
    expect(across.code, show(across)).toBe(0);
    expect(across.stdout.split('\n').filter(Boolean)).toHaveLength(3);
  });
});
