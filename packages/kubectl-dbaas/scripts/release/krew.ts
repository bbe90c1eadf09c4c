import path from 'node:path';

// The Krew plugin manifest (plugins/dbaas.yaml) and a validator written from Krew's own rules:
// kubernetes-sigs/krew internal/index/validation/validate.go (ValidatePlugin, validatePlatform,
// validateFiles, validateSelector), internal/installation/semver (version with a leading `v`,
// k8s ParseSemantic) and cmd/validate-krew-manifest (file name = plugin name, every platform
// selector matches a supported os/arch, no os/arch selected twice, LICENSE installed, line-length
// warnings). Krew's own tool also installs each platform with `kubectl krew install --manifest`;
// here that step is simulated on the archive's file list (the bin and a license file must be
// installed by the `files` operations).

/** Krew's API version for plugin manifests. */
export const KREW_API_VERSION = 'krew.googlecontainertools.github.com/v1alpha2';

/** A label selector, as Kubernetes' metav1.LabelSelector. */
export interface KrewSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

/** One platform of a plugin manifest. */
export interface KrewPlatform {
  selector: KrewSelector;
  uri: string;
  sha256: string;
  bin: string;
  files?: Array<{ from: string; to: string }>;
}

/**
 * A Krew plugin manifest.
 *
 * @example
 * ```ts
 * const plugin: KrewPlugin = krewManifest({ version: '0.1.0', homepage, releaseUrl, archives });
 * ```
 */
export interface KrewPlugin {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    version: string;
    homepage?: string;
    shortDescription: string;
    description?: string;
    caveats?: string;
    platforms: KrewPlatform[];
  };
}

/** A built release archive: which target, its URL and its sha256. */
export interface KrewArchive {
  os: string;
  arch: string;
  uri: string;
  sha256: string;
}

/**
 * Options of {@link krewManifest}.
 *
 * @example
 * ```ts
 * krewManifest({ version: '0.1.0', homepage: 'https://example.org', archives: [] });
 * ```
 */
export interface KrewManifestOptions {
  /** The plugin's semver, without the `v`. */
  version: string;
  homepage: string;
  archives: readonly KrewArchive[];
}

/** The executable inside each archive and the name kubectl finds (`kubectl dbaas`). */
export const PLUGIN_BIN = 'kubectl-dbaas';

/** The license notices of the bundled dependencies (esbuild's legal comments), in every archive. */
export const THIRD_PARTY_NOTICES = 'THIRD-PARTY-NOTICES.txt';

/**
 * The `dbaas` plugin manifest for the given archives.
 *
 * @example
 * ```ts
 * const plugin = krewManifest({ version: '0.1.0', homepage: 'https://example.org', archives: [
 *   { os: 'linux', arch: 'amd64', uri: 'https://example.org/kubectl-dbaas-0.1.0-linux-amd64.tar.gz', sha256: '0'.repeat(64) },
 * ] });
 * ```
 */
export function krewManifest(options: KrewManifestOptions): KrewPlugin {
  return {
    apiVersion: KREW_API_VERSION,
    kind: 'Plugin',
    metadata: { name: 'dbaas' },
    spec: {
      version: `v${options.version}`,
      homepage: options.homepage,
      shortDescription: 'Consistent CSI snapshot backups and restores of PostgreSQL',
      description: [
        'Backs up and restores PostgreSQL on Kubernetes with CSI VolumeSnapshots,',
        'and checks that the copy is consistent instead of hoping: crash, checkpoint,',
        'fenced and online (pg_backup_start/stop with the WAL to the stop LSN) modes,',
        'and WAL inspection of data directories and hostpath .snap files.',
      ].join('\n'),
      platforms: options.archives.map((archive) => ({
        selector: { matchLabels: { os: archive.os, arch: archive.arch } },
        uri: archive.uri,
        sha256: archive.sha256,
        bin: PLUGIN_BIN,
        files: [
          { from: PLUGIN_BIN, to: '.' },
          { from: 'LICENSE', to: '.' },
          { from: THIRD_PARTY_NOTICES, to: '.' },
        ],
      })),
    },
  };
}

