import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

/** Credentials of the local cluster's admin user (member of `system:masters`). */
export interface AdminCredentials {
  user: string;
  token: string;
}

/**
 * A fresh admin token: 32 random bytes, hex. It is written only to files of mode 0600 in the state
 * directory (token file, kubeconfig) and is never printed.
 *
 * @example
 * const admin = newAdminCredentials();
 */
export function newAdminCredentials(): AdminCredentials {
  return { user: 'dbaas-admin', token: randomBytes(32).toString('hex') };
}

/**
 * The kube-apiserver `--token-auth-file` line format: `token,user,uid,"group1,group2"`.
 *
 * @example
 * await writeTokenFile('/tmp/x/tokens.csv', newAdminCredentials());
 */
export async function writeTokenFile(file: string, admin: AdminCredentials): Promise<void> {
  await writeFile(file, `${admin.token},${admin.user},${admin.user},"system:masters"\n`, { mode: 0o600 });
}

/**
 * An RSA key pair (PEM) for signing and verifying service-account tokens.
 *
 * @example
 * const { privateKeyPem, publicKeyPem } = newServiceAccountKeyPair();
 */
export function newServiceAccountKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** What goes into a kubeconfig for the local cluster. */
export interface KubeconfigSpec {
  server: string;
  /** PEM of the CA (here: the apiserver's self-signed certificate chain). */
  caPem: string;
  admin: AdminCredentials;
  clusterName?: string;
  contextName?: string;
  namespace?: string;
}

/**
 * Renders a kubeconfig (YAML) that `kubectl` and `@kubernetes/client-node` both read.
 *
 * @example
 * const yaml = renderKubeconfig({ server: 'https://127.0.0.1:6443', caPem, admin });
 */
export function renderKubeconfig(spec: KubeconfigSpec): string {
  const cluster = spec.clusterName ?? 'dbaas-local';
  const context = spec.contextName ?? 'dbaas-local';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: { server: spec.server, 'certificate-authority-data': Buffer.from(spec.caPem).toString('base64') },
      },
    ],
    users: [{ name: spec.admin.user, user: { token: spec.admin.token } }],
    contexts: [
      {
        name: context,
        context: { cluster, user: spec.admin.user, ...(spec.namespace ? { namespace: spec.namespace } : {}) },
      },
    ],
    'current-context': context,
    preferences: {},
  });
}

/**
 * Writes {@link renderKubeconfig}'s output with mode 0600 (it holds the admin token).
 *
 * @example
 * await writeKubeconfig(path.join(stateDir, 'kubeconfig'), { server, caPem, admin });
 */
export async function writeKubeconfig(file: string, spec: KubeconfigSpec): Promise<void> {
  await writeFile(file, renderKubeconfig(spec), { mode: 0o600 });
}
