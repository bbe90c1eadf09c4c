import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImportKind, OnResolveResult } from 'esbuild';
import { defineConfig, type Options } from 'tsup';
import ts from 'typescript';
import { thirdPartyNoticesPlugin } from './scripts/release/notices-plugin.js';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

// yargs and cliui measure help text with string-width, whose modules build an Intl.Segmenter (ICU
// data load, ~8 ms) and a `\p{RGI_Emoji}` regular expression (~11 ms) when they are imported, i.e.
// on every start of every command, not only for --help. fast-string-width has the same call
// signature and compiles nothing until it is called. bench/cli-startup measures the difference.
const bundleAliases = { 'string-width': 'fast-string-width' };

const SDK = '@kubectl-dbaas/sdk';
const sdkIndex = fileURLToPath(new URL('../sdk/src/index.ts', import.meta.url));

type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * The `{ ... }` of `import { ... } from '@kubectl-dbaas/sdk'` or `export { ... } from
 * '@kubectl-dbaas/sdk'`; undefined for other statements and for type-only ones (which emit nothing).
 */
function sdkBindings(
  statement: ts.Statement,
  file: string,
): { keyword: 'import' | 'export'; elements: ReadonlyArray<ts.ImportSpecifier | ts.ExportSpecifier> } | undefined {
  const from = ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement) ? statement.moduleSpecifier : undefined;
  if (from === undefined || !ts.isStringLiteral(from) || from.text !== SDK) return undefined;
  if (ts.isImportDeclaration(statement)) {
    const clause = statement.importClause;
    if (clause?.isTypeOnly) return undefined;
    if (clause?.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) && clause.name === undefined)
      return { keyword: 'import', elements: clause.namedBindings.elements };
  } else if (ts.isExportDeclaration(statement)) {
    if (statement.isTypeOnly) return undefined;
    if (statement.exportClause !== undefined && ts.isNamedExports(statement.exportClause))
      return { keyword: 'export', elements: statement.exportClause.elements };
  }
  throw new Error(`${file}: only named imports and exports of ${SDK} are understood here, not: ${statement.getText()}`);
}

/**
 * Makes the CLI's `import { a, b } from '@kubectl-dbaas/sdk'` import `a` and `b` from the SDK's
 * source files that define them, not through the SDK's index. With code splitting, esbuild puts in
 * one chunk every module that any command reaches through the index (it shakes unused code out of
 * modules, not unused modules out of chunks), so `wal inspect` would load the Kubernetes client and
 * `backup list` the MySQL driver. The index holds only `export { ... } from './file.js'` (it says
 * so): that is the name -> file map. A name the index does not export fails the build.
 */
function sdkDirectImports(): EsbuildPlugin {
  const index = ts.createSourceFile(sdkIndex, readFileSync(sdkIndex, 'utf8'), ts.ScriptTarget.Latest, true);
  const values = new Map<string, { file: string; name: string }>();
  const types = new Set<string>();
  for (const statement of index.statements) {
    const from = ts.isExportDeclaration(statement) ? statement.moduleSpecifier : undefined;
    if (
      !ts.isExportDeclaration(statement) ||
      from === undefined ||
      !ts.isStringLiteral(from) ||
      statement.exportClause === undefined ||
      !ts.isNamedExports(statement.exportClause)
    ) {
      throw new Error(`${sdkIndex}: only \`export { ... } from './file.js'\` is understood here, not: ${statement.getText()}`);
    }
    const file = path.resolve(path.dirname(sdkIndex), from.text.replace(/\.js$/, '.ts'));
    for (const element of statement.exportClause.elements) {
      if (statement.isTypeOnly || element.isTypeOnly) types.add(element.name.text);
      else values.set(element.name.text, { file, name: (element.propertyName ?? element.name).text });
    }
  }
  return {
    name: 'sdk-direct-imports',
    setup(build) {
      build.onLoad({ filter: /[\\/]kubectl-dbaas[\\/]src[\\/].*\.ts$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes(`'${SDK}'`)) return undefined; // loaded as usual
        const source = ts.createSourceFile(args.path, text, ts.ScriptTarget.Latest, true);
        let contents = text;
        // From the last statement back, so that the offsets of the earlier ones stay valid.
        for (const statement of [...source.statements].reverse()) {
          const bindings = sdkBindings(statement, args.path);
          if (bindings === undefined) continue;
          const direct = bindings.elements.flatMap((element) => {
            const name = (element.propertyName ?? element.name).text;
            const target = values.get(name);
            if (element.isTypeOnly || (target === undefined && types.has(name))) return [];
            if (target === undefined) throw new Error(`${args.path}: ${SDK} exports no ${name}`);
            return [`${bindings.keyword} { ${target.name} as ${element.name.text} } from ${JSON.stringify(target.file)};`];
          });
          contents = contents.slice(0, statement.getStart()) + direct.join(' ') + contents.slice(statement.getEnd());
        }
        return { contents, loader: 'ts' };
      });
    },
  };
}

