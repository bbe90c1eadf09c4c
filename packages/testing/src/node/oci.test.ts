// Pure parts of the image builder: OCI documents, tar arguments, content keys, references.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadVersions } from '../local-cluster/binaries.js';
import { canonicalJson, contentKey } from './cache.js';
import {
  CNPG_IMAGE_NAMES,
  CNPG_VERSION,
  MARIADB_IMAGE,
  PAUSE_IMAGE,
  TEST_IMAGE_NAMES,
  TEST_IMAGES,
  cnpgManagerBinary,
  cnpgManagerUnavailable,
  parseCnpgManagerVersion,
  postgresImagePgdata,
  releaseDate,
  testImageRef,
} from './images.js';
import { MEDIA_TYPES, imageConfig, imageIndex, imageManifest, jsonBlob, layerTarArgs, ociArchitecture, splitRef } from './oci.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

describe('imageConfig', () => {
  it('carries entrypoint, cmd, env, user, working dir, ports, stop signal and the layers in order', () => {
    const config = imageConfig(
      {
        entrypoint: ['docker-entrypoint.sh'],
        cmd: ['postgres'],
        env: ['PGDATA=/var/lib/postgresql/data', 'LANG=C.UTF-8'],
        user: '999:999',
        workingDir: '/',
        exposedPorts: ['5432/tcp'],
        stopSignal: 'SIGINT',
      },
      [D1, D2],
      { architecture: 'amd64', created: '1970-01-01T00:00:00Z', history: ['base', 'top'] },
    );
    expect(config).toEqual({
      created: '1970-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: {
        Entrypoint: ['docker-entrypoint.sh'],
        Cmd: ['postgres'],
        Env: ['PGDATA=/var/lib/postgresql/data', 'LANG=C.UTF-8'],
        User: '999:999',
        WorkingDir: '/',
        ExposedPorts: { '5432/tcp': {} },
        StopSignal: 'SIGINT',
      },
      rootfs: { type: 'layers', diff_ids: [D1, D2] },
      history: [
        { created: '1970-01-01T00:00:00Z', created_by: 'base' },
        { created: '1970-01-01T00:00:00Z', created_by: 'top' },
      ],
    });
  });

  it('leaves out what is not set (no User: the entrypoint drops root itself)', () => {
    const config = imageConfig({ entrypoint: ['/pause'] }, [D1], { architecture: 'amd64', created: 'x' }) as { config: Record<string, unknown> };
    expect(config.config).toEqual({ Entrypoint: ['/pause'] });
  });

  it('takes a cmd without an entrypoint (the runtime runs the cmd)', () => {
    const config = imageConfig({ cmd: ['postgres'], user: '26:26' }, [D1], { architecture: 'amd64', created: 'x' }) as { config: Record<string, unknown> };
    expect(config.config).toEqual({ Cmd: ['postgres'], User: '26:26' });
  });

  it('refuses neither entrypoint nor cmd, no layers, a bad digest, a bad env entry, a bad port', () => {
    const o = { architecture: 'amd64', created: 'x' };
    expect(() => imageConfig({ entrypoint: [] }, [D1], o)).toThrow(/entrypoint or a cmd/);
    expect(() => imageConfig({}, [D1], o)).toThrow(/entrypoint or a cmd/);
    expect(() => imageConfig({ entrypoint: ['/x'] }, [], o)).toThrow(/at least one layer/);
    expect(() => imageConfig({ entrypoint: ['/x'] }, ['sha256:abc'], o)).toThrow(/not a sha256 digest/);
    expect(() => imageConfig({ entrypoint: ['/x'], env: ['NOVALUE'] }, [D1], o)).toThrow(/NAME=value/);
    expect(() => imageConfig({ entrypoint: ['/x'], exposedPorts: ['5432'] }, [D1], o)).toThrow(/exposed port/);
  });
});

