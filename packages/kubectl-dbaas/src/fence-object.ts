// The fenced objects of the command line, `statefulset/NAME` (or `sts/NAME`) and `cnpg/CLUSTER`: how
// `backup create --fence` names a fencing and `unfence` names what to lift. Pure, so a command
// refuses a bad value before loading the SDK.
import { UsageError } from './usage-error.js';

/**
 * A fenced object as the command line names it.
 *
 * @example
 * ```ts
 * const o: FencedObject = { kind: 'statefulset', name: 'pg' };
 * ```
 */
export type FencedObject = { kind: 'statefulset'; name: string } | { kind: 'cnpg'; cluster: string };

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * Parses `statefulset/NAME`, `sts/NAME` or `cnpg/CLUSTER`; undefined for anything else.
 *
 * @example
 * ```ts
 * parseFencedObject('sts/pg'); // { kind: 'statefulset', name: 'pg' }
 * parseFencedObject('pod/pg-0'); // undefined
 * ```
 */
export function parseFencedObject(text: string): FencedObject | undefined {
  const match = /^(statefulset|sts|cnpg)\/(.+)$/.exec(text);
  if (!match || !DNS_SUBDOMAIN.test(match[2]!)) return undefined;
  return match[1] === 'cnpg' ? { kind: 'cnpg', cluster: match[2]! } : { kind: 'statefulset', name: match[2]! };
}

/**
 * {@link parseFencedObject}, or a usage error naming the flag or argument and the forms it takes.
 *
 * @throws UsageError for anything but the three forms.
 * @example
 * ```ts
 * requireFencedObject('cnpg/pg', 'unfence'); // { kind: 'cnpg', cluster: 'pg' }
 * ```
 */
export function requireFencedObject(text: string, where: string): FencedObject {
  const parsed = parseFencedObject(text);
  if (!parsed) throw new UsageError(`${where}: "${text}" is not a fenced object; use statefulset/NAME or cnpg/CLUSTER`);
  return parsed;
}
