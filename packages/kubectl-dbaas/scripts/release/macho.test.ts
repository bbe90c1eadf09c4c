import { describe, expect, it } from 'vitest';
import { parseMachO, removeMachOSignature, signMachOAdHoc, verifyMachOAdHoc } from './macho.js';

/** A small but well-formed thin arm64 MH_EXECUTE: __TEXT with one section, then __LINKEDIT at the end. */
function tinyMachO(): Buffer {
  const file = Buffer.alloc(0x5000 + 0x300);
  file.writeUInt32LE(0xfeedfacf, 0);
  file.writeUInt32LE(0x0100000c, 4); // arm64
  file.writeUInt32LE(2, 12); // MH_EXECUTE
  let at = 32;
  // __TEXT with one section at 0x1000
  file.writeUInt32LE(0x19, at);
  file.writeUInt32LE(72 + 80, at + 4);
  file.write('__TEXT', at + 8, 'latin1');
  file.writeBigUInt64LE(0x100000000n, at + 24);
  file.writeBigUInt64LE(0x4000n, at + 32);
  file.writeBigUInt64LE(0n, at + 40);
  file.writeBigUInt64LE(0x4000n, at + 48);
  file.writeUInt32LE(1, at + 64);
  const section = at + 72;
  file.write('__text', section, 'latin1');
  file.write('__TEXT', section + 16, 'latin1');
  file.writeUInt32LE(0x1000, section + 48);
  at += 72 + 80;
  // __LINKEDIT from 0x4000 to the end
  file.writeUInt32LE(0x19, at);
  file.writeUInt32LE(72, at + 4);
  file.write('__LINKEDIT', at + 8, 'latin1');
  file.writeBigUInt64LE(0x100004000n, at + 24);
  file.writeBigUInt64LE(0x4000n, at + 32);
  file.writeBigUInt64LE(0x4000n, at + 40);
  file.writeBigUInt64LE(BigInt(file.length - 0x4000), at + 48);
  at += 72;
  file.writeUInt32LE(2, 16);
  file.writeUInt32LE(at - 32, 20);
  for (let i = 0x1000; i < file.length; i++) file[i] = (i * 7) & 0xff;
  return file;
}

describe('Mach-O ad-hoc signing', () => {
  it('signs: every page hash verifies, LC_CODE_SIGNATURE added, __LINKEDIT grown to the end', () => {
    const signed = signMachOAdHoc(tinyMachO(), 'kubectl-dbaas');
    expect(verifyMachOAdHoc(signed)).toEqual([]);
    const macho = parseMachO(signed);
    expect(macho.ncmds).toBe(3);
    expect(macho.signature?.dataoff).toBe(0x5300);
    expect(signed.readUInt32BE(macho.signature!.dataoff)).toBe(0xfade0cc0);
    expect(signed.includes(Buffer.from('kubectl-dbaas\0'))).toBe(true);
  });

  it('detects a changed page', () => {
    const signed = signMachOAdHoc(tinyMachO(), 'kubectl-dbaas');
    signed[0x2000] = signed[0x2000]! ^ 1;
    expect(verifyMachOAdHoc(signed)).toEqual(['page 2: hash mismatch']);
  });

  it('removing the signature gives back the unsigned file', () => {
    const original = tinyMachO();
    expect(removeMachOSignature(signMachOAdHoc(original, 'x')).equals(original)).toBe(true);
  });

  it('refuses to sign twice, and non-Mach-O input', () => {
    expect(() => signMachOAdHoc(signMachOAdHoc(tinyMachO(), 'x'), 'x')).toThrow('already signed');
    expect(() => signMachOAdHoc(Buffer.from('\x7fELF....................................'), 'x')).toThrow('not a thin 64-bit');
  });
});
