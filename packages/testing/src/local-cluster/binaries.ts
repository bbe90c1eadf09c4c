import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, cp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheRoot, packageDir } from './paths.js';

/** The binaries built from Go modules (everything but the hostpath plugin, see BLOCKED.md). */
export const BUILT_TOOLS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
  'snapshot-controller',
  'csi-snapshotter',
  'csi-provisioner',
  'coredns',
] as const;

/** A tool built from a wrapper module under `packages/testing/go/<tool>/`. */
export type BuiltTool = (typeof BUILT_TOOLS)[number];

/**
 * The CSI hostpath driver's binaries: taken from `DBAAS_TESTING_BIN_DIR` when it holds them, else
 * built from their Go modules (which the project machines' Go module proxy refuses; see BLOCKED.md).
 */
export const CSI_DRIVER_TOOLS = ['hostpathplugin', 'csi-node-driver-registrar'] as const;

/** One of {@link CSI_DRIVER_TOOLS}. */
export type CsiDriverTool = (typeof CSI_DRIVER_TOOLS)[number];

/**
 * The project's own Go programs, built from their source under `packages/testing/go/<tool>/` (a
 * module with its own go.mod and go.sum): no versions.json entry, the source is the version.
 *
 * @example
 * const { paths } = await buildBinaries({ tools: LOCAL_SOURCE_TOOLS });
 * paths['btrfs-csi']; // ~/.cache/kubectl-dbaas/bin/btrfs-csi/<key>/btrfs-csi
 */
export const LOCAL_SOURCE_TOOLS = ['btrfs-csi'] as const;

/** One of {@link LOCAL_SOURCE_TOOLS}. */
export type LocalSourceTool = (typeof LOCAL_SOURCE_TOOLS)[number];

/** Every binary the local cluster runs. */
export type ClusterTool = BuiltTool | CsiDriverTool | LocalSourceTool;

function isLocalSource(tool: ClusterTool): tool is LocalSourceTool {
  return (LOCAL_SOURCE_TOOLS as readonly string[]).includes(tool);
}

/** One tool's entry in `go/versions.json`. */
export interface ToolVersion {
  module: string;
  version: string;
  package: string;
  ldflags?: string[];
  kubernetesVersionStamp?: boolean;
}

/** The parsed `go/versions.json`: the one place where versions are pinned. */
export interface VersionsFile {
  kubernetes: string;
  kubernetesStaging: string;
  tools: Record<BuiltTool, ToolVersion>;
  snapshotCrds: { module: string; version: string; dir: string; files: string[] };
  csiDriver: { driverName: string; tools: Record<CsiDriverTool, ToolVersion> };
  /** CloudNativePG's operator image (node/images.ts): the release, its manager's and install manifest's sha256. */
  cloudnativePg: { version: string; commit: string; managerSha256: string; manifest: string; manifestSha256: string };
}

/** Where each binary comes from, and why the hostpath plugin is missing when it is. */
export interface ResolvedBinaries {
  paths: Partial<Record<ClusterTool, string>>;
  /** `undefined` when `hostpathplugin` and `csi-node-driver-registrar` were found or built; else why not. */
  hostpathUnavailable?: string;
  /** `undefined` when the btrfs CSI driver (`btrfs-csi`) was found in the cache or built; else why not. */
  btrfsDriverUnavailable?: string;
}

/** Options for {@link buildBinaries} and {@link resolveBinaries}. */
export interface BuildOptions {
  /** Progress lines (which tool, elapsed time). Default: `console.error`. */
  log?: ((line: string) => void) | undefined;
  /** Build what is missing from the cache (default true). When false a missing binary is an error. */
  build?: boolean | undefined;
  /** Prebuilt binaries; default `$DBAAS_TESTING_BIN_DIR`. */
  binDir?: string | undefined;
  /** Seconds between "still building" progress lines. Default 30. */
  progressEverySeconds?: number | undefined;
}

const DOWNLOAD_TIMEOUT_MS = 20 * 60_000;