describe('manifest and index', () => {
  it('the manifest names the config and the gzip layers by digest and size', () => {
    const config = jsonBlob({ a: 1 }, MEDIA_TYPES.config);
    expect(config.descriptor.size).toBe(config.bytes.length);
    expect(config.descriptor.digest).toBe('sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862');
    const m = imageManifest(config.descriptor, [{ mediaType: MEDIA_TYPES.layerGzip, digest: D1, size: 10 }]);
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: { mediaType: MEDIA_TYPES.config, digest: config.descriptor.digest, size: config.descriptor.size },
      layers: [{ mediaType: MEDIA_TYPES.layerGzip, digest: D1, size: 10 }],
    });
    expect(() => imageManifest({ ...config.descriptor, mediaType: 'application/json' }, [])).toThrow(/config media type/);
  });

  it('the index names the image in full for ctr (io.containerd.image.name) and by tag (OCI ref.name), with the platform', () => {
    const idx = imageIndex({ mediaType: MEDIA_TYPES.manifest, digest: D2, size: 404 }, 'localhost/kubectl-dbaas-test/pause:3.10', 'amd64');
    expect(idx).toEqual({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.index,
      manifests: [
        {
          mediaType: MEDIA_TYPES.manifest,
          digest: D2,
          size: 404,
          annotations: { 'io.containerd.image.name': 'localhost/kubectl-dbaas-test/pause:3.10', 'org.opencontainers.image.ref.name': '3.10' },
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    });
  });

  it('splitRef takes registry/path:tag and refuses a reference without tag or with a digest', () => {
    expect(splitRef('localhost/kubectl-dbaas-test/postgres:17')).toEqual({ name: 'localhost/kubectl-dbaas-test/postgres', tag: '17' });
    expect(splitRef('localhost:5000/a/b:1.2-x')).toEqual({ name: 'localhost:5000/a/b', tag: '1.2-x' });
    expect(() => splitRef('localhost/postgres')).toThrow(/image reference/);
    expect(() => splitRef(`localhost/postgres@sha256:${'a'.repeat(64)}`)).toThrow(/image reference/);
    expect(() => splitRef('postgres:17')).toThrow(/image reference/);
  });

  it('maps Node architectures to OCI ones', () => {
    expect(ociArchitecture('x64')).toBe('amd64');
    expect(ociArchitecture('arm64')).toBe('arm64');
    expect(() => ociArchitecture('mips')).toThrow();
  });
});

describe('layerTarArgs', () => {
  it('posix tar on stdout, numeric owners as they are, sorted top-level entries without ./, excludes anchored', () => {
    expect(layerTarArgs({ dir: '/r', exclude: ['dev/*'] }, ['usr', 'etc'])).toEqual([
      '--create',
      '--file=-',
      '--format=posix',
      '--numeric-owner',
      '--sort=name',
      '--anchored',
      '--pax-option=delete=atime,delete=ctime',
      '--exclude=dev/*',
      '--directory=/r',
      '--',
      'etc',
      'usr',
    ]);
    expect(() => layerTarArgs({ dir: '/r' }, [])).toThrow(/empty/);
  });
});

