// The oldest Node.js the npm build runs on, checked first thing at start-up (cli.ts), before any
// module that would break on an older Node is imported. It is the highest `engines.node` of what
// the build bundles: undici 8 (inside @kubernetes/client-node) needs 22.19.0 (zlib's
// createZstdDecompress); yargs 18 needs 20.19/22.12, pg 16, the rest less. Every package.json of
// the repository states the same minimum (a unit test holds them together), and
// node-version.cluster.test.ts runs the CLI on a Node of exactly this version from the npm registry.
// Imports nothing: this runs on any Node.

/**
 * The minimum Node.js version, as `engines.node` says it (`>=22.19.0`).
 *
 * @example
 * ```ts
 * NODE_MINIMUM; // '22.19.0'
 * ```
 */
export const NODE_MINIMUM = '22.19.0';

/** `[major, minor, patch]` of `22.19.0` or `v22.19.0`. */
function parts(version: string): [number, number, number] {
  const [major = 0, minor = 0, patch = 0] = version
    .replace(/^v/, '')
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
  return [major, minor, patch];
}

/**
 * Whether `running` (e.g. `process.versions.node`) is at least `minimum`.
 *
 * @example
 * ```ts
 * nodeVersionAtLeast('20.20.2'); // false
 * nodeVersionAtLeast('24.0.0'); // true
 * ```
 */
export function nodeVersionAtLeast(running: string, minimum: string = NODE_MINIMUM): boolean {
  const a = parts(running);
  const b = parts(minimum);
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  return true;
}

/**
 * The error printed when the running Node is too old: what runs, what is needed, and the fix.
 *
 * @example
 * ```ts
 * process.stderr.write(nodeTooOldMessage('20.20.2', '/usr/bin/node'));
 * ```
 */
export function nodeTooOldMessage(running: string, executable: string): string {
  return (
    `error: kubectl-dbaas needs Node.js >= ${NODE_MINIMUM}; it was started by Node.js ${running} (${executable})\n` +
    `fix: Install Node.js ${NODE_MINIMUM} or later (https://nodejs.org/en/download) and put it first on PATH, ` +
    'or use the single executable, which brings its own Node.js (kubectl krew install dbaas, or a release archive: docs/install.md).\n'
  );
}
