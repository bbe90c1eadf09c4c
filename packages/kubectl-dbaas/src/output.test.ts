import { describe, expect, it } from 'vitest';
import { renderFields, writeResult } from './output.js';

describe('writeResult', () => {
  const capture = () => {
    const chunks: string[] = [];
    return { chunks, write: (text: string) => void chunks.push(text) };
  };

  it('prints one JSON document with bigints as decimal strings', () => {
    const out = capture();
    writeResult({ lsn: 4294967296n, name: 'x' }, 'json', () => 'unused', out.write);
    expect(JSON.parse(out.chunks.join(''))).toEqual({ lsn: '4294967296', name: 'x' });
  });

  it('prints YAML', () => {
    const out = capture();
    writeResult({ a: 1n }, 'yaml', () => 'unused', out.write);
    expect(out.chunks.join('')).toBe('a: "1"\n');
  });

  it('uses the text renderer and ends with a newline', () => {
    const out = capture();
    writeResult({ a: 1 }, 'text', (r) => `a is ${r.a}`, out.write);
    expect(out.chunks.join('')).toBe('a is 1\n');
  });
});

describe('renderFields', () => {
  it('aligns labels and drops empty values', () => {
    expect(renderFields([['a', 1], ['long label', 'x'], ['empty', undefined]])).toBe('a:          1\nlong label: x');
  });
});
