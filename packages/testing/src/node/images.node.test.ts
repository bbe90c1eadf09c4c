// The test images for real: built (or taken from the cache), imported into a private containerd
// and run with `ctr run`, no kubelet. PostgreSQL and MariaDB initialise empty data directories (bind
// mounts of temporary directories) and answer from inside their container's own network namespace
// (loopback only); the SDK's own pod commands (scratch server, inspect, restore-prep Job) run in the
// PostgreSQL images as uid 999 on a read-only root filesystem, as the pods would. CloudNativePG's
// images are built and read from their archives (layout, config, layer listings), and their programs
// run from the unpacked layers; no containerd.
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chown, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRestorePrepJob, buildScratchPod } from '@kubectl-dbaas/sdk';

import { mountsUnder } from '../local-cluster/mounts.js';
import { skipWhen } from '../skip-reason.js';
import {
  CNPG_IMAGE_NAMES,
  CNPG_OPERATOR_IMAGE,
  CNPG_POSTGRES_IMAGE,
  CNPG_POSTGRES_UID,
  CNPG_VERSION,
  MARIADB_IMAGE_UID,
  POSTGRES_IMAGE_MAJORS,
  POSTGRES_IMAGE_UID,
  TEST_IMAGES,
  buildTestImage,
  cnpgManagerBinary,
  cnpgManagerUnavailable,
  importTestImages,
  postgresImagePgdata,
  type BuiltTestImage,
  type TestImageName,
} from './images.js';
import { PrivateContainerd, containerdUnavailable } from './private-containerd.js';

const why = containerdUnavailable();
if (why) console.warn(`[dbaas-testing] SKIPPING test image tests (not passed): ${why}`);

let containerd: PrivateContainerd | undefined;
let scratch: string | undefined;
const built = new Map<TestImageName, BuiltTestImage>();

