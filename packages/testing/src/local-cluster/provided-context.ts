// Type of what the cluster project's global setup provides: `inject('dbaasCluster')` in tests.
import type { SharedClusterInfo } from './shared.js';

declare module 'vitest' {
  interface ProvidedContext {
    dbaasCluster: SharedClusterInfo;
  }
}

export {};