/**
 * Gives the SDK's modules a copy of zod of their own: the same files as a second set of modules.
 * Shared with the CLI's own zod/mini, the parts of zod's core that the SDK's full zod API uses (its
 * JSON Schema code, say) would be merged into the chunk of zod's core that every command loads:
 * `version` and `--help` would read 113 KB of zod instead of 35 KB (~2 ms). zod is made to run as
 * several copies in one process (its configuration and registry are kept on globalThis).
 */
function sdkOwnZod(): EsbuildPlugin {
  const namespace = 'sdk-zod';
  const sdkSourceDir = path.dirname(sdkIndex) + path.sep;
  return {
    name: 'sdk-own-zod',
    setup(build) {
      const inCopy = async (specifier: string, resolveDir: string, kind: ImportKind): Promise<OnResolveResult> => {
        const resolved = await build.resolve(specifier, { kind, resolveDir });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        return { path: resolved.path, namespace, sideEffects: resolved.sideEffects };
      };
      build.onResolve({ filter: /^zod(\/|$)/ }, (args) => (args.importer.startsWith(sdkSourceDir) ? inCopy(args.path, args.resolveDir, args.kind) : undefined));
      build.onResolve({ filter: /.*/, namespace }, (args) => inCopy(args.path, args.resolveDir, args.kind));
      build.onLoad({ filter: /.*/, namespace }, async (args) => ({
        contents: await readFile(args.path, 'utf8'),
        loader: 'js',
        resolveDir: path.dirname(args.path),
      }));
    },
  };
}

/**
 * Gives the bundled third-party code Node's built-in modules through `require`, the one the chunks'
 * banner makes, instead of through ESM imports. An ESM import of a built-in makes Node build its
 * whole ESM namespace, reading every export: `node:http`'s WebSocket and MessageEvent getters load
 * Node's internal undici (~10 ms), `node:fs`'s promises getter the promise API, and so on, for
 * exports the importer never uses. Each bare built-in imported from node_modules becomes a
 * CommonJS module `module.exports = require('node:<name>')`, which esbuild's interop reads lazily.
 */