function c(): PrivateContainerd {
  if (!containerd) throw new Error('containerd did not start');
  return containerd;
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

let execSeq = 0;
/** `ctr tasks exec` in a running container (its env, its network namespace). */
async function exec(id: string, args: string[], timeoutMs = 60_000) {
  return await c().ctr(['tasks', 'exec', '--exec-id', `e${++execSeq}`, id, ...args], timeoutMs);
}

async function taskStatus(id: string): Promise<{ pid: number; status: string } | undefined> {
  const out = await c().ctrOk(['tasks', 'ls']);
  const line = out.split('\n').find((l) => l.split(/\s+/)[0] === id);
  if (!line) return undefined;
  const [, pid, status] = line.trim().split(/\s+/);
  return { pid: Number(pid), status: status! };
}

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** Does the network namespace of `pid` listen on 0.0.0.0:<port> (from /proc/<pid>/net/tcp)? */
function listensOnAny(pid: number, port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync(`/proc/${pid}/net/tcp`, 'utf8')
    .split('\n')
    .some((l) => {
      const f = l.trim().split(/\s+/);
      return f[1] === `00000000:${hex}` && f[3] === '0A';
    });
}

/** Waits for `check`, failing at once (with the container's log) when the container has exited. */
async function waitServing(id: string, logFile: string, what: string, check: () => Promise<boolean>): Promise<void> {
  await waitUntil(what, 180_000, async () => {
    if ((await taskStatus(id))?.status === 'STOPPED') {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '(no log)';
      throw new Error(`${id} exited while waiting for ${what}:\n${log}`);
    }
    return await check();
  });
}

async function removeContainer(id: string): Promise<void> {
  await c().ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
  await waitUntil(`${id} to stop`, 30_000, async () => (await taskStatus(id))?.status !== 'RUNNING');
  await c().ctr(['tasks', 'delete', id]);
  await c().ctrOk(['containers', 'delete', id]);
}

async function stopGracefully(id: string, signal: string, timeoutMs = 60_000): Promise<void> {
  await c().ctrOk(['tasks', 'kill', '--signal', signal, id]);
  await waitUntil(`${id} to stop after ${signal}`, timeoutMs, async () => (await taskStatus(id))?.status === 'STOPPED');
  await c().ctrOk(['tasks', 'delete', id]);
  await c().ctrOk(['containers', 'delete', id]);
}

/** A host directory for a bind mount, under the test's scratch directory. */
async function hostDir(name: string): Promise<string> {
  const dir = path.join(scratch!, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function envFile(name: string, env: Record<string, string>): Promise<string> {
  const file = path.join(scratch!, `${name}.env`);
  await writeFile(
    file,
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  return file;
}

const bind = (src: string, dst: string, ro = false) => ['--mount', `type=bind,src=${src},dst=${dst},options=rbind:${ro ? 'ro' : 'rw'}`];
const tmpfs = (dst: string) => ['--mount', `type=tmpfs,src=tmpfs,dst=${dst},options=nosuid:nodev:mode=1777`];
/** The uid/gid switch a pod's securityContext (runAsUser/runAsGroup) makes, without privileges. */
const asUid = (uid: number) => ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'];

describe('test images in a private containerd', skipWhen(why), () => {
  beforeAll(async () => {
    for (const image of ['pause', ...POSTGRES_IMAGE_MAJORS.map((m) => `postgres:${m}`), 'mariadb'] as TestImageName[]) {
      const b = await buildTestImage(image, { log: (l) => console.error(`[images] ${l}`) });
      console.error(`[images] ${b.ref}: ${b.cached ? 'cached' : 'built'} in ${b.seconds} s, ${(b.size / 1e6).toFixed(1)} MB`);
      built.set(image, b);
    }
    scratch = await mkdtemp(path.join(os.tmpdir(), 'dbaas-images-test-'));
    containerd = await PrivateContainerd.start();
    await importTestImages(
      [...built.values()].map((b) => b.archive),
      { containerdAddress: containerd.address, namespace: containerd.namespace },
    );
  });

  afterAll(async () => {
    const dir = containerd?.dir;
    try {
      await containerd?.stop();
    } finally {
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
    if (dir) {
      expect(existsSync(dir)).toBe(false);
      expect(mountsUnder(dir)).toEqual([]);
      expect(containerd!.leftoverCgroups()).toEqual([]);
    }
    if (scratch) expect(existsSync(scratch)).toBe(false);
  });

  it('every image is imported complete and unpacked (ctr images check)', async () => {
    const out = await c().ctrOk(['images', 'check']);
    for (const b of built.values()) {
      const line = out.split('\n').find((l) => l.startsWith(`${b.ref} `));
      expect(line, out).toMatch(/complete \(\d+\/\d+\).*\btrue\s*$/);
    }
  });

  it('a second build of the same inputs is the cached archive, in well under a second', async () => {
    const again = await buildTestImage('postgres:17');
    expect(again.cached).toBe(true);
    expect(again.archive).toBe(built.get('postgres:17')!.archive);
    expect(again.seconds).toBeLessThan(1);
  });

  it('pause runs as 65535 and stops on SIGTERM', async () => {
    await c().ctrOk(['run', '-d', ...c().runOptions('pause'), TEST_IMAGES.pause, 'pause']);
    const t = await taskStatus('pause');
    expect(t?.status).toBe('RUNNING');
    expect(uidOf(t!.pid)).toBe(65535);
    const started = Date.now();
    await stopGracefully('pause', 'SIGTERM', 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  for (const major of POSTGRES_IMAGE_MAJORS) {
    it(`postgres:${major} initialises an empty PGDATA with a password as uid ${POSTGRES_IMAGE_UID} and serves it; the SDK's scratch server runs on it read-only-root as ${POSTGRES_IMAGE_UID}`, async () => {
      const id = `pg${major}`;
      const data = await hostDir(`pgdata-${major}`);
      const pgdata = postgresImagePgdata(major);
      const password = randomBytes(12).toString('base64url');
      const env = await envFile(id, { POSTGRES_PASSWORD: password, POSTGRES_DB: 'app' });
      const logFile = path.join(scratch!, `${id}.log`);
      await c().ctrOk([
        'run',
        '-d',
        '--log-uri',
        `file://${logFile}`,
        ...c().runOptions(id),
        '--env-file',
        env,
        ...bind(data, pgdata),
        TEST_IMAGES.postgres(major),
        id,
      ]);
      try {
        await waitServing(
          id,
          logFile,
          `postgres:${major} to accept connections`,
          async () => (await exec(id, ['pg_isready', '-q', '-h', '127.0.0.1', '-p', '5432'])).code === 0,
        );
        const t = await taskStatus(id);
        expect(uidOf(t!.pid)).toBe(POSTGRES_IMAGE_UID);
        // TCP with the password (scram-sha-256): the right one works, a wrong one is refused.
        const ok = await exec(id, [
          'sh',
          '-c',
          'PGPASSWORD="$POSTGRES_PASSWORD" psql -X -At -h 127.0.0.1 -U postgres -d app -c "select current_setting(\'server_version_num\'), current_user, current_database()"',
        ]);
        expect(ok.stderr).not.toMatch(/FATAL/);
        expect(ok.stdout.trim()).toMatch(new RegExp(`^${major}\\d{4}\\|postgres\\|app$`));
        const bad = await exec(id, ['sh', '-c', 'PGPASSWORD=wrong-password psql -X -At -h 127.0.0.1 -U postgres -d app -c "select 1"']);
        expect(bad.code).not.toBe(0);
        expect(bad.stderr).toMatch(/password authentication failed/);
        // The socket directory users of the official image connect to, trusted locally.
        const local = await exec(id, ['psql', '-X', '-At', '-U', 'postgres', '-d', 'app', '-c', "select current_setting('listen_addresses')"]);
        expect(local.stdout.trim()).toBe('*');
        expect(listensOnAny(t!.pid, 5432)).toBe(true);
        // The entrypoint initialised (its log says so) and never printed the password.
        const log = await readFile(logFile, 'utf8');
        expect(log).toMatch(/initialising/);
        expect(log).not.toContain(password);
        await stopGracefully(id, 'SIGINT');
      } catch (error) {
        await removeContainer(id).catch(() => {});
        throw error;
      }
      expect(readFileSync(path.join(data, 'PG_VERSION'), 'utf8').trim()).toBe(String(major));

      // The verify runtime's scratch server pod (packages/sdk/src/restore/pod-runtime.ts), as built by the SDK.
      const pod = buildScratchPod({
        role: 'server',
        name: 'verify-pg',
        namespace: 'db',
        pvc: 'restored',
        image: TEST_IMAGES.postgres(major),
        runAsUser: POSTGRES_IMAGE_UID,
        dataSubPath: '',
        settings: { archive_mode: 'off' },
      });
      const container = pod.spec!.containers[0]!;
      const mount = container.volumeMounts!.find((m) => m.name === 'data')!.mountPath;
      const sid = `pg${major}-scratch`;
      await c().ctrOk([
        'run',
        '-d',
        '--read-only',
        ...c().runOptions(sid),
        ...container.env!.flatMap((e) => ['--env', `${e.name}=${e.value}`]),
        ...bind(data, mount),
        ...tmpfs('/tmp'),
        TEST_IMAGES.postgres(major),
        sid,
        ...asUid(POSTGRES_IMAGE_UID),
        ...container.command!,
      ]);
      try {
        await waitUntil(
          `the scratch server of postgres:${major} to be ready`,
          120_000,
          async () => (await exec(sid, container.readinessProbe!.exec!.command!)).code === 0,
        );
        const r = await exec(sid, [
          'psql',
          '-X',
          '-At',
          '-h',
          '127.0.0.1',
          '-U',
          'postgres',
          '-d',
          'app',
          '-c',
          "select current_setting('archive_mode'), current_setting('listen_addresses')",
        ]);
        expect(r.stdout.trim()).toBe('off|127.0.0.1');
        await stopGracefully(sid, 'SIGINT');
      } catch (error) {
        await removeContainer(sid).catch(() => {});
        throw error;
      }
    }, 600_000);
  }

  it('postgres:17 runs the inspect pod commands and the restore-prep Job script as 999 on a read-only root', async () => {
    const data = path.join(scratch!, 'pgdata-17');
    expect(existsSync(path.join(data, 'PG_VERSION'))).toBe(true);
    // inspect: the pod idles; the SDK lists data directories and streams a tar through exec.
    const inspect = buildScratchPod({
      role: 'inspect',
      name: 'x-inspect',
      namespace: 'db',
      pvc: 'restored',
      image: TEST_IMAGES.postgres(17),
      runAsUser: POSTGRES_IMAGE_UID,
      dataSubPath: '',
    });
    const ic = inspect.spec!.containers[0]!;
    const volume = ic.volumeMounts!.find((m) => m.name === 'data')!.mountPath;
    await c().ctrOk([
      'run',
      '-d',
      '--read-only',
      ...c().runOptions('inspect'),
      ...bind(data, volume, true),
      ...tmpfs('/tmp'),
      TEST_IMAGES.postgres(17),
      'inspect',
      ...asUid(POSTGRES_IMAGE_UID),
      ...ic.command!,
    ]);
    try {
      // The same commands as podVerifyRuntime().openVolume.
      const listing = await exec('inspect', [
        '/bin/sh',
        '-c',
        `for d in ${volume} ${volume}/*; do [ -f "$d/PG_VERSION" ] && echo "dir:\${d#${volume}}"; done; true`,
      ]);
      expect(listing.stdout.split('\n')).toContain('dir:');
      const tar = await exec('inspect', ['/bin/sh', '-c', `tar -cf - -C ${volume} --exclude=./base --exclude=./pg_tblspc . | tar -tf -`]);
      expect(tar.code, tar.stderr).toBe(0);
      const names = tar.stdout.split('\n');
      expect(names).toContain('./global/pg_control');
      expect(names.some((n) => n.startsWith('./base/'))).toBe(false);
      await stopGracefully('inspect', 'SIGTERM', 30_000);
    } catch (error) {
      await removeContainer('inspect').catch(() => {});
      throw error;
    }

    // restore-prep: copies a WAL segment from the WAL volume and writes backup_label.
    const walVolume = await hostDir('wal-volume');
    await cp(path.join(data, 'pg_wal'), path.join(walVolume, 'pg_wal'), { recursive: true });
    const segment = (await readdir(path.join(data, 'pg_wal'))).find((f) => /^[0-9A-F]{24}$/.test(f))!;
    await rm(path.join(data, 'pg_wal', segment));
    const label = `START WAL LOCATION: 0/1000028 (file ${segment})\nCHECKPOINT LOCATION: 0/1000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-01-01 00:00:00 UTC\nLABEL: images-test\nSTART TIMELINE: 1\n`;
    const job = buildRestorePrepJob({
      name: 'prep',
      namespace: 'db',
      image: TEST_IMAGES.postgres(17),
      dataPvc: 'd',
      walPvc: 'w',
      walFiles: [segment],
      backupLabel: label,
      runAsUser: POSTGRES_IMAGE_UID,
    });
    const jc = job.spec!.template.spec!.containers[0]!;
    const mountOf = (name: string) => jc.volumeMounts!.find((m) => m.name === name)!;
    // A restored volume is the postgres user's, as the snapshot's source was.
    for (const entry of [
      walVolume,
      path.join(walVolume, 'pg_wal'),
      ...(await readdir(path.join(walVolume, 'pg_wal'), { recursive: true })).map((e) => path.join(walVolume, 'pg_wal', e)),
    ]) {
      await chown(entry, POSTGRES_IMAGE_UID, POSTGRES_IMAGE_UID);
    }
    await c().ctrOk(
      [
        'run',
        '--rm',
        '--read-only',
        ...c().runOptions('prep'),
        ...jc.env!.flatMap((e) => ['--env', `${e.name}=${e.value ?? ''}`]),
        ...bind(data, mountOf('data').mountPath),
        ...bind(walVolume, mountOf('wal').mountPath, true),
        TEST_IMAGES.postgres(17),
        'prep',
        ...asUid(POSTGRES_IMAGE_UID),
        ...jc.command!,
      ],
      120_000,
    );
    expect(readFileSync(path.join(data, 'backup_label'), 'utf8')).toBe(label);
    expect(readFileSync(path.join(data, 'pg_wal', segment)).equals(readFileSync(path.join(walVolume, 'pg_wal', segment)))).toBe(true);
  }, 300_000);

  it(`mariadb initialises an empty datadir with the root password, runs as mysql (${MARIADB_IMAGE_UID}) on 0.0.0.0:3306 and answers select 1`, async () => {
    const id = 'mariadb';
    const data = await hostDir('mariadb-data');
    const password = `p'w\\${randomBytes(9).toString('base64url')}`;
    const env = await envFile(id, { MARIADB_ROOT_PASSWORD: password, MARIADB_DATABASE: 'shop' });
    const logFile = path.join(scratch!, `${id}.log`);
    await c().ctrOk([
      'run',
      '-d',
      '--log-uri',
      `file://${logFile}`,
      ...c().runOptions(id),
      '--env-file',
      env,
      ...bind(data, '/var/lib/mysql'),
      TEST_IMAGES.mariadb,
      id,
    ]);
    try {
      const ask = (pw: string, sql: string, host = '127.0.0.1') => exec(id, ['sh', '-c', `MYSQL_PWD=${pw} mariadb -uroot -h ${host} -N -B -e "${sql}"`]);
      await waitServing(id, logFile, 'mariadb to accept connections', async () => (await ask('"$MARIADB_ROOT_PASSWORD"', 'select 1')).stdout.trim() === '1');
      const t = await taskStatus(id);
      expect(uidOf(t!.pid)).toBe(MARIADB_IMAGE_UID);
      expect(listensOnAny(t!.pid, 3306)).toBe(true);
      const dbs = await ask('"$MARIADB_ROOT_PASSWORD"', 'show databases');
      expect(dbs.stdout.split('\n')).toContain('shop');
      const viaSocket = await exec(id, ['sh', '-c', 'mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" -N -B -e "select 1"']);
      expect(viaSocket.stdout.trim()).toBe('1');
      const bad = await ask('wrong', 'select 1');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/Access denied/);
      const log = await readFile(logFile, 'utf8');
      expect(log).toMatch(/initialising/);
      expect(log).not.toContain(password);
      await stopGracefully(id, 'SIGTERM', 60_000);
    } catch (error) {
      await removeContainer(id).catch(() => {});
      throw error;
    }
    expect(existsSync(path.join(data, 'mysql'))).toBe(true);
  }, 600_000);
});

const execFileAsync = promisify(execFile);
const run = async (cmd: string, args: string[]) => (await execFileAsync(cmd, args, { maxBuffer: 256 * 1024 * 1024 })).stdout;

function cnpgImagesUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return `not root (uid ${process.getuid?.()}): mmdebstrap --mode=root needs root`;
  if (spawnSync('mmdebstrap', ['--version'], { stdio: 'ignore' }).status !== 0) return 'mmdebstrap not found (apt-get install mmdebstrap)';
  return cnpgManagerUnavailable();
}
const cnpgWhy = cnpgImagesUnavailable();
if (cnpgWhy) console.warn(`[dbaas-testing] SKIPPING CloudNativePG image tests (not passed): ${cnpgWhy}`);

interface LayerEntry {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  link?: string;
}

/** `tar --list --verbose` of a gzip layer: entry name (directories without the trailing /) to type, mode, owner, link target. */
async function layerEntries(blob: string): Promise<Map<string, LayerEntry>> {
  const out = await run('tar', ['--list', '--verbose', '--numeric-owner', '--gzip', `--file=${blob}`]);
  const entries = new Map<string, LayerEntry>();
  for (const line of out.split('\n').filter(Boolean)) {
    const m = /^(\S)(\S{9})\s+(\d+)\/(\d+)\s+\d+\s+\S+\s+\S+\s+(.+)$/.exec(line);
    if (!m) throw new Error(`unexpected tar listing line: ${line}`);
    const [name, link] = m[1] === 'l' ? m[5]!.split(' -> ') : [m[5]!];
    entries.set(name!.replace(/\/$/, ''), { type: m[1]!, mode: m[2]!, uid: Number(m[3]), gid: Number(m[4]), ...(link ? { link } : {}) });
  }
  return entries;
}

interface UnpackedImage {
  built: BuiltTestImage;
  config: { config: Record<string, unknown>; rootfs: { diff_ids: string[] } };
  /** Blob files of the layers, bottom first. */
  layers: string[];
}

describe('CloudNativePG images, read from their archives', skipWhen(cnpgWhy), () => {
  let dir: string | undefined;
  const images = new Map<TestImageName, UnpackedImage>();
  const image = (name: TestImageName) => images.get(name) ?? expect.fail(`${name} was not built`);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dbaas-cnpg-images-test-'));
    for (const name of CNPG_IMAGE_NAMES) {
      const built = await buildTestImage(name, { log: (l) => console.error(`[images] ${l}`) });
      console.error(`[images] ${built.ref}: ${built.cached ? 'cached' : 'built'} in ${built.seconds} s, ${(built.size / 1e6).toFixed(1)} MB`);
      const layout = path.join(dir, name.replace(':', '-'));
      await mkdir(layout);
      await run('tar', ['--extract', `--file=${built.archive}`, `--directory=${layout}`]);
      const blob = (digest: string) => path.join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
      const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as {
        manifests: { digest: string; annotations: Record<string, string> }[];
      };
      expect(index.manifests[0]!.annotations['io.containerd.image.name']).toBe(built.ref);
      const manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
      images.set(name, {
        built,
        config: JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')),
        layers: manifest.layers.map((l) => blob(l.digest)),
      });
    }
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`the operator image is CloudNativePG's layout: /operator/manager_amd64 (root, 0755), /manager linking to it, user 10001, workdir /`, async () => {
    const { built, config, layers } = image('cnpg-operator');
    expect(built.ref).toBe(CNPG_OPERATOR_IMAGE);
    expect(config.config).toMatchObject({ Entrypoint: ['/manager'], User: '10001:10001', WorkingDir: '/' });
    expect(layers).toHaveLength(1);
    const entries = await layerEntries(layers[0]!);
    expect(entries.get('operator/manager_amd64')).toEqual({ type: '-', mode: 'rwxr-xr-x', uid: 0, gid: 0 });
    expect(entries.get('manager')).toMatchObject({ type: 'l', link: 'operator/manager_amd64' });
    expect([...entries.keys()].sort()).toEqual(['manager', 'operator', 'operator/manager_amd64']);

    // The binary in the layer is the manager of the bin directory, and it runs.
    const unpacked = path.join(dir!, 'operator-rootfs');
    await mkdir(unpacked);
    await run('tar', ['--extract', '--gzip', `--file=${layers[0]!}`, `--directory=${unpacked}`]);
    const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
    expect(sha(path.join(unpacked, 'operator', 'manager_amd64'))).toBe(sha(cnpgManagerBinary()));
    expect(await run(path.join(unpacked, 'manager'), ['version'])).toContain(`Version:${CNPG_VERSION} `);
    // The key covers the binary: its sha256 is among the recorded inputs.
    const record = JSON.parse(await readFile(`${built.archive}.json`, 'utf8')) as { inputs: { manager: string } };
    expect(record.inputs.manager).toBe(`sha256:${sha(cnpgManagerBinary())}`);
  });

  it(`the operand image is Debian's postgresql-15 with postgres ${CNPG_POSTGRES_UID}:${CNPG_POSTGRES_UID}, no main cluster, every program CloudNativePG runs`, async () => {
    const { built, config, layers } = image('cnpg-postgresql:15');
    expect(built.ref).toBe(CNPG_POSTGRES_IMAGE);
    expect(config.config.Entrypoint).toBeUndefined();
    expect(config.config).toMatchObject({ Cmd: ['postgres'], User: '26:26' });
    expect(config.config.Env).toEqual(['PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8']);
    expect(layers).toHaveLength(1);
    const entries = await layerEntries(layers[0]!);
    const programs = ['postgres', 'pg_ctl', 'pg_rewind', 'pg_basebackup', 'pg_isready', 'pg_controldata', 'initdb'];
    for (const program of programs) {
      const entry = entries.get(`usr/lib/postgresql/15/bin/${program}`);
      expect(entry?.type, program).toBe('-');
      expect(entry?.mode, program).toMatch(/^..x..x..x$/);
    }
    expect(entries.has('etc/postgresql/15/main')).toBe(false);
    expect(entries.has('var/lib/postgresql/15/main')).toBe(false);
    expect([...entries.keys()].some((n) => n.startsWith('var/lib/postgresql/15/main/') || n.startsWith('etc/postgresql/15/main/'))).toBe(false);
    expect(entries.get('var/lib/postgresql')).toMatchObject({ type: 'd', uid: 26, gid: 26 });
    expect(entries.get('run/postgresql')).toEqual({ type: 'd', mode: 'rwxrwsr-x', uid: 26, gid: 26 });

    // Unpacked (owners kept): the accounts, and each program runs as 26 from its own root.
    const root = path.join(dir!, 'operand-rootfs');
    await mkdir(root);
    await run('tar', ['--extract', '--gzip', '--numeric-owner', '--same-owner', '--preserve-permissions', `--file=${layers[0]!}`, `--directory=${root}`]);
    const passwd = readFileSync(path.join(root, 'etc', 'passwd'), 'utf8').split('\n');
    expect(passwd.find((l) => l.startsWith('postgres:'))).toMatch(/^postgres:x:26:26:[^:]*:\/var\/lib\/postgresql:\/bin\/bash$/);
    const group = readFileSync(path.join(root, 'etc', 'group'), 'utf8').split('\n');
    expect(group.find((l) => l.startsWith('postgres:'))).toMatch(/^postgres:x:26:/);
    expect(group.filter((l) => l.split(':')[2] === '26')).toHaveLength(1);
    for (const program of programs) {
      const version = await run('chroot', ['--userspec=26:26', root, `/usr/lib/postgresql/15/bin/${program}`, '--version']);
      expect(version, program).toMatch(/\(PostgreSQL\) 15\.\d+/);
    }
  });

  it('a second build of each is the cached archive', async () => {
    for (const name of CNPG_IMAGE_NAMES) {
      const again = await buildTestImage(name);
      console.error(`[images] ${again.ref}: cached in ${again.seconds} s`);
      expect(again.cached, name).toBe(true);
      expect(again.archive, name).toBe(image(name).built.archive);
    }
  });
});
