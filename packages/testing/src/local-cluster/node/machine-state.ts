import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { mountsUnder } from '../mounts.js';
import { processesMentioning } from '../process.js';
import { MACHINE_WIDE_PATHS } from './config.js';
import { NODE_RECORD_FILE, readKubeletSysctls } from './host.js';

/** What a node can leave on the machine, as the lifecycle tests compare it before and after. */
export interface MachineState {
  sysctls: Record<string, string>;
  /** Network devices (bridges, veths). */
  links: string[];
  /** cgroup directories under `k8s.io` (the node's containers) in every hierarchy. */
  containerCgroups: string[];
  shimSockets: string[];
  containerLogLinks: string[];
  nodeRecord: boolean;
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
    sysctls: readKubeletSysctls(),
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
