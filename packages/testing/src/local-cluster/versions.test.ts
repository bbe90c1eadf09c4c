import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILT_TOOLS, loadVersions } from './binaries.js';
import { renderKubeconfig } from './kubeconfig.js';
import { packageDir } from './paths.js';
import { parse } from 'yaml';

describe('go/versions.json and the wrapper modules', () => {
  it('pins Kubernetes 1.36 and every tool, and each wrapper go.mod requires exactly that version', async () => {
    const v = await loadVersions();
    expect(v.kubernetes).toMatch(/^v1\.36\.\d+$/);
    expect(v.kubernetesStaging).toBe(v.kubernetes.replace(/^v1\./, 'v0.'));
    for (const tool of BUILT_TOOLS) {
      const gomod = readFileSync(path.join(packageDir(), 'go', tool, 'go.mod'), 'utf8');
      const t = v.tools[tool];
      expect(gomod, tool).toMatch(new RegExp(`^require ${t.module.replace(/[./]/g, '\\$&')} ${t.version}$`, 'm'));
      expect(t.package.startsWith(t.module), tool).toBe(true);
      for (const m of gomod.matchAll(/=>\s*(k8s\.io\/\S+)\s+(v\S+)/g)) expect(m[2], `${tool} ${m[1]}`).toBe(v.kubernetesStaging);
    }
  });

  it('Kubernetes wrappers replace every staging module the kubernetes module points at ./staging', async () => {
    const v = await loadVersions();
    const gomod = readFileSync(path.join(packageDir(), 'go', 'kube-apiserver', 'go.mod'), 'utf8');
    const replaced = [...gomod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s*=>/gm)].map((m) => m[1]);
    expect(replaced).toContain('k8s.io/api');
    expect(replaced).toContain('k8s.io/apiextensions-apiserver');
    expect(replaced.length).toBeGreaterThan(30);
    expect(v.tools['kube-controller-manager'].module).toBe('k8s.io/kubernetes');
  });
});

describe('renderKubeconfig', () => {
  it('writes a kubeconfig with the CA inline and a token user, current-context set', () => {
    const text = renderKubeconfig({
      server: 'https://127.0.0.1:1234',
      caPem: '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n',
      admin: { user: 'u', token: 't0k' },
    });
    const doc = parse(text) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { name: string; user: { token: string } }[];
      'current-context': string;
    };
    expect(doc.clusters[0]!.cluster.server).toBe('https://127.0.0.1:1234');
    expect(Buffer.from(doc.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString()).toContain('BEGIN CERTIFICATE');
    expect(doc.users[0]!.user.token).toBe('t0k');
    expect(doc['current-context']).toBe('dbaas-local');
  });
});