/** Environment every `go` command runs with (docs/architecture.md, "Test tiers"). */
export function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: 'local', GOWORK: 'off', GOFLAGS: '-mod=mod' };
}

/** Path of the versions file. */
export function versionsFilePath(): string {
  return path.join(packageDir(), 'go', 'versions.json');
}

/**
 * Reads and checks `go/versions.json`.
 *
 * @example
 * const v = await loadVersions();
 * console.log(v.tools['kube-apiserver'].version); // v1.36.3
 */
export async function loadVersions(): Promise<VersionsFile> {
  const file = versionsFilePath();
  const parsed = JSON.parse(await readFile(file, 'utf8')) as VersionsFile;
  for (const tool of BUILT_TOOLS) {
    const t = parsed.tools?.[tool];
    if (!t?.module || !t.version || !t.package) {
      throw new Error(`${file}: tools.${tool} needs module, version and package`);
    }
  }
  for (const tool of CSI_DRIVER_TOOLS) {
    const t = parsed.csiDriver?.tools?.[tool];
    if (!t?.module || !t.version || !t.package) {
      throw new Error(`${file}: csiDriver.tools.${tool} needs module, version and package`);
    }
  }
  return parsed;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command (argument array, no shell) and collects its output; kills it after `timeoutMs`. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; onOutput?: (chunk: string) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs)
        : undefined;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      opts.onOutput?.(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onOutput?.(d.toString());
    });
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

let goVersionCache: string | undefined;

/**
 * `go version` of the machine's Go, run with `GOTOOLCHAIN=local`. Throws a clear error when Go is
 * missing or does not answer.
 *
 * @example
 * await goVersion(); // "go version go1.26.8 linux/amd64"
 */
export async function goVersion(): Promise<string> {
  if (goVersionCache) return goVersionCache;
  let res: RunResult;
  try {
    res = await runCommand('go', ['version'], { env: goEnv(), timeoutMs: 30_000 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        'Go toolchain not found: `go` is not on PATH. Install Go >= 1.26 (GOTOOLCHAIN=local is used, so the ' +
          'machine Go must be new enough). Go builds the binaries (unless DBAAS_TESTING_BIN_DIR holds prebuilt ' +
          `${BUILT_TOOLS.join(', ')}, hostpathplugin) and reads the VolumeSnapshot CRDs from its module cache.`,
      );
    }
    throw err;
  }
  if (res.timedOut || res.code !== 0) {
    throw new Error(`\`go version\` failed (${res.timedOut ? 'timed out' : `exit ${res.code}`}): ${res.stderr.trim()}`);
  }
  goVersionCache = res.stdout.trim();
  return goVersionCache;
}

/** The versions.json entry of any tool; a local-source tool's stands in for one (its own module, built whole). */
function toolVersion(tool: ClusterTool, versions: VersionsFile): ToolVersion {
  if (isLocalSource(tool)) return { module: `kubectl-dbaas.local/testing/${tool}`, version: 'local source', package: '.' };
  return (CSI_DRIVER_TOOLS as readonly string[]).includes(tool) ? versions.csiDriver.tools[tool as CsiDriverTool] : versions.tools[tool as BuiltTool];
}

/**
 * The cache key of a Go source tree: a hash of `go version` and every file under `dir` but the
 * `_test.go` files (they are not in the binary, so a new test does not rebuild it), by relative
 * path, so that renaming a file changes the key too.
 *
 * @example
 * const key = await sourceTreeKey(path.join(packageDir(), 'go', 'btrfs-csi'), await goVersion());
 */
export async function sourceTreeKey(dir: string, goVersionLine: string): Promise<string> {
  const h = createHash('sha256');
  h.update(`${goVersionLine}\0`);
  const files: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && !entry.name.endsWith('_test.go')) files.push(path.relative(dir, path.join(entry.parentPath, entry.name)));
  }
  for (const f of files.sort()) {
    const content = await readFile(path.join(dir, f));
    h.update(`${f}\0${content.length}\0`);
    h.update(content);
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * One tool's cache key: a hash of `go version`, its versions.json entry (with the Kubernetes
 * versions it is stamped or built with) and its wrapper module's files. Per tool, so that adding or
 * bumping one tool rebuilds only that one.
 *
 * @example
 * const dir = path.join(cacheRoot(), 'bin', 'etcd', await toolCacheKey('etcd'));
 */
