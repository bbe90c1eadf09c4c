import path from 'node:path';
import { stringify } from 'yaml';

/**
 * Where every file of the node lives. Everything is under the cluster's state directory except
 * what containerd, the kubelet and CNI hard-code machine-wide (see {@link MACHINE_WIDE_PATHS}).
 */
export interface NodeLayout {
  /** `<stateDir>/node` */
  root: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  containerdConfig: string;
  kubeletRoot: string;
  kubeletConfig: string;
  kubeletPodLogs: string;
  kubeletVolumePluginDir: string;
  /** `--cert-dir`: the kubelet's self-signed serving certificate. */
  kubeletCertDir: string;
  /** CA that signs the API server's client certificate for the kubelet (kubelet `clientCAFile`). */
  kubeletClientCa: string;
  /** The API server's client certificate and key towards the kubelet. */
  apiserverKubeletClientCert: string;
  apiserverKubeletClientKey: string;
  cniConfDir: string;
  cniIpamDir: string;
  /** An empty resolv.conf: pods get no name servers of the host. */
  resolvConf: string;
  /** The kubelet's plugin registration directory (the registrar puts its socket here). */
  pluginsRegistry: string;
  /** Socket of the hostpath plugin as the kubelet reaches it. */
  csiSocket: string;
}

/**
 * Paths that containerd 1.6, the kubelet and the CNI plugins use whatever their flags say: only one
 * node per machine can run, and teardown cleans our entries there.
 */
export const MACHINE_WIDE_PATHS = {
  /** The kubelet's symlinks to container logs (`kubelet.ContainerLogsDir`, not configurable). */
  containerLogs: '/var/log/containers',
  /** Device plugin sockets (`pluginapi.DevicePluginPath`, not configurable). */
  devicePlugins: '/var/lib/kubelet/device-plugins',
  /** libcni's result cache. */
  cniCache: '/var/lib/cni',
  /** Network namespaces created by containerd's CRI plugin. */
  netns: '/var/run/netns',
  /** containerd's shim sockets. */
  containerdRun: '/run/containerd',
} as const;

/** The layout for a cluster state directory. */
export function nodeLayout(stateDir: string): NodeLayout {
  const root = path.join(stateDir, 'node');
  const kubeletRoot = path.join(root, 'kubelet');
  return {
    root,
    containerdRoot: path.join(root, 'containerd', 'root'),
    containerdState: path.join(root, 'containerd', 'state'),
    containerdSocket: path.join(root, 'containerd', 'containerd.sock'),
    containerdConfig: path.join(root, 'containerd', 'config.toml'),
    kubeletRoot,
    kubeletConfig: path.join(root, 'kubelet-config.yaml'),
    kubeletPodLogs: path.join(root, 'pod-logs'),
    kubeletVolumePluginDir: path.join(root, 'volume-plugins'),
    kubeletCertDir: path.join(root, 'kubelet-pki'),
    kubeletClientCa: path.join(root, 'kubelet-pki', 'client-ca.crt'),
    apiserverKubeletClientCert: path.join(root, 'kubelet-pki', 'apiserver-kubelet-client.crt'),
    apiserverKubeletClientKey: path.join(root, 'kubelet-pki', 'apiserver-kubelet-client.key'),
    cniConfDir: path.join(root, 'cni', 'net.d'),
    cniIpamDir: path.join(root, 'cni', 'ipam'),
    resolvConf: path.join(root, 'resolv.conf'),
    pluginsRegistry: path.join(kubeletRoot, 'plugins_registry'),
    csiSocket: path.join(kubeletRoot, 'plugins', 'hostpath.csi.k8s.io', 'csi.sock'),
  };
}

/** The cluster's DNS domain (Services are `<name>.<namespace>.svc.cluster.local`). */
export const CLUSTER_DOMAIN = 'cluster.local';

/** A TOML basic string (the JSON escapes of a path are valid TOML escapes). */
function tomlString(value: string): string {
  return JSON.stringify(value);
}

/** Inputs of {@link containerdConfig}. */
export interface ContainerdConfigInput {
  layout: NodeLayout;
  /** containerd's `sandbox_image`: the locally built pause image (no registry is reachable). */
  sandboxImage: string;
  /** Directory of the CNI plugin binaries (Debian: /usr/lib/cni). */
  cniBinDir: string;
}

