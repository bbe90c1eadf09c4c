import { createHash } from 'node:crypto';

// Mach-O code signatures for the darwin single executables, done on Linux: Node's darwin binaries
// are signed, injecting the SEA blob would invalidate that signature, and macOS on Apple silicon
// refuses to run a binary without a valid one. So: remove the signature before postject (as
// `codesign --remove-signature` does), and afterwards add an ad-hoc signature (as
// `codesign --sign -` does): a CodeDirectory with the SHA-256 of every 4 KiB page, an empty
// requirement set and an empty CMS blob. Thin 64-bit little-endian Mach-O only (Node's darwin
// binaries are thin x86_64 and arm64).

const MH_MAGIC_64 = 0xfeedfacf;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const HEADER_SIZE = 32;

const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CSMAGIC_REQUIREMENTS = 0xfade0c01;
const CSMAGIC_BLOBWRAPPER = 0xfade0b01;
const CSSLOT_CODEDIRECTORY = 0;
const CSSLOT_REQUIREMENTS = 2;
const CSSLOT_SIGNATURESLOT = 0x10000;
const CS_ADHOC = 0x2;
const CS_EXECSEG_MAIN_BINARY = 0x1;
const CD_VERSION = 0x20400;
const CS_HASHTYPE_SHA256 = 2;
const PAGE_SHIFT = 12;
const PAGE = 1 << PAGE_SHIFT;

interface Segment {
  name: string;
  /** Offset of the load command in the file. */
  at: number;
  fileoff: number;
  filesize: number;
  /** Smallest file offset of a section with file contents (0: none). */
  firstSectionOffset: number;
}

interface MachO {
  cputype: number;
  filetype: number;
  ncmds: number;
  sizeofcmds: number;
  segments: Segment[];
  signature?: { at: number; dataoff: number; datasize: number };
}

/**
 * Parses the load commands of a thin 64-bit Mach-O.
 *
 * @example
 * ```ts
 * parseMachO(readFileSync('node')).segments.map((s) => s.name);
 * ```
 */
export function parseMachO(file: Buffer): MachO {
  if (file.length < HEADER_SIZE || file.readUInt32LE(0) !== MH_MAGIC_64) throw new Error('not a thin 64-bit little-endian Mach-O file');
  const ncmds = file.readUInt32LE(16);
  const sizeofcmds = file.readUInt32LE(20);
  const macho: MachO = { cputype: file.readUInt32LE(4), filetype: file.readUInt32LE(12), ncmds, sizeofcmds, segments: [] };
  let at = HEADER_SIZE;
  for (let i = 0; i < ncmds; i++) {
    const cmd = file.readUInt32LE(at);
    const cmdsize = file.readUInt32LE(at + 4);
    if (cmdsize < 8 || at + cmdsize > HEADER_SIZE + sizeofcmds) throw new Error(`bad load command ${i} at ${at}`);
    if (cmd === LC_SEGMENT_64) {
      const nsects = file.readUInt32LE(at + 64);
      let firstSectionOffset = 0;
      for (let s = 0; s < nsects; s++) {
        const section = at + 72 + s * 80;
        const offset = file.readUInt32LE(section + 48);
        const type = file.readUInt32LE(section + 64) & 0xff;
        const zerofill = type === 0x1 || type === 0xc || type === 0x12;
        if (offset > 0 && !zerofill && (firstSectionOffset === 0 || offset < firstSectionOffset)) firstSectionOffset = offset;
      }
      macho.segments.push({
        name: file.toString('latin1', at + 8, at + 24).replace(/\0+$/, ''),
        at,
        fileoff: Number(file.readBigUInt64LE(at + 40)),
        filesize: Number(file.readBigUInt64LE(at + 48)),
        firstSectionOffset,
      });
    } else if (cmd === LC_CODE_SIGNATURE) {
      macho.signature = { at, dataoff: file.readUInt32LE(at + 8), datasize: file.readUInt32LE(at + 12) };
    }
    at += cmdsize;
  }
  return macho;
}

function linkedit(macho: MachO): Segment {
  const segment = macho.segments.find((s) => s.name === '__LINKEDIT');
  if (!segment) throw new Error('no __LINKEDIT segment');
  return segment;
}

/**
 * The file without its code signature: the LC_CODE_SIGNATURE load command removed, the signature
 * bytes cut off the end, __LINKEDIT shortened. A file without a signature is returned as is.
 *
 * @example
 * ```ts
 * writeFileSync('kubectl-dbaas', removeMachOSignature(readFileSync('node')));
 * ```
 */
