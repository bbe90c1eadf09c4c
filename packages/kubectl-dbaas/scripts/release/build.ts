import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { findEmulator } from './emulator.js';
import { krewManifest, PLUGIN_BIN, THIRD_PARTY_NOTICES, validateKrewManifest, type KrewArchive } from './krew.js';
import { mergePackages, renderNotices, type BundleNotices } from './notices.js';
import { buildSea, nodeBinary, nodeLicense, type SeaStartup } from './sea.js';
import { tarGz } from './tar.js';
import { archiveName, hostTarget, RELEASE_TARGETS, targetKey, type ReleaseTarget } from './targets.js';

const run = promisify(execFile);

/** The kubectl-dbaas package directory. */
export const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The repository root. */
export const REPO_DIR = path.resolve(PACKAGE_DIR, '../..');

/** Default release download URL; `{version}`, `{archive}`, `{os}`, `{arch}` are filled in. */
export const DEFAULT_RELEASE_URL = 'https://github.com/kubectl-dbaas/kubectl-dbaas/releases/download/v{version}/{archive}';
/** Default homepage in the Krew manifest. */
export const DEFAULT_HOMEPAGE = 'https://github.com/kubectl-dbaas/kubectl-dbaas';

/**
 * Options of {@link buildRelease}.
 *
 * @example
 * ```ts
 * await buildRelease({ targets: ['linux-amd64'], outDir: '/tmp/release', manifest: '/tmp/release/dbaas.yaml' });
 * ```
 */
export interface BuildReleaseOptions {
  /** `linux-amd64` style keys (default: all of {@link RELEASE_TARGETS}). */
  targets?: readonly string[];
  /** Where archives go (default packages/kubectl-dbaas/release). */
  outDir?: string;
  /** Where the Krew manifest goes (default plugins/dbaas.yaml when every target is built, else <outDir>/dbaas.yaml). */
  manifest?: string;
  releaseUrl?: string;
  homepage?: string;
  /** Build the packages first (default true). */
  build?: boolean;
  /** Go on with the other targets when one fails (default false). */
  keepGoing?: boolean;
  log?: (line: string) => void;
}

/** One built archive. */
export interface BuiltArchive extends KrewArchive {
  target: ReleaseTarget;
  /** The archive file. */
  file: string;
  /** The executable, unpacked, beside it. */
  binary: string;
  /** Ad-hoc signed (darwin), or not applicable (linux). */
  signed: boolean | 'n/a';
  /** How it starts (see {@link SeaStartup}). */
  startup: SeaStartup;
  /** How the built executable was run here (`version -o json`): natively, emulated, or not at all. */
  ran: 'native' | 'emulated' | 'no';
}

/** What {@link buildRelease} built and what failed. */
export interface ReleaseResult {
  version: string;
  archives: BuiltArchive[];
  failures: Array<{ target: string; error: string }>;
  manifest: string;
  warnings: string[];
}

/**
 * Builds the single executables, their `.tar.gz` archives (with LICENSE) and the Krew manifest.
 *
 * @example
 * ```ts
 * const result = await buildRelease({ targets: ['linux-amd64'] });
 * console.log(result.archives.map((a) => `${a.file} ${a.sha256}`));
 * ```
 */
