// OCI image layout, written by hand: blobs are content-addressed files, the JSON documents are
// built by pure functions (unit-tested), and the archive is one tar that `ctr images import` reads.
// Spec: https://github.com/opencontainers/image-spec (image-layout.md, config.md, manifest.md).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** containerd's annotation for the full image name; `ctr images import` names the image after it. */
export const CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';
/** The OCI annotation for a reference (tag) of a manifest in an index. */
export const OCI_REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/** A layer blob: `digest`/`size` of the gzip stream, `diffId` of the uncompressed tar. */
export interface LayerBlob {
  digest: string;
  diffId: string;
  size: number;
  /** The file holding the blob (named after its digest). */
  file: string;
}

/** What runs in a container of the image (the `config` part of an OCI image config). */
export interface ContainerSpec {
  /** Omitted when whoever runs the image always names the command (CloudNativePG's operand: its pods do). */
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  /** `uid[:gid]` or a name; omitted = root (the entrypoint drops privileges itself). */
  user?: string;
  workingDir?: string;
  /** e.g. `['5432/tcp']`. */
  exposedPorts?: string[];
  stopSignal?: string;
  labels?: Record<string, string>;
}

/** The OCI architecture name of a Node `os.arch()` value. */
export function ociArchitecture(nodeArch: string): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  const arch = map[nodeArch];
  if (!arch) throw new Error(`no OCI architecture for ${nodeArch}`);
  return arch;
}

/**
 * The image config JSON (application/vnd.oci.image.config.v1+json). `created` is fixed by the
 * caller so that equal inputs give equal bytes.
 *
 * @example
 * imageConfig({ entrypoint: ['/pause'], user: '65535:65535' }, ['sha256:...'], { architecture: 'amd64', created: '1970-01-01T00:00:00Z' });
 */
export function imageConfig(
  spec: ContainerSpec,
  diffIds: readonly string[],
  opts: { architecture: string; created: string; history?: string[] },
): Record<string, unknown> {
  if (!spec.entrypoint?.length && !spec.cmd?.length) throw new Error('an image needs an entrypoint or a cmd');
  if (diffIds.length === 0) throw new Error('an image needs at least one layer');
  for (const d of diffIds) if (!/^sha256:[0-9a-f]{64}$/.test(d)) throw new Error(`"${d}" is not a sha256 digest`);
  const config: Record<string, unknown> = {};
  if (spec.entrypoint?.length) config.Entrypoint = [...spec.entrypoint];
  if (spec.cmd) config.Cmd = [...spec.cmd];
  if (spec.env?.length) {
    for (const e of spec.env) if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)) throw new Error(`environment entry "${e}" is not NAME=value`);
    config.Env = [...spec.env];
  }
  if (spec.user !== undefined) config.User = spec.user;
  if (spec.workingDir !== undefined) config.WorkingDir = spec.workingDir;
  if (spec.exposedPorts?.length) {
    config.ExposedPorts = Object.fromEntries(
      spec.exposedPorts.map((p) => {
        if (!/^\d{1,5}\/(tcp|udp|sctp)$/.test(p)) throw new Error(`exposed port "${p}" is not <port>/<tcp|udp|sctp>`);
        return [p, {}];
      }),
    );
  }
  if (spec.stopSignal) config.StopSignal = spec.stopSignal;
  if (spec.labels && Object.keys(spec.labels).length) config.Labels = { ...spec.labels };
  return {
    created: opts.created,
    architecture: opts.architecture,
    os: 'linux',
    config,
    rootfs: { type: 'layers', diff_ids: [...diffIds] },
    history: (opts.history ?? diffIds.map((_, i) => `layer ${i + 1}`)).map((created_by) => ({ created: opts.created, created_by })),
  };
}

/** The image manifest JSON (application/vnd.oci.image.manifest.v1+json). */
export function imageManifest(config: Descriptor, layers: readonly Descriptor[]): Record<string, unknown> {
  if (config.mediaType !== MEDIA_TYPES.config) throw new Error(`config media type ${config.mediaType}`);
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
}

/**
 * Splits `registry/path:tag` into name and tag (digests are refused: these images are named).
 *
 * @example
 * splitRef('localhost/kubectl-dbaas-test/pause:3.10'); // { name: 'localhost/kubectl-dbaas-test/pause', tag: '3.10' }
 */
export function splitRef(ref: string): { name: string; tag: string } {
  const m = /^([a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+):([\w][\w.-]{0,127})$/.exec(ref);
  if (!m) throw new Error(`"${ref}" is not a <registry>/<path>:<tag> image reference`);
  return { name: m[1]!, tag: m[2]! };
}

/**
 * The `index.json` of the layout: one manifest, named with the full reference
 * (`io.containerd.image.name`, which `ctr images import` uses as is) and the tag
 * (`org.opencontainers.image.ref.name`).
 */
export function imageIndex(manifest: Descriptor, ref: string, architecture: string): Record<string, unknown> {
  const { tag } = splitRef(ref);
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      {
        mediaType: MEDIA_TYPES.manifest,
        digest: manifest.digest,
        size: manifest.size,
        annotations: { [CONTAINERD_IMAGE_NAME]: ref, [OCI_REF_NAME]: tag },
        platform: { architecture, os: 'linux' },
      },
    ],
  };
}

