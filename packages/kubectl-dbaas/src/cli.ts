// The executable's entry: as little as possible before the real work, which is imported lazily.
// Node's on-disk compile cache (Node 22.1+) is turned on first, so that every module loaded after
// it (yargs, zod, the command's code) is deserialised instead of compiled on later runs.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off; NODE_COMPILE_CACHE=<dir> moves it.
import module from 'node:module';

/** Set by the build: true in the one-file bundle (dist/kubectl-dbaas.cjs) that the SEA runs. */
declare const __DBAAS_SINGLE_FILE__: boolean;

try {
  module.enableCompileCache?.();
} catch {
  // A read-only or missing temporary directory: run without the cache.
}

// The one-file bundle has no dist/wal-worker.js beside it for the SDK's WAL worker threads: scan
// in this thread instead of trying (and failing) to start them.
if (typeof __DBAAS_SINGLE_FILE__ === 'boolean' && __DBAAS_SINGLE_FILE__) process.env['KUBECTL_DBAAS_WAL_WORKERS'] ??= '0';

void import('./main.js').then(({ main }) => main(process.argv.slice(2)));