export async function toolCacheKey(tool: ClusterTool): Promise<string> {
  if (isLocalSource(tool)) return await sourceTreeKey(path.join(packageDir(), 'go', tool), await goVersion());
  const versions = await loadVersions();
  const h = createHash('sha256');
  h.update(await goVersion());
  h.update(JSON.stringify({ tool, entry: toolVersion(tool, versions), k: versions.kubernetes, ks: versions.kubernetesStaging }));
  const wrapper = path.join(packageDir(), 'go', tool);
  for (const f of (await readdir(wrapper)).sort()) {
    h.update(f);
    h.update(await readFile(path.join(wrapper, f)));
  }
  return h.digest('hex').slice(0, 16);
}

/** `<cache>/bin/<tool>/<key>/<tool>`: where a tool's build for the current inputs lives. */
export async function cachedToolPath(tool: ClusterTool): Promise<string> {
  return path.join(cacheRoot(), 'bin', tool, await toolCacheKey(tool), tool);
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function fmtElapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function ldflagsFor(tool: ClusterTool, versions: VersionsFile): string {
  const t = toolVersion(tool, versions);
  const flags = ['-s', '-w', ...(t.ldflags ?? [])];
  if (t.kubernetesVersionStamp) {
    const m = /^v(\d+)\.(\d+)\./.exec(versions.kubernetes);
    if (!m) throw new Error(`versions.json: kubernetes must look like vMAJOR.MINOR.PATCH, got ${versions.kubernetes}`);
    const vars: Record<string, string> = {
      gitVersion: versions.kubernetes,
      gitMajor: m[1]!,
      gitMinor: m[2]!,
      gitTreeState: 'clean',
    };
    for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
      for (const [k, v] of Object.entries(vars)) flags.push(`-X ${pkg}.${k}=${v}`);
    }
  }
  return flags.join(' ');
}

/**
 * Brings a wrapper module's requirements in line with versions.json (the single source of
 * versions): `require <module> <version>` and, for Kubernetes, `replace k8s.io/<staging> =>
 * k8s.io/<staging> <kubernetesStaging>` for every staging module already listed.
 */
async function syncWrapper(workDir: string, tool: ClusterTool, versions: VersionsFile): Promise<void> {
  const t = toolVersion(tool, versions);
  if ((CSI_DRIVER_TOOLS as readonly string[]).includes(tool)) {
    // `go get` resolves a commit to its pseudo-version (the registrar's releases need that) and
    // reports the proxy's refusal verbatim.
    const res = await runCommand('go', ['get', `${t.module}@${t.version}`], { cwd: workDir, env: goEnv(), timeoutMs: DOWNLOAD_TIMEOUT_MS });
    if (res.code !== 0) throw new Error(`go get ${t.module}@${t.version} failed: ${res.stderr.trim().split('\n').slice(-3).join(' ')}`);
    return;
  }
  const args = ['mod', 'edit', `-require=${t.module}@${t.version}`];
  if (t.module === 'k8s.io/kubernetes') {
    const gomod = await readFile(path.join(workDir, 'go.mod'), 'utf8');
    for (const m of gomod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s*=>\s*k8s\.io\/[\w.-]+\s+v\S+/gm)) {
      args.push(`-replace=${m[1]}=${m[1]}@${versions.kubernetesStaging}`);
    }
  }
  const res = await runCommand('go', args, { cwd: workDir, env: goEnv(), timeoutMs: 60_000 });
  if (res.code !== 0) throw new Error(`go mod edit for ${tool} failed: ${res.stderr.trim()}`);
}

