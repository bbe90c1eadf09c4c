import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Mount points at or below `dir`, deepest first (read from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  let info = '';
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const decoded = mp.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (decoded === dir || decoded.startsWith(`${dir}/`)) out.push(decoded);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Unmounts every mount point at or below `dir` (lazily when busy); returns those that stayed. */
export function unmountAllUnder(dir: string): string[] {
  const failed: string[] = [];
  for (const mp of mountsUnder(dir)) {
    const r = spawnSync('umount', [mp], { stdio: 'ignore' });
    if (r.status !== 0) {
      const lazy = spawnSync('umount', ['-l', mp], { stdio: 'ignore' });
      if (lazy.status !== 0) failed.push(mp);
    }
  }
  return failed;
}