/** Canonical bytes of a JSON document and its descriptor. */
export function jsonBlob(doc: unknown, mediaType: string): { bytes: Buffer; descriptor: Descriptor } {
  const bytes = Buffer.from(JSON.stringify(doc), 'utf8');
  return { bytes, descriptor: { mediaType, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length } };
}

class HashingPassThrough extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/** Runs `cmd args` and fails with its stderr when it exits non-zero. */
function collectStderr(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} failed (${signal ?? `exit ${code}`}): ${err.trim()}`));
    });
  });
}

/** How a directory becomes a layer tar. */
export interface LayerSource {
  /** The directory whose contents are the layer's root. */
  dir: string;
  /** Force every entry to uid/gid 0 (staged files); keep the owners for a root filesystem. */
  rootOwned?: boolean;
  /** Paths (relative, GNU tar `--exclude` patterns anchored at the root) left out, e.g. `dev/*`. */
  exclude?: string[];
}

/**
 * GNU tar arguments for a layer of `source` whose top-level entries are `entries` (pure;
 * unit-tested). Entries are named `etc/passwd`, not `./etc/passwd`, and the root itself is not an
 * entry (its mode stays the runtime's).
 */
export function layerTarArgs(source: LayerSource, entries: readonly string[]): string[] {
  if (entries.length === 0) throw new Error(`${source.dir} is empty: a layer needs at least one entry`);
  const args = ['--create', '--file=-', '--format=posix', '--numeric-owner', '--sort=name', '--anchored', '--pax-option=delete=atime,delete=ctime'];
  if (source.rootOwned) args.push('--owner=0', '--group=0', '--mode=go-w,a+rX');
  for (const pattern of source.exclude ?? []) args.push(`--exclude=${pattern}`);
  args.push(`--directory=${source.dir}`, '--', ...[...entries].sort());
  return args;
}

/**
 * Tars `source` into a gzip layer blob under `blobDir` (named by its digest), hashing the tar
 * (diffId) and the gzip stream (digest) on the way; no copy of the tar is kept.
 */
export async function writeLayer(source: LayerSource, blobDir: string, niceness = 10): Promise<LayerBlob> {
  await mkdir(blobDir, { recursive: true });
  const tmp = path.join(blobDir, `.layer-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const entries = await readdir(source.dir);
  const child = spawn('nice', ['-n', String(niceness), 'tar', ...layerTarArgs(source, entries)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = collectStderr(child, `tar of ${source.dir}`);
  const raw = new HashingPassThrough();
  const gz = new HashingPassThrough();
  try {
    await Promise.all([pipeline(child.stdout!, raw, createGzip({ level: 6 }), gz, createWriteStream(tmp, { mode: 0o644 })), done]);
    const digest = `sha256:${gz.hash.digest('hex')}`;
    const file = path.join(blobDir, digest.slice('sha256:'.length));
    await rename(tmp, file);
    return { digest, diffId: `sha256:${raw.hash.digest('hex')}`, size: gz.bytes, file };
  } catch (error) {
    child.kill('SIGKILL');
    await rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Writes the OCI image layout of one image into `layoutDir` (blobs hard-linked from their files)
 * and packs it as one tar at `archive` (written to a temporary name, then renamed).
 */
export async function writeOciArchive(opts: {
  ref: string;
  layers: LayerBlob[];
  spec: ContainerSpec;
  architecture: string;
  created: string;
  history?: string[];
  layoutDir: string;
  archive: string;
}): Promise<{ manifestDigest: string; size: number }> {
  const blobs = path.join(opts.layoutDir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  for (const l of opts.layers) {
    const target = path.join(blobs, l.digest.slice('sha256:'.length));
    await link(l.file, target).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  const config = jsonBlob(
    imageConfig(
      opts.spec,
      opts.layers.map((l) => l.diffId),
      { architecture: opts.architecture, created: opts.created, ...(opts.history ? { history: opts.history } : {}) },
    ),
    MEDIA_TYPES.config,
  );
  const layerDescriptors = opts.layers.map((l) => ({ mediaType: MEDIA_TYPES.layerGzip, digest: l.digest, size: l.size }));
  const manifest = jsonBlob(imageManifest(config.descriptor, layerDescriptors), MEDIA_TYPES.manifest);
  for (const b of [config, manifest]) await writeFile(path.join(blobs, b.descriptor.digest.slice('sha256:'.length)), b.bytes);
  await writeFile(path.join(opts.layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(path.join(opts.layoutDir, 'index.json'), JSON.stringify(imageIndex(manifest.descriptor, opts.ref, opts.architecture)));
  const tmp = `${opts.archive}.tmp-${process.pid}-${Date.now()}`;
  try {
    const child = spawn(
      'tar',
      [
        '--create',
        `--file=${tmp}`,
        '--format=posix',
        '--numeric-owner',
        '--owner=0',
        '--group=0',
        '--mode=a+r',
        '--sort=name',
        '--mtime=@0',
        '--pax-option=delete=atime,delete=ctime',
        `--directory=${opts.layoutDir}`,
        'oci-layout',
        'index.json',
        'blobs',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await collectStderr(child, 'tar of the OCI layout');
    await rename(tmp, opts.archive);
  } finally {
    await rm(tmp, { force: true });
  }
  return { manifestDigest: manifest.descriptor.digest, size: (await stat(opts.archive)).size };
}
