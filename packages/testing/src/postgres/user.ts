import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The operating-system account that the PostgreSQL processes run as. PostgreSQL refuses to run as
 * root, so when the tests run as root every `initdb` and `postgres` is spawned with this `uid` and
 * `gid`; otherwise the servers run as the current user.
 *
 * @example
 * ```ts
 * const runAs = postgresRunAs();
 * console.log(runAs.name, runAs.uid, runAs.switched);
 * ```
 */
export interface PostgresRunAs {
  /** Account name (or the numeric uid as text when it has no name). */
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** `true` when the servers run as a different user than this process (this process is root). */
  readonly switched: boolean;
}

/** Environment variable that names the unprivileged user (name or numeric uid) for root runs. */
export const POSTGRES_USER_ENV = 'DBAAS_TEST_PG_USER';

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

function readPasswd(): PasswdEntry[] {
  let text: string;
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return [];
  }
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (!name || uid === undefined || gid === undefined) continue;
    const u = Number(uid);
    const g = Number(gid);
    if (Number.isInteger(u) && Number.isInteger(g)) entries.push({ name, uid: u, gid: g });
  }
  return entries;
}

let cachedRunAs: PostgresRunAs | undefined;

/**
 * Decides which user runs PostgreSQL. Not root: the current user. Root: the user named by
 * `DBAAS_TEST_PG_USER` (a name from `/etc/passwd` or a numeric uid, optionally `uid:gid`), else
 * `postgres` when that account exists, else `nobody`. The choice is made once per process.
 *
 * @throws Error when running as root and no usable unprivileged account is found.
 * @example
 * ```ts
 * const { uid, gid } = postgresRunAs();
 * spawn(binary, args, { uid, gid });
 * ```
 */
export function postgresRunAs(): PostgresRunAs {
  if (cachedRunAs) return cachedRunAs;
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  const gid = typeof process.getgid === 'function' ? process.getgid() : -1;
  if (uid !== 0) {
    let name = String(uid);
    const entry = readPasswd().find((e) => e.uid === uid);
    if (entry) name = entry.name;
    cachedRunAs = { name, uid, gid, switched: false };
    return cachedRunAs;
  }
  const passwd = readPasswd();
  const requested = process.env[POSTGRES_USER_ENV]?.trim();
  let chosen: PasswdEntry | undefined;
  if (requested) {
    const numeric = /^(\d+)(?::(\d+))?$/.exec(requested);
    if (numeric) {
      const u = Number(numeric[1]);
      const entry = passwd.find((e) => e.uid === u);
      const g = numeric[2] !== undefined ? Number(numeric[2]) : (entry?.gid ?? u);
      chosen = { name: entry?.name ?? String(u), uid: u, gid: g };
    } else {
      chosen = passwd.find((e) => e.name === requested);
      if (!chosen) {
        throw new Error(`${POSTGRES_USER_ENV}=${requested}: no such user in /etc/passwd. Set it to an existing unprivileged account (name or uid[:gid]).`);
      }
    }
    if (chosen.uid === 0) {
      throw new Error(`${POSTGRES_USER_ENV}=${requested} is root; PostgreSQL refuses to run as root.`);
    }
  } else {
    chosen = passwd.find((e) => e.name === 'postgres' && e.uid !== 0) ?? passwd.find((e) => e.name === 'nobody');
    if (!chosen) {
      throw new Error(
        'Running as root and neither a "postgres" nor a "nobody" account exists: ' +
          `set ${POSTGRES_USER_ENV} to an unprivileged account to run the test PostgreSQL servers as.`,
      );
    }
  }
  cachedRunAs = { ...chosen, switched: true };
  return cachedRunAs;
}

/**
 * Why `runAs` cannot reach `target` (search permission on every ancestor directory, plus the given
 * access bits on `target` itself), or `undefined` when it can. Looks at mode bits, owner and
 * primary group only (spawned processes drop supplementary groups); ACLs are not consulted.
 *
 * @example
 * ```ts
 * const problem = accessProblem('/root/repo/node_modules', postgresRunAs(), 'rx');
 * if (problem) throw new Error(problem);
 * ```
 */
export function accessProblem(target: string, runAs: PostgresRunAs, need: 'x' | 'rx' | 'rwx' = 'x'): string | undefined {
  if (runAs.uid === 0) return undefined;
  const absolute = path.resolve(target);
  const parts = absolute.split(path.sep).filter(Boolean);
  let current: string = path.sep;
  const chain = [current];
  for (const part of parts) {
    current = path.join(current, part);
    chain.push(current);
  }
  for (let i = 0; i < chain.length; i++) {
    const dir = chain[i] as string;
    const isTarget = i === chain.length - 1;
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(dir);
    } catch (error) {
      return `${dir}: ${(error as Error).message}`;
    }
    const shift = st.uid === runAs.uid ? 6 : st.gid === runAs.gid ? 3 : 0;
    const bits = (st.mode >> shift) & 7;
    const required = isTarget ? (need.includes('r') ? 4 : 0) | (need.includes('w') ? 2 : 0) | 1 : 1;
    if (!st.isDirectory() && !isTarget) return `${dir} is not a directory`;
    if ((bits & required) !== required) {
      return `user ${runAs.name} (uid ${runAs.uid}) lacks ${isTarget ? need : 'search (x)'} permission on ${dir} (mode ${(st.mode & 0o777).toString(8)}, owner ${st.uid}:${st.gid})`;
    }
  }
  return undefined;
}
