import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { NODE_MINIMUM, nodeTooOldMessage, nodeVersionAtLeast } from './node-version.js';

const REPO = new URL('../../../', import.meta.url);
const engines = (file: string) => (JSON.parse(readFileSync(new URL(file, REPO), 'utf8')) as { engines?: { node?: string } }).engines?.node;

describe('the Node.js minimum', () => {
  it('compares versions by major, minor and patch', () => {
    expect(nodeVersionAtLeast('20.20.2', '22.19.0')).toBe(false);
    expect(nodeVersionAtLeast('22.18.9', '22.19.0')).toBe(false);
    expect(nodeVersionAtLeast('v22.19.0', '22.19.0')).toBe(true);
    expect(nodeVersionAtLeast('22.20.0', '22.19.0')).toBe(true);
    expect(nodeVersionAtLeast('24.0.0', '22.19.0')).toBe(true);
  });

  it('is what every package.json states in engines', () => {
    for (const file of ['package.json', 'packages/sdk/package.json', 'packages/testing/package.json', 'packages/kubectl-dbaas/package.json']) {
      expect(engines(file), file).toBe(`>=${NODE_MINIMUM}`);
    }
  });

  it('is at least what the bundled undici (inside @kubernetes/client-node) requires', () => {
    // Resolved as the SDK resolves it, so the version checked is the one bundled.
    const fromSdk = createRequire(new URL('packages/sdk/package.json', REPO));
    const fromClient = createRequire(fromSdk.resolve('@kubernetes/client-node'));
    const undici = JSON.parse(readFileSync(fromClient.resolve('undici/package.json'), 'utf8')) as { engines: { node: string } };
    const required = /^>=\s*(\d+\.\d+\.\d+)$/.exec(undici.engines.node)?.[1];
    expect(required, `undici's engines.node is ${undici.engines.node}: read it and update NODE_MINIMUM`).toBeDefined();
    expect(nodeVersionAtLeast(NODE_MINIMUM, required!)).toBe(true);
  });

  it('says what runs, what is needed and the fix', () => {
    const text = nodeTooOldMessage('20.20.2', '/usr/bin/node');
    expect(text).toContain('needs Node.js >= 22.19.0; it was started by Node.js 20.20.2 (/usr/bin/node)');
    expect(text).toMatch(/^fix: Install Node\.js 22\.19\.0 or later .* or use the single executable/m);
  });
});