/** The os/arch pairs Krew supports (cmd/validate-krew-manifest allPlatforms). */
export const KREW_PLATFORMS: ReadonlyArray<readonly [string, string]> = [
  ['windows', '386'],
  ['windows', 'amd64'],
  ['windows', 'arm64'],
  ['linux', '386'],
  ['linux', 'amd64'],
  ['linux', 'arm'],
  ['linux', 'arm64'],
  ['linux', 'ppc64le'],
  ['darwin', '386'],
  ['darwin', 'amd64'],
  ['darwin', 'arm64'],
];

const WINDOWS_FORBIDDEN = [
  'CON',
  'PRN',
  'AUX',
  'NUL',
  ...Array.from({ length: 9 }, (_, i) => `COM${i + 1}`),
  ...Array.from({ length: 9 }, (_, i) => `LPT${i + 1}`),
];
const LICENSE_FILES = new Set(['license', 'license.txt', 'license.md', 'licenses', 'licenses.txt', 'licenses.md', 'copying', 'copying.txt']);
/** k8s.io/apimachinery ParseSemantic after Krew's check for the leading `v`. */
const SEMVER =
  /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/**
 * What {@link validateKrewManifest} found: errors make Krew (or its index CI) reject the
 * manifest; warnings are what Krew's validator only warns about.
 */
export interface KrewValidation {
  errors: string[];
  warnings: string[];
}

/**
 * Options of {@link validateKrewManifest}.
 *
 * @example
 * ```ts
 * validateKrewManifest(plugin, { fileName: 'dbaas.yaml', archiveFiles: new Map([[uri, ['kubectl-dbaas', 'LICENSE']]]) });
 * ```
 */
export interface KrewValidateOptions {
  /** The manifest's file name: Krew requires `<plugin name>.yaml`. */
  fileName?: string;
  /** The regular files in each platform's archive, by URI: to simulate the install. */
  archiveFiles?: ReadonlyMap<string, readonly string[]>;
}

/**
 * Validates a parsed plugin manifest against Krew's rules.
 *
 * @example
 * ```ts
 * const { errors } = validateKrewManifest(parse(readFileSync('plugins/dbaas.yaml', 'utf8')), { fileName: 'dbaas.yaml' });
 * ```
 */
