// Kubernetes name rules (apimachinery's validation.IsDNS1123Subdomain / IsDNS1123Label /
// IsQualifiedName / IsValidLabelValue), checked before anything is sent to the API server.
import { DbaasError } from '../errors.js';

/**
 * Longest DNS-1123 label (namespaces, Job names; also the longest label value).
 *
 * @example
 * ```ts
 * name.length <= DNS1123_LABEL_MAX;
 * ```
 */
export const DNS1123_LABEL_MAX = 63;
/**
 * Longest DNS-1123 subdomain (most object names).
 *
 * @example
 * ```ts
 * name.length <= DNS1123_SUBDOMAIN_MAX;
 * ```
 */
export const DNS1123_SUBDOMAIN_MAX = 253;

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function invalid(what: string, value: string, rule: string): DbaasError {
  return new DbaasError('INVALID_NAME', `${what} "${value}" is invalid: ${rule}`, {
    fix: 'Use lower-case letters, digits and "-" (and "." where a subdomain is allowed), starting and ending with a letter or digit.',
    details: { what, value },
  });
}

/**
 * Checks an RFC 1123 label (namespace, Job, Service): at most 63 characters of `[a-z0-9-]`,
 * starting and ending alphanumeric. Returns the name.
 *
 * @throws DbaasError `INVALID_NAME`
 * @example
 * ```ts
 * assertDnsLabel('db', 'namespace'); // 'db'
 * ```
 */
export function assertDnsLabel(name: string, what = 'name'): string {
  if (name.length === 0) throw invalid(what, name, 'must not be empty');
  if (name.length > DNS1123_LABEL_MAX) throw invalid(what, name, `must be at most ${DNS1123_LABEL_MAX} characters (it has ${name.length})`);
  if (!LABEL.test(name))
    throw invalid(what, name, 'must consist of lower-case letters, digits and "-", and start and end with a letter or digit (RFC 1123 label)');
  return name;
}

/**
 * Checks an RFC 1123 subdomain (most object names: PVC, VolumeSnapshot, VolumeSnapshotContent):
 * at most 253 characters, dot-separated labels. Returns the name.
 *
 * @throws DbaasError `INVALID_NAME`
 * @example
 * ```ts
 * assertDnsSubdomain('data-pg-0', 'PVC name');
 * ```
 */
export function assertDnsSubdomain(name: string, what = 'name'): string {
  if (name.length === 0) throw invalid(what, name, 'must not be empty');
  if (name.length > DNS1123_SUBDOMAIN_MAX) throw invalid(what, name, `must be at most ${DNS1123_SUBDOMAIN_MAX} characters (it has ${name.length})`);
  if (!SUBDOMAIN.test(name))
    throw invalid(what, name, 'must consist of lower-case letters, digits, "-" and ".", and start and end with a letter or digit (RFC 1123 subdomain)');
  return name;
}

/**
 * Checks a label value: empty, or at most 63 characters of `[A-Za-z0-9-_.]` starting and ending
 * alphanumeric. Returns the value.
 *
 * @throws DbaasError `INVALID_NAME`
 * @example
 * ```ts
 * assertLabelValue('nightly', 'dbaas.io/backup-set');
 * ```
 */
export function assertLabelValue(value: string, key = 'label'): string {
  if (value.length > DNS1123_LABEL_MAX) {
    throw invalid(`value of label ${key}`, value, `must be at most ${DNS1123_LABEL_MAX} characters (it has ${value.length})`);
  }
  if (!LABEL_VALUE.test(value)) {
    throw invalid(`value of label ${key}`, value, 'must consist of letters, digits, "-", "_" and ".", and start and end with a letter or digit');
  }
  return value;
}

/**
 * Checks a label or annotation key: optional DNS subdomain prefix (at most 253) and `/`, then a
 * name of at most 63 characters. Returns the key.
 *
 * @throws DbaasError `INVALID_NAME`
 * @example
 * ```ts
 * assertQualifiedName('dbaas.io/backup-set');
 * ```
 */
export function assertQualifiedName(key: string): string {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) assertDnsSubdomain(prefix, `prefix of key "${key}"`);
  if (name.length === 0 || name.length > DNS1123_LABEL_MAX || !QUALIFIED_NAME.test(name)) {
    throw invalid(
      'key',
      key,
      `the part after "/" must be 1-${DNS1123_LABEL_MAX} characters of letters, digits, "-", "_" and ".", starting and ending alphanumeric`,
    );
  }
  return key;
}

/**
 * A name derived from `base` with `suffix` (e.g. `<set>-wal`), checked so that the derived name is
 * still valid; the error names both. `kind` chooses the rule: a label (63) or a subdomain (253).
 *
 * @throws DbaasError `INVALID_NAME`
 * @example
 * ```ts
 * derivedName('nightly', '-wal'); // 'nightly-wal'
 * ```
 */
export function derivedName(base: string, suffix: string, kind: 'label' | 'subdomain' = 'label', what = 'derived name'): string {
  const name = `${base}${suffix}`;
  const max = kind === 'label' ? DNS1123_LABEL_MAX : DNS1123_SUBDOMAIN_MAX;
  if (name.length > max) {
    throw new DbaasError('INVALID_NAME', `"${base}" is too long: the ${what} "${name}" would have ${name.length} characters (at most ${max})`, {
      fix: `Use a name of at most ${max - suffix.length} characters.`,
      details: { base, suffix, max },
    });
  }
  return kind === 'label' ? assertDnsLabel(name, what) : assertDnsSubdomain(name, what);
}
