// Type of what the cluster project's global setup provides: `inject('dbaasCluster')` in tests.
import type { ProvidedContext as _VitestProvidedContext } from 'vitest';
import type { SharedClusterInfo } from './shared.js';

declare module 'vitest' {
  interface ProvidedContext {
    dbaasCluster: SharedClusterInfo;
  }
}

export {};
