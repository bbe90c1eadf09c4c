// The e2e tests' RBAC checks: a service account with nothing, then with the Roles and ClusterRoles
// that docs/rbac.md gives (its ```yaml blocks), bound to it. What the doc says is what is tested.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeClients } from '@kubectl-dbaas/sdk';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

const RBAC_DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../docs/rbac.md');

/** A Role or ClusterRole of docs/rbac.md. */
export interface RbacDocRole {
  kind: string;
  metadata: { name: string; namespace?: string };
}

/**
 * Creates a service account and writes a kubeconfig (the cluster of `baseKubeconfig`, a token of
 * that account) to `file`, mode 0600. Returns `file`.
 *
 * @example
 * const limited = await serviceAccountKubeconfig(clients, { namespace: ns, name: 'op', baseKubeconfig, file });
 */
export async function serviceAccountKubeconfig(
  clients: KubeClients,
  opts: { namespace: string; name: string; baseKubeconfig: string; file: string },
): Promise<string> {
  await clients.core.createNamespacedServiceAccount({ namespace: opts.namespace, body: { metadata: { name: opts.name } } });
  const token = (
    await clients.core.createNamespacedServiceAccountToken({ name: opts.name, namespace: opts.namespace, body: { spec: { expirationSeconds: 3600 } } })
  ).status!.token;
  const config = parseYaml(await readFile(opts.baseKubeconfig, 'utf8')) as { users: { user: Record<string, unknown> }[] };
  config.users[0]!.user = { token };
  await writeFile(opts.file, JSON.stringify(config), { mode: 0o600 });
  return opts.file;
}

/** The Roles and ClusterRoles of docs/rbac.md whose names `keep` accepts, in the doc's order. */
export async function rbacDocRoles(keep: (name: string) => boolean): Promise<RbacDocRole[]> {
  const doc = await readFile(RBAC_DOC, 'utf8');
  return [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .flatMap((m) => parseAllDocuments(m[1]!).map((d) => d.toJS() as RbacDocRole))
    .filter((o) => keep(o.metadata.name));
}

/**
 * The roles placed in `namespaces` (Roles) or renamed `<name>-<suffix>` (ClusterRoles, cluster-wide),
 * each with its binding to the service account, as the items of a List for `kubectl apply`; and the
 * cluster-scoped objects made (`clusterrole/NAME`, `clusterrolebinding/NAME`), to delete afterwards.
 *
 * @example
 * const { items, clusterObjects } = bindRbacDocRoles(roles, { namespaces: [ns], serviceAccount: { name: 'op', namespace: ns }, clusterSuffix: ns });
 */
export function bindRbacDocRoles(
  roles: RbacDocRole[],
  opts: { namespaces: string[]; serviceAccount: { name: string; namespace: string }; clusterSuffix: string },
): { items: unknown[]; clusterObjects: string[] } {
  const subjects = [{ kind: 'ServiceAccount', ...opts.serviceAccount }];
  const items: unknown[] = [];
  const clusterObjects: string[] = [];
  for (const role of roles) {
    if (role.kind === 'Role') {
      for (const namespace of opts.namespaces) {
        items.push({ ...role, metadata: { ...role.metadata, namespace } });
        items.push({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: role.metadata.name, namespace },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name },
          subjects,
        });
      }
    } else {
      const name = `${role.metadata.name}-${opts.clusterSuffix}`;
      clusterObjects.push(`clusterrole/${name}`, `clusterrolebinding/${name}`);
      items.push({ ...role, metadata: { name } });
      items.push({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects,
      });
    }
  }
  return { items, clusterObjects };
}

/**
 * {@link bindRbacDocRoles}, then `kubectl apply` of the result from `manifestFile`. The cluster-scoped
 * objects are added to `clusterObjects` before anything is applied, so a failed apply still
 * leaves them to the caller's cleanup.
 *
 * @example
 * await applyRbacDocRoles((args) => plugin.run(args), roles, { namespaces: [ns], serviceAccount: { name: 'op', namespace: ns }, clusterSuffix: ns, manifestFile, clusterObjects });
 */
export async function applyRbacDocRoles(
  kubectl: (args: string[]) => Promise<{ code: number | null; stderr: string }>,
  roles: RbacDocRole[],
  opts: Parameters<typeof bindRbacDocRoles>[1] & { manifestFile: string; clusterObjects: string[] },
): Promise<void> {
  const { items, clusterObjects } = bindRbacDocRoles(roles, opts);
  opts.clusterObjects.push(...clusterObjects);
  await writeFile(opts.manifestFile, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  const applied = await kubectl(['apply', '-f', opts.manifestFile]);
  if (applied.code !== 0) throw new Error(`kubectl apply of the docs/rbac.md roles failed (exit ${applied.code}): ${applied.stderr}`);
}
