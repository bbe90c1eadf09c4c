// Rebuilds the WebAssembly embedded in wal-wasm.ts from wal-wasm.wat (a developer tool; the
// package ships the bytes, not this script). Needs the `wabt` package (wat2wasm in JS), kept out
// of the project's dependencies:
//   npm install --prefix /tmp/wabt wabt@1.0.39
//   WABT_DIR=/tmp/wabt/node_modules/wabt npx node packages/sdk/src/wal/wal-wasm-build.mjs
// then run the tests (wal-parallel.test.ts checks the module against the JavaScript paths).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(process.env.WABT_DIR ? join(process.env.WABT_DIR, 'index.js') : import.meta.url);
const wabt = await require(process.env.WABT_DIR ?? 'wabt')();
const source = readFileSync(join(here, 'wal-wasm.wat'), 'utf8');
const module = wabt.parseWat('wal-wasm.wat', source, {});
module.validate();
const { buffer } = module.toBinary({});
const base64 = Buffer.from(buffer).toString('base64');
const target = join(here, 'wal-wasm.ts');
const text = readFileSync(target, 'utf8');
const marker = /const WASM_BASE64: string =\n {2}'[^']*';/;
if (!marker.test(text)) throw new Error('WASM_BASE64 not found in wal-wasm.ts');
writeFileSync(target, text.replace(marker, `const WASM_BASE64: string =\n  '${base64}';`));
console.log(`wal-wasm.ts: ${buffer.length} bytes of WebAssembly`);
