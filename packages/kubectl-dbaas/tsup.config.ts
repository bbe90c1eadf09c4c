import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

// yargs and cliui measure help text with string-width, whose modules build an Intl.Segmenter (ICU
// data load, ~8 ms) and a `\p{RGI_Emoji}` regular expression (~11 ms) when they are imported, i.e.
// on every start of every command, not only for --help. fast-string-width has the same call
// signature and compiles nothing until it is called. bench/cli-startup measures the difference.
const bundleAliases = { 'string-width': 'fast-string-width' };

const SDK = '@kubectl-dbaas/sdk';
const sdkIndex = fileURLToPath(new URL('../sdk/src/index.ts', import.meta.url));

// The one-file CommonJS builds (every dependency inlined). @node-rs/crc32 (a native addon) is left
// out: the SDK falls back to its WebAssembly/JavaScript CRC-32C when it cannot be required.
// @kubectl-dbaas/testing too (tsup's noExternal wins over external, so it is excluded there):
// `--prep local` / `--runtime local` then say that it is not installed.
const singleFile = {
  format: ['cjs'],
  outExtension: () => ({ js: '.cjs' }),
  dts: false,
  sourcemap: false,
  clean: false,
  splitting: false,
  shims: true,
  target: 'node22',
  platform: 'node',
  noExternal: [/^(?!@kubectl-dbaas\/testing$)/],
  external: ['@node-rs/crc32', '@kubectl-dbaas/testing'],
  define: { __DBAAS_VERSION__: JSON.stringify(version), __DBAAS_SINGLE_FILE__: 'true' },
  // Minified (12 MB -> 4.5 MB): the single executable holds the script in memory, and compiles or
  // deserialises it, on every start. Names are kept: some dependencies name errors after their
  // constructors. License comments go to <file>.LEGAL.txt, shipped in the release archives;
  // inline they would also make the script non-ASCII (see charset).
  minify: true,
  keepNames: true,
  esbuildOptions: (options) => {
    options.alias = bundleAliases;
    options.legalComments = 'external';
    // ASCII only (esbuild's default, stated because it matters): V8 keeps a script with any
    // other character in two bytes per character, doubling the memory and the snapshot.
    options.charset = 'ascii';
  },
} satisfies Options;

export default defineConfig([
  // The npm package's executable (bin `kubectl-dbaas`): ESM, split so that each command's code is
  // its own chunk, loaded when the command runs; `version`, `--help` and usage errors load no SDK
  // code. Inlined: yargs, zod, yaml, and the SDK (from its sources) with its JavaScript dependencies
  // (@kubernetes/client-node, pg, mysql2, ...): a command that uses the SDK reads ~15 files instead
  // of ~1,100 from node_modules.
  // Left out: @node-rs/crc32, a native addon the SDK's CRC-32C requires at run time from beside the
  // chunks (so it is a dependency of this package), and @kubectl-dbaas/testing (below).
  // The SDK's WAL scanner starts its worker threads from wal-worker.js beside the chunk that runs
  // it: the entry `wal-worker` builds dist/wal-worker.js from the SDK's worker source.
  {
    entry: { cli: 'src/cli.ts', 'wal-worker': '../sdk/src/wal/wal-worker.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: true,
    splitting: true,
    target: 'node22',
    platform: 'node',
    noExternal: ['yargs', 'zod', 'yaml', /^yargs\//],
    // @kubectl-dbaas/testing: only `restore --prep local` / `verify --runtime local` (the project's
    // test cluster) import it, dynamically; an optional peer dependency, never bundled. It imports
    // its own @kubectl-dbaas/sdk from node_modules: the SDK's classes are recognised across the two
    // copies (packages/sdk/src/across-copies.ts).
    external: ['@kubectl-dbaas/testing', '@node-rs/crc32'],
    // CommonJS code inlined in ESM chunks (yaml's, the SDK's dependencies') calls require() for Node built-ins.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __dbaasCreateRequire } from 'node:module';\nconst require = __dbaasCreateRequire(import.meta.url);" },
    define: { __DBAAS_VERSION__: JSON.stringify(version), __DBAAS_SINGLE_FILE__: 'false' },
    esbuildOptions: (options) => {
      options.alias = { ...bundleAliases, [SDK]: sdkIndex };
      // Whitespace and syntax minified, names kept: half the bytes to read, hash and deserialise on
      // every start (the chunk with the Kubernetes client: 3.7 MB); measured ~15% off such a command.
      options.minifyWhitespace = true;
      options.minifySyntax = true;
    },
  },
  // One file with every dependency inlined: `node kubectl-dbaas.cjs` needs no node_modules (it is
  // a release artifact for machines with Node >= 22). CommonJS, like the single executable's.
  { ...singleFile, entry: { 'kubectl-dbaas': 'src/cli.ts' }, banner: { js: '#!/usr/bin/env node' } },
  // The single executable (Node SEA) runs two files: sea/kubectl-dbaas.cjs, the main script (it is
  // in the startup snapshot), and sea/sdk.cjs, the SDK with its dependencies, an asset compiled
  // only when a command imports the SDK (src/single-executable/sdk-from-asset.cts).
  {
    ...singleFile,
    entry: { 'sea/kubectl-dbaas': 'src/cli.ts' },
    esbuildOptions: (options) => {
      singleFile.esbuildOptions(options);
      options.alias = { ...bundleAliases, '@kubectl-dbaas/sdk': './src/single-executable/sdk-from-asset.cts' };
    },
  },
  {
    ...singleFile,
    entry: { 'sea/sdk': '../sdk/src/index.ts' },
    define: {},
    // A CommonJS module wrapped in a function expression: the script's value is the function, which
    // the loader calls with the module's variables (a script cannot take them any other way).
    banner: { js: '(function (module, exports, require, __filename, __dirname) {' },
    footer: { js: '})' },
  },
]);