export async function buildRelease(options: BuildReleaseOptions = {}): Promise<ReleaseResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const outDir = options.outDir ?? path.join(PACKAGE_DIR, 'release');
  const wanted = options.targets ?? RELEASE_TARGETS.map(targetKey);
  // plugins/dbaas.yaml is the manifest of a whole release: a build of some targets writes its
  // manifest beside its archives instead of replacing that one with fewer platforms.
  const everyTarget = RELEASE_TARGETS.every((t) => wanted.includes(targetKey(t)));
  const manifestFile = options.manifest ?? (everyTarget ? path.join(REPO_DIR, 'plugins', 'dbaas.yaml') : path.join(outDir, 'dbaas.yaml'));
  const releaseUrl = options.releaseUrl ?? process.env['DBAAS_RELEASE_URL'] ?? DEFAULT_RELEASE_URL;
  const homepage = options.homepage ?? process.env['DBAAS_HOMEPAGE'] ?? DEFAULT_HOMEPAGE;
  const targets = wanted.map((key) => {
    const target = RELEASE_TARGETS.find((t) => targetKey(t) === key);
    if (!target) throw new Error(`unknown target ${key}; known: ${RELEASE_TARGETS.map(targetKey).join(', ')}`);
    return target;
  });
  const host = hostTarget();
  if (host?.os !== 'linux') throw new Error(`release builds run on linux (amd64 or arm64), not ${process.platform}/${process.arch}`);

  if (options.build ?? true) {
    log('building @kubectl-dbaas/sdk and kubectl-dbaas');
    await run('npx', ['turbo', 'run', 'build', '--filter=kubectl-dbaas', '--output-logs=errors-only'], { cwd: REPO_DIR, maxBuffer: 16 << 20 });
  }
  const { version } = JSON.parse(await readFile(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string };
  const bundle = path.join(PACKAGE_DIR, 'dist', 'kubectl-dbaas.cjs');
  const seaMain = path.join(PACKAGE_DIR, 'dist', 'sea', 'kubectl-dbaas.cjs');
  const sdkAsset = path.join(PACKAGE_DIR, 'dist', 'sea', 'sdk.cjs');
  const license = await readFile(path.join(PACKAGE_DIR, 'LICENSE'));
  // THIRD-PARTY-NOTICES.txt of each archive: Node.js's LICENSE (of that target's Node) and the
  // npm packages the two bundles inline, as the build listed them from esbuild's metafiles
  // (scripts/release/notices.ts); esbuild's extracted license comments follow as an appendix.
  const bundled = async (file: string) => (JSON.parse(await readFile(`${file}.third-party.json`, 'utf8')) as BundleNotices).packages;
  const seaPackages = mergePackages([...(await bundled(seaMain)), ...(await bundled(sdkAsset))]);
  const legalComments = {
    title: 'License comments found in the bundled code (extracted by esbuild)',
    text: `${await readFile(`${seaMain}.LEGAL.txt`, 'utf8')}\n${await readFile(`${sdkAsset}.LEGAL.txt`, 'utf8')}`,
  };
  await mkdir(outDir, { recursive: true });

  const archives: BuiltArchive[] = [];
  const failures: ReleaseResult['failures'] = [];
  for (const target of targets) {
    const key = targetKey(target);
    try {
      const targetNode = await nodeBinary(target.nodePackage, target.nodeVersion, log);
      const binary = path.join(outDir, key, PLUGIN_BIN);
      await rm(path.dirname(binary), { recursive: true, force: true });
      // The startup snapshot is made by the target's own Node (run natively, or emulated for the
      // other Linux architecture); a target no Node here can run gets a plain script blob, made
      // by a Node of the same version for this machine.
      const native = target === host;
      const emulator = native ? undefined : await findEmulator(target);
      const emulated = emulator && 'command' in emulator ? emulator.command : undefined;
      let blobNode: string[];
      let startup: SeaStartup;
      if (native) [blobNode, startup] = [[targetNode], 'snapshot'];
      else if (emulated) [blobNode, startup] = [[...emulated, targetNode], 'snapshot'];
      else {
        [blobNode, startup] = [[await nodeBinary(host.nodePackage, target.nodeVersion, log)], 'source'];
        log(`${key}: no startup snapshot (${emulator && 'reason' in emulator ? emulator.reason : 'not runnable here'})`);
      }
      await buildSea({ bundle: seaMain, sdkAsset, blobNode, targetNode, target, output: binary, startup, log });
      let signed: BuiltArchive['signed'] = 'n/a';
      if (target.os === 'darwin') {
        const { signMachOAdHoc, verifyMachOAdHoc } = await import('./macho.js');
        const signedBytes = signMachOAdHoc(await readFile(binary), PLUGIN_BIN);
        const problems = verifyMachOAdHoc(signedBytes);
        if (problems.length > 0) throw new Error(`ad-hoc signature does not verify: ${problems.join('; ')}`);
        await writeFile(binary, signedBytes, { mode: 0o755 });
        signed = true;
        log(`${key}: signed ad hoc`);
      }
      const ran: BuiltArchive['ran'] = native ? 'native' : emulated ? 'emulated' : 'no';
      if (ran !== 'no') {
        const [command, ...prefix] = native ? [binary] : [...emulated!, binary];
        const { stdout } = await run(command!, [...prefix, 'version', '-o', 'json']);
        const reported = JSON.parse(stdout) as { version: string; platform: string };
        if (reported.version !== version) throw new Error(`the executable reports version ${reported.version}, expected ${version}`);
        log(`${key}: runs${ran === 'emulated' ? ' (emulated)' : ''}: version ${reported.version}, ${reported.platform}`);
      }
      const node = await nodeLicense(target.nodePackage, target.nodeVersion, log);
      const notices = renderNotices({
        product: `kubectl-dbaas ${version} for ${target.os}/${target.arch} (a Node.js single executable)`,
        packages: seaPackages,
        node: { version: target.nodeVersion, ...node },
        appendix: legalComments,
      });
      const archive = tarGz([
        { name: PLUGIN_BIN, data: await readFile(binary), mode: 0o755 },
        { name: 'LICENSE', data: license, mode: 0o644 },
        { name: THIRD_PARTY_NOTICES, data: Buffer.from(notices), mode: 0o644 },
      ]);
      const file = path.join(outDir, archiveName(version, target));
      await writeFile(file, archive);
      const sha256 = createHash('sha256').update(archive).digest('hex');
      const uri = releaseUrl
        .replaceAll('{version}', version)
        .replaceAll('{archive}', path.basename(file))
        .replaceAll('{os}', target.os)
        .replaceAll('{arch}', target.arch);
      archives.push({ target, os: target.os, arch: target.arch, file, binary, uri, sha256, signed, startup, ran });
      log(`${key}: ${path.relative(process.cwd(), file)} (${(archive.length / 1048576).toFixed(1)} MiB) sha256 ${sha256}`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failures.push({ target: key, error: message });
      log(`${key}: FAILED: ${message}`);
      if (!options.keepGoing) throw error;
    }
  }

  // The one-file bundle too, for machines with Node >= 22.19.0: `node kubectl-dbaas-<version>.cjs`.
  // With its own notices: it inlines the same packages (no Node.js inside).
  const single = await readFile(bundle);
  const singleName = `kubectl-dbaas-${version}.cjs`;
  await writeFile(path.join(outDir, singleName), single);
  const singleNotices = renderNotices({ product: `the one-file bundle ${singleName}`, packages: await bundled(bundle) });
  await writeFile(path.join(outDir, `${singleName}.${THIRD_PARTY_NOTICES}`), singleNotices);
  const sums = [...archives.map((a) => [a.sha256, path.basename(a.file)]), [createHash('sha256').update(single).digest('hex'), singleName]];
  await writeFile(path.join(outDir, 'checksums.txt'), sums.map(([sum, name]) => `${sum}  ${name}\n`).join(''));
  const plugin = krewManifest({ version, homepage, archives });
  const validation = validateKrewManifest(plugin, {
    fileName: path.basename(manifestFile),
    archiveFiles: new Map(archives.map((a) => [a.uri, [PLUGIN_BIN, 'LICENSE', THIRD_PARTY_NOTICES]])),
  });
  if (validation.errors.length > 0) throw new Error(`the Krew manifest is invalid:\n${validation.errors.join('\n')}`);
  await mkdir(path.dirname(manifestFile), { recursive: true });
  await writeFile(
    manifestFile,
    `# Generated by packages/kubectl-dbaas/scripts/build-release.ts from the release archives; do not edit.\n${stringify(plugin, { lineWidth: 0 })}`,
  );
  log(`Krew manifest: ${path.relative(process.cwd(), manifestFile)} (${archives.length} platforms)`);
  return { version, archives, failures, manifest: manifestFile, warnings: validation.warnings };
}