/**
 * containerd 1.6 configuration (version 2) with root, state and socket under the node's directory.
 * `restrict_oom_score_adj`: this machine lacks CAP_SYS_RESOURCE, so runc cannot lower a container's
 * oom_score_adj below its own; restricted, it never tries. Plugins that would touch machine-wide
 * paths (`opt` writes /opt/containerd) or are of no use here are disabled.
 *
 * @example
 * await writeFile(layout.containerdConfig, containerdConfig({ layout, sandboxImage, cniBinDir: '/usr/lib/cni' }));
 */
export function containerdConfig(input: ContainerdConfigInput): string {
  const { layout } = input;
  const cri = '[plugins."io.containerd.grpc.v1.cri"]';
  return [
    'version = 2',
    `root = ${tomlString(layout.containerdRoot)}`,
    `state = ${tomlString(layout.containerdState)}`,
    'disabled_plugins = [',
    '  "io.containerd.internal.v1.opt",',
    '  "io.containerd.snapshotter.v1.aufs",',
    '  "io.containerd.snapshotter.v1.btrfs",',
    '  "io.containerd.snapshotter.v1.devmapper",',
    '  "io.containerd.snapshotter.v1.zfs",',
    '  "io.containerd.tracing.processor.v1.otlp",',
    ']',
    '',
    '[grpc]',
    `  address = ${tomlString(layout.containerdSocket)}`,
    '',
    '[ttrpc]',
    `  address = ${tomlString(`${layout.containerdSocket}.ttrpc`)}`,
    '',
    cri,
    `  sandbox_image = ${tomlString(input.sandboxImage)}`,
    '  restrict_oom_score_adj = true',
    '  enable_selinux = false',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    '  enable_cdi = false',
    // Network namespaces under the state directory, not the machine-wide /var/run/netns.
    '  netns_mounts_under_state_dir = true',
    `${cri.slice(0, -1)}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `${cri.slice(0, -1)}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `${cri.slice(0, -1)}.containerd.runtimes.runc.options]`,
    '  SystemdCgroup = false',
    // runc's state of our containers under the state directory, not the machine-wide
    // /run/containerd/runc/k8s.io that every containerd using that namespace shares.
    `  Root = ${tomlString(path.join(layout.containerdState, 'runc'))}`,
    `${cri.slice(0, -1)}.cni]`,
    `  bin_dir = ${tomlString(input.cniBinDir)}`,
    `  conf_dir = ${tomlString(layout.cniConfDir)}`,
    '  max_conf_num = 1',
    '',
  ].join('\n');
}

/** Inputs of {@link cniConfig}. */
export interface CniConfigInput {
  layout: NodeLayout;
  /** Linux bridge name (at most 15 characters, unique on the machine). */
  bridge: string;
  /** The pods' subnet, e.g. `10.244.0.0/24`. */
  subnet: string;
}

/**
 * The CNI network of the node: a bridge whose host address is the pods' default gateway
 * (`isDefaultGateway`), so that the host reaches pods (the kubelet's probes, the API server's
 * webhook calls) and pods reach Service addresses, which kube-proxy translates on the host. No
 * masquerading: pods reach the host and each other, nothing beyond.
 */
export function cniConfig(input: CniConfigInput): string {
  if (input.bridge.length > 15) throw new Error(`bridge name ${input.bridge} is longer than 15 characters`);
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'dbaas-local',
      plugins: [
        {
          type: 'bridge',
          bridge: input.bridge,
          isGateway: true,
          isDefaultGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: input.subnet }]], dataDir: input.layout.cniIpamDir },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

/** Inputs of {@link kubeletConfig}. */
export interface KubeletConfigInput {
  layout: NodeLayout;
  /** The kubelet's API port on 127.0.0.1 (a free port: the API server reads it from the Node's status). */
  port: number;
  healthzPort: number;
  /** The cluster DNS server's address (CoreDNS on the bridge's host address). */
  clusterDns: string;
}

/**
 * The KubeletConfiguration for a node on a shared development machine: cgroup v1 hybrid host
 * (`failCgroupV1: false`), cgroupfs without per-QoS cgroups or node allocatable enforcement (the
 * kubelet manages no cgroup hierarchy of its own), no iptables chains, `oomScoreAdj: 0` (no
 * CAP_SYS_RESOURCE to lower it), no image garbage collection (local images cannot be pulled again),
 * only the API server's client certificate may call it (x509, no anonymous access).
 *
 * @example
 * await writeFile(layout.kubeletConfig, kubeletConfig({ layout, port, healthzPort }));
 */
