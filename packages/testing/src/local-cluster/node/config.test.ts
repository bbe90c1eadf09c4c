import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cniConfig, containerdConfig, kubeletConfig, nodeLayout } from './config.js';

const layout = nodeLayout('/tmp/dbaas-cluster-x');

describe('node configuration', () => {
  it('keeps every containerd path under the state directory and never lowers oom_score_adj', () => {
    const toml = containerdConfig({ layout, sandboxImage: 'localhost/p:1', cniBinDir: '/usr/lib/cni' });
    for (const key of ['root', 'state', 'address']) {
      const m = new RegExp(`^\\s*${key} = "([^"]+)"`, 'm').exec(toml);
      expect(m?.[1]?.startsWith('/tmp/dbaas-cluster-x/node/'), key).toBe(true);
    }
    expect(toml).toMatch(/^\s*restrict_oom_score_adj = true$/m);
    expect(toml).toMatch(/^\s*netns_mounts_under_state_dir = true$/m);
    expect(toml).toMatch(/^\s*sandbox_image = "localhost\/p:1"$/m);
    expect(toml).toContain('"io.containerd.internal.v1.opt"');
    expect(toml).toMatch(/^\s*Root = "\/tmp\/dbaas-cluster-x\/node\/containerd\/state\/runc"$/m);
  });

  it('gives the kubelet a loopback-only, cgroup-v1-tolerant configuration', () => {
    const cfg = parse(kubeletConfig({ layout, port: 40000, healthzPort: 40001 })) as Record<string, unknown>;
    expect(cfg).toMatchObject({
      kind: 'KubeletConfiguration',
      address: '127.0.0.1',
      port: 40000,
      readOnlyPort: 0,
      failCgroupV1: false,
      cgroupsPerQOS: false,
      oomScoreAdj: 0,
      imageGCHighThresholdPercent: 100,
      authentication: { anonymous: { enabled: false }, x509: { clientCAFile: layout.kubeletClientCa } },
      containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
    });
    expect(cfg.enforceNodeAllocatable).toEqual([]);
    expect(String(cfg.podLogsDir).startsWith(layout.root)).toBe(true);
  });

  it('builds a bridge with no gateway, no masquerade and IPAM state under the state directory', () => {
    const conf = JSON.parse(cniConfig({ layout, bridge: 'dbaas0', subnet: '10.244.0.0/24' })) as {
      plugins: { isGateway: boolean; ipMasq: boolean; ipam: { dataDir: string } }[];
    };
    expect(conf.plugins[0]).toMatchObject({ isGateway: false, ipMasq: false, ipam: { dataDir: layout.cniIpamDir } });
    expect(() => cniConfig({ layout, bridge: 'a-very-long-bridge-name', subnet: '10.244.0.0/24' })).toThrow(/longer than 15/);
  });
});
