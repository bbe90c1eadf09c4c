import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { cleanupPostgresAfterAll, makeTemporaryDirectory, processAlive, registeredResourceCount, startPostgres, stopAllPostgres } from './index.js';
import { skipWhen } from '../skip-reason.js';

cleanupPostgresAfterAll(afterAll);

const here = path.dirname(fileURLToPath(import.meta.url));

// A child Node process that imports the TypeScript sources directly (Node >= 22.18 strips types;
// the hook maps the `.js` specifiers of our sources to their `.ts` files), starts a server, prints
// what it started, then ends in the way the test asks for.
const CHILD = `
import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    try { return next(specifier, context); } catch (error) {
      if (specifier.startsWith('.') && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context);
      throw error;
    }
  },
});
const { startPostgres } = await import(${JSON.stringify(pathToFileURL(path.join(here, 'index.ts')).href)});
const how = process.argv[2];
const server = await startPostgres({ major: 17 });
await server.query('create table t (id int)');
const client = await server.connect(); // an open session too
process.stdout.write(JSON.stringify({
  pids: server.processIds(),
  runtimeDirectory: server.runtimeDirectory,
  dataDirectory: server.dataDirectory,
}) + '\\n');
if (how === 'throw') setTimeout(() => { throw new Error('test failed inside the child'); }, 50);
if (how === 'exit') setTimeout(() => process.exit(3), 50);
if (how === 'signal') setInterval(() => {}, 1000); // wait for SIGTERM / SIGINT
`;

interface Started {
  pids: number[];
  runtimeDirectory: string;
  dataDirectory: string;
}

async function runChild(
  how: 'throw' | 'exit' | 'signal',
  signal?: NodeJS.Signals,
): Promise<{ started: Started; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const dir = await makeTemporaryDirectory('dbaas-registry-test-');
  const script = path.join(dir, 'child.mjs');
  await writeFile(script, CHILD);
  const child = spawn(process.execPath, [script, how], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const started = await new Promise<Started>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line) resolve(JSON.parse(line) as Started);
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before starting a server:\n${stderr}`)));
  });
  if (signal) child.kill(signal);
  const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve([child.exitCode, child.signalCode]);
    else child.once('exit', (c, s) => resolve([c, s]));
  });
  return { started, code, signal: sig, stderr };
}

const typeStripping = Boolean((process.features as { typescript?: unknown }).typescript);

describe(
  'cleanup registry (child processes)',
  skipWhen(typeStripping ? undefined : `Node.js ${process.version} cannot strip TypeScript types (the child processes import the sources)`),
  () => {
    it.each([
      ['throw', 'an uncaught exception', undefined],
      ['exit', 'process.exit(3)', undefined],
      ['signal', 'SIGTERM', 'SIGTERM'],
      ['signal', 'SIGINT', 'SIGINT'],
    ] as const)('leaves no process and no directory behind when the process ends by %s: %s', async (how, _label, signal) => {
      const result = await runChild(how, signal);
      const { started } = result;
      expect(started.pids.length).toBeGreaterThan(3);
      expect(started.dataDirectory.startsWith(started.runtimeDirectory)).toBe(true);
      if (how === 'throw') {
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/test failed inside the child/);
      }
      if (how === 'exit') expect(result.code).toBe(3);
      if (signal) expect(result.signal).toBe(signal); // the default action still ends the process
      expect(started.pids.filter(processAlive)).toEqual([]);
      expect(existsSync(started.runtimeDirectory)).toBe(false);
      expect(existsSync(started.dataDirectory)).toBe(false);
    });
  },
);

describe('cleanup registry (in process)', () => {
  it('stopAllPostgres stops every server and removes the temporary directories', async () => {
    const before = registeredResourceCount();
    const a = await startPostgres({ major: 15 });
    const b = await startPostgres({ major: 16 });
    const dir = await makeTemporaryDirectory();
    expect(registeredResourceCount()).toBe(before + 3);
    const pids = [...a.processIds(), ...b.processIds()];
    await stopAllPostgres();
    expect(registeredResourceCount()).toBe(0);
    expect(pids.filter(processAlive)).toEqual([]);
    for (const gone of [a.runtimeDirectory, b.runtimeDirectory, dir]) expect(existsSync(gone)).toBe(false);
    await a.destroy(); // idempotent
  });

  it('supports await using', async () => {
    let runtime = '';
    {
      await using server = await startPostgres({ major: 18 });
      runtime = server.runtimeDirectory;
      expect(existsSync(runtime)).toBe(true);
    }
    expect(existsSync(runtime)).toBe(false);
  });
});