function builtinsThroughRequire(): EsbuildPlugin {
  const builtins = new Set(builtinModules.filter((name) => !name.startsWith('_')));
  return {
    name: 'builtins-through-require',
    setup(build) {
      build.onResolve({ filter: /^(node:)?[a-z][a-z0-9_/]*$/ }, (args) => {
        const name = args.path.replace(/^node:/, '');
        if (args.kind !== 'import-statement' || !builtins.has(name) || !/[\\/]node_modules[\\/]/.test(args.importer)) return undefined;
        return { path: name, namespace: 'builtin-through-require' };
      });
      build.onLoad({ filter: /.*/, namespace: 'builtin-through-require' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(`node:${args.path}`)});`,
        loader: 'js',
      }));
    },
  };
}

// The one-file CommonJS builds (every dependency inlined). @node-rs/crc32 (a native addon) is left
// out: the SDK falls back to its WebAssembly/JavaScript CRC-32C when it cannot be required.
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
  noExternal: [/.*/],
  external: ['@node-rs/crc32'],
  define: { __DBAAS_VERSION__: JSON.stringify(version), __DBAAS_SINGLE_FILE__: 'true' },
  // Minified (12 MB -> 4.5 MB): the single executable holds the script in memory, and compiles or
  // deserialises it, on every start. Names are kept: some dependencies name errors after their
  // constructors. License comments go to <file>.LEGAL.txt, appended to the archives' notices;
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
  // of ~1,100 from node_modules (`backup list` failing at once: ~400 ms -> ~160 ms). The plugins
  // above keep each command to the SDK modules it uses, keep the SDK's zod out of the chunk every
  // command loads, and give bundled packages Node's built-ins through require.
  // Left out: @node-rs/crc32, a native addon the SDK's CRC-32C requires at run time from beside the
  // chunks (so it is a dependency of this package).
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
    external: ['@node-rs/crc32'],
    // CommonJS code inlined in ESM chunks (yaml's, the SDK's dependencies') calls require() for Node built-ins.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __dbaasCreateRequire } from 'node:module';\nconst require = __dbaasCreateRequire(import.meta.url);",
    },
    define: { __DBAAS_VERSION__: JSON.stringify(version), __DBAAS_SINGLE_FILE__: 'false' },
    // dist/THIRD-PARTY-NOTICES.txt: the packages inlined in the chunks, with their license texts.
    esbuildPlugins: [
      sdkDirectImports(),
      sdkOwnZod(),
      builtinsThroughRequire(),
      thirdPartyNoticesPlugin({ text: { file: 'THIRD-PARTY-NOTICES.txt', product: 'the kubectl-dbaas npm package' }, metafile: 'meta/npm.json' }),
    ],
    // Leaves `node:` imports to the plugins above and esbuild (tsup would mark them external first).
    removeNodeProtocol: false,
    esbuildOptions: (options) => {
      options.alias = { ...bundleAliases, [SDK]: sdkIndex };
      // Whitespace and syntax minified, names kept: half the bytes to read, hash and deserialise on
      // every start (the chunk with the Kubernetes client: 3.7 MB); measured ~15% off such a command.
      options.minifyWhitespace = true;
      options.minifySyntax = true;
    },
  },
  // One file with every dependency inlined: `node kubectl-dbaas.cjs` needs no node_modules (it is
  // a release artifact for machines with Node >= 22.19.0). CommonJS, like the single executable's.
  // The packages each one-file build inlines (for the release's THIRD-PARTY-NOTICES.txt) are
  // written beside it as <file>.third-party.json, with esbuild's metafile in dist/meta/.
  {
    ...singleFile,
    entry: { 'kubectl-dbaas': 'src/cli.ts' },
    banner: { js: '#!/usr/bin/env node' },
    esbuildPlugins: [thirdPartyNoticesPlugin({ json: 'kubectl-dbaas.cjs.third-party.json', metafile: 'meta/kubectl-dbaas.cjs.json' })],
  },
  // The single executable (Node SEA) runs two files: sea/kubectl-dbaas.cjs, the main script (it is
  // in the startup snapshot), and sea/sdk.cjs, the SDK with its dependencies, an asset compiled
  // only when a command imports the SDK (src/single-executable/sdk-from-asset.cts).
  {
    ...singleFile,
    entry: { 'sea/kubectl-dbaas': 'src/cli.ts' },
    esbuildPlugins: [thirdPartyNoticesPlugin({ json: 'sea/kubectl-dbaas.cjs.third-party.json', metafile: 'meta/sea-kubectl-dbaas.cjs.json' })],
    esbuildOptions: (options) => {
      singleFile.esbuildOptions(options);
      options.alias = { ...bundleAliases, '@kubectl-dbaas/sdk': './src/single-executable/sdk-from-asset.cts' };
    },
  },
  {
    ...singleFile,
    entry: { 'sea/sdk': sdkIndex },
    esbuildPlugins: [thirdPartyNoticesPlugin({ json: 'sea/sdk.cjs.third-party.json', metafile: 'meta/sea-sdk.cjs.json' })],
    define: {},
    // A CommonJS module wrapped in a function expression: the script's value is the function, which
    // the loader calls with the module's variables (a script cannot take them any other way).
    banner: { js: '(function (module, exports, require, __filename, __dirname) {' },
    footer: { js: '})' },
  },
]);