export function removeMachOSignature(input: Buffer): Buffer {
  const macho = parseMachO(input);
  if (!macho.signature) return input;
  const { at, dataoff, datasize } = macho.signature;
  const segment = linkedit(macho);
  if (dataoff + datasize > input.length || dataoff < segment.fileoff) throw new Error('the code signature is not inside __LINKEDIT');
  const file = Buffer.from(input.subarray(0, dataoff));
  const end = HEADER_SIZE + macho.sizeofcmds;
  file.copy(file, at, at + 16, end);
  file.fill(0, end - 16, end);
  file.writeUInt32LE(macho.ncmds - 1, 16);
  file.writeUInt32LE(macho.sizeofcmds - 16, 20);
  const moved = segment.at > at ? segment.at - 16 : segment.at;
  file.writeBigUInt64LE(BigInt(dataoff - segment.fileoff), moved + 48);
  return file;
}

/**
 * Signs an unsigned Mach-O executable ad hoc (no identity, like `codesign --sign -`), so that macOS
 * runs it. __LINKEDIT must be the last segment and there must be 16 free bytes after the load
 * commands (there are in Node's binaries after postject).
 *
 * @example
 * ```ts
 * writeFileSync(out, signMachOAdHoc(readFileSync(out), 'kubectl-dbaas'));
 * ```
 */
export function signMachOAdHoc(input: Buffer, identifier: string): Buffer {
  const macho = parseMachO(input);
  if (macho.signature) throw new Error('the file is already signed: remove the signature first');
  const segment = linkedit(macho);
  if (segment.fileoff + segment.filesize !== input.length) throw new Error('__LINKEDIT is not at the end of the file');
  if (macho.segments.some((s) => s.fileoff > segment.fileoff)) throw new Error('__LINKEDIT is not the last segment');
  const commandsEnd = HEADER_SIZE + macho.sizeofcmds;
  const firstSection = Math.min(...macho.segments.map((s) => s.firstSectionOffset).filter((o) => o > 0));
  if (commandsEnd + 16 > firstSection) throw new Error(`no room for LC_CODE_SIGNATURE (load commands end at ${commandsEnd}, first section at ${firstSection})`);
  const text = macho.segments.find((s) => s.name === '__TEXT');
  if (!text) throw new Error('no __TEXT segment');

  const dataoff = align(input.length, 16);
  const ident = Buffer.from(`${identifier}\0`, 'utf8');
  const nSpecialSlots = 2; // -1 Info.plist (none), -2 requirements
  const nCodeSlots = Math.ceil(dataoff / PAGE);
  const hashOffset = 88 + ident.length + nSpecialSlots * 32;
  const cdLength = hashOffset + nCodeSlots * 32;
  const requirements = Buffer.alloc(12);
  requirements.writeUInt32BE(CSMAGIC_REQUIREMENTS, 0);
  requirements.writeUInt32BE(12, 4);
  requirements.writeUInt32BE(0, 8);
  const cms = Buffer.alloc(8);
  cms.writeUInt32BE(CSMAGIC_BLOBWRAPPER, 0);
  cms.writeUInt32BE(8, 4);
  const superHeader = 12 + 3 * 8;
  const signatureLength = superHeader + cdLength + requirements.length + cms.length;
  const datasize = align(signatureLength, 16);

  // The new header first (the page hashes cover it), then the hashes, then the signature.
  const file = Buffer.alloc(dataoff + datasize);
  input.copy(file, 0);
  file.writeUInt32LE(LC_CODE_SIGNATURE, commandsEnd);
  file.writeUInt32LE(16, commandsEnd + 4);
  file.writeUInt32LE(dataoff, commandsEnd + 8);
  file.writeUInt32LE(datasize, commandsEnd + 12);
  file.writeUInt32LE(macho.ncmds + 1, 16);
  file.writeUInt32LE(macho.sizeofcmds + 16, 20);
  const newLinkeditSize = dataoff + datasize - segment.fileoff;
  file.writeBigUInt64LE(BigInt(newLinkeditSize), segment.at + 48);
  const vmsize = Number(file.readBigUInt64LE(segment.at + 32));
  if (vmsize < newLinkeditSize) file.writeBigUInt64LE(BigInt(align(newLinkeditSize, 0x4000)), segment.at + 32);

  const cd = Buffer.alloc(cdLength);
  cd.writeUInt32BE(CSMAGIC_CODEDIRECTORY, 0);
  cd.writeUInt32BE(cdLength, 4);
  cd.writeUInt32BE(CD_VERSION, 8);
  cd.writeUInt32BE(CS_ADHOC, 12);
  cd.writeUInt32BE(hashOffset, 16);
  cd.writeUInt32BE(88, 20);
  cd.writeUInt32BE(nSpecialSlots, 24);
  cd.writeUInt32BE(nCodeSlots, 28);
  cd.writeUInt32BE(dataoff, 32);
  cd.writeUInt8(32, 36); // hashSize
  cd.writeUInt8(CS_HASHTYPE_SHA256, 37);
  cd.writeUInt8(0, 38); // platform
  cd.writeUInt8(PAGE_SHIFT, 39);
  // spare2, scatterOffset, teamOffset, spare3, codeLimit64: 0
  cd.writeBigUInt64BE(BigInt(text.fileoff), 64);
  cd.writeBigUInt64BE(BigInt(text.filesize), 72);
  cd.writeBigUInt64BE(BigInt(macho.filetype === 2 ? CS_EXECSEG_MAIN_BINARY : 0), 80);
  ident.copy(cd, 88);
  sha256(requirements).copy(cd, hashOffset - 2 * 32); // slot -2; slot -1 stays zero
  for (let page = 0; page < nCodeSlots; page++) {
    sha256(file.subarray(page * PAGE, Math.min((page + 1) * PAGE, dataoff))).copy(cd, hashOffset + page * 32);
  }

  let offset = dataoff;
  file.writeUInt32BE(CSMAGIC_EMBEDDED_SIGNATURE, offset);
  file.writeUInt32BE(signatureLength, offset + 4);
  file.writeUInt32BE(3, offset + 8);
  const blobs: Array<[number, Buffer]> = [
    [CSSLOT_CODEDIRECTORY, cd],
    [CSSLOT_REQUIREMENTS, requirements],
    [CSSLOT_SIGNATURESLOT, cms],
  ];
  let blobOffset = superHeader;
  blobs.forEach(([slot, blob], index) => {
    file.writeUInt32BE(slot, offset + 12 + index * 8);
    file.writeUInt32BE(blobOffset, offset + 16 + index * 8);
    blob.copy(file, offset + blobOffset);
    blobOffset += blob.length;
  });
  offset += blobOffset;
  return file;
}

