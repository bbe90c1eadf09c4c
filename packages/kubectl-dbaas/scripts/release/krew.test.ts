import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { krewManifest, selectorMatches, validateKrewManifest, type KrewPlugin } from './krew.js';

const SHA = 'a'.repeat(64);
const uri = (os: string, arch: string) => `https://example.org/v0.1.0/kubectl-dbaas-0.1.0-${os}-${arch}.tar.gz`;

function good(): KrewPlugin {
  return krewManifest({
    version: '0.1.0',
    homepage: 'https://example.org',
    archives: [
      { os: 'linux', arch: 'amd64', uri: uri('linux', 'amd64'), sha256: SHA },
      { os: 'linux', arch: 'arm64', uri: uri('linux', 'arm64'), sha256: SHA },
      { os: 'darwin', arch: 'amd64', uri: uri('darwin', 'amd64'), sha256: SHA },
      { os: 'darwin', arch: 'arm64', uri: uri('darwin', 'arm64'), sha256: SHA },
    ],
  });
}

/** A copy of the good manifest changed by `edit`, validated. */
function errorsOf(edit: (plugin: KrewPlugin & Record<string, unknown>) => void, options: Parameters<typeof validateKrewManifest>[1] = {}): string[] {
  const plugin = structuredClone(good()) as KrewPlugin & Record<string, unknown>;
  edit(plugin);
  return validateKrewManifest(plugin, options).errors;
}

describe('validateKrewManifest on the generated manifest', () => {
  it('accepts it, with its archives installing the bin and LICENSE', () => {
    const archiveFiles = new Map(good().spec.platforms.map((p) => [p.uri, ['kubectl-dbaas', 'LICENSE']]));
    expect(validateKrewManifest(good(), { fileName: 'dbaas.yaml', archiveFiles })).toEqual({ errors: [], warnings: [] });
  });

  it('accepts the committed plugins/dbaas.yaml', () => {
    const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../plugins/dbaas.yaml');
    const manifest: unknown = parse(readFileSync(file, 'utf8'));
    expect(validateKrewManifest(manifest, { fileName: path.basename(file) })).toEqual({ errors: [], warnings: [] });
    const platforms = (manifest as KrewPlugin).spec.platforms.map((p) => `${p.selector.matchLabels?.['os']}/${p.selector.matchLabels?.['arch']}`);
    expect(platforms).toContain('linux/amd64');
  });
});

