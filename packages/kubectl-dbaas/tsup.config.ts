import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

// yargs and cliui measure help text with string-width, whose modules build an Intl.Segmenter (ICU
// data load, ~8 ms) and a `\p{RGI_Emoji}` regular expression (~11 ms) when they are imported, i.e.
// on every start of every command, not only for --help. fast-string-width has the same call
// signature and compiles nothing until it is called. bench/cli-startup measures the difference.
const bundleAliases = { 'string-width': 'fast-string-width' };

export default defineConfig([
  // The npm package's executable (bin `kubectl-dbaas`): ESM, split so that each command's code is
  // its own chunk loaded when the command runs. yargs, zod and yaml are inlined (one file to read
  // at start-up instead of ~100); the SDK stays a dependency (native CRC, WAL worker file) and is
  // loaded only by the commands that use it.
  {
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: true,
    splitting: true,
    target: 'node22',
    platform: 'node',
    noExternal: ['yargs', 'zod', 'yaml', /^yargs\//],
    // @kubectl-dbaas/testing: only `restore --prep local` / `verify --runtime local` (the project's
    // test cluster) import it, dynamically; an optional peer dependency, never bundled.
    external: ['@kubectl-dbaas/sdk', '@kubectl-dbaas/testing'],
    // CommonJS code inlined in ESM chunks (yaml's) calls require() for Node built-ins.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __dbaasCreateRequire } from 'node:module';\nconst require = __dbaasCreateRequire(import.meta.url);" },
    define: { __DBAAS_VERSION__: JSON.stringify(version), __DBAAS_SINGLE_FILE__: 'false' },
    esbuildOptions: (options) => {
      options.alias = bundleAliases;
    },
  },
  // One file with every dependency inlined: what the single executable (Node SEA) runs, and a
  // `node kubectl-dbaas.cjs` that needs no node_modules. CommonJS because Node 24's SEA runs a
  // CommonJS main script. @node-rs/crc32 (a native addon) is left out: the SDK falls back to its
  // WebAssembly/JavaScript CRC-32C when it cannot be required.
  {
    entry: { 'kubectl-dbaas': 'src/cli.ts' },
    format: ['cjs'],
    outExtension: () => ({ js: '.cjs' }),
    dts: false,
    sourcemap: false,
    clean: false,
    splitting: false,
    shims: true,
    target: 'node22',
    platform: 'node',
    // Everything but @kubectl-dbaas/testing (tsup's noExternal wins over external, so it is left
    // out here): `--prep local` / `--runtime local` then say that it is not installed.
    noExternal: [/^(?!@kubectl-dbaas\/testing$)/],
    external: ['@node-rs/crc32', '@kubectl-dbaas/testing'],
    banner: { js: '#!/usr/bin/env node' },
    define: { __DBAAS_VERSION__: JSON.stringify(version), __DBAAS_SINGLE_FILE__: 'true' },
    // Minified (12 MB -> 4.5 MB): the single executable reads, and its startup snapshot holds, the
    // whole script on every start. Names are kept: some dependencies name errors after their
    // constructors. License comments go to kubectl-dbaas.cjs.LEGAL.txt, shipped in the release
    // archives; leaving them inline would also make the script non-ASCII (see below).
    minify: true,
    keepNames: true,
    esbuildOptions: (options) => {
      options.alias = bundleAliases;
      options.legalComments = 'external';
      // ASCII only (esbuild's default, stated because it matters): V8 keeps a script with any
      // other character in two bytes per character, doubling the memory and the snapshot.
      options.charset = 'ascii';
    },
  },
]);