export function validateKrewManifest(manifest: unknown, options: KrewValidateOptions = {}): KrewValidation {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (!isObject(manifest)) return { errors: ['manifest is not a YAML mapping'], warnings };
  const metadata = isObject(manifest['metadata']) ? manifest['metadata'] : {};
  const spec = isObject(manifest['spec']) ? manifest['spec'] : {};
  const name = typeof metadata['name'] === 'string' ? metadata['name'] : '';

  if (manifest['apiVersion'] !== KREW_API_VERSION) {
    errors.push(`apiVersion must be ${JSON.stringify(KREW_API_VERSION)}, not ${JSON.stringify(manifest['apiVersion'])}`);
  }
  if (manifest['kind'] !== 'Plugin') errors.push(`kind must be "Plugin", not ${JSON.stringify(manifest['kind'])}`);
  if (!/^[\w-]+$/.test(name) || WINDOWS_FORBIDDEN.some((word) => word.toLowerCase() === name.toLowerCase())) {
    errors.push(`metadata.name ${JSON.stringify(name)} is not allowed: it must match ^[\\w-]+$ and not be a reserved Windows name`);
  }
  if (options.fileName !== undefined) {
    if (path.extname(options.fileName) !== '.yaml') errors.push(`the manifest file must end in .yaml, not ${JSON.stringify(options.fileName)}`);
    else if (path.basename(options.fileName, '.yaml') !== name)
      errors.push(
        `a manifest in ${options.fileName} must name the plugin ${JSON.stringify(path.basename(options.fileName, '.yaml'))}, not ${JSON.stringify(name)}`,
      );
  }

  const shortDescription = spec['shortDescription'];
  if (typeof shortDescription !== 'string' || shortDescription === '') errors.push('spec.shortDescription must be set');
  else if (/[\r\n]/.test(shortDescription)) errors.push('spec.shortDescription must not have line breaks');
  else if (!linesFit(shortDescription, 70)) warnings.push('spec.shortDescription is longer than 70 characters');
  if (typeof spec['description'] === 'string' && !linesFit(spec['description'], 80)) warnings.push('a line of spec.description is longer than 80 characters');
  if (typeof spec['caveats'] === 'string' && !linesFit(spec['caveats'], 80)) warnings.push('a line of spec.caveats is longer than 80 characters');

  const version = spec['version'];
  if (typeof version !== 'string' || version === '') errors.push('spec.version must be set');
  else if (!version.startsWith('v')) errors.push(`spec.version ${JSON.stringify(version)} must start with "v"`);
  else if (!SEMVER.test(version)) errors.push(`spec.version ${JSON.stringify(version)} is not a semantic version (vMAJOR.MINOR.PATCH[-pre][+build])`);

  const platforms = Array.isArray(spec['platforms']) ? spec['platforms'] : [];
  if (platforms.length === 0) errors.push('spec.platforms must have at least one platform');
  platforms.forEach((platform, index) => {
    for (const problem of platformProblems(platform, options.archiveFiles)) errors.push(`spec.platforms[${index}]: ${problem}`);
  });

  // Every platform must select a supported os/arch, and no os/arch may be selected twice.
  // (Selectors already reported as missing or empty are left out: an empty one would select all.)
  const selectors = platforms.map((platform) => {
    const selector = isObject(platform) && isObject(platform['selector']) ? (platform['selector'] as KrewSelector) : undefined;
    const empty = !selector || (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0);
    return empty ? undefined : selector;
  });
  selectors.forEach((selector, index) => {
    if (selector && !KREW_PLATFORMS.some(([os, arch]) => selectorMatches(selector, os, arch))) {
      errors.push(`spec.platforms[${index}]: the selector matches no platform Krew supports`);
    }
  });
  for (const [os, arch] of KREW_PLATFORMS) {
    const matching = selectors.flatMap((selector, index) => (selector && selectorMatches(selector, os, arch) ? [index] : []));
    if (matching.length > 1) errors.push(`spec.platforms at indexes ${matching.join(', ')} have overlapping selectors that select os=${os}/arch=${arch}`);
  }
  return { errors, warnings };
}

