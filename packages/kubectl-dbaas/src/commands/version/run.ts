import { renderFields } from '../../output.js';

declare const __DBAAS_VERSION__: string;

/** What `kubectl dbaas version` reports. */
export interface VersionInfo {
  version: string;
  node: string;
  platform: string;
}

export function runVersion(): VersionInfo {
  return {
    version: typeof __DBAAS_VERSION__ === 'string' ? __DBAAS_VERSION__ : '0.0.0-dev',
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}

export function renderVersion(info: VersionInfo): string {
  return renderFields([
    ['kubectl-dbaas', info.version],
    ['node', info.node],
    ['platform', info.platform],
  ]);
}
