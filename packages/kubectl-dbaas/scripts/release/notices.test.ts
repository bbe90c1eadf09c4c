import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thirdPartyNoticesPlugin } from './notices-plugin.js';
import { bundledPackages, missingLicenseTexts, packageDirectoryOfInput, readmeLicenseSection, renderNotices, type BundleNotices } from './notices.js';

const exec = promisify(execFile);
const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const MIT = (holder: string) =>
  `MIT License\n\nCopyright (c) ${holder}\n\nPermission is hereby granted, free of charge, to any person obtaining a copy of this software, to deal in the Software without restriction.`;

/** Writes node_modules/<name> with a package.json, an index.js and the given extra files. */
async function fixturePackage(root: string, name: string, version: string, license: string | undefined, files: Record<string, string>): Promise<void> {
  const directory = path.join(root, 'node_modules', ...name.split('/'));
  await mkdir(directory, { recursive: true });
  await writeFile(path.join(directory, 'package.json'), JSON.stringify({ name, version, ...(license ? { license } : {}), main: 'index.js' }));
  await writeFile(path.join(directory, 'index.js'), `module.exports = ${JSON.stringify(name)};\n`);
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(directory, file), text);
}

describe('packageDirectoryOfInput', () => {
  it('maps metafile inputs to their package directory', () => {
    const cwd = '/repo/packages/kubectl-dbaas';
    expect(packageDirectoryOfInput('../../node_modules/yargs/build/lib/yargs.js', cwd)).toBe('/repo/node_modules/yargs');
    expect(packageDirectoryOfInput('../../node_modules/@kubernetes/client-node/dist/index.js', cwd)).toBe('/repo/node_modules/@kubernetes/client-node');
    expect(packageDirectoryOfInput('../../node_modules/pg/node_modules/pg-types/index.js', cwd)).toBe('/repo/node_modules/pg/node_modules/pg-types');
    expect(packageDirectoryOfInput('sdk-zod:/repo/node_modules/zod/v4/core/core.js', cwd)).toBe('/repo/node_modules/zod');
    expect(packageDirectoryOfInput('src/cli.ts', cwd)).toBeUndefined();
    expect(packageDirectoryOfInput('../sdk/src/index.ts', cwd)).toBeUndefined();
    expect(packageDirectoryOfInput('builtin-through-require:fs', cwd)).toBeUndefined();
  });
});

describe('readmeLicenseSection', () => {
  it('takes the License section up to the next heading of its level', () => {
    const readme = `# pkg\n\nUse it.\n\n## License\n\n${MIT('2014 Someone')}\n\n### Notes\n\nstill license\n\n## Other\n\nnot license\n`;
    const section = readmeLicenseSection(readme);
    expect(section).toContain('Copyright (c) 2014 Someone');
    expect(section).toContain('still license');
    expect(section).not.toContain('not license');
  });

  it('ignores a section that only points elsewhere', () => {
    expect(readmeLicenseSection('# x\n\n## License\n\nMIT\n')).toBeUndefined();
    expect(readmeLicenseSection('# x\n\nno section\n')).toBeUndefined();
  });
});

describe('bundled packages of a fixture node_modules', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'kubectl-dbaas-notices-'));
    await fixturePackage(root, 'plain', '1.0.0', 'MIT', { LICENSE: MIT('plain authors') });
    await fixturePackage(root, '@scope/two-files', '2.1.0', 'MIT OR Apache-2.0', {
      'LICENCE.md': MIT('licence authors'),
      'COPYING.txt': 'Apache text of two-files, long enough to be a text.',
    });
    await fixturePackage(root, 'readme-only', '3.0.0', 'MIT', { 'README.md': `# readme-only\n\n## License\n\n${MIT('readme authors')}\n` });
    await fixturePackage(root, 'public-domain', '0.1.0', 'Unlicense', { UNLICENSE: 'This is free and unencumbered software released into the public domain.' });
    await fixturePackage(root, 'no-license', '9.9.9', 'MIT', { 'README.md': '# no-license\n\n## License\n\nMIT\n' });
    await fixturePackage(root, '@kubectl-dbaas/own', '0.0.0', 'Apache-2.0', {});
    await writeFile(
      path.join(root, 'good.js'),
      "require('plain'); require('@scope/two-files'); require('readme-only'); require('public-domain'); require('@kubectl-dbaas/own');\n",
    );
    await writeFile(path.join(root, 'bad.js'), "require('plain'); require('no-license');\n");
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('reads name, version, declared license and every license text; leaves out our own packages', () => {
    const inputs = [
      'good.js',
      'node_modules/plain/index.js',
      'node_modules/@scope/two-files/index.js',
      'node_modules/readme-only/index.js',
      'node_modules/public-domain/index.js',
      'node_modules/@kubectl-dbaas/own/index.js',
    ];
    const packages = bundledPackages(inputs, root);
    expect(packages.map((p) => `${p.name}@${p.version} ${p.license}`)).toEqual([
      '@scope/two-files@2.1.0 MIT OR Apache-2.0',
      'plain@1.0.0 MIT',
      'public-domain@0.1.0 Unlicense',
      'readme-only@3.0.0 MIT',
    ]);
    expect(packages[0]!.licenseTexts.map((t) => t.source)).toEqual(['COPYING.txt', 'LICENCE.md']);
    expect(packages[3]!.licenseTexts).toEqual([{ source: 'README.md, License section', text: MIT('readme authors') }]);
    expect(missingLicenseTexts(packages)).toEqual([]);
    const text = renderNotices({
      product: 'a test bundle',
      packages,
      node: { version: '24.0.0', source: 'a test', text: 'Node.js is licensed for use as follows: ...' },
    });
    for (const holder of ['plain authors', 'licence authors', 'readme authors']) expect(text).toContain(`Copyright (c) ${holder}`);
    expect(text).toContain('Apache text of two-files');
    expect(text).toContain('released into the public domain');
    expect(text).toMatch(/^ {2}Node\.js 24\.0\.0 .*\n {2}@scope\/two-files 2\.1\.0 {2}\[MIT OR Apache-2\.0\]$/m);
    expect(text).not.toContain('@kubectl-dbaas/own');
  });

  it('refuses a package without a license text, naming it', () => {
    const packages = bundledPackages(['node_modules/plain/index.js', 'node_modules/no-license/index.js'], root);
    expect(missingLicenseTexts(packages)).toEqual(['no-license@9.9.9']);
    expect(() => renderNotices({ product: 'x', packages })).toThrow(/no license text found for no-license@9\.9\.9/);
  });

  it('the esbuild plugin writes the notices of what esbuild bundled, and fails the build on a package without a license text', async () => {
    const out = path.join(root, 'out');
    await build({
      entryPoints: [path.join(root, 'good.js')],
      bundle: true,
      platform: 'node',
      outdir: out,
      absWorkingDir: root,
      logLevel: 'silent',
      plugins: [thirdPartyNoticesPlugin({ text: { file: 'NOTICES.txt', product: 'good' }, json: 'good.json', metafile: 'meta.json' })],
    });
    const json = JSON.parse(await readFile(path.join(out, 'good.json'), 'utf8')) as BundleNotices;
    expect(json.packages.map((p) => p.name)).toEqual(['@scope/two-files', 'plain', 'public-domain', 'readme-only']);
    expect(await readFile(path.join(out, 'NOTICES.txt'), 'utf8')).toContain('Copyright (c) readme authors');
    expect(existsSync(path.join(out, 'meta.json'))).toBe(true);

    const failed = build({
      entryPoints: [path.join(root, 'bad.js')],
      bundle: true,
      platform: 'node',
      outdir: path.join(root, 'out-bad'),
      absWorkingDir: root,
      logLevel: 'silent',
      plugins: [thirdPartyNoticesPlugin({ text: { file: 'NOTICES.txt', product: 'bad' } })],
    });
    await expect(failed).rejects.toThrow(/no license text found for no-license@9\.9\.9/);
    expect(existsSync(path.join(root, 'out-bad', 'NOTICES.txt'))).toBe(false);
  });
});

