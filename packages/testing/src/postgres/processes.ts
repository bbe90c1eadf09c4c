import { readdirSync, readFileSync } from 'node:fs';

/** One line of `/proc/<pid>/stat`, the fields we use. */
interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return { pid, state: fields[0] ?? '?', ppid: Number(fields[1]) };
}

/**
 * Whether a process exists and is not a zombie. Zombies count as gone: they hold no resources
 * and, in containers whose PID 1 does not reap, they may never disappear.
 *
 * @example
 * ```ts
 * if (processAlive(pid)) process.kill(pid, 'SIGKILL');
 * ```
 */
export function processAlive(pid: number): boolean {
  const stat = readStat(pid);
  if (stat) return stat.state !== 'Z' && stat.state !== 'X';
  try {
    process.kill(pid, 0);
    return true; // no /proc (not Linux): fall back to kill(0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Every live descendant of `pid` (children, grandchildren, ...), read from `/proc`.
 *
 * @example
 * ```ts
 * const backends = descendantPids(postmasterPid);
 * ```
 */
export function descendantPids(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat || stat.state === 'Z' || stat.state === 'X') continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(stat.pid);
    children.set(stat.ppid, list);
  }
  const result: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    for (const child of children.get(next) ?? []) {
      result.push(child);
      queue.push(child);
    }
  }
  return result;
}

/**
 * Sends a signal, ignoring "no such process".
 *
 * @example
 * ```ts
 * signalQuietly(pid, 'SIGKILL');
 * ```
 */
export function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks the thread for `ms` milliseconds (for the synchronous exit path, where there is no event
 * loop any more).
 *
 * @example
 * ```ts
 * sleepSync(50);
 * ```
 */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * Kills a process tree at once: stops the root with SIGSTOP (so it cannot fork any more), collects
 * its descendants, then SIGKILLs all of them. Returns the PIDs it killed.
 *
 * @example
 * ```ts
 * const pids = killTree(postmasterPid);
 * ```
 */
export function killTree(rootPid: number): number[] {
  signalQuietly(rootPid, 'SIGSTOP');
  const pids = [rootPid, ...descendantPids(rootPid)];
  for (const pid of pids) signalQuietly(pid, 'SIGKILL');
  // Anything forked in the meantime by a child (it was not stopped) is killed too.
  for (const pid of pids.slice(1)) for (const late of descendantPids(pid)) signalQuietly(late, 'SIGKILL');
  return pids;
}

/**
 * Waits until none of `pids` is alive (zombies count as gone), synchronously.
 *
 * @example
 * ```ts
 * waitGoneSync([pid], 5_000);
 * ```
 */
export function waitGoneSync(pids: readonly number[], timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!pids.some(processAlive)) return true;
    if (Date.now() >= deadline) return false;
    sleepSync(20);
  }
}

/**
 * Waits until none of `pids` is alive (zombies count as gone).
 *
 * @example
 * ```ts
 * await waitGone([pid], 5_000);
 * ```
 */
export async function waitGone(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!pids.some(processAlive)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
