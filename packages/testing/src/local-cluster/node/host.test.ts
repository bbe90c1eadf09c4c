import { describe, expect, it } from 'vitest';
import { nodeUnavailableReason } from './host.js';

// Pure logic: whether a process may run a node. (Running this check as a real unprivileged user
// depends on the checkout being readable by that user, which a CI clone under /root is not.)
describe('nodeUnavailableReason', () => {
  it('refuses a non-root user with the reason and the alternative, before anything starts', () => {
    expect(nodeUnavailableReason({ platform: 'linux', uid: 1000 })).toMatch(/a node \(kubelet, containerd\) needs root.*minikube/);
  });

  it('refuses another platform, and accepts root on Linux', () => {
    expect(nodeUnavailableReason({ platform: 'darwin', uid: 0 })).toMatch(/needs Linux \(this is darwin\)/);
    expect(nodeUnavailableReason({ platform: 'linux', uid: 0 })).toBeUndefined();
  });
});
