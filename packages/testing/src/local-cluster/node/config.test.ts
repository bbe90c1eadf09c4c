import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cniConfig, containerdConfig, corefile, kubeProxyConfig, kubeletConfig, nodeLayout } from './config.js';

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
    const cfg = parse(kubeletConfig({ layout, port: 40000, healthzPort: 40001, clusterDns: '10.244.0.1' })) as Record<string, unknown>;
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
      clusterDNS: ['10.244.0.1'],
      clusterDomain: 'cluster.local',
    });
    expect(cfg.enforceNodeAllocatable).toEqual([]);
    expect(String(cfg.podLogsDir).startsWith(layout.root)).toBe(true);
  });

  it("builds a bridge that is the pods' default gateway, with no masquerade and IPAM state under the state directory", () => {
    const conf = JSON.parse(cniConfig({ layout, bridge: 'dbaas0', subnet: '10.244.0.0/24' })) as {
      plugins: { isGateway: boolean; isDefaultGateway: boolean; ipMasq: boolean; ipam: { dataDir: string } }[];
    };
    expect(conf.plugins[0]).toMatchObject({ isGateway: true, isDefaultGateway: true, ipMasq: false, ipam: { dataDir: layout.cniIpamDir } });
    expect(() => cniConfig({ layout, bridge: 'a-very-long-bridge-name', subnet: '10.244.0.0/24' })).toThrow(/longer than 15/);
  });

  it('keeps kube-proxy in nftables mode, on loopback, away from conntrack sysctls and NodePorts on the machine', () => {
    const cfg = parse(kubeProxyConfig({ kubeconfig: '/k', nodeName: 'n', clusterCidr: '10.244.0.0/24', healthzPort: 40002, metricsPort: 40003 })) as Record<
      string,
      unknown
    >;
    expect(cfg).toMatchObject({
      kind: 'KubeProxyConfiguration',
      mode: 'nftables',
      healthzBindAddress: '127.0.0.1:40002',
      metricsBindAddress: '127.0.0.1:40003',
      masqueradeAll: true,
      conntrack: { maxPerCore: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      nodePortAddresses: ['10.244.0.0/24'],
    });
  });

  it('serves cluster DNS on the given address only, answering nothing outside the cluster', () => {
    const conf = corefile({ address: '10.244.0.1', kubeconfig: '/k', readyPort: 1, healthPort: 2 });
    expect(conf.match(/bind 10\.244\.0\.1/g)).toHaveLength(2);
    expect(conf).toContain('kubernetes cluster.local in-addr.arpa ip6.arpa');
    expect(conf).toContain('kubeconfig /k');
    expect(conf).not.toContain('forward');
  });
});
