import type { SharedClusterInfo } from './shared.js';

declare module 'vitest' {
  interface ProvidedContext {
    dbaasCluster: SharedClusterInfo;
  }
}
