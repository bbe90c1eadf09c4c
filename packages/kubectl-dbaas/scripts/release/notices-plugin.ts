import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Plugin } from 'esbuild';
import { bundledPackages, missingLicenseTexts, renderNotices, type BundleNotices } from './notices.js';

/**
 * Options of {@link thirdPartyNoticesPlugin}; file names are relative to the build's outdir.
 */
export interface NoticesPluginOptions {
  /** Write THIRD-PARTY-NOTICES text here, naming the product (e.g. `the kubectl-dbaas npm package`). */
  text?: { file: string; product: string };
  /** Write the packages as JSON ({@link BundleNotices}) here, for the release build to combine. */
  json?: string;
  /** Write esbuild's metafile here (what the notices were made from; the tests check against it). */
  metafile?: string;
}

/**
 * An esbuild plugin that lists the npm packages the bundle includes, from esbuild's own metafile,
 * with their license texts from node_modules, and writes them beside the bundle. The build fails
 * if a bundled package has no license text.
 *
 * @example
 * ```ts
 * esbuildPlugins: [thirdPartyNoticesPlugin({ text: { file: 'THIRD-PARTY-NOTICES.txt', product: 'the kubectl-dbaas npm package' } })]
 * ```
 */
export function thirdPartyNoticesPlugin(options: NoticesPluginOptions): Plugin {
  return {
    name: 'third-party-notices',
    setup(build) {
      build.initialOptions.metafile = true;
      build.onEnd((result) => {
        if (result.errors.length > 0) return;
        if (result.metafile === undefined) throw new Error('third-party notices: esbuild gave no metafile');
        const initial = build.initialOptions;
        const outdir = path.resolve(initial.absWorkingDir ?? process.cwd(), initial.outdir ?? path.dirname(initial.outfile ?? '.'));
        const workingDirectory = initial.absWorkingDir ?? process.cwd();
        const packages = bundledPackages(Object.keys(result.metafile.inputs), workingDirectory);
        const missing = missingLicenseTexts(packages);
        if (missing.length > 0) throw new Error(`third-party notices: no license text found for ${missing.join(', ')} (see scripts/release/notices.ts)`);
        const write = (file: string, data: string) => {
          const target = path.resolve(outdir, file);
          mkdirSync(path.dirname(target), { recursive: true });
          writeFileSync(target, data);
        };
        if (options.text) write(options.text.file, renderNotices({ product: options.text.product, packages }));
        if (options.json) write(options.json, `${JSON.stringify({ packages } satisfies BundleNotices)}\n`);
        if (options.metafile) write(options.metafile, JSON.stringify(result.metafile));
      });
    },
  };
}
