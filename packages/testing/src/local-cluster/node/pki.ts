import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from '../binaries.js';
import type { NodeLayout } from './config.js';

async function openssl(args: string[], cwd: string): Promise<void> {
  const res = await runCommand('openssl', args, { cwd, timeoutMs: 60_000 });
  if (res.code !== 0) {
    throw new Error(`openssl ${args[0]} failed (exit ${res.code ?? res.signal}): ${res.stderr.trim().slice(0, 500)}`);
  }
}

/**
 * The certificates between the API server and the kubelet: a CA the kubelet trusts for client
 * certificates, and the API server's client certificate signed by it (group `system:masters`, so a
 * kubelet in webhook mode would authorize it too). Keys are EC P-256, mode 0600, valid 7 days (a
 * cluster lives for one test run). Made with the machine's `openssl` (Node's crypto cannot issue
 * certificates).
 *
 * @example
 * await writeKubeletPki(nodeLayout(stateDir));
 */
export async function writeKubeletPki(layout: NodeLayout): Promise<void> {
  const dir = layout.kubeletCertDir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caKey = path.join(dir, 'client-ca.key');
  const csr = path.join(dir, 'apiserver-kubelet-client.csr');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  try {
    await openssl(['req', '-x509', ...ec, '-keyout', caKey, '-out', layout.kubeletClientCa, '-days', '7', '-subj', '/CN=dbaas-local-kubelet-client-ca'], dir);
    await openssl(['req', ...ec, '-keyout', layout.apiserverKubeletClientKey, '-out', csr, '-subj', '/O=system:masters/CN=kube-apiserver-kubelet-client'], dir);
    await openssl(
      ['x509', '-req', '-in', csr, '-CA', layout.kubeletClientCa, '-CAkey', caKey, '-CAcreateserial', '-days', '7', '-out', layout.apiserverKubeletClientCert],
      dir,
    );
  } finally {
    // Nothing else ever signs with the CA: its key goes as soon as the one client certificate exists.
    await rm(caKey, { force: true });
    await rm(csr, { force: true });
    await rm(path.join(dir, 'client-ca.srl'), { force: true });
  }
}