function platformProblems(platform: unknown, archiveFiles: ReadonlyMap<string, readonly string[]> | undefined): string[] {
  if (!isObject(platform)) return ['is not a mapping'];
  const problems: string[] = [];
  const uri = platform['uri'];
  const sha256 = platform['sha256'];
  const bin = platform['bin'];
  if (typeof uri !== 'string' || uri === '') problems.push('`uri` has to be set');
  if (typeof sha256 !== 'string' || sha256 === '') problems.push('`sha256` has to be set');
  else if (!/^[a-f0-9]{64}$/.test(sha256)) problems.push(`\`sha256\` ${JSON.stringify(sha256)} is not valid, must match ^[a-f0-9]{64}$`);
  if (typeof bin !== 'string' || bin === '') problems.push('`bin` has to be set');

  const files = platform['files'];
  if (files !== undefined && files !== null) {
    if (!Array.isArray(files) || files.length === 0) problems.push('`files` has to be unspecified or non-empty');
    else
      files.forEach((operation, index) => {
        if (!isObject(operation) || typeof operation['from'] !== 'string' || operation['from'] === '') problems.push(`files[${index}]: \`from\` has to be set`);
        else if (typeof operation['to'] !== 'string' || operation['to'] === '') problems.push(`files[${index}]: \`to\` has to be set`);
      });
  }

  const selector = platform['selector'];
  if (!isObject(selector)) problems.push('the selector has to be set (nil selector is not supported)');
  else {
    const labels = selector['matchLabels'];
    const expressions = selector['matchExpressions'];
    if ((labels === undefined || labels === null) && (!Array.isArray(expressions) || expressions.length === 0))
      problems.push('empty selector is not supported');
    const keys = [
      ...(isObject(labels) ? Object.keys(labels) : []),
      ...(Array.isArray(expressions) ? expressions.map((e) => (isObject(e) ? String(e['key']) : '')) : []),
    ];
    for (const key of keys) if (key !== 'os' && key !== 'arch') problems.push(`selector key ${JSON.stringify(key)} not supported (only os and arch)`);
    if (isObject(labels) && Object.keys(labels).length === 0) problems.push('`matchLabels` specified but empty');
    if (Array.isArray(expressions) && expressions.length === 0) problems.push('`matchExpressions` specified but empty');
  }

  // The install, simulated on the archive's files: Krew moves what `files` selects into the
  // install directory, then needs `bin` there, and its index CI needs a license file.
  if (typeof uri === 'string' && typeof bin === 'string' && archiveFiles?.has(uri)) {
    const installed = installedFiles(archiveFiles.get(uri)!, Array.isArray(files) ? (files as Array<{ from: string; to: string }>) : undefined);
    const binPath = path.posix.normalize(bin);
    if (binPath.startsWith('..') || path.posix.isAbsolute(binPath)) problems.push(`\`bin\` ${JSON.stringify(bin)} is outside the install directory`);
    else if (!installed.includes(binPath)) problems.push(`\`bin\` ${JSON.stringify(bin)} is not among the installed files (${installed.join(', ') || 'none'})`);
    if (!installed.some((file) => LICENSE_FILES.has(path.posix.basename(file).toLowerCase())))
      problems.push('no LICENSE (or alike) file is installed from the archive');
  }
  return problems;
}

/** Krew's file operations on the archive's files: `from` is a glob, matches go into `to`. */
function installedFiles(archive: readonly string[], files: ReadonlyArray<{ from: string; to: string }> | undefined): string[] {
  const operations = files ?? [{ from: '*', to: '.' }];
  const installed = new Set<string>();
  for (const { from, to } of operations) {
    if (typeof from !== 'string' || typeof to !== 'string') continue;
    const pattern = globToRegExp(path.posix.normalize(from));
    for (const file of archive) {
      const normalized = path.posix.normalize(file);
      if (pattern.test(normalized)) installed.add(path.posix.normalize(path.posix.join(to, path.posix.basename(normalized))));
      else if (from === '*' || normalized.startsWith(`${path.posix.normalize(from)}/`)) {
        // a directory selected by name (or everything): its tree keeps its layout under `to`
        const base = from === '*' ? normalized : path.posix.relative(path.posix.dirname(path.posix.normalize(from)), normalized);
        installed.add(path.posix.normalize(path.posix.join(to, base)));
      }
    }
  }
  return [...installed].sort();
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

/** Whether a label selector selects `{os, arch}` (metav1.LabelSelectorAsSelector semantics). */
export function selectorMatches(selector: KrewSelector, os: string, arch: string): boolean {
  const labels: Record<string, string> = { os, arch };
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const expression of selector.matchExpressions ?? []) {
    const value = labels[expression.key];
    const values = expression.values ?? [];
    if (expression.operator === 'In' && (value === undefined || !values.includes(value))) return false;
    if (expression.operator === 'NotIn' && value !== undefined && values.includes(value)) return false;
    if (expression.operator === 'Exists' && value === undefined) return false;
    if (expression.operator === 'DoesNotExist' && value !== undefined) return false;
  }
  return true;
}

function linesFit(text: string, max: number): boolean {
  return text.split('\n').every((line) => line.length <= max || !line.trim().includes(' '));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