describe('validateKrewManifest on broken manifests (Krew rules)', () => {
  it('apiVersion and kind', () => {
    expect(errorsOf((p) => (p.apiVersion = 'krew.googlecontainertools.github.com/v1alpha1'))).toEqual([expect.stringContaining('apiVersion')]);
    expect(errorsOf((p) => (p.kind = 'Plug'))).toEqual([expect.stringContaining('kind')]);
  });

  it('plugin name: ^[\\w-]+$, no reserved Windows names, same as the file name', () => {
    expect(errorsOf((p) => (p.metadata.name = 'db aas'))).toEqual([expect.stringContaining('not allowed')]);
    expect(errorsOf((p) => (p.metadata.name = 'con'))).toEqual([expect.stringContaining('not allowed')]);
    expect(errorsOf(() => undefined, { fileName: 'other.yaml' })).toEqual([expect.stringContaining('must name the plugin "other"')]);
    expect(errorsOf(() => undefined, { fileName: 'dbaas.yml' })).toEqual([expect.stringContaining('.yaml')]);
  });

  it('version: set, leading v, semver', () => {
    expect(errorsOf((p) => (p.spec.version = ''))).toEqual(['spec.version must be set']);
    expect(errorsOf((p) => (p.spec.version = '0.1.0'))).toEqual([expect.stringContaining('must start with "v"')]);
    expect(errorsOf((p) => (p.spec.version = 'v0.1'))).toEqual([expect.stringContaining('not a semantic version')]);
    expect(errorsOf((p) => (p.spec.version = 'v01.1.0'))).toEqual([expect.stringContaining('not a semantic version')]);
    expect(errorsOf((p) => (p.spec.version = 'v0.1.0-rc.1+build.5'))).toEqual([]);
  });

  it('shortDescription: set, one line; long lines only warn', () => {
    expect(errorsOf((p) => (p.spec.shortDescription = ''))).toEqual(['spec.shortDescription must be set']);
    expect(errorsOf((p) => (p.spec.shortDescription = 'two\nlines'))).toEqual([expect.stringContaining('line breaks')]);
    const plugin = good();
    plugin.spec.shortDescription = 'word '.repeat(20);
    expect(validateKrewManifest(plugin).warnings).toEqual([expect.stringContaining('70')]);
  });

  it('platforms: at least one', () => {
    expect(errorsOf((p) => (p.spec.platforms = []))).toEqual([expect.stringContaining('at least one platform')]);
  });

  it('each platform needs uri, a valid sha256 and bin', () => {
    expect(errorsOf((p) => (p.spec.platforms[0]!.uri = ''))).toEqual(['spec.platforms[0]: `uri` has to be set']);
    expect(errorsOf((p) => (p.spec.platforms[1]!.sha256 = ''))).toEqual(['spec.platforms[1]: `sha256` has to be set']);
    expect(errorsOf((p) => (p.spec.platforms[1]!.sha256 = 'A'.repeat(64)))).toEqual([expect.stringContaining('is not valid')]);
    expect(errorsOf((p) => (p.spec.platforms[1]!.sha256 = 'a'.repeat(63)))).toEqual([expect.stringContaining('is not valid')]);
    expect(errorsOf((p) => (p.spec.platforms[2]!.bin = ''))).toEqual(['spec.platforms[2]: `bin` has to be set']);
  });

  it('files: unspecified or non-empty, each with from and to', () => {
    expect(errorsOf((p) => delete p.spec.platforms[0]!.files)).toEqual([]);
    expect(errorsOf((p) => (p.spec.platforms[0]!.files = []))).toEqual([expect.stringContaining('unspecified or non-empty')]);
    expect(errorsOf((p) => (p.spec.platforms[0]!.files = [{ from: '', to: '.' }]))).toEqual([expect.stringContaining('`from` has to be set')]);
    expect(errorsOf((p) => (p.spec.platforms[0]!.files = [{ from: 'x', to: '' }]))).toEqual([expect.stringContaining('`to` has to be set')]);
  });

  it('selector: set, not empty, only os and arch, matching a supported platform', () => {
    expect(errorsOf((p) => delete (p.spec.platforms[0] as Partial<KrewPlugin['spec']['platforms'][0]>).selector)).toEqual([
      expect.stringContaining('nil selector'),
    ]);
    expect(errorsOf((p) => (p.spec.platforms[0]!.selector = {}))).toEqual([expect.stringContaining('empty selector')]);
    expect(errorsOf((p) => (p.spec.platforms[0]!.selector = { matchLabels: {} }))).toEqual(
      expect.arrayContaining([expect.stringContaining('`matchLabels` specified but empty')]),
    );
    // (a label Krew never sets also makes the selector match no platform: both are reported)
    expect(errorsOf((p) => (p.spec.platforms[0]!.selector = { matchLabels: { os: 'linux', arch: 'amd64', distro: 'debian' } }))).toEqual([
      expect.stringContaining('"distro" not supported'),
      expect.stringContaining('matches no platform Krew supports'),
    ]);
    expect(errorsOf((p) => (p.spec.platforms[0]!.selector = { matchLabels: { os: 'plan9', arch: 'amd64' } }))).toEqual([
      expect.stringContaining('matches no platform Krew supports'),
    ]);
  });

  it('no os/arch selected by two platforms', () => {
    expect(errorsOf((p) => (p.spec.platforms[1]!.selector = { matchLabels: { os: 'linux', arch: 'amd64' } }))).toEqual([
      'spec.platforms at indexes 0, 1 have overlapping selectors that select os=linux/arch=amd64',
    ]);
    expect(errorsOf((p) => (p.spec.platforms[1]!.selector = { matchLabels: { os: 'linux' } }))).toEqual([
      'spec.platforms at indexes 0, 1 have overlapping selectors that select os=linux/arch=amd64',
    ]);
  });

  it('the install: bin and a LICENSE must be installed from the archive', () => {
    const archiveFiles = (files: string[]) => new Map(good().spec.platforms.map((p) => [p.uri, files]));
    expect(errorsOf(() => undefined, { archiveFiles: archiveFiles(['LICENSE']) })[0]).toContain(
      '`bin` "kubectl-dbaas" is not among the installed files (LICENSE)',
    );
    expect(errorsOf(() => undefined, { archiveFiles: archiveFiles(['kubectl-dbaas']) })[0]).toContain('no LICENSE');
    expect(
      errorsOf((p) => (p.spec.platforms[0]!.files = [{ from: 'kubectl-dbaas', to: '.' }]), { archiveFiles: archiveFiles(['kubectl-dbaas', 'LICENSE']) }),
    ).toEqual(['spec.platforms[0]: no LICENSE (or alike) file is installed from the archive']);
    expect(errorsOf((p) => (p.spec.platforms[0]!.bin = '../kubectl-dbaas'), { archiveFiles: archiveFiles(['kubectl-dbaas', 'LICENSE']) })).toEqual([
      expect.stringContaining('outside the install directory'),
    ]);
    // Krew's default without `files`: everything, keeping the layout.
    expect(
      errorsOf(
        (p) => {
          delete p.spec.platforms[0]!.files;
          p.spec.platforms[0]!.bin = 'bin/kubectl-dbaas';
        },
        { archiveFiles: new Map([[uri('linux', 'amd64'), ['bin/kubectl-dbaas', 'LICENSE']]]) },
      ),
    ).toEqual([]);
  });

  it('is not fooled by a non-mapping', () => {
    expect(validateKrewManifest('apiVersion: x').errors).toEqual(['manifest is not a YAML mapping']);
  });
});

describe('selectorMatches', () => {
  it('matchLabels and matchExpressions', () => {
    expect(selectorMatches({ matchLabels: { os: 'linux' } }, 'linux', 'arm64')).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'os', operator: 'In', values: ['darwin', 'linux'] }] }, 'darwin', 'amd64')).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'arch', operator: 'NotIn', values: ['amd64'] }] }, 'linux', 'amd64')).toBe(false);
  });
});
