import { describe, expect, it } from 'vitest';
import { parseNodeSelector, parseVolumeMounts } from './flag-values.js';
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

describe('parseVolumeMounts (--volume-mount VOLUME=PATH, repeatable)', () => {
  it("VOLUME=PATH pairs by the pod's volume name; no =, a relative path, a bad volume name or a volume named twice is a usage error naming the form", () => {
    expect(parseVolumeMounts(['wal=/pgwal', 'tbs=/var/lib/postgresql/tablespaces'])).toEqual({ wal: '/pgwal', tbs: '/var/lib/postgresql/tablespaces' });
    for (const bad of ['wal', 'wal=relative', '=/x', 'Wal=/x', 'wal=/', 'wal=/a b']) {
      expect(() => parseVolumeMounts([bad])).toThrow(UsageError);
      expect(() => parseVolumeMounts([bad])).toThrow(/must be VOLUME=PATH/);
    }
    expect(() => parseVolumeMounts(['wal=/a', 'wal=/b'])).toThrow(/named twice/);
  });
});
