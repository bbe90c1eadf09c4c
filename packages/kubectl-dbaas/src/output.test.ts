import { describe, expect, it } from 'vitest';
import { renderFields, writeResult } from './output.js';
import { UsageError } from './usage-error.js';

describe('writeResult', () => {
  const capture = () => {
    const chunks: string[] = [];
    return { chunks, write: (text: string) => void chunks.push(text) };
  };

  it('prints one JSON document with bigints as decimal strings', async () => {
    const out = capture();
    await writeResult({ lsn: 4294967296n, name: 'x' }, 'json', () => 'unused', out.write);
    expect(JSON.parse(out.chunks.join(''))).toEqual({ lsn: '4294967296', name: 'x' });
  });

  it('prints YAML', async () => {
    const out = capture();
    await writeResult({ a: 1n }, 'yaml', () => 'unused', out.write);
    expect(out.chunks.join('')).toBe('a: "1"\n');
  });

  it('uses the text renderer and ends with a newline', async () => {
    const out = capture();
    await writeResult({ a: 1 }, 'text', (r) => `a is ${r.a}`, out.write);
    expect(out.chunks.join('')).toBe('a is 1\n');
  });
});

describe('writeResult -o name', () => {
  const capture = () => {
    const chunks: string[] = [];
    return { chunks, write: (text: string) => void chunks.push(text) };
  };

  it("prints the command's names, one per line", async () => {
    const out = capture();
    await writeResult({ items: ['a', 'b'] }, 'name', { text: () => 'unused', name: (r) => r.items.map((i) => `backup/${i}`) }, out.write);
    expect(out.chunks.join('')).toBe('backup/a\nbackup/b\n');
  });

  it('prints a single name', async () => {
    const out = capture();
    await writeResult({ source: '/pgdata' }, 'name', { text: () => 'unused', name: (r) => r.source }, out.write);
    expect(out.chunks.join('')).toBe('/pgdata\n');
  });

  it('prints nothing for no names', async () => {
    const out = capture();
    await writeResult({ items: [] as string[] }, 'name', { text: () => 'unused', name: (r) => r.items }, out.write);
    expect(out.chunks).toEqual([]);
  });

  it('is a usage error for a command without names', async () => {
    await expect(writeResult({ a: 1 }, 'name', () => 'text')).rejects.toThrow(UsageError);
  });
});

describe('renderFields', () => {
  it('aligns labels and drops empty values', () => {
    expect(
      renderFields([
        ['a', 1],
        ['long label', 'x'],
        ['empty', undefined],
      ]),
    ).toBe('a:          1\nlong label: x');
  });
});
