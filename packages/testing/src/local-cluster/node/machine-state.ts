import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { mountsUnder } from '../mounts.js';
import { processesMentioning } from '../process.js';
import { MACHINE_WIDE_PATHS } from './config.js';
import { NODE_RECORD_FILE, listNftTables, readNodeSysctls } from './host.js';

/** What a node can leave on the machine, as the lifecycle tests compare it before and after. */
export interface MachineState {
  sysctls: Record<string, string>;
  /** nftables tables (kube-proxy's `ip kube-proxy`, `ip6 kube-proxy`). */
  nftTables: string[];
  /** Network devices (bridges, veths). */
  links: string[];
  /** cgroup directories under `k8s.io` (the node's containers) in every hierarchy. */
  containerCgroups: string[];
  shimSockets: string[];
  containerLogLinks: string[];
  nodeRecord: boolean;
  /**
   * Loop devices backed by a file of a cluster's state directory (the btrfs driver's filesystem
   * image), as `<device>: <backing file>`; a detached device is gone from the list, one whose file
   * was removed meanwhile still shows it, marked `(deleted)`.
   */
  clusterLoopDevices: string[];
}

function clusterLoopDevices(): string[] {
  const out: string[] = [];
  for (const dev of list('/sys/block').filter((d) => d.startsWith('loop'))) {
    try {
      const backing = readFileSync(path.join('/sys/block', dev, 'loop', 'backing_file'), 'utf8').trim();
      if (backing.includes('/dbaas-cluster-')) out.push(`/dev/${dev}: ${backing}`);
    } catch {
      // not attached
    }
  }
  return out;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * The machine-wide state a node touches (for tests: equal before a node starts and after it is
 * gone, whatever way it went).
 */
export function machineState(): MachineState {
  const containerCgroups: string[] = [];
  for (const h of list('/sys/fs/cgroup')) {
    for (const id of list(path.join('/sys/fs/cgroup', h, 'k8s.io'))) {
      if (/^[0-9a-f]{64}$/.test(id)) containerCgroups.push(path.join(h, 'k8s.io', id));
    }
  }
  return {
    sysctls: readNodeSysctls(),
    nftTables: listNftTables(),
    links: list('/sys/class/net'),
    containerCgroups,
    shimSockets: list(path.join(MACHINE_WIDE_PATHS.containerdRun, 's')),
    containerLogLinks: list(MACHINE_WIDE_PATHS.containerLogs).filter((e) => {
      try {
        return readlinkSync(path.join(MACHINE_WIDE_PATHS.containerLogs, e)).includes('/dbaas-cluster-');
      } catch {
        return false;
      }
    }),
    nodeRecord: existsSync(NODE_RECORD_FILE),
    clusterLoopDevices: clusterLoopDevices(),
  };
}

/** What is left of one cluster's node: processes, mounts, its state directory. */
export function clusterLeftovers(stateDir: string): { processes: number[]; mounts: string[]; stateDir: boolean; record: boolean } {
  let record = false;
  try {
    record = (JSON.parse(readFileSync(NODE_RECORD_FILE, 'utf8')) as { stateDir?: string }).stateDir === stateDir;
  } catch {
    record = false;
  }
  return {
    processes: processesMentioning(stateDir),
    mounts: mountsUnder(stateDir),
    stateDir: existsSync(stateDir),
    record,
  };
}