/** Fails fast with a clear message when the Go module proxy cannot be reached. */
async function checkProxy(versions: VersionsFile): Promise<void> {
  const t = versions.tools.etcd;
  const res = await runCommand('go', ['mod', 'download', '-json', `${t.module}@${t.version}`], {
    env: goEnv(),
    timeoutMs: 120_000,
    cwd: packageDir(),
  });
  if (res.timedOut) {
    throw new Error(
      `Go module proxy unreachable: \`go mod download ${t.module}@${t.version}\` did not answer in 120 s ` +
        `(GOPROXY=${process.env.GOPROXY ?? 'default'}). Set DBAAS_TESTING_BIN_DIR to prebuilt binaries instead.`,
    );
  }
  if (res.code !== 0) {
    const detail = (res.stdout + res.stderr).trim().split('\n').slice(-5).join('\n');
    throw new Error(`Go module proxy refused or unreachable for ${t.module}@${t.version}:\n${detail}`);
  }
}

/**
 * Builds every named tool missing from the cache, printing which tool is building and the elapsed
 * time. Each binary goes to `~/.cache/kubectl-dbaas/bin/<tool>/<key>/<tool>` (never into the
 * repository). Builds run with `nice -n 10`, `GOTOOLCHAIN=local`, `GOWORK=off`, `GOFLAGS=-mod=mod`.
 *
 * @returns each tool's path and the seconds each built tool took.
 * @example
 * const { paths, seconds } = await buildBinaries({ log: console.log });
 */
export async function buildBinaries(
  opts: Pick<BuildOptions, 'log' | 'progressEverySeconds'> & { tools?: readonly ClusterTool[] } = {},
): Promise<{ paths: Partial<Record<ClusterTool, string>>; seconds: Partial<Record<ClusterTool, number>> }> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const versions = await loadVersions();
  const gv = await goVersion();
  const tools = opts.tools ?? [...BUILT_TOOLS, ...LOCAL_SOURCE_TOOLS];
  const paths: Partial<Record<ClusterTool, string>> = {};
  const missing: ClusterTool[] = [];
  for (const tool of tools) {
    paths[tool] = await cachedToolPath(tool);
    if (!(await isExecutable(paths[tool]!))) missing.push(tool);
  }
  const seconds: Partial<Record<ClusterTool, number>> = {};
  if (missing.length === 0) return { paths, seconds };

  await mkdir(path.join(cacheRoot(), 'bin'), { recursive: true });
  const unlock = await acquireLock(path.join(cacheRoot(), 'bin', '.build.lock'), log);
  try {
    log(`[dbaas-testing] building ${missing.join(', ')} with ${gv} into ${path.join(cacheRoot(), 'bin')}`);
    await checkProxy(versions);
    const started = Date.now();
    for (const tool of missing) {
      const out = paths[tool]!;
      if (await isExecutable(out)) continue; // built by another process while we waited for the lock
      const t = toolVersion(tool, versions);
      const workDir = path.join(cacheRoot(), 'work', tool, path.basename(path.dirname(out)));
      await rm(workDir, { recursive: true, force: true });
      await mkdir(path.dirname(workDir), { recursive: true });
      await mkdir(path.dirname(out), { recursive: true });
      await cp(path.join(packageDir(), 'go', tool), workDir, { recursive: true });
      if (!isLocalSource(tool)) await syncWrapper(workDir, tool, versions);
      const t0 = Date.now();
      log(`[dbaas-testing] building ${tool} (${t.module}@${t.version})...`);
      const every = (opts.progressEverySeconds ?? 30) * 1000;
      // Download everything the build needs first, with a deadline: an unreachable or black-holed
      // proxy then gives an error instead of a hang.
      const dl = await runCommand('go', ['list', '-deps', '-f', '{{.ImportPath}}', t.package], {
        cwd: workDir,
        env: goEnv(),
        timeoutMs: DOWNLOAD_TIMEOUT_MS,
      });
      if (dl.timedOut || dl.code !== 0) {
        const tail = dl.stderr.trim().split('\n').slice(-12).join('\n');
        throw new Error(
          dl.timedOut
            ? `Go module proxy unreachable or too slow: downloading the modules of ${tool} did not finish in ${DOWNLOAD_TIMEOUT_MS / 60_000} min (GOPROXY=${process.env.GOPROXY ?? 'default'})`
            : `resolving the modules of ${tool} failed (the Go module proxy may refuse one of them):\n${tail}`,
        );
      }
      log(`[dbaas-testing]   ${tool}: modules ready after ${fmtElapsed(Date.now() - t0)}, compiling`);
      const timer = setInterval(() => log(`[dbaas-testing]   ${tool}: ${fmtElapsed(Date.now() - t0)} elapsed`), every);
      timer.unref();
      const buildLog: string[] = [];
      let res: RunResult;
      try {
        // A local-source tool reports its cache key as its version (the driver's GetPluginInfo).
        const ldflags = isLocalSource(tool) ? `-s -w -X main.version=${path.basename(path.dirname(out))}` : ldflagsFor(tool, versions);
        res = await runCommand('nice', ['-n', '10', 'go', 'build', '-trimpath', '-ldflags', ldflags, '-o', `${out}.tmp`, t.package], {
          cwd: workDir,
          env: goEnv(),
          onOutput: (c) => buildLog.push(c),
        });
      } finally {
        clearInterval(timer);
      }
      if (res.code !== 0) {
        const tail = buildLog.join('').trim().split('\n').slice(-30).join('\n');
        throw new Error(`building ${tool} failed (exit ${res.code}); last output:\n${tail}`);
      }
      await rename(`${out}.tmp`, out);
      seconds[tool] = Math.round((Date.now() - t0) / 1000);
      await writeFile(
        path.join(path.dirname(out), 'build.json'),
        JSON.stringify({ go: gv, tool, version: t, seconds: seconds[tool], finishedAt: new Date().toISOString() }, null, 2),
      );
      await rm(workDir, { recursive: true, force: true });
      log(`[dbaas-testing] built ${tool} in ${fmtElapsed(Date.now() - t0)}`);
    }
    log(`[dbaas-testing] build finished in ${fmtElapsed(Date.now() - started)}`);
    return { paths, seconds };
  } finally {
    await unlock();
  }
}