describe('content key', () => {
  it('is the same for the same inputs in any key order, and changes with any input', () => {
    const a = { builder: 1, debian: { releaseDates: { bookworm: 'Sat, 11 Jul 2026' }, packages: ['x'] }, entrypoint: 'sha256:1' };
    const b = { entrypoint: 'sha256:1', debian: { packages: ['x'], releaseDates: { bookworm: 'Sat, 11 Jul 2026' } }, builder: 1 };
    expect(contentKey(a)).toBe(contentKey(b));
    expect(contentKey(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(contentKey({ ...a, builder: 2 })).not.toBe(contentKey(a));
    expect(contentKey({ ...a, debian: { ...a.debian, releaseDates: { bookworm: 'Sun, 12 Jul 2026' } } })).not.toBe(contentKey(a));
    expect(contentKey({ ...a, debian: { ...a.debian, packages: ['x', 'y'] } })).not.toBe(contentKey(a));
    expect(contentKey({ ...a, entrypoint: 'sha256:2' })).not.toBe(contentKey(a));
  });

  it('canonical JSON sorts keys, keeps array order, drops undefined members, refuses what JSON cannot say', () => {
    expect(canonicalJson({ b: [2, 1], a: { d: 1, c: undefined } })).toBe('{"a":{"d":1},"b":[2,1]}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow();
    expect(() => canonicalJson({ a: 1n })).toThrow();
  });
});

describe('image names', () => {
  it('references, PGDATA per major and the Release date parser', () => {
    expect(TEST_IMAGES.pause).toBe('localhost/kubectl-dbaas-test/pause:3.10');
    expect(TEST_IMAGES.postgres(18)).toBe('localhost/kubectl-dbaas-test/postgres:18');
    expect(TEST_IMAGE_NAMES.map(testImageRef)).toEqual([
      PAUSE_IMAGE,
      ...[14, 15, 16, 17, 18].map((m) => `localhost/kubectl-dbaas-test/postgres:${m}`),
      MARIADB_IMAGE,
    ]);
    expect(() => testImageRef('postgres:13' as never)).toThrow(/no PostgreSQL image/);
    // CloudNativePG reads the PostgreSQL major from the operand's tag.
    expect(CNPG_IMAGE_NAMES.map(testImageRef)).toEqual([
      'localhost/kubectl-dbaas-test/cloudnative-pg:1.30.0',
      'localhost/kubectl-dbaas-test/cnpg-postgresql:15',
    ]);
    expect(TEST_IMAGE_NAMES.some((n) => CNPG_IMAGE_NAMES.includes(n))).toBe(false);
    expect(postgresImagePgdata(17)).toBe('/var/lib/postgresql/data');
    expect(postgresImagePgdata(18)).toBe('/var/lib/postgresql/18/docker');
    expect(releaseDate('Origin: Debian\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nValid-Until: x\n')).toBe('Sat, 11 Jul 2026 10:16:37 UTC');
    expect(() => releaseDate('Origin: Debian\n')).toThrow(/no Date/);
  });
});

describe('CloudNativePG manager', () => {
  it('parses what `manager version` prints, and refuses anything else', () => {
    expect(parseCnpgManagerVersion('Build: {Version:1.30.0 Commit:4b5e244a Date:2026-06-29}\n')).toEqual({
      version: '1.30.0',
      commit: '4b5e244a',
      date: '2026-06-29',
    });
    expect(() => parseCnpgManagerVersion('Usage:\n  manager [command]\n')).toThrow(/"manager version" printed "Usage:/);
  });

  it('go/versions.json pins the release node/images.ts builds', async () => {
    const pin = (await loadVersions()).cloudnativePg;
    expect(pin.version).toBe(CNPG_VERSION);
    expect(pin.manifest).toBe(`cnpg-${CNPG_VERSION}.yaml`);
    for (const sha of [pin.managerSha256, pin.manifestSha256]) expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(pin.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('is taken from the bin directory when executable there; otherwise the reason names the fix', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dbaas-cnpg-bin-test-'));
    try {
      expect(cnpgManagerUnavailable('')).toMatch(/DBAAS_TESTING_BIN_DIR is not set.*refuses github.com\/cloudnative-pg.*shared\/prebuilt/);
      expect(cnpgManagerUnavailable(dir)).toMatch(new RegExp(`${dir}/cnpg-manager is missing or not executable`));
      expect(() => cnpgManagerBinary(dir)).toThrow(/cnpg-manager is missing/);
      const file = path.join(dir, 'cnpg-manager');
      await writeFile(file, '#!/bin/sh\n', { mode: 0o644 });
      // root may "execute" anything with an x bit anywhere; no x bit at all is refused for everyone
      expect(cnpgManagerUnavailable(dir)).toMatch(/not executable/);
      await chmod(file, 0o755);
      expect(cnpgManagerUnavailable(dir)).toBeUndefined();
      expect(cnpgManagerBinary(dir)).toBe(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