/**
 * Checks an ad-hoc signature the way the kernel does for each page: every code slot hash equals
 * the SHA-256 of its page. Returns the problems found (none: valid).
 *
 * @example
 * ```ts
 * expect(verifyMachOAdHoc(readFileSync('kubectl-dbaas'))).toEqual([]);
 * ```
 */
export function verifyMachOAdHoc(file: Buffer): string[] {
  const macho = parseMachO(file);
  if (!macho.signature) return ['no LC_CODE_SIGNATURE'];
  const { dataoff } = macho.signature;
  if (file.readUInt32BE(dataoff) !== CSMAGIC_EMBEDDED_SIGNATURE) return ['no embedded signature superblob at dataoff'];
  const count = file.readUInt32BE(dataoff + 8);
  let cdAt = -1;
  for (let i = 0; i < count; i++)
    if (file.readUInt32BE(dataoff + 12 + i * 8) === CSSLOT_CODEDIRECTORY) cdAt = dataoff + file.readUInt32BE(dataoff + 16 + i * 8);
  if (cdAt < 0 || file.readUInt32BE(cdAt) !== CSMAGIC_CODEDIRECTORY) return ['no CodeDirectory'];
  const problems: string[] = [];
  const hashOffset = file.readUInt32BE(cdAt + 16);
  const nCodeSlots = file.readUInt32BE(cdAt + 28);
  const codeLimit = file.readUInt32BE(cdAt + 32);
  const pageSize = 1 << file.readUInt8(cdAt + 39);
  if (codeLimit !== dataoff) problems.push(`codeLimit ${codeLimit} is not the signature offset ${dataoff}`);
  if (nCodeSlots !== Math.ceil(codeLimit / pageSize)) problems.push('wrong number of code slots');
  for (let page = 0; page < nCodeSlots; page++) {
    const expected = sha256(file.subarray(page * pageSize, Math.min((page + 1) * pageSize, codeLimit)));
    if (!expected.equals(file.subarray(cdAt + hashOffset + page * 32, cdAt + hashOffset + (page + 1) * 32))) {
      problems.push(`page ${page}: hash mismatch`);
      break;
    }
  }
  const segment = linkedit(macho);
  if (segment.fileoff + segment.filesize !== file.length) problems.push('__LINKEDIT does not end at the end of the file');
  return problems;
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}