/** The package a bundled file belongs to, found the other way round: the nearest package.json with a name. */
async function owningPackage(file: string): Promise<{ name: string; version: string }> {
  for (let directory = path.dirname(file); directory !== path.dirname(directory); directory = path.dirname(directory)) {
    const manifest = path.join(directory, 'package.json');
    if (!existsSync(manifest)) continue;
    const parsed = JSON.parse(await readFile(manifest, 'utf8')) as { name?: string; version?: string };
    if (parsed.name && parsed.version) return { name: parsed.name, version: parsed.version };
  }
  throw new Error(`no package.json with a name above ${file}`);
}

describe("the CLI's real build", () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'kubectl-dbaas-notices-build-'));
    // The package's own tsup build (every bundle of the npm package and of the release), into a
    // directory of its own; the Node 24 that runs the tests first on PATH.
    const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH']}` };
    await exec('npx', ['tsup', '--out-dir', out, '--silent'], { cwd: PACKAGE_DIR, env, maxBuffer: 16 << 20 });
  }, 300_000);
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it.each([
    ['npm package', 'meta/npm.json', undefined],
    ['one-file bundle', 'meta/kubectl-dbaas.cjs.json', 'kubectl-dbaas.cjs.third-party.json'],
    ['single executable main script', 'meta/sea-kubectl-dbaas.cjs.json', 'sea/kubectl-dbaas.cjs.third-party.json'],
    ['single executable SDK asset', 'meta/sea-sdk.cjs.json', 'sea/sdk.cjs.third-party.json'],
  ])('%s: every npm package esbuild bundled is in the notices with a license text', async (_what, metafile, json) => {
    const meta = JSON.parse(await readFile(path.join(out, metafile), 'utf8')) as { inputs: Record<string, unknown> };
    const expected = new Set<string>();
    for (const input of Object.keys(meta.inputs)) {
      const file = input.replace(/^[\w-]+:(?=\/)/, '');
      if (!file.includes('node_modules/')) continue;
      const owner = await owningPackage(path.resolve(PACKAGE_DIR, file));
      if (!owner.name.startsWith('@kubectl-dbaas/')) expected.add(`${owner.name}@${owner.version}`);
    }
    expect(expected.size).toBeGreaterThan(10);
    if (json === undefined) {
      const text = await readFile(path.join(out, 'THIRD-PARTY-NOTICES.txt'), 'utf8');
      for (const id of expected) {
        const at = id.lastIndexOf('@');
        expect(text).toContain(`\n${'='.repeat(80)}\n${id.slice(0, at)} ${id.slice(at + 1)}\nLicense: `);
      }
      for (const name of ['yargs', 'zod', 'yaml', 'pg', '@kubernetes/client-node', 'undici'])
        expect(text).toMatch(new RegExp(`^ {2}${name.replace('/', '\\/')} \\d`, 'm'));
    } else {
      const { packages } = JSON.parse(await readFile(path.join(out, json), 'utf8')) as BundleNotices;
      expect(new Set(packages.map((p) => `${p.name}@${p.version}`))).toEqual(expected);
      for (const p of packages) expect(p.licenseTexts.map((t) => t.text.trim()).join('').length, `${p.name}@${p.version}`).toBeGreaterThan(0);
    }
  });
});
