// One version everywhere: the version changesets writes into the packages' package.json is the one
// the Krew manifest names, and the docs either name that version or none (`<version>`).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { KrewPlugin } from '../../scripts/release/krew.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const read = (file: string) => readFileSync(path.join(REPO, file), 'utf8');
const versionOf = (file: string) => (JSON.parse(read(file)) as { version: string }).version;

const SEMVER = String.raw`\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?`;
/** Places where a doc names a release of kubectl-dbaas. */
const RELEASE_VERSION = [
  new RegExp(String.raw`kubectl-dbaas/kubectl-dbaas/(?:releases/download/)?v(${SEMVER})\b`, 'g'), // release or tag URL
  new RegExp(String.raw`kubectl-dbaas-(${SEMVER})(?=-(?:linux|darwin)|\.cjs|\.tgz)`, 'g'), // archive, bundle or npm pack names
  new RegExp(`(?:kubectl-dbaas|@kubectl-dbaas/(?:sdk|testing))@(${SEMVER})`, 'g'), // npm specs
  new RegExp(String.raw`\bversion=v?(${SEMVER})`, 'g'), // shell examples
  new RegExp(String.raw`kubectl-dbaas:\s+v?(${SEMVER})`, 'g'), // `kubectl dbaas version` output
];

/**
 * Every release version of kubectl-dbaas that a text names.
 *
 * @example
 * ```ts
 * releaseVersionsIn('curl -fLO .../releases/download/v0.1.0/x'); // ['0.1.0']
 * ```
 */
function releaseVersionsIn(text: string): string[] {
  return RELEASE_VERSION.flatMap((pattern) => [...text.matchAll(pattern)].map((m) => m[1]!));
}

/** README.md, DEVELOPERS.md, docs/*.md and each package's README.md. */
function docs(): string[] {
  const packages = readdirSync(path.join(REPO, 'packages')).map((p) => path.join('packages', p, 'README.md'));
  const files = [
    'README.md',
    'DEVELOPERS.md',
    ...readdirSync(path.join(REPO, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => path.join('docs', f)),
    ...packages,
  ];
  return files.filter((file) => {
    try {
      read(file);
      return true;
    } catch {
      return false;
    }
  });
}

describe('one version everywhere', () => {
  const version = versionOf('packages/kubectl-dbaas/package.json');

  it('the SDK and the CLI have the same version (changesets: fixed group)', () => {
    expect(versionOf('packages/sdk/package.json')).toBe(version);
    const config = JSON.parse(read('.changeset/config.json')) as { fixed: string[][] };
    expect(config.fixed).toContainEqual(expect.arrayContaining(['@kubectl-dbaas/sdk', 'kubectl-dbaas']));
  });

  it('plugins/dbaas.yaml is the manifest of that version (rebuild it after npm run version-packages)', () => {
    const plugin = parse(read('plugins/dbaas.yaml')) as KrewPlugin;
    expect(plugin.spec.version, 'plugins/dbaas.yaml is stale: npx tsx packages/kubectl-dbaas/scripts/build-release.ts').toBe(`v${version}`);
    for (const platform of plugin.spec.platforms) expect(releaseVersionsIn(platform.uri)).toEqual([version, version]);
  });

  it('the docs name no other version of kubectl-dbaas', () => {
    const files = docs();
    expect(files).toEqual(expect.arrayContaining(['README.md', 'docs/install.md', 'docs/quickstart.md', 'packages/kubectl-dbaas/README.md']));
    const stale = files.flatMap((file) =>
      releaseVersionsIn(read(file))
        .filter((v) => v !== version)
        .map((v) => `${file}: ${v}`),
    );
    expect(stale, `docs name versions other than package.json's ${version}; write <version>`).toEqual([]);
  });

  it('finds the versions docs would name (so that the check above can fail)', () => {
    const text = [
      'kubectl krew install --manifest-url=https://github.com/kubectl-dbaas/kubectl-dbaas/releases/download/v0.1.0/dbaas.yaml',
      'https://raw.githubusercontent.com/kubectl-dbaas/kubectl-dbaas/v0.2.0/plugins/dbaas.yaml',
      'version=0.3.0 os=linux arch=amd64',
      'kubectl-dbaas-0.4.0-linux-amd64.tar.gz kubectl-dbaas-0.5.0.cjs kubectl-dbaas-1.0.0-rc.1.tgz',
      'npm install -g kubectl-dbaas@0.6.0 @kubectl-dbaas/sdk@0.7.0',
      'kubectl-dbaas: 0.8.0',
      'kubectl-dbaas-<version>-linux-amd64.tar.gz, PostgreSQL 17.10.0, Node 24.21.0, etcd v3.6.8',
    ].join('\n');
    expect(releaseVersionsIn(text).sort()).toEqual(['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0', '0.6.0', '0.7.0', '0.8.0', '1.0.0-rc.1']);
  });
});
