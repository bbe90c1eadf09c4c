import { describe, expect, it } from 'vitest';
import { parseNodeSelector } from './flag-values.js';
import { UsageError } from './usage-error.js';

describe('parseNodeSelector (--node-selector KEY=VALUE, repeatable)', () => {
  it('KEY=VALUE pairs into a nodeSelector; an empty value is a value; "=" in the value stays', () => {
    expect(parseNodeSelector(['topology.kubernetes.io/zone=eu-west-1a', 'disk=', 'a=b=c'])).toEqual({
      'topology.kubernetes.io/zone': 'eu-west-1a',
      disk: '',
      a: 'b=c',
    });
    expect(parseNodeSelector([])).toEqual({});
  });

  it('refuses no "=", an empty key and a key given twice', () => {
    expect(() => parseNodeSelector(['zone'])).toThrow(
      new UsageError('--node-selector: "zone" is not KEY=VALUE (e.g. --node-selector topology.kubernetes.io/zone=eu-west-1a)'),
    );
    expect(() => parseNodeSelector(['=x'])).toThrow(UsageError);
    expect(() => parseNodeSelector(['a=1', 'a=2'])).toThrow('--node-selector: a is given twice');
  });
});
