// In the single executable (Node SEA) the SDK and its dependencies (the Kubernetes client, pg,
// mysql2, ...) are kept out of the startup snapshot: their compiled code, deserialised on every
// start, cost ~20 ms, also for the commands that never use them (version, --help, completion,
// usage errors). They ride along as the SEA asset `sdk.cjs` and are compiled here the first time a
// command imports '@kubectl-dbaas/sdk' (the executable's bundle aliases the package to this file).
//
// Compiling 4 MB of JavaScript costs ~100 ms, so V8's code cache of it is kept on disk, as Node's
// own compile cache does for modules loaded from files: written after the first use, read on the
// next. It cannot be made at build time: V8 ties a code cache to the exact startup snapshot, and
// every snapshot build differs. A cache V8 rejects (another build) is replaced; one that cannot be
// written (read-only home) is simply not used. KUBECTL_DBAAS_CODE_CACHE=0 turns it off.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import type * as Sdk from '@kubectl-dbaas/sdk';
import { SDK_ASSET } from './assets.js';

/** Set by the build. */
declare const __DBAAS_VERSION__: string;

// Not `import ... from 'node:sea'`: after a snapshot start `require` resolves only the built-ins
// that can be written without the node: prefix, and node:sea has no other name.
const { getAsset } = process.getBuiltinModule('node:sea');

function cacheFile(): string | undefined {
  if (process.env['KUBECTL_DBAAS_CODE_CACHE'] === '0') return undefined;
  const xdg = process.env['XDG_CACHE_HOME'];
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.cache');
  return path.join(base, 'kubectl-dbaas', 'code-cache', `sdk-${__DBAAS_VERSION__}-${process.version}-${process.platform}-${process.arch}.bin`);
}

function readCache(file: string | undefined): Buffer | undefined {
  try {
    return file ? readFileSync(file) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes beside the final name under a unique name, then renames: readers never see half a file. */
function writeCache(file: string, data: Buffer): void {
  const partial = `${file}.${randomUUID()}.partial`;
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(partial, data, { flag: 'wx', mode: 0o600 });
    renameSync(partial, file);
  } catch (error) {
    rmSync(partial, { force: true });
    if (process.env['DBAAS_DEBUG']) process.stderr.write(`debug: SDK code cache not written to ${file}: ${(error as Error).message}\n`);
  }
}

function loadSdk(): typeof Sdk {
  const file = cacheFile();
  const cache = readCache(file);
  const script = new vm.Script(getAsset(SDK_ASSET, 'utf8'), {
    filename: SDK_ASSET,
    ...(cache ? { cachedData: cache } : {}),
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const accepted = cache !== undefined && script.cachedDataRejected === false;
  if (process.env['DBAAS_DEBUG'])
    process.stderr.write(`debug: SDK compiled from the executable; code cache ${cache ? (accepted ? 'accepted' : 'rejected') : 'absent'}\n`);
  // The asset is a CommonJS module wrapped in a function expression (see tsup.config.ts).
  const run = script.runInThisContext() as (module: { exports: object }, exports: object, require: NodeJS.Require, filename: string, dirname: string) => void;
  const module = { exports: {} };
  run(module, module.exports, require, SDK_ASSET, '.');
  // After running it, so the functions its loading compiled are in the cache too.
  if (file && !accepted) writeCache(file, script.createCachedData());
  return module.exports as typeof Sdk;
}

export = loadSdk();
