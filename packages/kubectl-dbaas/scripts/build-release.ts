// Builds the release: single executables (Node SEA) for linux and darwin, amd64 and arm64, packed
// as kubectl-dbaas-<version>-<os>-<arch>.tar.gz with LICENSE into packages/kubectl-dbaas/release/,
// their checksums, and the Krew manifest (plugins/dbaas.yaml for a build of every target; a build of
// some targets writes release/dbaas.yaml instead). See docs/install.md.
//
//   npx tsx packages/kubectl-dbaas/scripts/build-release.ts [--targets linux-amd64,darwin-arm64]
//       [--out DIR] [--manifest FILE] [--release-url URL] [--homepage URL] [--no-build] [--keep-going]
//
// --release-url is a pattern with {version}, {archive}, {os}, {arch} (default: the GitHub release
// of v{version}; also $DBAAS_RELEASE_URL). Node binaries for other platforms come from the npm
// registry's node-<os>-<arch> packages (cached in ~/.cache/kubectl-dbaas/node).
import { parseArgs } from 'node:util';
import { buildRelease } from './release/build.js';

const { values } = parseArgs({
  options: {
    targets: { type: 'string' },
    out: { type: 'string' },
    manifest: { type: 'string' },
    'release-url': { type: 'string' },
    homepage: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'keep-going': { type: 'boolean', default: false },
  },
});

const result = await buildRelease({
  ...(values.targets ? { targets: values.targets.split(',').map((t) => t.trim()) } : {}),
  ...(values.out ? { outDir: values.out } : {}),
  ...(values.manifest ? { manifest: values.manifest } : {}),
  ...(values['release-url'] ? { releaseUrl: values['release-url'] } : {}),
  ...(values.homepage ? { homepage: values.homepage } : {}),
  build: !values['no-build'],
  keepGoing: values['keep-going'],
});
for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
for (const archive of result.archives) process.stdout.write(`${archive.sha256}  ${archive.file}\n`);
for (const failure of result.failures) process.stdout.write(`FAILED ${failure.target}: ${failure.error}\n`);
process.exitCode = result.failures.length > 0 ? 1 : 0;