/** A directory lock (mkdir is atomic) holding the owner's pid; a stale lock of a dead pid is taken over. */
async function acquireLock(lockDir: string, log: (l: string) => void): Promise<() => Promise<void>> {
  let waited = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, 'pid'), String(process.pid));
      return () => rm(lockDir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => '0'));
      if (!pid || !pidAlive(pid)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!waited) log(`[dbaas-testing] another build (pid ${pid}) holds ${lockDir}; waiting for it`);
      waited = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds every binary: first in `DBAAS_TESTING_BIN_DIR` (or `opts.binDir`), then in the build cache,
 * building what is missing unless `build: false`. The CSI driver's binaries are built only when the
 * directory lacks them, and a refused build makes them unavailable (with the reason) rather than
 * failing: the cluster then runs without the driver.
 *
 * @example
 * const bins = await resolveBinaries({ log: console.log });
 * if (bins.hostpathUnavailable) console.warn(bins.hostpathUnavailable);
 */
export async function resolveBinaries(
  opts: BuildOptions & { withoutCsiDriver?: boolean | undefined; withoutBtrfsDriver?: boolean | undefined } = {},
): Promise<ResolvedBinaries> {
  const binDir = opts.binDir ?? process.env.DBAAS_TESTING_BIN_DIR ?? undefined;
  const paths: Partial<Record<ClusterTool, string>> = {};
  const fromBinDir = async (tool: ClusterTool) => {
    const candidate = binDir ? path.join(binDir, tool) : undefined;
    if (candidate && (await isExecutable(candidate))) paths[tool] = candidate;
    return paths[tool] !== undefined;
  };
  const needBuild: BuiltTool[] = [];
  for (const tool of BUILT_TOOLS) if (!(await fromBinDir(tool))) needBuild.push(tool);
  const ensureBuilt = async (tools: readonly ClusterTool[]) => {
    if (tools.length === 0) return;
    const missing: ClusterTool[] = [];
    for (const tool of tools) {
      paths[tool] = await cachedToolPath(tool);
      if (!(await isExecutable(paths[tool]!))) missing.push(tool);
    }
    if (missing.length > 0 && opts.build === false) {
      throw new Error(
        `binaries missing from ${path.join(cacheRoot(), 'bin')}: ${missing.join(', ')}. Run \`dbaas-testing build\` ` +
          '(or set DBAAS_TESTING_BIN_DIR to prebuilt binaries).',
      );
    }
    if (missing.length > 0) await buildBinaries({ tools: missing, log: opts.log, progressEverySeconds: opts.progressEverySeconds });
  };
  await ensureBuilt(needBuild);

  let hostpathUnavailable: string | undefined;
  if (opts.withoutCsiDriver) {
    hostpathUnavailable = 'not wanted (withoutCsiDriver)';
  } else {
    const csiMissing: CsiDriverTool[] = [];
    for (const tool of CSI_DRIVER_TOOLS) if (!(await fromBinDir(tool))) csiMissing.push(tool);
    try {
      if (csiMissing.length > 0 && opts.build === false) {
        for (const tool of csiMissing) {
          paths[tool] = await cachedToolPath(tool);
          if (!(await isExecutable(paths[tool]!))) throw new Error(`${tool} is neither in the bin directory nor built`);
        }
      } else {
        await ensureBuilt(csiMissing);
      }
    } catch (err) {
      for (const tool of csiMissing) delete paths[tool];
      hostpathUnavailable =
        `${csiMissing.join(' and ')} ${binDir ? `not in DBAAS_TESTING_BIN_DIR=${binDir}` : '(DBAAS_TESTING_BIN_DIR is not set)'} ` +
        `and not buildable here: ${(err as Error).message.split('\n')[0]} (see packages/testing/go/BLOCKED.md)`;
    }
  }
  // The btrfs driver is the project's own source: never taken from the bin directory, where a
  // binary could be older than the source beside it.
  let btrfsDriverUnavailable: string | undefined;
  if (opts.withoutBtrfsDriver) {
    btrfsDriverUnavailable = 'not wanted (withoutBtrfsDriver)';
  } else {
    try {
      await ensureBuilt(LOCAL_SOURCE_TOOLS);
    } catch (err) {
      for (const tool of LOCAL_SOURCE_TOOLS) delete paths[tool];
      btrfsDriverUnavailable = `btrfs-csi not built: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  return { paths, ...(hostpathUnavailable ? { hostpathUnavailable } : {}), ...(btrfsDriverUnavailable ? { btrfsDriverUnavailable } : {}) };
}

/**
 * Directory holding the VolumeSnapshot CRD yamls (`config/crd` of
 * `github.com/kubernetes-csi/external-snapshotter/client/v8`) in the Go module cache, downloading
 * the module through the proxy if needed. Needs Go even when every binary is prebuilt.
 *
 * @example
 * const dir = await snapshotCrdDir(); // ~/go/pkg/mod/github.com/kubernetes-csi/external-snapshotter/client/v8@v8.7.0/config/crd
 */
export async function snapshotCrdDir(): Promise<string> {
  const v = await loadVersions();
  await goVersion(); // a clear error when Go is missing
  const res = await runCommand('go', ['mod', 'download', '-json', `${v.snapshotCrds.module}@${v.snapshotCrds.version}`], {
    env: goEnv(),
    timeoutMs: 120_000,
    cwd: packageDir(),
  });
  let dir: string | undefined;
  try {
    dir = (JSON.parse(res.stdout) as { Dir?: string; Error?: string }).Dir;
  } catch {
    dir = undefined;
  }
  if (res.code !== 0 || !dir) {
    throw new Error(
      `cannot get ${v.snapshotCrds.module}@${v.snapshotCrds.version} from the Go module cache/proxy` +
        `${res.timedOut ? ' (timed out)' : ''}: ${(res.stdout + res.stderr).trim().slice(0, 800)}`,
    );
  }
  return path.join(dir, v.snapshotCrds.dir);
}
