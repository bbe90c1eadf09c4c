import { renderFields } from '../../output.js';

declare const __DBAAS_VERSION__: string;

/** What `kubectl dbaas version` reports. */
export interface VersionInfo {
  version: string;
  node: string;
  platform: string;
}

/**
 * The version report (the version is set at build time; `0.0.0-dev` from sources).
 *
 * @example
 * ```ts
 * runVersion().version; // '0.1.0'
 * ```
 */
export function runVersion(): VersionInfo {
  return {
    version: typeof __DBAAS_VERSION__ === 'string' ? __DBAAS_VERSION__ : '0.0.0-dev',
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}

/**
 * The text output of `version`.
 *
 * @example
 * ```ts
 * renderVersion(runVersion());
 * ```
 */
export function renderVersion(info: VersionInfo): string {
  return renderFields([
    ['kubectl-dbaas', info.version],
    ['node', info.node],
    ['platform', info.platform],
  ]);
}
