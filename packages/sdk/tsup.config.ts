import { defineConfig } from 'tsup';

export default defineConfig({
  // wal-worker is the entry of the WAL scanner's worker threads (src/wal/wal-parallel.ts loads
  // dist/wal-worker.js or dist/wal-worker.cjs from beside the bundle that starts it).
  entry: { index: 'src/index.ts', 'wal-worker': 'src/wal/wal-worker.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
});