export function kubeletConfig(input: KubeletConfigInput): string {
  const { layout } = input;
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: '127.0.0.1',
    port: input.port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: input.healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: layout.kubeletClientCa },
    },
    authorization: { mode: 'AlwaysAllow' },
    containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
    podLogsDir: layout.kubeletPodLogs,
    volumePluginDir: layout.kubeletVolumePluginDir,
    resolvConf: layout.resolvConf,
    clusterDNS: [input.clusterDns],
    clusterDomain: CLUSTER_DOMAIN,
    cgroupDriver: 'cgroupfs',
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    failCgroupV1: false,
    failSwapOn: false,
    makeIPTablesUtilChains: false,
    oomScoreAdj: 0,
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // Development machines run with little free disk; evicting a test's database is never wanted.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    serializeImagePulls: false,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    nodeStatusReportFrequency: '10s',
    nodeStatusUpdateFrequency: '2s',
    syncFrequency: '10s',
    fileCheckFrequency: '5s',
    shutdownGracePeriod: '0s',
    maxPods: 60,
    logging: { format: 'text' },
  });
}

/** Inputs of {@link kubeProxyConfig}. */
export interface KubeProxyConfigInput {
  kubeconfig: string;
  nodeName: string;
  /** The pods' subnet (traffic from outside it to a Service address is masqueraded). */
  clusterCidr: string;
  healthzPort: number;
  metricsPort: number;
}

/**
 * The KubeProxyConfiguration of the node: nftables mode (its own `kube-proxy` tables, which
 * teardown deletes; nothing in iptables), and every conntrack setting 0 so that kube-proxy leaves
 * the machine's conntrack sysctls alone. `masqueradeAll`: pods share one bridge without
 * bridge netfilter, so a reply from a Service's pod would go straight back to the client pod
 * with the wrong source address unless the request came from the host's bridge address.
 *
 * @example
 * await writeFile(file, kubeProxyConfig({ kubeconfig, nodeName, clusterCidr: '10.244.0.0/24', healthzPort, metricsPort }));
 */
export function kubeProxyConfig(input: KubeProxyConfigInput): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'nftables',
    clientConnection: { kubeconfig: input.kubeconfig },
    hostnameOverride: input.nodeName,
    clusterCIDR: input.clusterCidr,
    bindAddress: '127.0.0.1',
    healthzBindAddress: `127.0.0.1:${input.healthzPort}`,
    metricsBindAddress: `127.0.0.1:${input.metricsPort}`,
    masqueradeAll: true,
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s', udpTimeout: '0s', udpStreamTimeout: '0s' },
    // NodePorts only on host addresses inside the pod subnet (the bridge's): none on the machine's network.
    nodePortAddresses: [input.clusterCidr],
    logging: { format: 'text' },
  });
}

/** Inputs of {@link corefile}. */
export interface CorefileInput {
  /** The address CoreDNS binds (the bridge's host address). */
  address: string;
  kubeconfig: string;
  /** 127.0.0.1 port of the `ready` plugin. */
  readyPort: number;
  /** 127.0.0.1 port of the `health` plugin. */
  healthPort: number;
}

/**
 * CoreDNS's configuration: the cluster domain and reverse zones from the API (the `kubernetes`
 * plugin), nothing else (no `forward`: the machine's resolvers are none of the pods' business, and
 * a name outside the cluster gets NXDOMAIN at once instead of a timeout).
 */
export function corefile(input: CorefileInput): string {
  return [
    `${CLUSTER_DOMAIN}:53 in-addr.arpa:53 ip6.arpa:53 {`,
    `  bind ${input.address}`,
    '  errors',
    `  health 127.0.0.1:${input.healthPort}`,
    `  ready 127.0.0.1:${input.readyPort}`,
    `  kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {`,
    `    kubeconfig ${input.kubeconfig}`,
    '    pods insecure',
    '    ttl 5',
    '  }',
    '  cache 5',
    '}',
    '.:53 {',
    `  bind ${input.address}`,
    '  errors',
    '  template ANY ANY {',
    '    rcode NXDOMAIN',
    '  }',
    '}',
    '',
  ].join('\n');
}
