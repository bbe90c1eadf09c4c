// The executable's entry: as little as possible before the real work, which is imported lazily.
// Node's on-disk compile cache (Node 22.1+) is turned on first, so that every module loaded after
// it (yargs, zod, the command's code) is deserialised instead of compiled on later runs.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off; NODE_COMPILE_CACHE=<dir> moves it.
//
// The single executable (Node SEA) of a platform the release build can run is made with a V8
// startup snapshot: this file then runs once, at build time, loads the command-line interface
// (yargs, the command definitions), compiles its parsing by parsing every command's --help once,
// and leaves `main` to be called on each start from the saved heap. Only what runs at build time is in the snapshot; the commands' code, the SDK and its
// dependencies are still imported when a command runs. Nothing read at build time (environment,
// terminal, arguments) is kept: all of that is read inside `main`.
import module from 'node:module';
import v8 from 'node:v8';
import { nodeTooOldMessage, nodeVersionAtLeast } from './node-version.js';

/** Set by the build: true in the one-file bundle (dist/kubectl-dbaas.cjs) that the SEA runs. */
declare const __DBAAS_SINGLE_FILE__: boolean;

function prepareProcess({ compileCache }: { compileCache: boolean }): void {
  try {
    if (compileCache) module.enableCompileCache?.();
  } catch {
    // A read-only or missing temporary directory: run without the cache.
  }
  // The one-file bundle has no dist/wal-worker.js beside it for the SDK's WAL worker threads: scan
  // in this thread instead of trying (and failing) to start them.
  if (typeof __DBAAS_SINGLE_FILE__ === 'boolean' && __DBAAS_SINGLE_FILE__) process.env['KUBECTL_DBAAS_WAL_WORKERS'] ??= '0';
}

if (v8.startupSnapshot?.isBuildingSnapshot()) {
  void import('./main.js').then(({ main, compileCommandLine }) => {
    compileCommandLine();
    v8.startupSnapshot.setDeserializeMainFunction(() => {
      // Nothing is compiled from files after a snapshot start: no cache directory to set up.
      prepareProcess({ compileCache: false });
      void main(process.argv.slice(2));
    });
  });
} else if (!nodeVersionAtLeast(process.versions.node)) {
  // Before main.js: on an older Node the bundled HTTP client fails on its first request with a
  // TypeError that says nothing about the cause. An environment error: exit 1 (docs/cli.md).
  process.stderr.write(nodeTooOldMessage(process.versions.node, process.execPath));
  process.exitCode = 1;
} else {
  prepareProcess({ compileCache: true });
  void import('./main.js').then(({ main }) => main(process.argv.slice(2)));
}
